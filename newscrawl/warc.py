"""WARC capture and offline replay of a crawl's HTTP exchanges (WARC 1.1, written with warcio).

Capture (``-s WARC_DIR=archive/``): :class:`WarcCaptureMiddleware` appends every HTTP
exchange as a ``response`` record and its ``request`` record (``WARC-Concurrent-To`` the
response), each a gzip member, to ``<prefix>-<crawl start>-<serial>.warc.gz``. Each file
opens with a ``warcinfo`` record naming the software, the spider arguments and the
settings that shape requests. It sits at 950 in DOWNLOADER_MIDDLEWARES, next to the
downloader: it sees every response as it came off the wire, before RetryMiddleware (550),
HttpCompressionMiddleware (590) and RedirectMiddleware (600) act on it, so a 302, a 503
that gets retried and a gzip body are each archived as they were received.

Replay (``scrapy crawl <site> -a warc=PATH``): :func:`prepare_replay` (called by the spider)
applies the capture's settings and arguments, and :class:`WarcReplayMiddleware` answers
every request from the archive, so the spider and pipelines run unchanged on archived
responses and no socket is opened. Files are read record by record by
:mod:`newscrawl.warcread`, which skips a damaged record and resumes at the next one; the
replay names each damaged record and its verdict is exit status 7.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import platform
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import metadata
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import newscrawl
from newscrawl.sites import get_site
from newscrawl.sites.base import ArchivedRequest, Site
from newscrawl.warcread import OPEN_SUFFIX, Damage, complete_length, iter_records

try:  # POSIX: the open file's lock tells a live capture from a killed one
    import fcntl
except ImportError:  # pragma: no cover - Windows: no orphan recovery
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

WARC_VERSION = "1.1"
WARC_SUFFIXES = (".warc.gz", ".warc", ".warc.gz" + OPEN_SUFFIX)
# Settings a replay takes from the capture: they decide which requests the spider makes
# (those with the site's prefix, Site.settings_prefix), and how many times a failed answer
# is asked again.
REPLAYED_SETTINGS = ("RETRY_ENABLED", "RETRY_TIMES", "RETRY_HTTP_CODES")
# Settings recorded in warcinfo besides those, for the record.
RECORDED_SETTINGS = (
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "DOWNLOAD_DELAY",
    "DOWNLOAD_TIMEOUT",
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "AUTOTHROTTLE_ENABLED",
    "WARC_MAX_SIZE",
)
Key = tuple[str, str, str]  # (method, URL, sha1 of the request body or "")


class NotArchived(IgnoreRequest):
    """Replay: the archive holds no response to this request."""


def request_key(method: str, url: str, body: bytes) -> Key:
    return (method.upper(), url, hashlib.sha1(body).hexdigest() if body else "")


def _software() -> str:
    try:
        warcio_version = metadata.version("warcio")
    except metadata.PackageNotFoundError:  # pragma: no cover
        warcio_version = "?"
    return (
        f"newscrawl/{newscrawl.__version__} (Scrapy {scrapy.__version__}; warcio {warcio_version}; "
        f"Python {platform.python_version()})"
    )


def _replayed(name: str, site: Site | None) -> bool:
    prefix = site.settings_prefix if site is not None else ""
    return (bool(prefix) and name.startswith(prefix)) or name in REPLAYED_SETTINGS


def _jsonable(value: Any) -> Any:
    return value.copy_to_dict() if hasattr(value, "copy_to_dict") else value


# ---- HTTP blocks ------------------------------------------------------------------------


class _RawHeaders(StatusAndHeaders):
    """HTTP headers written byte for byte: warcio would re-encode non-ASCII values."""

    def __init__(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        # warcio's split: "HTTP/1.1" + "200 OK", or "GET" + "/path HTTP/1.1".
        protocol, _, statusline = lines[0].partition(" ")
        headers = [line.split(":", 1) for line in lines[1:] if ":" in line]
        super().__init__(statusline, [(k, v.strip()) for k, v in headers], protocol=protocol)
        self.headers_buff = head + b"\r\n"

    def compute_headers_buffer(self, header_filter=None) -> None:
        pass  # keep the bytes given


def _header_pairs(headers: Headers) -> Iterator[tuple[bytes, bytes]]:
    for name, values in headers.items():
        for value in values:
            yield name, value


def response_head(response: Response) -> bytes:
    """Status line and headers of ``response`` as archived (without the blank line).

    Twisted hands Scrapy the body de-chunked and keeps ``Transfer-Encoding`` and
    ``Content-Length`` to itself, so the record gets a ``Content-Length`` of the stored
    body; a length or transfer coding still among the headers is kept as ``X-Archive-Orig-*``.
    ``Content-Encoding`` stays: the body is stored as sent (still compressed).
    """
    body = response.body
    protocol = response.protocol or "HTTP/1.1"
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"{protocol} {response.status} {reason}".rstrip().encode("latin-1")]
    for name, value in _header_pairs(response.headers):
        lowered = name.lower()
        if lowered == b"transfer-encoding" or (lowered == b"content-length" and value.strip() != b"%d" % len(body)):
            lines.append(b"X-Archive-Orig-" + name + b": " + value)
        elif lowered != b"content-length":
            lines.append(name + b": " + value)
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n"


def request_head(request: Request) -> bytes:
    """Request line and headers as the downloader sends them (Host and Content-Length added).

    ``Proxy-Authorization`` is left out: it is a credential for the proxy, not part of the exchange.
    """
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{request.method} {target} HTTP/1.1".encode("latin-1")]
    if b"Host" not in request.headers:
        lines.append(b"Host: " + parts.netloc.rpartition("@")[2].encode("ascii"))
    for name, value in _header_pairs(request.headers):
        if name.lower() not in (b"proxy-authorization", b"content-length"):
            lines.append(name + b": " + value)
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d" % len(request.body))
    return b"\r\n".join(lines) + b"\r\n"


def exchange_records(request: Request, response: Response, warcinfo_id: str) -> bytes:
    """A response record and its request record (concurrent to it), gzipped, as bytes."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    date = writer.curr_warc_date()
    warc_headers = {
        "WARC-Type": "response",
        "WARC-Record-ID": writer._make_warc_id(),
        "WARC-Date": date,
        "WARC-Warcinfo-ID": warcinfo_id,
    }
    if response.ip_address is not None:
        warc_headers["WARC-IP-Address"] = str(response.ip_address)
    if "dataloss" in response.flags:
        warc_headers["WARC-Truncated"] = "disconnect"
    elif "download_stopped" in response.flags:
        warc_headers["WARC-Truncated"] = "unspecified"
    resp = writer.create_warc_record(
        response.url,
        "response",
        payload=BytesIO(response.body),
        length=len(response.body),
        http_headers=_RawHeaders(response_head(response)),
        warc_headers_dict=warc_headers,
    )
    req = writer.create_warc_record(
        response.url,
        "request",
        payload=BytesIO(request.body),
        length=len(request.body),
        http_headers=_RawHeaders(request_head(request)),
        warc_headers_dict={
            "WARC-Type": "request",
            "WARC-Record-ID": writer._make_warc_id(),
            "WARC-Date": date,
            "WARC-Warcinfo-ID": warcinfo_id,
        },
    )
    writer.write_request_response_pair(req, resp)
    return out.getvalue()


