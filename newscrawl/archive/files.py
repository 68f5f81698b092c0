"""WARC files: append whole records, rotate at a size, finish the files of killed captures.

A capture writes ``<prefix>-<stamp>-<serial>.warc.gz.open`` and renames it when finished;
it holds the open file's lock meanwhile, so an ``.open`` file nobody holds is an orphan of a
killed capture, cut back to its last whole exchange and renamed.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from scrapy.http import Request, Response

from newscrawl.archive.read import OPEN_SUFFIX, complete_length
from newscrawl.archive.records import exchange_records, warcinfo_record

try:  # POSIX: the open file's lock tells a live capture from a killed one
    import fcntl
except ImportError:  # pragma: no cover - Windows: no orphan recovery
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc.gz", ".warc", ".warc.gz" + OPEN_SUFFIX)


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def finish_orphans(folder: Path) -> list[Path]:
    """Finish the ``.open`` WARC files of killed captures in ``folder``: trim, then rename.

    A file is an orphan when nobody holds its lock (a live capture holds it until the
    rename). It is cut back to its last whole exchange and renamed to its final name.
    """
    finished: list[Path] = []
    if fcntl is None or not folder.is_dir():  # pragma: no cover
        return finished
    for path in sorted(folder.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            if not _try_lock(fd):
                continue  # its crawl is still writing
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    continue  # renamed and replaced while we looked
            except FileNotFoundError:
                continue  # its crawl finished it meanwhile
            with os.fdopen(os.dup(fd), "rb") as handle:
                keep = complete_length(handle)
            size = os.fstat(fd).st_size
            if keep == 0:
                os.unlink(path)
                logger.warning("Removed %s: a killed capture left no whole exchange in it", path)
                continue
            if keep < size:
                os.ftruncate(fd, keep)
            os.fsync(fd)
            final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
            os.replace(path, final)
            finished.append(final)
            logger.warning(
                "Finished %s, left open by a killed capture (%d trailing bytes of a cut exchange removed)",
                final,
                size - keep,
            )
        finally:
            os.close(fd)
    return finished


class WarcFileWriter:
    """Appends whole records to ``<prefix>-<stamp>-<serial>.warc.gz.open``; renames on close.

    Each exchange is one ``write`` + ``flush``, so a killed crawl leaves the open file
    readable up to its last whole exchange. A file reaching ``max_size`` bytes is finished
    and the next exchange starts a new one (with its own warcinfo record).
    """

    def __init__(self, folder: Path, prefix: str, max_size: int, info: dict[str, str], fsync: bool = True) -> None:
        self.folder = folder
        self.prefix = prefix
        self.max_size = max_size
        self.info = info
        self.fsync = fsync
        self.stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        self.serial = 0
        self.handle: BinaryIO | None = None
        self.open_path: Path | None = None
        self.final_path: Path | None = None
        self.warcinfo_id = ""
        self.finished: list[Path] = []
        self.exchanges = 0
        self.bytes = 0

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            name = f"{self.prefix}-{self.stamp}-{self.serial:05d}.warc.gz"
            final, open_path = self.folder / name, self.folder / (name + OPEN_SUFFIX)
            if final.exists():
                self.serial += 1
                continue
            try:
                fd = os.open(open_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # another crawl started in the same millisecond
                self.serial += 1
                continue
            break
        _try_lock(fd)
        self.handle = os.fdopen(fd, "wb", buffering=0)
        self.open_path, self.final_path = open_path, final
        data, self.warcinfo_id = warcinfo_record(name, self.info)
        self._append(data)

    def _append(self, data: bytes) -> None:
        assert self.handle is not None
        view = memoryview(data)
        while view:  # unbuffered: one write() per exchange, in the OS at once (survives a killed process)
            view = view[self.handle.write(view) :]
        self.bytes += len(data)

    def write_exchange(self, request: Request, response: Response) -> None:
        if self.handle is None:
            self._open()
        self._append(exchange_records(request, response, self.warcinfo_id))
        self.exchanges += 1
        assert self.handle is not None
        if self.handle.tell() >= self.max_size:
            self.close()

    def close(self) -> None:
        """Finish the open file: flush, rename to its final name (still locked), close."""
        if self.handle is None:
            return
        assert self.open_path is not None and self.final_path is not None
        if self.fsync:
            os.fsync(self.handle.fileno())
        os.replace(self.open_path, self.final_path)
        self.handle.close()
        self.handle = None
        self.finished.append(self.final_path)
        self.serial += 1


class NotAWarcFile(FileNotFoundError):
    """A file given as an archive that is no WARC file at all (a typo'd path, an HTML page)."""


def _starts_like_warc(path: Path) -> bool:
    """Gzip (records compressed one per member, damage handled when read), or a plain
    ``WARC/`` record, or empty (a capture killed before its first record)."""
    with path.open("rb") as handle:
        head = handle.read(5)
    return not head or head[:2] == b"\x1f\x8b" or head == b"WARC/"


def warc_files(location: str | os.PathLike) -> list[Path]:
    """The WARC files at ``location`` (a file, or a folder searched recursively), by name.

    Names sort by capture time for files we write; a killed capture's ``.open`` file is read too.
    """
    path = Path(location)
    if path.is_file():
        if not _starts_like_warc(path):
            # A FileNotFoundError, as the callers report it: a bad argument (exit 2), not an
            # archive whose every record is damaged (exit 7) or whose feeds are missing (exit 4).
            raise NotAWarcFile(f"{path} is not a WARC file (neither gzip nor a WARC/ record at its start)")
        _not_all_empty(path, [path])
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no WARC file or folder at {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(WARC_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"no WARC files (*.warc.gz, *.warc) in {path}")
    _not_all_empty(path, files)
    return files


def _not_all_empty(location: Path, files: list[Path]) -> None:
    """An archive whose every file is empty holds nothing to replay: a bad argument, not a run
    whose feeds all went missing (exit 4). One empty file among others is a killed capture's."""
    if all(file.stat().st_size == 0 for file in files):
        what = "is empty" if files == [location] else "holds only empty WARC files"
        raise FileNotFoundError(f"{location} {what}: no record to replay (a capture killed before its first record?)")
