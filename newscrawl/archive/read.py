"""Reading WARC files record by record, past damaged records.

In a ``.warc.gz`` every record is its own gzip member (WARC 1.1, annex D), and zlib checks
each member's CRC-32 and length. A flipped byte therefore spoils one member only, wherever
it lands: in the gzip header (magic, flags), in the deflate data, or in the CRC/length
trailer. The reader inflates member by member; when one fails (zlib error, CRC or length
mismatch, cut short, or not a WARC record) it reports a :class:`Damage` and resyncs at the
next member: the next ``1f 8b 08`` after the damaged member's *start* whose first bytes
inflate to ``WARC/``. The search starts there, not where zlib gave up, because a damaged
deflate stream can run on into the following members before zlib notices.

Cost stays linear in the file: the magic search is one forward pass, each
candidate gets a bounded trial inflate (:data:`PROBE` bytes), and each member is inflated
once (a damaged one up to where zlib gives up). Uncompressed ``.warc`` files have no
members to resync at: reading stops at their first unreadable record, reported the same way.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader

from newscrawl.archive.gzipview import CHUNK, ZLIB_ERRORS, FileView, inflater_for_gzip
from newscrawl.convert.htmlblocks import COMPILED

MAGIC = b"\x1f\x8b\x08"  # gzip ID1 ID2 and CM=deflate: how every member of a .warc.gz starts
PROBE = 4096  # compressed bytes a candidate member gets to inflate to "WARC/"
# The first step of a member, doubled at each further step up to CHUNK: most members are a
# few KB, and zlib copies the input past a member's end into ``unused_data`` (whole CHUNK
# steps copied ~60 KB per member, and a ~60 KB slice of the file before that). 8 KB: a capture's
# response members are ~4.3 KB compressed on average (requests ~0.7 KB), so at 4 KB most took two
# steps and a join of their output (a copy of the page); at 8 KB most take one (callgrind: rebuild's
# index pass 10k instructions an article fewer, the larger unused_data copies counted).
FIRST = 1 << 13
OPEN_SUFFIX = ".open"


@dataclass(slots=True)
class Member:
    """A whole gzip member: its byte span in the file and its inflated bytes.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__`` (a member is
    made for every record read: 1.6 against 0.9 µs).
    """

    start: int
    end: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Damage:
    """Unreadable bytes ``[start, end)``: a damaged record and what could still be read of it.

    ``end`` is where reading resumed (the next whole record), or the end of the readable
    bytes when no record follows (``to_end``: for a file still being written, a torn tail).
    """

    start: int
    end: int
    reason: str
    record: str = ""  # "response http://…", from the damaged record's header if it inflated that far
    to_end: bool = False

    def log(self, logger: logging.Logger, path: Any) -> None:
        """The one ERROR line replay and rebuild give a damaged record: file, offsets, reason, record."""
        logger.error(
            "Damaged WARC record in %s at offset %d (%s%s): bytes %d-%d skipped, %s",
            path,
            self.start,
            self.reason,
            f"; {self.record}" if self.record else "",
            self.start,
            self.end,
            "nothing readable after them" if self.to_end else "reading resumed at the next record",
        )


class _Bad(Exception):
    def __init__(self, reason: str, partial: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


def python_inflate(view: FileView, start: int, stop: int) -> tuple[int, bytes]:
    """(end, inflated bytes) of the gzip member at ``start``; raises _Bad when it is not whole.
    (``_cwalk.inflate_member``'s reference, and what decides a member that one leaves.)"""
    inflater = inflater_for_gzip()
    decompress, memory = inflater.decompress, view.memory
    out: list[bytes] = []
    pos = start
    step = FIRST
    try:
        while pos < stop:
            chunk = memory(pos, min(pos + step, stop))
            if not chunk:  # the file shrank meanwhile
                break
            out.append(decompress(chunk))
            if inflater.eof:
                return pos + len(chunk) - len(inflater.unused_data), out[0] if len(out) == 1 else b"".join(out)
            pos += len(chunk)
            step = min(step * 2, CHUNK)
    except ZLIB_ERRORS as exc:
        raise _Bad(f"gzip: {exc}", b"".join(out)) from None
    raise _Bad("gzip member cut short", b"".join(out))


# The same loop compiled (``_cwalk.inflate_member``: no Python frame for it and the window's view
# per member), when the conversion's compiled module runs; it answers for whole members only.
_compiled_inflate = getattr(COMPILED, "inflate_member", None)


def _salvage_head(view: FileView, start: int, stop: int) -> bytes:
    """What a damaged member inflates to before zlib gives up (at most ~4 KB): its record header, often.

    Fed in small pieces, so the output before the error is kept (one big piece loses it).
    """
    inflater = inflater_for_gzip()
    out = b""
    for pos in range(start, min(start + PROBE * 4, stop), 256):
        try:
            out += inflater.decompress(view[pos : min(pos + 256, stop)], PROBE - len(out))
        except ZLIB_ERRORS:
            break
        if len(out) >= PROBE or inflater.eof or inflater.unconsumed_tail:
            break
    return out


def _is_record_start(view: FileView, pos: int, stop: int) -> bool:
    inflater = inflater_for_gzip()
    try:
        head = inflater.decompress(view[pos : min(pos + PROBE, stop)], 8)
    except ZLIB_ERRORS:
        return False
    return head.startswith(b"WARC/")


def _next_record(view: FileView, pos: int, stop: int) -> int | None:
    """Offset of the next gzip member from ``pos`` on that starts a WARC record, or None."""
    while True:
        pos = view.find(MAGIC, pos, stop)
        if pos < 0:
            return None
        if _is_record_start(view, pos, stop):
            return pos
        pos += 1


def describe(head: bytes) -> str:
    """The WARC-Type and WARC-Target-URI at the start of a record's bytes, as one string ("" if unreadable)."""
    if not head.startswith(b"WARC/"):
        return ""
    fields: dict[bytes, bytes] = {}
    for line in head[:16384].split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    words = [fields.get(b"warc-type", b"record"), fields.get(b"warc-target-uri", b"")]
    return b" ".join(w for w in words if w).decode("utf-8", "replace")


def read_member(view: FileView, pos: int, stop: int) -> Member | Damage:
    """The gzip member at ``pos`` of ``view`` (read up to ``stop``), or the damaged span that starts
    there (ending where the next whole record starts, or at ``stop`` with ``to_end``)."""
    try:
        done = None
        if _compiled_inflate is not None:
            done = _compiled_inflate(inflater_for_gzip(), view, pos, stop, FIRST, CHUNK, ZLIB_ERRORS)
        end, data = python_inflate(view, pos, stop) if done is None else done
        if not data.startswith(b"WARC/"):
            raise _Bad("not a WARC record", data)
    except _Bad as bad:
        resume = _next_record(view, pos + 1, stop)
        record = describe(bad.partial) or describe(_salvage_head(view, pos, stop))
        return Damage(pos, stop if resume is None else resume, bad.reason, record, resume is None)
    return Member(pos, end, data)


def member_span(handle: BinaryIO, limit: int | None = None, until: int | None = None) -> tuple[FileView, int, int]:
    """(the file's view, where members are read up to, where the last one read may start) for
    :func:`iter_members`' arguments."""
    view = FileView(handle)
    stop = len(view) if limit is None else min(limit, len(view))
    return view, stop, stop if until is None else min(until, stop)


def iter_members(
    handle: BinaryIO, limit: int | None = None, start: int = 0, until: int | None = None
) -> Iterator[Member | Damage]:
    """The gzip members of a ``.warc.gz`` (its first ``limit`` bytes), with damaged spans in between.

    ``start``/``until`` read one slice (``newscrawl rebuild`` indexes a big file in pieces cut at
    :func:`record_starts`): the members and damage from ``start`` (a record's start) up to ``until``.
    """
    view, stop, end_at = member_span(handle, limit, until)
    pos = start
    while pos < end_at:
        item = read_member(view, pos, stop)
        yield item
        if isinstance(item, Damage) and item.to_end:
            return
        pos = item.end


def record_starts(handle: BinaryIO, cuts: list[int]) -> list[int]:
    """Where the first whole record at or after each offset of ``cuts`` starts (no duplicates, in order)."""
    view = FileView(handle)
    starts: list[int] = []
    for cut in sorted(cuts):
        found = 0 if cut <= 0 else _next_record(view, cut, len(view))
        if found is not None and (not starts or found > starts[-1]):
            starts.append(found)
    return starts


def complete_length(handle: BinaryIO) -> int:
    """Bytes of whole records at the start of a gzipped WARC we wrote (exchanges kept in pairs).

    A torn tail goes, and with it a response whose request record was cut off (a pair is
    written response first). A damaged record in the middle stays: readers skip it.
    """
    before_last = end = 0  # end of the bytes before the last whole record; end of the last one
    last_is_response = False
    for item in iter_members(handle):
        if isinstance(item, Damage):
            if item.to_end:
                break
            end, last_is_response = item.end, False
            continue
        before_last, end = end, item.end
        last_is_response = b"WARC-Type: response" in item.data[:2048]
    return before_last if last_is_response else end


def _gzipped(path: Path, handle: BinaryIO) -> bool:
    name = path.name.removesuffix(OPEN_SUFFIX)
    if name.endswith(".gz"):
        return True
    if name.endswith(".warc"):
        return False
    start = handle.read(2)
    handle.seek(0)
    return start == MAGIC[:2]


def iter_records(path: Path) -> Iterator[tuple[int, Any] | Damage]:
    """(offset, warcio record) of every readable record of ``path``, and a Damage for each unreadable span.

    A ``.open`` file (a capture that is still running, or was killed) is read up to its last
    whole exchange. Each record must be read before the next is asked for (warcio's rule).
    """
    with path.open("rb") as handle:
        limit = complete_length(handle) if path.name.endswith(OPEN_SUFFIX) else None
        handle.seek(0)
        if not _gzipped(path, handle):
            yield from _plain_records(handle, limit)
            return
        for item in iter_members(handle, limit):
            if isinstance(item, Damage):
                yield item
                continue
            try:
                for record in ArchiveIterator(io.BytesIO(item.data)):
                    yield item.start, record
            except Exception as exc:  # noqa: BLE001 - a CRC-whole member warcio cannot parse is damage too
                yield Damage(item.start, item.end, f"unparsable WARC record: {exc}", describe(item.data))


def _plain_records(handle: BinaryIO, limit: int | None) -> Iterator[tuple[int, Any] | Damage]:
    size = os.fstat(handle.fileno()).st_size
    stream = LimitReader(handle, limit) if limit is not None else handle
    iterator = ArchiveIterator(stream)
    try:
        for record in iterator:
            # Where this record starts. Not get_record_offset(): before the record is read, that
            # reads it to its end, and the caller then got an empty payload (every record).
            yield iterator.offset, record
    except Exception as exc:  # noqa: BLE001 - uncompressed: no member boundary to resync at
        try:  # the unreadable record starts where the last whole one ended
            offset = iterator.get_record_offset() + iterator.get_record_length()
        except TypeError:  # the first record
            offset = 0
        yield Damage(offset, size, f"unreadable record (uncompressed WARC, rest not read): {exc}", to_end=True)