def warcinfo_record(filename: str, fields: dict[str, str]) -> tuple[bytes, str]:
    """(gzipped warcinfo record, its WARC-Record-ID)."""
    out = BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    record = writer.create_warcinfo_record(filename, fields)
    writer.write_record(record)
    return out.getvalue(), record.rec_headers.get_header("WARC-Record-ID")


# ---- files ------------------------------------------------------------------------------


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


# ---- capture ----------------------------------------------------------------------------


def capture_info(crawler, filename_prefix: str) -> dict[str, str]:
    """The warcinfo fields of a capture: software, crawl, spider arguments, settings."""
    settings = crawler.settings
    spider = crawler.spider
    arguments = dict(spider.arguments)
    recorded = {
        name: _jsonable(settings.get(name))
        for name in sorted(settings.attributes)
        if _replayed(name, spider.site) or name in RECORDED_SETTINGS
    }
    command = " ".join([f"scrapy crawl {spider.name}", *(f"-a {k}={v}" for k, v in arguments.items())])
    return {
        "software": _software(),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "hostname": socket.gethostname(),
        "isPartOf": filename_prefix,
        "description": command,
        "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        "http-header-user-agent": str(settings.get("USER_AGENT") or ""),
        "newscrawl-spider": spider.name,
        "newscrawl-arguments": json.dumps(arguments, ensure_ascii=False, sort_keys=True),
        "newscrawl-settings": json.dumps(recorded, ensure_ascii=False, sort_keys=True, default=str),
    }


