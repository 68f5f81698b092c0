"""Bytes of a ``.warc.gz`` for the reader (:mod:`newscrawl.archive.read`): the file read in
windows (:class:`FileView`) and the inflater of one gzip member.

Members are inflated with zlib-ng when it is installed (a dependency: the same deflate
format, output and error messages as zlib, and about 1.5x faster: 12.7 against 21 µs per
member of a mock capture; rebuild inflates every member once to index it, and ``--jobs N``
every article again to convert it), else with the standard zlib. Both are tested to read
every single-bit flip of a member, and to rebuild an archive, alike
(``tests/test_rebuild_inflate.py``). isal (``isal_zlib``, the same API and as fast on its
own) read this archive no faster in the reader (17.1 against 16.7 µs per member).
"""

from __future__ import annotations

import io
import zlib
from typing import Any, BinaryIO

try:
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # zlib-ng is a dependency; without it the standard zlib inflates the same
    _zlib = zlib
# Which library inflates ("zlib-ng" or "zlib"): rebuild warns when it is the slower one, and the
# rebuild benchmark prints it beside its rates.
INFLATER = "zlib" if _zlib is zlib else "zlib-ng"

CHUNK = 1 << 16  # compressed bytes inflated per step (at most)
BLOCK = 1 << 20  # bytes read from the file at a time
GZIP = zlib.MAX_WBITS | 16  # wbits of a gzip member
ZLIB_ERRORS = (zlib.error, _zlib.error)  # what either library raises on bad deflate data


def inflater_for_gzip() -> Any:
    """A decompressor of one gzip member (``zlib.decompressobj``'s interface)."""
    return _zlib.decompressobj(GZIP)


class FileView:
    """A file's bytes by slice and ``find``, read as needed: files up to WARC_MAX_SIZE stay on disk.

    Plain reads, not mmap: another crawl may truncate a killed capture's ``.open`` file
    (finishing it) while a replay reads it, and a mapped page past the new end would kill
    the reader with SIGBUS; a read just comes back short.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        handle.seek(0, io.SEEK_END)
        self.size = handle.tell()
        # One window of the file, read ahead: members are a few KB, reads are of BLOCK bytes.
        self.window_start, self.window = 0, b""
        self.view = memoryview(self.window)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, piece: slice) -> bytes:
        start, stop = piece.start, min(piece.stop, self.size)
        if stop <= start:
            return b""
        offset = start - self.window_start
        if offset < 0 or stop - self.window_start > len(self.window):
            self.handle.seek(start)
            self.window_start, self.window = start, self.handle.read(max(stop - start, BLOCK))
            offset = 0
        return self.window[offset : offset + stop - start]

    def memory(self, start: int, stop: int) -> memoryview:
        """``self[start:stop]`` without a copy: a view of the window."""
        stop = min(stop, self.size)
        if stop <= start:
            return memoryview(b"")
        if start < self.window_start or stop - self.window_start > len(self.window):
            self[start:stop]  # reads the window from ``start``
        if self.view.obj is not self.window:
            self.view = memoryview(self.window)
        offset = start - self.window_start
        return self.view[offset : offset + stop - start]

    def find(self, sub: bytes, start: int, stop: int) -> int:
        while start < stop:
            block = self[start : min(start + CHUNK, stop)]
            found = block.find(sub)
            if found >= 0:
                return start + found
            if start + len(block) >= stop or len(block) < len(sub):
                return -1
            start += len(block) - (len(sub) - 1)  # a match across the blocks' edge
        return -1