class WarcCaptureMiddleware:
    """Downloader middleware (950): every HTTP exchange into WARC files under WARC_DIR."""

    def __init__(self, crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.folder = Path(settings.get("WARC_DIR"))
        self.prefix = settings.get("WARC_PREFIX") or "newscrawl"
        self.max_size = settings.getint("WARC_MAX_SIZE")
        self.writer: WarcFileWriter | None = None

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("WARC_DIR") or crawler.settings.get("WARC_REPLAY"):
            raise NotConfigured
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider) -> None:
        finish_orphans(self.folder)
        self.writer = WarcFileWriter(self.folder, self.prefix, self.max_size, {})
        self.writer.info = capture_info(self.crawler, f"{self.prefix}-{self.writer.stamp}")
        logger.info("Capturing HTTP exchanges to %s as %s-%s-*.warc.gz", self.folder, self.prefix, self.writer.stamp)

    def process_response(self, request: Request, response: Response) -> Response:
        # Responses not from the network (a cache, a replay) are not exchanges.
        if self.writer is not None and not {"cached", "warc"} & set(response.flags):
            files = len(self.writer.finished)
            self.writer.write_exchange(request, response)
            stats = self.crawler.stats
            stats.inc_value("newscrawl/warc/exchanges")
            stats.set_value("newscrawl/warc/bytes", self.writer.bytes)
            stats.inc_value("newscrawl/warc/files_finished", len(self.writer.finished) - files)
        return response

    def spider_closed(self, spider, reason: str) -> None:
        if self.writer is None:
            return
        self.writer.close()
        self.crawler.stats.set_value("newscrawl/warc/files", len(self.writer.finished))
        if self.writer.finished:
            logger.info(
                "WARC: %d exchanges in %d files (%s)",
                self.writer.exchanges,
                len(self.writer.finished),
                ", ".join(p.name for p in self.writer.finished),
            )


# ---- reading archives --------------------------------------------------------------------


def warc_files(location: str | os.PathLike) -> list[Path]:
    """The WARC files at ``location`` (a file, or a folder searched recursively), by name.

    Names sort by capture time for files we write; a killed capture's ``.open`` file is read too.
    """
    path = Path(location)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no WARC file or folder at {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(WARC_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"no WARC files (*.warc.gz, *.warc) in {path}")
    return files


def _parse_fields(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


@dataclass
class Capture:
    """What a warcinfo record of ours says about its crawl."""

    spider: str = ""
    arguments: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Capture | None:
        if "newscrawl-settings" not in fields:
            return None
        try:
            return cls(
                fields.get("newscrawl-spider", ""),
                json.loads(fields.get("newscrawl-arguments") or "{}"),
                json.loads(fields["newscrawl-settings"]),
            )
        except ValueError:
            return None

    def classify(self, method: str, uri: str, body: bytes, site: Site | None) -> ArchivedRequest | None:
        """What the capture's site says an archived request was (article, a feed kind), or None."""
        return site.classify(method, uri, body, self.settings) if site is not None else None


def first_capture(files: list[Path]) -> Capture | None:
    """The capture described by the first warcinfo record of ours in ``files``."""
    for path in files:
        for item in iter_records(path):
            if isinstance(item, Damage):
                continue  # the index names it
            record = item[1]
            if record.rec_type == "warcinfo":
                capture = Capture.from_fields(_parse_fields(record.content_stream().read()))
                if capture:
                    return capture
            elif record.rec_type in ("response", "request"):
                break  # warcinfo comes first in a file, if at all
    return None


@dataclass(slots=True)
class Stored:
    """One archived response: where it is and what request it answers."""

    path: Path
    offset: int
    uri: str
    status: int
    method: str = "GET"
    body: bytes = b""  # the request body (feeds' POST)
    kind: str = ""  # article / channel / hot / author, when recognized
    details: dict[str, Any] = field(default_factory=dict)


class ReplayIndex:
    """Archived responses by request (method, URL, body hash), served in archive order.

    The n-th request with a key gets the n-th response archived for it (the last one is
    repeated): a 503 that the capture retried is replayed as a 503, then its retry's answer.
    """

    def __init__(self, files: list[Path], settings: Any = None) -> None:
        self.files = files
        self.settings = settings  # the SITES registry a capture's spider name is looked up in
        self.by_key: dict[Key, list[Stored]] = {}
        self.used: dict[Key, int] = {}
        self.by_article: dict[str, Key] = {}
        # Unreadable spans (damaged records), skipped: reading resumed at the next whole record.
        self.damaged: list[tuple[Path, Damage]] = []
        for path in files:
            self._index_file(path)

    def _index_file(self, path: Path) -> None:
        captures: dict[str, Capture | None] = {}
        responses: list[tuple[str, str, Stored, Capture | None]] = []  # (record id, concurrent-to, ...)
        requests: dict[str, tuple[str, bytes]] = {}  # record id or concurrent-to -> (method, body)
        for item in iter_records(path):
            if isinstance(item, Damage):
                self.damaged.append((path, item))
                continue
            offset, record = item
            headers = record.rec_headers
            record_id = headers.get_header("WARC-Record-ID") or ""
            if record.rec_type == "warcinfo":
                captures[record_id] = Capture.from_fields(_parse_fields(record.content_stream().read()))
            elif record.rec_type == "request" and record.http_headers:
                method = record.http_headers.protocol.upper()
                entry = (method, record.raw_stream.read())
                requests[record_id] = entry
                for other in (headers.get_header("WARC-Concurrent-To") or "").split():
                    requests[other] = entry
            elif record.rec_type == "response" and record.http_headers:
                try:
                    status = int(record.http_headers.get_statuscode())
                except (TypeError, ValueError):
                    continue
                uri = headers.get_header("WARC-Target-URI")
                stored = Stored(path, offset, uri, status)
                capture = captures.get(headers.get_header("WARC-Warcinfo-ID") or "")
                responses.append((record_id, headers.get_header("WARC-Concurrent-To") or "", stored, capture))
        for record_id, concurrent_to, stored, capture in responses:
            method, body = requests.get(record_id) or requests.get(concurrent_to) or ("GET", b"")
            stored.method, stored.body = method, body
            key = request_key(method, stored.uri, body)
            self.by_key.setdefault(key, []).append(stored)
            recognized = capture.classify(method, stored.uri, body, self._site(capture.spider)) if capture else None
            if recognized:
                stored.kind, stored.details = recognized.kind, recognized.details
                if stored.kind == "article":
                    self.by_article.setdefault(stored.details["id"], key)

    def _site(self, name: str) -> Site | None:
        try:
            return get_site(name, self.settings)
        except KeyError:  # a capture of a site not registered here: served, not classified
            return None

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_key.values())

    def lookup(self, request: Request) -> Stored | None:
        """The next archived response for ``request`` (articles also by id), or None."""
        key = request_key(request.method, request.url, request.body)
        if key not in self.by_key:
            article_id = request.meta.get("article_id")
            key = self.by_article.get(article_id) if article_id else None
            if key is None:
                return None
        entries = self.by_key[key]
        used = self.used.get(key, 0)
        self.used[key] = used + 1
        return entries[min(used, len(entries) - 1)]

    def unserved(self) -> Iterator[Stored]:
        """Archived responses no request has been answered with yet, in archive order."""
        for key, entries in self.by_key.items():
            yield from entries[self.used.get(key, 0) :]


def _read_head(stream) -> list[bytes]:
    lines = []
    while True:
        line = stream.readline()
        if not line or line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n"))


def load_response(stored: Stored, request: Request) -> Response:
    """The archived response as Scrapy's downloader would have returned it."""
    with stored.path.open("rb") as handle:
        handle.seek(stored.offset)
        record = next(iter(ArchiveIterator(handle, no_record_parse=True)))
        head = _read_head(record.raw_stream)  # our own parse: header bytes exactly as stored
        status_line = head[0].split(b" ", 2)
        headers = Headers()
        for line in head[1:]:
            name, _, value = line.partition(b":")
            headers.appendlist(name.strip(), value.strip())
        if b"chunked" in b",".join(headers.getlist("Transfer-Encoding")).lower():
            body = ChunkedDataReader(record.raw_stream).read()  # from tools that store the wire bytes
            del headers[b"Transfer-Encoding"]
        else:
            body = record.raw_stream.read()
        ip = record.rec_headers.get_header("WARC-IP-Address")
    respcls = responsetypes.from_args(headers=headers, url=request.url, body=body)
    try:
        ip_address = ipaddress.ip_address(ip) if ip else None
    except ValueError:
        ip_address = None
    return respcls(
        url=request.url,
        status=int(status_line[1]),
        headers=headers,
        body=body,
        flags=["warc"],
        request=request,
        protocol=status_line[0].decode("latin-1"),
        ip_address=ip_address,
    )


# ---- replay -----------------------------------------------------------------------------


def prepare_replay(settings, arguments: dict[str, Any], selection: frozenset[str], site: Site) -> dict[str, Any]:
    """Replay mode (``-a warc=PATH`` or ``-s WARC_REPLAY=PATH``): settings and arguments.

    Called from the spider's ``from_crawler``, while settings can still change. Applies the
    capture's request-shaping settings (the site's prefix, RETRY_*) over the user's, keeps the
    network out (every request answered from the archive; http/https handlers that refuse),
    turns robots.txt and capture off, and returns the spider arguments: the capture's,
    overridden by the user's (given any of ``selection``, the spider's arguments that choose
    what to crawl, the capture's selection is dropped).
    """
    location = arguments.get("warc") or settings.get("WARC_REPLAY")
    if not location:
        return arguments
    files = warc_files(location)
    capture = first_capture(files) or Capture()
    priority = "cmdline"
    settings.set("WARC_REPLAY", str(location), priority)
    if settings.get("WARC_DIR"):
        logger.warning("Replay captures nothing: WARC_DIR=%s ignored", settings.get("WARC_DIR"))
        settings.set("WARC_DIR", "", priority)
    # The archive only holds what robots.txt allowed at capture time.
    settings.set("ROBOTSTXT_OBEY", False, priority)
    offline = f"{__name__}.OfflineDownloadHandler"
    settings.set("DOWNLOAD_HANDLERS", {"http": offline, "https": offline}, priority)
    applied = {k: v for k, v in capture.settings.items() if _replayed(k, site)}
    for name, value in applied.items():
        settings.set(name, value, priority)
    user = {k: v for k, v in arguments.items() if k != "warc"}
    captured = dict(capture.arguments)
    if selection & user.keys():
        captured = {k: v for k, v in captured.items() if k not in selection}
        settings.set("WARC_REPLAY_ALL", False, "spider")  # the user chose what to replay
    if "limit" in user:
        settings.set("WARC_REPLAY_LIMIT_PER_RUN", False, "spider")  # the user's limit caps the whole replay
    merged = {**captured, **user, "warc": str(location)}
    logger.info(
        "Replaying %s (WARC files: %d), no network. Capture arguments %s; settings from the capture: %s",
        location,
        len(files),
        json.dumps(capture.arguments, ensure_ascii=False),
        ", ".join(f"{k}={v}" for k, v in sorted(applied.items())) or "none",
    )
    return merged


class OfflineDownloadHandler(BaseDownloadHandler):
    """http/https handler of a replay: a request the replay did not answer never goes out."""

    async def download_request(self, request: Request) -> Response:
        raise NotArchived(f"replay is offline: {request.url}")


class WarcReplayMiddleware:
    """Downloader middleware (951): answers every request from the WARC archive.

    A request with no archived response fails with :class:`NotArchived` (an IgnoreRequest:
    the spider's errback counts it as ``failed/NotArchived``, never as a gone article) and
    ``newscrawl/replay/missing``. With WARC_REPLAY_ALL, when the run has nothing left to do,
    archived feed pages and then article pages it did not ask for (an archive of several
    runs) are replayed too, as those runs' spiders asked for them.
    """

    def __init__(self, crawler, index: ReplayIndex) -> None:
        self.crawler = crawler
        self.index = index
        self.sweep_phases = ["feeds", "articles"] if crawler.settings.getbool("WARC_REPLAY_ALL") else []
        self.retryable: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        location = crawler.settings.get("WARC_REPLAY")
        if not location:
            raise NotConfigured
        index = ReplayIndex(warc_files(location), crawler.settings)
        middleware = cls(crawler, index)
        logger.info("Replay index: %d archived responses (WARC files: %d)", len(index), len(index.files))
        for path, damage in index.damaged:
            logger.error(
                "Damaged WARC record in %s at offset %d (%s%s): bytes %d-%d skipped, %s",
                path,
                damage.start,
                damage.reason,
                f"; {damage.record}" if damage.record else "",
                damage.start,
                damage.end,
                "nothing readable after them" if damage.to_end else "reading resumed at the next record",
            )
        if index.damaged:
            crawler.stats.set_value("newscrawl/replay/damaged", len(index.damaged))
        crawler.signals.connect(middleware.spider_idle, signal=signals.spider_idle)
        return middleware

    def process_request(self, request: Request) -> Response:
        stats = self.crawler.stats
        stored = self.index.lookup(request)
        if stored is None:
            stats.inc_value("newscrawl/replay/missing")
            logger.warning("Not in the WARC archive: %s %s", request.method, request.url)
            raise NotArchived(f"not in the WARC archive: {request.method} {request.url}")
        stats.inc_value("newscrawl/replay/served")
        return load_response(stored, request)

    # -- sweep: archived pages the replayed arguments did not reach --

    def spider_idle(self, spider) -> None:
        if getattr(spider, "bad_args", None):
            # Bad arguments replay nothing, as a live run with them fetches nothing.
            self.sweep_phases.clear()
            return
        while self.sweep_phases:
            phase = self.sweep_phases.pop(0)
            requests = self._feed_requests(spider) if phase == "feeds" else self._article_requests(spider)
            if requests:
                self.crawler.stats.inc_value(f"newscrawl/replay/swept_{phase}", len(requests))
                logger.info("Replaying %d archived %s pages the run did not ask for", len(requests), phase)
                for request in requests:
                    self.crawler.engine.crawl(request)
                raise DontCloseSpider

    def _lift_capture_limit(self, spider) -> None:
        """Past the first run's part, the capture's ``limit`` no longer applies (WARC_REPLAY_LIMIT_PER_RUN).

        Each cron run's limit capped that run's fetches, so the archive already holds what each
        run was allowed; capping the other runs' parts with the first run's limit would drop
        articles they fetched. A ``limit`` the user gave caps the whole replay (the setting is off).
        """
        if getattr(spider, "limit", None) is not None and self.crawler.settings.getbool("WARC_REPLAY_LIMIT_PER_RUN"):
            logger.info("The capture's limit=%d capped the first run's part; later runs replay whole", spider.limit)
            spider.limit = None

    def _retryable_articles(self, spider) -> set[str]:
        """Articles this replay did not get, of which a later run archived a page.

        Either the replay asked and met an earlier run's failed answers, or (with no limit
        left) the first run's part passed them over (its limit, ``since``); the capture of a
        later run found the article again (in its feeds, with their metadata) and fetched it whole.
        """
        ids = set()
        unlimited = getattr(spider, "limit", None) is None
        for stored in self.index.unserved():
            article_id = stored.details.get("id") if stored.kind == "article" else None
            if (
                article_id
                and stored.status == 200
                and (unlimited or self.index.used.get(request_key(stored.method, stored.uri, stored.body)))
                and spider.wants_article(article_id)
            ):
                ids.add(article_id)
        return ids

    def _relaxed(self, parse):
        """``parse``, its article requests for retryable ids let past the dupefilter (asked before)."""

        def callback(response: Response):
            for result in parse(response) or ():
                if isinstance(result, Request) and result.meta.get("article_id") in self.retryable:
                    self.retryable.discard(result.meta["article_id"])
                    result = result.replace(dont_filter=True)
                yield result

        return callback

    def _feed_requests(self, spider) -> list[Request]:
        self._lift_capture_limit(spider)
        self.retryable = self._retryable_articles(spider)
        again = self.retryable & spider.seen
        spider.forget(again)  # so the later runs' feeds list them again
        # Each is found again, once (by a swept feed page or else the article sweep): not twice.
        self.crawler.stats.inc_value("newscrawl/articles/found", -len(again))
        requests: list[Request] = []
        for stored in self.index.unserved():
            if stored.status != 200 or stored.kind in ("", "article"):
                continue
            # Each archived page is swept on its own: the site's request, no following of next pages.
            request = spider.site.sweep_request(
                spider, ArchivedRequest(stored.kind, stored.details), self.crawler.settings
            )
            if request is None:
                continue
            request = request.replace(url=stored.uri, body=stored.body)
            requests.append(request.replace(dont_filter=True, callback=self._relaxed(request.callback)))
        return requests

    def _article_requests(self, spider) -> list[Request]:
        requests: list[Request] = []
        for stored in self.index.unserved():
            article_id = stored.details.get("id") if stored.kind == "article" else None
            if not article_id:
                continue
            request = spider.archived_article_request(article_id)
            if request is not None:  # deduplicated by id already; a retryable one was asked before
                requests.append(request.replace(url=stored.uri, dont_filter=True))
        return requests
