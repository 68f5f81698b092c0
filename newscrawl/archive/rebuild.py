"""``newscrawl rebuild ARCHIVE… --output DIR [--jobs N]``: a WARC archive's articles, rebuilt in bulk.

Replay (``scrapy crawl SITE -a warc=…``) stays the reference: it runs the crawl itself on the
archived answers, one request at a time through Scrapy's engine, on one core. Rebuild writes
the same files without the engine, in three steps:

1. **Index** (the workers, a file or a piece of a big file each): every gzip member is inflated
   once and only its WARC and HTTP headers are read (no warcio record objects): response
   records are keyed as replay keys them (method, URL, sha1 of the request body), damaged spans
   are counted as replay counts them (:mod:`newscrawl.archive.read` finds and skips them).
2. **Plan** (the main process, microseconds per article): :class:`Planner` walks the
   archive the way replay's spider and middlewares do: the first capture's arguments and
   settings, its feeds page by page, the n-th request for a key answered by the n-th archived
   response, retries (RETRY_HTTP_CODES, RETRY_TIMES, the feeds' own retry count), redirects
   (with the duplicate filter a redirect target meets), then the sweep of the later runs'
   feeds and articles (WARC_REPLAY_ALL) with the same rules for articles that failed in an
   earlier run. The result is, per article, the one archived response replay hands to the
   spider, its URL, whether it was redirected and the feed metadata it was listed with.
3. **Convert** (N worker processes, while the plan goes on): each article's body is the one
   kept from the index pass (up to REBUILD_KEEP_MB; else its member is read and inflated again):
   with ``--jobs N`` the worker that indexed a piece keeps its bodies and is sent its articles
   (:class:`Pools`). The body is decoded (Content-Encoding, charset), and the spider's
   extraction, the item pipelines and the writer run on it, exactly as in a crawl; the files of
   each 64 articles are written together (:class:`Converter`). Counts and gone marks come back
   to the main process, which prints the crawl's summary line and returns the crawl's exit
   status (``verdict``).

Replay sweeps (the later runs' feeds, then their articles) when its engine is idle, that is
once every article asked for so far is written, skipped or marked gone, and the sweep's
choice depends on that (an article that met a challenge page in an earlier run is asked
again). The plan waits for the workers at the same two points, so it sees the same folder
and the same gone list; elsewhere planning and converting overlap.
"""

from __future__ import annotations

import argparse
import codecs
import functools
import gc
import logging
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha1
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

# Imported here, not in the functions that use them: an import statement in a function runs
# the import machinery at each call (a module's failed ``__path__`` lookup formats an
# AttributeError), and the plan and the workers call these once or more per article.
from scrapy.exceptions import DontCloseSpider, DropItem, IgnoreRequest
from scrapy.http import Headers, HtmlResponse, Request, Response, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import get_meta_refresh
from twisted.python.failure import Failure
from w3lib import html
from w3lib.encoding import http_content_type_encoding, read_bom
from w3lib.url import safe_url_string

from newscrawl.archive import read
from newscrawl.archive.gzipview import CHUNK, ZLIB_ERRORS
from newscrawl.archive.index import ServedInOrder, request_key
from newscrawl.archive.read import (
    OPEN_SUFFIX,
    Damage,
    complete_length,
    describe,
    inflater_for_gzip,
    iter_records,
    member_span,
    read_member,
    record_starts,
)
from newscrawl.convert.article import Article
from newscrawl.convert.htmlblocks import COMPILED

logger = logging.getLogger("newscrawl.archive.rebuild")

Key = tuple[str, str, str]  # (method, URL, sha1 of the request body or "") as replay keys requests
REDIRECTS = frozenset({301, 302, 303, 307, 308})


# ---- 1. index ---------------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """One archived response: where its record is, what it answered, how it begins."""

    path: str
    start: int  # the record's gzip member (or, uncompressed, the record's offset)
    end: int  # end of the member; -1: an uncompressed file (read with warcio)
    uri: str
    status: int
    location: str  # the Location header of a redirect
    record_id: str
    concurrent_to: str
    warcinfo: str
    method: str = "GET"
    body: bytes = b""  # the request's body (the channel feed's POST)
    refresh: tuple[float, str] | None = None  # an HTML page's meta refresh (interval, URL), as Scrapy reads it
    block: tuple[int, int] | None = None  # where the HTTP block is in the inflated member (read again by offset)
    data: bytes | None = None  # the inflated member, kept from the index pass (REBUILD_KEEP_MB), read once
    # Where the body starts in the inflated member, when it is what the spider gets as it is
    # (no Content-Encoding, not chunked), else -1; and the first Content-Type, as decoded_body gives it.
    body_at: int = -1
    content_type: str | None = None
    kept: bytes | None = None  # that body, kept from the index pass (REBUILD_KEEP_MB), read once
    owner: int = -1  # --jobs N: the worker that indexed it and keeps its body (-1: none keeps it)

    def __reduce__(self) -> tuple[type[Entry], tuple[Any, ...]]:
        # Pickled to and from the workers (every response once, every article once): a plain
        # tuple, not a slots dataclass's state (fields() looked up per object: ~10x the time).
        return Entry, (
            self.path,
            self.start,
            self.end,
            self.uri,
            self.status,
            self.location,
            self.record_id,
            self.concurrent_to,
            self.warcinfo,
            self.method,
            self.body,
            self.refresh,
            self.block,
            self.data,
            self.body_at,
            self.content_type,
            self.kept,
            self.owner,
        )


@dataclass(slots=True)
class FileIndex:
    """What one file holds: responses, requests, warcinfo fields, damaged spans, record count."""

    path: str
    responses: list[Entry] = field(default_factory=list)
    requests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    infos: dict[str, bytes] = field(default_factory=dict)  # warcinfo record id -> its payload
    damaged: list[Damage] = field(default_factory=list)
    records: int = 0
    ignore_tags: tuple[str, ...] = ()  # METAREFRESH_IGNORE_TAGS


class _Head:
    """A record's WARC header lines, read by name as they are asked for (the first of a name wins)."""

    __slots__ = ("head", "low")

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.low = head.lower()

    def get(self, name: bytes, default: bytes = b"") -> bytes:
        at = self.low.find(b"\r\n" + name + b":")
        if at < 0:
            return default
        start = at + len(name) + 3
        end = self.low.find(b"\r\n", start)
        return self.head[start : end if end >= 0 else len(self.head)].strip()


# The WARC header fields the index reads (``_records``, ``_index_record``).
WARC_FIELDS = (
    b"content-length", b"warc-type", b"warc-record-id", b"warc-target-uri", b"warc-concurrent-to",
    b"warc-warcinfo-id",
)  # fmt: skip


def python_warc_head(data: bytes, start: int, stop: int, names: tuple[bytes, ...] = WARC_FIELDS) -> _Head:
    """The WARC header ``data[start:stop]``, its fields read by name (``_cwalk.warc_head``'s reference)."""
    return _Head(data[start:stop])


# The header's fields in one pass, compiled (``_cwalk.warc_head``: a dict of WARC_FIELDS; six lookups
# of a name in a lowercased copy of the header per record before), when the conversion's compiled
# module runs.
warc_head = getattr(COMPILED, "warc_head", None) or python_warc_head


def python_records(data: bytes) -> list[tuple[Any, int, int]]:
    """(WARC headers, block start, block end) of each record in an inflated member (one, for the
    files we write). A list, not a generator: every record of a member is read before any is
    indexed (a member that fails to parse is one damaged span), and a generator's frame and
    resumptions cost more than the list."""
    out = []
    pos, size = 0, len(data)
    while pos < size:
        if not data.startswith(b"WARC/", pos):
            if data[pos:].strip():
                raise ValueError("no WARC record where one should start")
            break
        head_end = data.find(b"\r\n\r\n", pos)
        if head_end < 0:
            raise ValueError("WARC headers cut short")
        headers = warc_head(data, pos, head_end, WARC_FIELDS)
        block_start = head_end + 4
        pos = block_start + int(headers.get(b"content-length", b""))
        if pos > size:
            raise ValueError("WARC block cut short")
        out.append((headers, block_start, pos))
        while data.startswith(b"\r\n", pos):
            pos += 2
    return out


def _compiled_records(data: bytes) -> list[tuple[Any, int, int]]:
    out = COMPILED.warc_records(data, WARC_FIELDS)
    return python_records(data) if out is None else out


# The same loop compiled (``_cwalk.warc_records``, its header fields read by ``warc_head``'s code:
# no Python frame per record), when the conversion's compiled module runs; else the Python one.
_records = _compiled_records if getattr(COMPILED, "warc_records", None) else python_records


def _http_lines(data: bytes, start: int, end: int) -> tuple[list[bytes], int]:
    """(status/request line + header lines, offset of the body) of the HTTP block ``data[start:end]``."""
    head_end = data.find(b"\r\n\r\n", start, end)
    if head_end < 0:
        return data[start:end].split(b"\r\n"), end
    return data[start:head_end].split(b"\r\n"), head_end + 4


def _index_record(
    index: FileIndex, start: int, end: int, headers: Any, data: bytes, span: tuple[int, int], gz: bool = True
) -> None:
    """Index one record whose block is ``data[span[0]:span[1]]`` (read in place: no copy of a page)."""
    block_start, block_end = span
    kind = headers.get(b"warc-type", b"")
    record_id = headers.get(b"warc-record-id", b"").decode("latin-1")
    if kind == b"warcinfo":
        index.infos[record_id] = data[block_start:block_end]
    elif kind == b"request":
        # Only the method (the request line's first word) and the body: ``_http_lines``' split of
        # every header line is not needed (the same bytes: the first line ends at the first CRLF
        # of the head, the head at the first blank line, or the block's end).
        head_end = data.find(b"\r\n\r\n", block_start, block_end)
        head_stop, body_at = (block_end, block_end) if head_end < 0 else (head_end, head_end + 4)
        line_end = data.find(b"\r\n", block_start, head_stop)
        first = data[block_start : head_stop if line_end < 0 else line_end]
        method = first.split(b" ", 1)[0].decode("latin-1").upper()
        entry = (method, data[body_at:block_end])
        index.requests[record_id] = entry
        for other in headers.get(b"warc-concurrent-to", b"").decode("latin-1").split():
            index.requests[other] = entry
    elif kind == b"response":
        head = http_head(data, block_start, block_end)
        if head is None and http_head is not python_http_head:
            head = python_http_head(data, block_start, block_end)  # a status the compiled one leaves to it
        if head is None:
            return  # no status code: not a response replay can serve
        status, body_at, location, types, encoded, transfer = head
        fields = HeadFields(location, types, encoded, transfer)
        uri = headers.get(b"warc-target-uri", b"").decode("utf-8", "replace")
        if _utf8_html((), data[body_at : min(body_at + 4, block_end)], fields) and not refresh_in_head(
            data, body_at, block_end, HEAD_CHARS
        ):
            refresh = None  # meta_refresh's common case, decided without the header lines
        else:
            lines = _http_lines(data, block_start, block_end)[0]
            refresh = meta_refresh(uri, lines, data, index.ignore_tags, body_at, block_end, fields)
        index.responses.append(
            Entry(
                index.path,
                start,
                end,
                uri,
                status,
                location.decode("latin-1"),
                record_id,
                headers.get(b"warc-concurrent-to", b"").decode("latin-1"),
                headers.get(b"warc-warcinfo-id", b"").decode("latin-1"),
                "GET",
                b"",
                refresh,
                span if gz else None,
                None,
                body_at if gz and fields.as_stored else -1,
                types[0].decode("latin-1") if types else None,
            )
        )


HttpHead = tuple[int, int, bytes, list[bytes], bool, list[bytes]]


def python_http_head(data: bytes, start: int, end: int) -> HttpHead | None:
    """(status, body offset, Location, Content-Types, has Content-Encoding, Transfer-Encodings) of the
    HTTP response block ``data[start:end]`` from its header lines; None without a status code
    (``_cwalk.http_head``'s reference)."""
    lines, body_at = _http_lines(data, start, end)
    parts = lines[0].split(b" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None
    fields = _head_fields(lines)
    return status, body_at, fields.location, fields.content_types, fields.encoded, fields.transfer


# The same read compiled (``_cwalk.http_head``: no bytes object per header line, no HeadFields
# built field by field), when the conversion's compiled module runs; else the Python one.
http_head = getattr(COMPILED, "http_head", None) or python_http_head


@dataclass(slots=True)
class HeadFields:
    """What the index, ``meta_refresh`` and ``decoded_body`` read of a response's header lines."""

    location: bytes = b""  # the first Location
    content_types: list[bytes] = field(default_factory=list)  # every Content-Type, in order
    encoded: bool = False  # a Content-Encoding header (whatever its value)
    transfer: list[bytes] = field(default_factory=list)  # Transfer-Encoding values

    @property
    def as_stored(self) -> bool:
        """Whether ``decoded_body`` gives the body as stored (not decompressed, not de-chunked)."""
        return not self.encoded and b"chunked" not in b",".join(self.transfer).lower()


def _head_fields(lines: list[bytes]) -> HeadFields:
    """One pass over a response's header lines (``lines[0]`` is the status line)."""
    fields = HeadFields()
    located = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-type":
            fields.content_types.append(value.strip())
        elif name == b"location":
            if not located:
                fields.location, located = value.strip(), True
        elif name == b"content-encoding":
            fields.encoded = True
        elif name == b"transfer-encoding":
            fields.transfer.append(value.strip())
    return fields


# Scrapy's get_meta_refresh (and the get_base_url it calls) read response.text[0:4096]: 4,096 characters.
HEAD_CHARS = 4096
# UTF-8 decoded with "replace" (w3lib's to_unicode) gives one character per 1 to 4 bytes, and the
# decoder decides each one from its own bytes and, for a bad sequence, the byte after: the first
# 4,096 characters of the whole body are those of its first 4 * 4,096 + 1 bytes (4 bytes of margin).
UTF8_HEAD_BYTES = 4 * HEAD_CHARS + 4
# Bytes read first to find where those 4,096 characters end (most pages' start is mostly ASCII).
HEAD_PROBE_BYTES = 6 * 1024


def meta_refresh(
    url: str,
    lines: list[bytes],
    raw: bytes,
    ignore_tags: tuple[str, ...],
    start: int = 0,
    end: int | None = None,
    fields: HeadFields | None = None,
) -> tuple[float, str] | None:
    """The meta refresh Scrapy's MetaRefreshMiddleware would follow on the response whose body is
    ``raw[start:end]``, or None.

    Worked out while indexing (in the workers), from the body as the middleware sees it
    (decompressed; an HtmlResponse only; the first 4,096 characters, comments removed).

    The common page (one ``Content-Type`` naming HTML in UTF-8, no BOM, no content or transfer
    encoding) is decided without building the response: Scrapy decodes such a body as UTF-8
    with "replace" and hands ``text[:4096]`` to w3lib, so the same 4,096 characters go to the
    same two w3lib calls here (as bytes when they are valid UTF-8: w3lib then scans the bytes
    and decodes them only on a hit). Where they cannot hold "refresh" (w3lib looks for it in a
    lowercased attribute; only ASCII letters lowercase to its letters), there is none; the bytes
    that can hold those characters are the first 4,096 when they are ASCII, else at most the
    first 16,384. Anything else goes through Scrapy's own response classes, as before.
    """
    end = len(raw) if end is None else end
    if _utf8_html(lines, raw[start : min(start + 4, end)], fields):
        if not refresh_in_head(raw, start, end, HEAD_CHARS):
            return None  # the common case: no "refresh" in the 4,096 characters Scrapy reads
        tags = list(ignore_tags)
        window = utf8_head(raw, start, end)
        if (
            window is not None
            and _no_meta_refresh is not None
            and _no_meta_refresh(window, _ignored(tuple(ignore_tags)))
        ):
            return None  # w3lib's own first scan, of the bytes, would find no refresh tag (below)
        if window is not None:  # the bytes of exactly those 4,096 characters, valid UTF-8
            # On bytes, w3lib scans them first and decodes them (strictly: they are valid) only on
            # a hit, then decides on that text as on Scrapy's: a page that says "refresh" only in a
            # comment (Tencent's IE 8 redirect) costs a scan of its bytes. The base URL only matters
            # for a refresh found (w3lib's None does not depend on it).
            interval, target = html.get_meta_refresh(window, url, "utf-8", ignore_tags=tags)
            if not target:
                return None
            base = html.get_base_url(window, url, "utf-8")
            interval, target = html.get_meta_refresh(window, base, "utf-8", ignore_tags=tags)
            return (float(interval), target) if target else None
        text = raw[start : min(start + UTF8_HEAD_BYTES, end)].decode("utf-8", "replace")[:HEAD_CHARS]
        base = html.get_base_url(text, url, "utf-8")
        interval, target = html.get_meta_refresh(text, base, "utf-8", ignore_tags=tags)
        return (float(interval), target) if target else None
    raw = raw[start:end]
    if (
        b"refresh" not in raw[:65536].lower()
        and not any(line[:17].lower() == b"content-encoding:" for line in lines[1:])
        and _bytes_show_ascii(lines, raw)
    ):
        return None  # no "refresh" anywhere in the page's start
    try:
        body, _ = decoded_body(lines, raw)
    except Exception:  # noqa: BLE001 - undecodable: the spider gets it as it is, with no refresh
        return None
    if b"refresh" not in body[:65536].lower() and _bytes_show_ascii(lines, body):
        return None
    return scrapy_meta_refresh(url, lines, body, ignore_tags)


# w3lib's first scan of the bytes (comments, ignored tags, meta tags) followed in compiled code
# (``_cwalk.no_meta_refresh``), which says where it finds no meta tag that says "refresh": the page
# that says it only in a comment (every real Tencent page: its IE 8 redirect) skips w3lib's regular
# expression scan (~27 µs a page). Where it cannot tell, w3lib decides, as without the compiled module.
_no_meta_refresh = getattr(COMPILED, "no_meta_refresh", None)


@functools.lru_cache(maxsize=16)
def _ignored(ignore_tags: tuple[str, ...]) -> tuple[bytes, ...]:
    """The ignored tags' names as w3lib's pattern spells them (lowercase), as bytes."""
    return tuple(tag.encode() for tag in sorted({tag.lower() for tag in ignore_tags}))


def python_refresh_in_head(raw: bytes, start: int, end: int, chars: int) -> bool:
    """Whether "refresh", in any case, is in the bytes that can hold the first ``chars`` characters
    of the UTF-8 body ``raw[start:end]``: those before its (``chars`` + 1)-th byte that is not a
    continuation byte (0x80-0xBF; each such byte starts a character of the decoder's output, a
    replaced one too), and at most ``4 * chars`` (1 to 4 bytes a character; a bad byte is one)."""
    head = raw[start : min(start + 4 * chars, end)]
    if b"refresh" not in head.lower():
        return False  # not in the widest window (most pages): the span is not worked out
    span = _chars_span(chars).match(head) if len(head) > chars else None
    return span is None or b"refresh" in head[: span.end()].lower()


@functools.lru_cache(maxsize=8)
def _chars_span(chars: int) -> re.Pattern[bytes]:
    """Matches up to the (``chars`` + 1)-th byte that is not a continuation byte (linear: the two
    classes are disjoint)."""
    return re.compile(rb"(?:[\x80-\xbf]*[^\x80-\xbf]){%d}[\x80-\xbf]*" % chars)


# The same test compiled (``_cwalk.refresh_in_head``: no copy and no lowercased copy of up to 16 KB
# per page; 10 -> ~2 µs a page), when the conversion's compiled module runs; else the Python one.
refresh_in_head = getattr(COMPILED, "refresh_in_head", None) or python_refresh_in_head


def scrapy_meta_refresh(
    url: str, lines: list[bytes], body: bytes, ignore_tags: tuple[str, ...]
) -> tuple[float, str] | None:
    """Scrapy's own decision on a decoded body: its response class for these headers (without
    ``Content-Encoding``, which HttpCompressionMiddleware removed) and ``get_meta_refresh``."""
    headers = Headers()
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() != b"content-encoding":
            headers.appendlist(name.strip(), value.strip())
    respcls = responsetypes.from_args(headers=headers, url=url, body=body)
    if not issubclass(respcls, HtmlResponse):
        return None
    interval, target = get_meta_refresh(respcls(url=url, headers=headers, body=body), ignore_tags=list(ignore_tags))
    return (float(interval), target) if target else None


def _bytes_show_ascii(lines: list[bytes], raw: bytes) -> bool:
    """Whether a "refresh" in the text is one in the bytes: no BOM (UTF-16 and UTF-32 pages have one)
    and no header charset that writes ASCII letters otherwise (UTF-16, UTF-32, EBCDIC) or can split
    them with escapes (ISO-2022, UTF-7). A page that names such a charset only in its own markup,
    or whose charset Scrapy guesses, is taken as ASCII-compatible."""
    if read_bom(raw[:4])[0] is not None:
        return False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            charset = http_content_type_encoding(value.strip().decode("latin-1"))
            if charset is not None and not _ascii_scannable(charset):
                return False
    return True


@functools.lru_cache(maxsize=64)
def _ascii_scannable(encoding: str) -> bool:
    """ASCII "refresh" is its own bytes in this encoding, and no escape can write or split it
    otherwise (ISO-2022's and HZ's shifts, UTF-7's base64)."""
    try:
        name = codecs.lookup(encoding).name
        same = b"refresh".decode(encoding, "replace") == "refresh"
    except LookupError:
        return False
    return same and not any(shifting in name for shifting in ("2022", "utf-7", "hz"))


def _utf8_head(raw: bytes, start: int, end: int) -> bytes | None:
    """The bytes of the first 4,096 characters of the UTF-8 body ``raw[start:end]`` (all of it
    if shorter), or None where its start is not valid UTF-8. Read from the first 6 KB when they
    hold enough characters, else from the first 16 KB."""
    for size in (HEAD_PROBE_BYTES, UTF8_HEAD_BYTES):
        stop = min(start + size, end)
        probe = raw[start:stop]
        if probe.isascii():
            return probe[:HEAD_CHARS]  # 6 KB of ASCII: 4,096 characters, or all of a shorter body
        try:  # not final unless the body ends here: a sequence the probe cuts is left over, no error
            text, used = codecs.utf_8_decode(probe, "strict", stop == end)
        except UnicodeDecodeError:
            return None  # bad UTF-8: the bytes are not the characters ("replace" makes some)
        if len(text) > HEAD_CHARS:
            return probe[: used - len(text[HEAD_CHARS:].encode("utf-8"))]
        if stop == end:
            return probe
    return None  # not reached: 16,388 bytes of valid UTF-8 hold more than 4,096 characters


def _compiled_utf8_head(raw: bytes, start: int, end: int) -> bytes | None:
    if type(raw) is not bytes:
        return _utf8_head(raw, start, end)
    return COMPILED.utf8_head(raw, start, end, HEAD_CHARS, (HEAD_PROBE_BYTES, UTF8_HEAD_BYTES))


# The same window found by a compiled strict UTF-8 check that makes no str (``_cwalk.utf8_head``;
# the reference decoded each probe and encoded the characters past the limit again: ~10 of the
# ~43 µs a page that says "refresh" costs the index, as every real Tencent page does), when the
# conversion's compiled module runs; else the Python one.
utf8_head = _compiled_utf8_head if getattr(COMPILED, "utf8_head", None) else _utf8_head


_UTF8_TYPES: dict[bytes, bool] = {}  # Content-Type value -> an HTML response class and a UTF-8 charset


def _utf8_html(lines: list[bytes], first: bytes, fields: HeadFields | None = None) -> bool:
    """Whether Scrapy makes this response an HtmlResponse whose text is the body decoded as UTF-8
    (w3lib's "replace"): exactly one Content-Type, naming HTML and a charset that resolves to
    UTF-8; no Content-Encoding or Transfer-Encoding (the body is as stored); no BOM at the
    body's ``first`` bytes (which would override the header). ``fields``: ``_head_fields(lines)``."""
    if fields is None:
        fields = _head_fields(lines)
    if len(fields.content_types) != 1 or fields.encoded or fields.transfer or read_bom(first)[0] is not None:
        return False
    content_type = fields.content_types[0]
    known = _UTF8_TYPES.get(content_type)
    if known is None:
        known = issubclass(responsetypes.from_content_type(content_type), HtmlResponse) and (
            http_content_type_encoding(content_type.decode("latin-1")) == "utf-8"
        )
        if len(_UTF8_TYPES) < 256:
            _UTF8_TYPES[content_type] = known
    return known


def _gzipped(path: Path) -> bool:
    name = path.name.removesuffix(OPEN_SUFFIX)
    if name.endswith(".gz"):
        return True
    if name.endswith(".warc"):
        return False
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


PIECE = 8 << 20  # a file bigger than this is indexed in pieces of about this size, in parallel
# A smaller archive is cut into pieces down to this size, so that each of N workers indexes about
# two (and, keeping their bodies, converts their articles): not one worker for all of it.
MIN_PIECE = 1 << 20


def piece_size(files: list[Path], jobs: int) -> int:
    """The size of the pieces ``jobs`` workers index: PIECE, or less for an archive under 2 pieces a worker."""
    total = sum(path.stat().st_size for path in files)
    return min(PIECE, max(MIN_PIECE, total // (2 * jobs)))


def pieces(files: list[Path], split: bool, ignore_tags: tuple[str, ...] = (), piece: int | None = None) -> list[Piece]:
    """Slices to index: whole files, or ``.warc.gz`` files over 1.5 ``piece`` (PIECE) cut at record starts."""
    piece = PIECE if piece is None else piece
    out: list[Piece] = []
    for path in files:
        size = path.stat().st_size
        if not split or size <= piece * 1.5 or path.name.endswith(OPEN_SUFFIX) or not _gzipped(path):
            out.append((str(path), 0, None, ignore_tags))
            continue
        # Pieces of one size (no small last one): workers that take them in turn finish together.
        step = -(-size // max(2, round(size / piece)))
        with path.open("rb") as handle:
            starts = record_starts(handle, list(range(0, size, step)))
        if not starts or starts[0] != 0:
            starts.insert(0, 0)  # damage at the very start: the first piece reports it
        bounds: list[int | None] = [*starts[1:], None]
        out.extend((str(path), start, until, ignore_tags) for start, until in zip(starts, bounds, strict=True))
    return out


Piece = tuple[str, int, "int | None", tuple[str, ...]]  # (file, start, until, METAREFRESH_IGNORE_TAGS)


def index_piece(piece: Piece) -> FileIndex:
    """Index one slice of a WARC file: member by member for ``.warc.gz``, with warcio for plain ``.warc``."""
    name, start, until, ignore_tags = piece
    path = Path(name)
    index = FileIndex(name, ignore_tags=ignore_tags)
    if not _gzipped(path):
        _index_plain(path, index)
        return index
    with path.open("rb") as handle:
        limit = complete_length(handle) if path.name.endswith(OPEN_SUFFIX) else None
        handle.seek(0)
        view, stop, end_at = member_span(handle, limit, until)
        pos = start
        while pos < end_at:
            if _index_run is not None and read._compiled_inflate is not None:
                # The plain members in one compiled loop (``_cwalk.index_run``), up to the first it
                # leaves to the reference below (damage, an unusual record layout).
                pos, records, _kept.left = _index_run(
                    view, pos, end_at, stop, read.FIRST, CHUNK, ZLIB_ERRORS, inflater_for_gzip, WARC_FIELDS,
                    index, _index_one, _UTF8_TYPES, Entry, HEAD_CHARS, _kept.left,
                )  # fmt: skip
                index.records += records
                if pos >= end_at:
                    break
            item = read_member(view, pos, stop)
            if isinstance(item, Damage):
                index.damaged.append(item)
                if item.to_end:
                    break
            else:
                _index_member(index, item.start, item.end, item.data)
            pos = item.end
    return index


def _index_member(index: FileIndex, start: int, end: int, data: bytes) -> None:
    """Index the records of one whole member ``data`` (``_cwalk.index_run``'s reference, with ``_index_one``)."""
    try:
        parsed = _records(data)
    except (ValueError, KeyError) as exc:
        index.damaged.append(Damage(start, end, f"unparsable WARC record: {exc}", describe(data)))
        return
    for headers, block_start, block_end in parsed:
        index.records += 1
        _kept.left = _index_one(index, start, end, headers, data, (block_start, block_end), _kept.left)


def _index_one(
    index: FileIndex, start: int, end: int, headers: Any, data: bytes, span: tuple[int, int], left: int
) -> int:
    """Index one record (``_index_record``) and keep a response's body while ``left`` bytes allow;
    returns ``left`` after (REBUILD_KEEP_MB: ``_kept``)."""
    responses = len(index.responses)
    _index_record(index, start, end, headers, data, span)
    if len(index.responses) == responses:
        return left
    entry = index.responses[-1]
    block_start, block_end = span
    if entry.body_at >= 0:
        # The body as stored, copied out now that the member is in cache (read later, the copy
        # reads it back from memory); the member is freed.
        if left >= block_end - entry.body_at:
            entry.kept = data[entry.body_at : block_end]
            left -= len(entry.kept)
    elif left >= block_end - block_start:
        # The inflated member (read at entry.block): no second inflate to convert it.
        entry.data = data
        left -= block_end - block_start
    return left


# The plain members of a piece indexed in one compiled loop (``_cwalk.index_run``: no Member, generator
# step or Python frame per member, the common records decided in it), when the conversion's compiled
# module runs; else (and for whatever it leaves) ``read_member`` + ``_index_member``.
_index_run = getattr(COMPILED, "index_run", None)


class _Kept:
    """Bytes of inflated response blocks the index pass may still keep (rebuild -j 1: REBUILD_KEEP_MB)."""

    left = 0


_kept = _Kept()


def index_file(name: str, ignore_tags: tuple[str, ...] = ()) -> FileIndex:
    """Index one whole WARC file."""
    return index_piece((name, 0, None, ignore_tags))


def merge(indexes: Iterable[FileIndex]) -> Iterator[FileIndex]:
    """Consecutive slices of one file joined into one index (a request record may follow in the next slice)."""
    current: FileIndex | None = None
    for index in indexes:
        if current is not None and current.path == index.path:
            current.responses.extend(index.responses)
            current.requests.update(index.requests)
            current.infos.update(index.infos)
            current.damaged.extend(index.damaged)
            current.records += index.records
            continue
        if current is not None:
            yield current
        current = index
    if current is not None:
        yield current


def _index_plain(path: Path, index: FileIndex) -> None:
    for item in iter_records(path):
        if isinstance(item, Damage):
            index.damaged.append(item)
            continue
        offset, record = item
        index.records += 1
        head = record.rec_headers
        headers = {k.lower().encode("latin-1"): v.encode("utf-8") for k, v in head.headers}
        block = b""
        if record.http_headers is not None:
            block = record.http_headers.to_bytes() if hasattr(record.http_headers, "to_bytes") else b""
        block += record.raw_stream.read()
        _index_record(index, offset, -1, headers, block, (0, len(block)), gz=False)


_handles: dict[str, Any] = {}


def read_response(entry: Entry) -> tuple[list[bytes], bytes]:
    """(status line + header lines, body as stored) of an archived response."""
    if entry.data is not None and entry.block is not None:  # kept from the index pass: read once, then freed
        data, entry.data = entry.data, None
        lines, body_at = _http_lines(data, *entry.block)
        return lines, data[body_at : entry.block[1]]
    if entry.end < 0:  # uncompressed: warcio reads it, as replay does
        from warcio.archiveiterator import ArchiveIterator

        from newscrawl.archive.index import _read_head

        with open(entry.path, "rb") as handle:
            handle.seek(entry.start)
            record = next(iter(ArchiveIterator(handle, no_record_parse=True)))
            lines = _read_head(record.raw_stream)
            return lines, record.raw_stream.read()
    data = _inflated(entry)
    if entry.block is not None:  # found while indexing: no header to read again; no copy of the block
        start, end = entry.block
        head_end = data.find(b"\r\n\r\n", start, end)
        if head_end < 0:
            return data[start:end].split(b"\r\n"), b""
        return data[start:head_end].split(b"\r\n"), data[head_end + 4 : end]
    for headers, block_start, block_end in _records(data):
        if headers.get(b"warc-type") == b"response":
            lines, body_at = _http_lines(data, block_start, block_end)
            return lines, data[body_at:block_end]
    raise ValueError(f"no response record at {entry.path}:{entry.start}")


def _inflated(entry: Entry) -> bytes:
    """The inflated gzip member of a ``.warc.gz`` entry, read from its file."""
    handle = _handles.get(entry.path)
    if handle is None:  # one open file per WARC file and process: articles come in archive order
        while len(_handles) >= 16:
            _handles.pop(next(iter(_handles))).close()
        handle = _handles[entry.path] = open(entry.path, "rb")  # noqa: SIM115 - kept open on purpose
    member = os.pread(handle.fileno(), entry.end - entry.start, entry.start)  # no seek: no shared offset
    return inflater_for_gzip().decompress(member)


def response_body(entry: Entry) -> tuple[bytes, str | None]:
    """``decoded_body(*read_response(entry))``: the body as the spider gets it, and its Content-Type.
    Where the index found the body as stored (``entry.body_at``), no header line is read again."""
    if entry.body_at < 0 or entry.block is None:
        return decoded_body(*read_response(entry))
    body = entry.kept
    if body is None:
        return _inflated(entry)[entry.body_at : entry.block[1]], entry.content_type
    entry.kept = None  # kept from the index pass: read once, then freed
    return body, entry.content_type


_BODY_HEADERS = frozenset({b"transfer-encoding", b"content-encoding", b"content-type"})


def decoded_body(lines: list[bytes], body: bytes) -> tuple[bytes, str | None]:
    """The body as Scrapy's middlewares hand it to the spider (de-chunked, decompressed), and its Content-Type."""
    headers: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:  # only the three headers read below are kept
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in _BODY_HEADERS:
            headers.setdefault(name, []).append(value.strip())
    if b"chunked" in b",".join(headers.get(b"transfer-encoding", [])).lower():
        from io import BytesIO

        from warcio.bufferedreaders import ChunkedDataReader

        body = ChunkedDataReader(BytesIO(body)).read()
    encodings = headers.get(b"content-encoding")
    if encodings:
        # Scrapy's own decoders, in its order (HttpCompressionMiddleware at 590 in replay).
        from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware as Compression

        to_decode, _ = Compression._split_encodings(encodings)
        for encoding in to_decode:
            body = Compression._decode(body, encoding, 0)
    content_type = headers.get(b"content-type")
    return body, content_type[0].decode("latin-1") if content_type else None


# ---- 2. plan ----------------------------------------------------------------------------


@dataclass(slots=True)
class Stored:
    """An archived response as replay's middleware sees it (``WarcReplayMiddleware`` reads these)."""

    entry: Entry
    uri: str
    status: int
    method: str
    body: bytes
    kind: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    capture: Any = None  # the capture that archived it, until its kind and details are worked out


class ArchiveIndex(ServedInOrder):
    """The archive's responses by request key, served as :class:`newscrawl.archive.index.ReplayIndex` serves them.

    The same serving class, so replay's own sweep (``WarcReplayMiddleware.spider_idle``) runs
    on it unchanged. What each response's site recognizes in it (kind, details) is only read
    for the responses the sweep looks at (``unserved``) and, for an article request whose URL
    form was not archived, to find it by id (``by_article``): it is worked out then, not for
    every response up front (the site's ``classify`` cost ~10 us per archived response).
    """

    def __init__(self, files: list[FileIndex], classify: Callable[[Any, str, str, bytes], Any]) -> None:
        super().__init__()
        self.damaged: list[tuple[str, Damage]] = []
        self.first_capture: Any = None
        self.classify = classify
        self.archived: list[Stored] | None = []  # in archive order, until by_article is filled
        self._unserved_keys: list[Key] | None = None  # keys with a response left at the last sweep
        # A few objects per archived response, none of them garbage or in a cycle: with the
        # collector on, their growth set off a full collection here that walked the whole index
        # (~50 ms per 10,000 articles, 10% of rebuild's own work); it is paused while they are made.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._add(files)
        finally:
            if collecting:
                gc.enable()

    def _add(self, files: list[FileIndex]) -> None:
        from newscrawl.archive.index import Capture, _parse_fields

        # Once per archived response: names bound here, Stored's fields given in order.
        by_key, archived, plain = self.by_key, self.archived, ("GET", b"")
        assert archived is not None
        for index in files:
            self.damaged.extend((index.path, damage) for damage in index.damaged)
            captures = {rid: Capture.from_fields(_parse_fields(payload)) for rid, payload in index.infos.items()}
            if self.first_capture is None:
                self.first_capture = next((c for c in captures.values() if c), None)
            requests, capture_of = index.requests.get, captures.get
            for entry in index.responses:
                method, body = requests(entry.record_id) or requests(entry.concurrent_to) or plain
                uri = entry.uri
                stored = Stored(entry, uri, entry.status, method, body, "", {}, capture_of(entry.warcinfo))
                # request_key, inline: the body's sha1 for a POST's only.
                key = (method.upper(), uri, sha1(body).hexdigest() if body else "")
                by_key.setdefault(key, []).append(stored)
                archived.append(stored)
                # Matched: the record ids are not needed again (memory per archived response).
                entry.record_id = entry.concurrent_to = entry.warcinfo = ""

    def classified(self, stored: Stored) -> Stored:
        """``stored`` with its kind and details (what its capture's site recognizes), worked out once."""
        capture = stored.capture
        if capture is not None:
            stored.capture = None
            recognized = self.classify(capture, stored.method, stored.uri, stored.body)
            if recognized:
                stored.kind, stored.details = recognized
        return stored

    def _fill_by_article(self) -> None:
        """Every response classified, ``by_article`` filled in archive order (an id's first response wins)."""
        archived, self.archived = self.archived, None  # once
        for stored in archived or ():
            if self.classified(stored).kind == "article":
                self.by_article.setdefault(stored.details["id"], request_key(stored.method, stored.uri, stored.body))

    def next_for(self, method: str, url: str, body: bytes, article_id: str | None, key: Key | None = None) -> Any:
        """ServedInOrder's, with ``by_article`` filled at the first article request not archived as asked.
        ``key``: ``request_key(method, url, body)``, when the caller has it already."""
        if key is None:
            key = request_key(method, url, body)
        if key not in self.by_key:
            if not article_id:
                return None
            self._fill_by_article()
            key = self.by_article.get(article_id)
            if key is None:
                return None
        used = self.used.get(key, 0)
        self.used[key] = used + 1
        entries = self.by_key[key]
        return entries[min(used, len(entries) - 1)]

    def unserved(self) -> Iterator[Any]:
        """ServedInOrder's, classified. Replay's sweep asks at each idle point (three passes a run)
        and finds a handful among the archive's keys: only the keys the last pass left are looked
        at again (``used`` only grows, so a key served whole stays so), one pass over all a run."""
        used, by_key = self.used, self.by_key
        keys = by_key.keys() if self._unserved_keys is None else self._unserved_keys
        left = [key for key in keys if used.get(key, 0) < len(by_key[key])]
        self._unserved_keys = left
        for key in left:
            for stored in by_key[key][used.get(key, 0) :]:
                yield self.classified(stored)


@dataclass(slots=True)
class Task:
    """One article to convert: the archived response replay's spider gets, and its request's meta."""

    entry: Entry
    url: str
    article_id: str
    redirected: bool
    feed: dict[str, str]

    def packed(self) -> tuple[Any, ...]:
        """What a worker needs of it, as a plain tuple: the main process, which also plans,
        pickles every task for --jobs N (a Task and its Entry cost ~10x as much)."""
        entry = self.entry
        return (
            entry.path, entry.start, entry.end, entry.block, entry.body_at, entry.content_type,
            self.url, self.article_id, self.redirected, self.feed,
        )  # fmt: skip

    @classmethod
    def unpacked(cls, packed: tuple[Any, ...]) -> Task:
        path, start, end, block, body_at, content_type, url, article_id, redirected, feed = packed
        # Only where the member and the body are: what response_body reads (a worker reads it from the file).
        entry = Entry(path, start, end, "", 0, "", "", "", "", block=block, body_at=body_at, content_type=content_type)
        return cls(entry, url, article_id, redirected, feed)


class PlanStats:
    """The stats collector calls the spider, replay's sweep and the summary make, without Scrapy's
    per-call wrapper (StatsCollector checks every attribute access for a deprecated argument)."""

    def __init__(self) -> None:
        self._stats: dict[str, Any] = {}

    def get_value(self, key: str, default: Any = None) -> Any:
        return self._stats.get(key, default)

    def get_stats(self) -> dict[str, Any]:
        return self._stats

    def set_value(self, key: str, value: Any) -> None:
        self._stats[key] = value

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self._stats[key] = self._stats.get(key, start) + count

    def max_value(self, key: str, value: Any) -> None:
        self._stats[key] = max(self._stats.get(key, value), value)

    def min_value(self, key: str, value: Any) -> None:
        self._stats[key] = min(self._stats.get(key, value), value)


class _Engine:
    """The part of Scrapy's engine the spider and replay's sweep call: ``crawl(request)``."""

    def __init__(self, queue: deque) -> None:
        self.queue = queue

    def crawl(self, request: Any) -> None:
        self.queue.append(request)


def _drive(agen: Any) -> list[Any]:
    """Everything an async generator that never awaits yields (the spider's ``start``)."""
    out = []
    while True:
        step = agen.__anext__()
        try:
            step.send(None)
        except StopIteration as done:
            out.append(done.value)
        except StopAsyncIteration:
            return out
        else:  # pragma: no cover - start() awaited something
            step.close()
            raise RuntimeError("the spider's start() awaited: rebuild cannot drive it")


_SAFE_TAIL = re.compile(r"[0-9A-Za-z_-]+")  # unreserved: left alone in any part of a URL


class _PlannedRequest(Request):
    """A Request whose URL, when it is a prefix already known to be escaped plus an id-like last
    part, is taken as it is: ``safe_url_string`` (a third of the plan's time per article in the
    main process, which for --jobs N plans while the workers convert) would give it back as is.
    Characters of ``[0-9A-Za-z_-]`` are never escaped, and the prefix is checked once with one such
    part. Any other URL (a redirect target, a swept page's) is escaped as Request escapes it."""

    _safe_prefixes: dict[str, bool] = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> _PlannedRequest:
        # Not in Scrapy's trackref registry (``object_ref.__new__``: a WeakKeyDictionary entry and
        # a clock read per request, a weakref callback when it goes): the telnet console's
        # prefs() that reads it has no engine to look at in a rebuild. ~1 µs of each article's plan.
        return object.__new__(cls)

    def _set_url(self, url: str) -> None:
        prefix, slash, tail = url.rpartition("/")
        if slash and _SAFE_TAIL.fullmatch(tail) and not self._url_is_verbatim():
            known = self._safe_prefixes.get(prefix)
            if known is None:
                probe = prefix + "/x0"
                known = "://" in prefix and safe_url_string(probe, self.encoding) == probe
                if len(self._safe_prefixes) < 1024:
                    self._safe_prefixes[prefix] = known
            if known:
                self._url = url
                return
        super()._set_url(url)

    @classmethod
    def article(cls, url: str, callback: Callable, errback: Callable, meta: dict[str, Any]) -> _PlannedRequest:
        """``cls(url, callback=…, errback=…, meta=meta)`` without Request.__init__'s general
        checks and copies: a GET with no body, headers, cookies, flags or cb_kwargs, and ``meta``
        (a dict made for it) kept as it is. Each attribute as Request.__init__ sets it: checked
        slot by slot against a request made by it before it is used (:func:`_planned_article_request`)."""
        self = object.__new__(cls)
        self._encoding = "utf-8"
        self.method = "GET"
        self._meta = meta
        # _set_url's fast path without its calls (``meta`` has no verbatim_url): a known-safe prefix.
        prefix, slash, tail = url.rpartition("/")
        if slash and cls._safe_prefixes.get(prefix) and _SAFE_TAIL.fullmatch(tail):
            self._url = url
        else:
            self._set_url(url)
        self._body = b""
        self.priority = 0
        self.callback = callback
        self.errback = errback
        self._cookies = None
        self._headers = None
        self.dont_filter = False
        self._cb_kwargs = None
        self._flags = None
        return self


def _request_slots(request: Any) -> dict[str, Any]:
    """Every slot a Request's class chain declares (but ``__weakref__``), with its value or a marker if unset."""
    names = {name for klass in type(request).__mro__ for name in getattr(klass, "__slots__", ())}
    names.discard("__weakref__")
    return {name: getattr(request, name, _UNSET) for name in sorted(names)}


_UNSET = object()


def _planned_article_request(spider: Any) -> Callable[..., Any] | None:
    """The spider's ``article_request`` making :class:`_PlannedRequest` objects, if its requests
    are the spider's own in every field (checked on two; else None: the spider's is kept).

    The article URL's template is read once when the site's ``article_url`` is the base class's
    (the template's ``format``): it is a setting, and settings do not change while a rebuild plans."""
    from newscrawl.sites.base import Site

    site, settings = spider.site, spider.settings
    callback, errback = spider.parse_article, spider.article_failed
    made = _PlannedRequest.article
    if type(site).article_url is Site.article_url:
        url_of = str(settings.get(site.article_url_setting)).format  # called with id=

        def article_request(article_id: str, feed: dict[str, str] | None = None) -> Any:
            return made(url_of(id=article_id), callback, errback, {"article_id": article_id, "feed": feed or {}})
    else:

        def article_request(article_id: str, feed: dict[str, str] | None = None) -> Any:
            url = site.article_url(article_id, settings)
            return made(url, callback, errback, {"article_id": article_id, "feed": feed or {}})

    def fields(request: Any) -> tuple[Any, ...]:
        return (
            request.url, request.method, request.body, request.meta, request.callback, request.errback,
            request.priority, request.dont_filter, dict(request.headers), request.cookies, request.flags,
            request.cb_kwargs, request.encoding,
        )  # fmt: skip

    def whole(article_id: str, feed: dict[str, str] | None) -> bool:
        # The lean constructor gives what Request.__init__ gives, slot by slot (a Scrapy that
        # sets another attribute there leaves one unset here: the spider's requests are kept).
        mine = article_request(article_id, feed)
        made_by_init = _PlannedRequest(
            mine.url, callback=callback, errback=errback, meta={"article_id": article_id, "feed": feed or {}}
        )
        return _request_slots(mine) == _request_slots(made_by_init)

    try:
        same = all(
            fields(spider.article_request(probe, feed)) == fields(article_request(probe, feed)) and whole(probe, feed)
            for probe, feed in (("20250208A07Y6400", {"title": "t"}), ("x", None))
        )
    except Exception:  # noqa: BLE001 - a spider whose requests this cannot mirror keeps its own
        return None
    return article_request if same else None


class Planner:
    """Replay without the engine: the real spider and replay's sweep, on an :class:`ArchiveIndex`.

    Requests are answered in the engine's stead: the n-th request for a key gets the n-th
    archived response, redirects are followed (RedirectMiddleware: REDIRECT_MAX_TIMES, the
    duplicate filter on the target), retryable statuses are asked again (RetryMiddleware:
    RETRY_HTTP_CODES, ``max_retry_times``), other non-2xx answers go to the errback as
    HttpError (HttpErrorMiddleware). Feed pages are parsed by the spider at once; article
    responses become :class:`Task` objects instead of calling ``parse_article``.
    """

    def __init__(
        self,
        crawler: Any,
        spider: Any,
        index: ArchiveIndex,
        sink: Callable[[list[Task]], None],
        drain: Callable[[], None],
        chunk: int = 64,
    ) -> None:
        from newscrawl.archive.replay import NotArchived, WarcReplayMiddleware

        self.not_archived = NotArchived
        self.sink = sink
        self.drain = drain
        self.chunk = chunk
        self.pending: list[Task] = []
        self.planned: set[str] = set()
        self._existing_file = spider.existing_file
        # A folder that holds no file yet needs no stat per article but for those this rebuild writes.
        output = Path(crawler.settings.get("OUTPUT_DIR"))
        self.empty_output = not output.is_dir() or not any(p.is_file() for p in output.rglob("*"))
        spider.existing_file = self.existing_file
        planned = _planned_article_request(spider)
        if planned is not None:
            spider.article_request = planned
        self.crawler = crawler
        self.spider = spider
        self.parse_article = spider.parse_article  # one bound method, not one per answered request
        self.index = index
        self.settings = crawler.settings
        self.stats = crawler.stats
        # PlanStats' dict, counted into in place for the two counts every request and article
        # makes (PlanStats.inc_value's own step, without the call); None: another collector.
        self.counts: dict[str, Any] | None = self.stats._stats if type(self.stats) is PlanStats else None
        self.queue: deque = deque()
        crawler.engine = _Engine(self.queue)
        self.replay = WarcReplayMiddleware(crawler, index)  # its sweep, on our index
        self.fingerprints: set[Key] = set()
        retry = self.settings
        self.retry_enabled = retry.getbool("RETRY_ENABLED")
        self.retry_times = retry.getint("RETRY_TIMES")
        self.retry_codes = {int(c) for c in retry.getlist("RETRY_HTTP_CODES")}
        self.redirect_enabled = retry.getbool("REDIRECT_ENABLED")
        self.redirect_max = retry.getint("REDIRECT_MAX_TIMES")
        self.metarefresh_enabled = retry.getbool("METAREFRESH_ENABLED")
        self.metarefresh_maxdelay = retry.getint("METAREFRESH_MAXDELAY")

    def existing_file(self, article_id: str) -> bool:
        """The spider's check; no ``stat`` for an article this rebuild does not write into a new folder."""
        if self.empty_output and article_id not in self.planned:
            return False
        return bool(self._existing_file(article_id))

    def run(self) -> int:
        """Plan the whole replay, handing tasks to ``sink`` in chunks as they come; returns their number."""
        self.queue.extend(_drive(self.spider.start()))
        while True:
            while self.queue:
                self.handle(self.queue.popleft())
                if len(self.pending) >= self.chunk:
                    self.sink(self.pending)
                    self.pending = []
            # Replay sweeps when the engine is idle: every article so far converted, written or
            # marked gone (what the sweep checks). Wait for the workers to get there too.
            if self.pending:
                self.sink(self.pending)
                self.pending = []
            self.drain()
            try:
                self.replay.spider_idle(self.spider)
                self.spider.spider_idle(self.spider)
            except DontCloseSpider:
                continue
            break
        if self.pending:
            self.sink(self.pending)
            self.pending = []
        return len(self.planned)

    def _seen_before(self, request: Any, key: Key | None = None) -> bool:
        """Scrapy's duplicate filter: a request (not ``dont_filter``) asked before is dropped.
        ``key``: the request's ``request_key``, when the caller has it already."""
        if request.dont_filter:
            return False
        if key is None:
            key = request_key(request.method, request.url, request.body)
        if key in self.fingerprints:
            return True
        self.fingerprints.add(key)
        return False

    def handle(self, request: Any) -> None:
        stats, counts = self.stats, self.counts
        if type(request) is _PlannedRequest:  # its slots, not Request's three properties (Python calls)
            method, url, body, meta = request.method, request._url, request._body, request._meta
            if meta is None:
                meta = request.meta
        else:
            method, url, body, meta = request.method, request.url, request.body, request.meta
        # The duplicate filter's key is the index's first lookup key too: made once (request_key, inline).
        key: Key | None = (method.upper(), url, sha1(body).hexdigest() if body else "")
        if not request.dont_filter:  # Scrapy's duplicate filter (_seen_before), inline: once per request
            fingerprints = self.fingerprints
            if key in fingerprints:
                stats.inc_value("dupefilter/filtered")
                self.spider.request_dropped(request)
                return
            fingerprints.add(key)
        article_id = meta.get("article_id")
        max_retries = meta.get("max_retry_times", self.retry_times)
        retries, redirects = 0, []
        index = self.index
        by_key, used = index.by_key, index.used
        while True:
            entries = by_key.get(key) if key is not None else None
            if entries is not None:  # ArchiveIndex.next_for's common case, inline (once per request)
                served = used.get(key, 0)
                used[key] = served + 1
                stored = entries[served] if served < len(entries) else entries[-1]
            else:
                stored = index.next_for(method, url, body, article_id, key)
            if stored is None:
                stats.inc_value("newscrawl/replay/missing")
                logger.warning("Not in the WARC archive: %s %s", method, url)
                exc: Exception = self.not_archived(f"not in the WARC archive: {method} {url}")
                break
            if counts is None:
                stats.inc_value("newscrawl/replay/served")
            else:
                counts["newscrawl/replay/served"] = counts.get("newscrawl/replay/served", 0) + 1
            status = stored.status
            # RedirectMiddleware (600), then MetaRefreshMiddleware (580), as Scrapy runs them; asked
            # only of a redirect status or a page with a meta refresh (_redirect_target's None else).
            if status in REDIRECTS or stored.entry.refresh:
                target = self._redirect_target(stored, url, method)
            else:
                target = None
            if target is not None:
                if len(redirects) >= self.redirect_max:
                    exc = IgnoreRequest("max redirections reached")
                    break
                redirects.append(url)
                url, method, body = target[0], target[1], body if target[1] == method else b""
                key = None  # the target's, made by the index from these (not the escaped URL below)
                redirected = request.replace(url=url, method=method, body=body)
                if self._seen_before(redirected):
                    stats.inc_value("dupefilter/filtered")
                    self.spider.request_dropped(request)
                    return
                continue
            if status in self.retry_codes and self.retry_enabled and retries < max_retries:
                retries += 1
                stats.inc_value("retry/count")
                continue
            if 200 <= status < 300:
                self._answered(request, meta, stored, url, redirects)
                return
            if status in self.retry_codes and self.retry_enabled:
                stats.inc_value("retry/max_reached")
            response = Response(url, status=status, request=request)
            exc = HttpError(response, "Ignoring non-200 response")
            break
        failure = Failure(exc)
        failure.request = request  # as Scrapy's errback sees it
        if request.errback is not None:
            self._run(request.errback, failure, request.url)

    def _run(self, callback: Callable, argument: Any, url: str) -> None:
        """A callback's requests go to the queue; what it raises is logged and counted, as Scrapy's scraper does."""
        queue = self.queue
        try:
            for result in callback(argument) or ():
                # A Request always has both attributes: the two lookups only for anything else.
                if isinstance(result, Request) or (hasattr(result, "url") and hasattr(result, "callback")):
                    queue.append(result)
        except Exception as exc:  # noqa: BLE001 - one bad page never stops the run
            logger.error("Spider error processing %s", url, exc_info=exc)
            self.stats.inc_value(f"spider_exceptions/{type(exc).__name__}")

    def _redirect_target(self, stored: Stored, url: str, method: str) -> tuple[str, str] | None:
        """(URL, method) Scrapy's redirect middlewares send this response's request on to, or None."""
        entry = stored.entry
        if stored.status in REDIRECTS and entry.location and self.redirect_enabled:
            raw = entry.location.encode("latin-1")
            location = safe_url_string(raw)
            if raw.startswith(b"//"):
                location = urlparse(url).scheme + "://" + location.lstrip("/")
            target = urljoin(url, location)
            fragment = urlparse(url).fragment
            if fragment and not urlparse(target).fragment:
                target = urljoin(target, f"#{fragment}")
            if urlparse(target).scheme in ("http", "https"):
                post = (stored.status in (301, 302) and method == "POST") or (
                    stored.status == 303 and method not in ("GET", "HEAD")
                )
                return target, "GET" if post else method
        if entry.refresh and self.metarefresh_enabled and method != "HEAD":
            interval, target = entry.refresh
            if urlparse(target).scheme in ("http", "https") and interval < self.metarefresh_maxdelay:
                return target, "GET"
        return None

    def _answered(self, request: Any, meta: dict[str, Any], stored: Stored, url: str, redirects: list[str]) -> None:
        """``request`` (``meta``: its meta) answered by ``stored`` at ``url``: a task, or its callback run."""
        if request.callback == self.parse_article:
            self.spider.article_ended()
            counts = self.counts
            if counts is None:
                self.stats.inc_value("newscrawl/articles/fetched")
            else:
                counts["newscrawl/articles/fetched"] = counts.get("newscrawl/articles/fetched", 0) + 1
            article_id = meta["article_id"]
            self.planned.add(article_id)
            self.pending.append(Task(stored.entry, url, article_id, bool(redirects), meta.get("feed") or {}))
            return
        body, content_type = response_body(stored.entry)
        headers = {"Content-Type": content_type} if content_type else {}
        meta = dict(meta)
        if redirects:
            meta["redirect_urls"] = redirects
        response = TextResponse(
            url, status=stored.status, headers=headers, body=body, request=request.replace(meta=meta)
        )
        self._run(request.callback, response, request.url)


# ---- 3. convert -------------------------------------------------------------------------


class Counts:
    """The stats collector's counting calls, into a Counter (sent back from the workers)."""

    def __init__(self) -> None:
        self.values: Counter[str] = Counter()

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] += count

    def set_value(self, key: str, value: Any) -> None:  # pragma: no cover - not used by the pipelines
        self.values[key] = value


def page_functions(site: str, settings: Any) -> tuple[Callable, Callable, type[Exception]]:
    """(decode_html, extract, Unavailable) of the spider's site, as its ``parse_article`` calls them."""
    from newscrawl.sites import get_site
    from newscrawl.sites.base import Unavailable

    page = get_site(site, settings)
    return page.decode_html, page.extract, Unavailable


# Articles converted before their files are written, back to back (a --jobs N chunk is 64 too).
WRITE_BATCH = 64
# Room made in the first generation's threshold for each article held until written: the objects
# the collector tracks that a converted article adds (mock pages, per article of a batch of 64:
# 52-128, mean 92). Twice the mean: a collection in the middle of a batch walks every held article
# (~0.8 ms); at 100, one batch in four had one (82 ms of collections per 10,000 articles; 7 ms at 200).
HELD_OBJECTS = 200


class Converter:
    """One process's article converter: the spider's extraction, then every item pipeline.

    A chunk of tasks is converted in two passes: extraction and the steps before the writer
    for every task, then the writer (and any step after it) for every article that got
    there. Same steps in the same order for each article, same counts; only the writes of a
    chunk come together: the kernel's file creation (open, write, close, rename, ~20 µs of
    system time per file when each follows a page's conversion) costs about half as much
    when the files of a chunk are written back to back, its code and data still in cache.
    Articles held until written would look like growth to the garbage collector (~4x the
    first-generation collections, more full ones): its threshold makes room for them meanwhile.
    """

    def __init__(self, settings: Any, site: str) -> None:
        from scrapy.utils.misc import load_object

        from newscrawl.crawl.pipelines import ArticlePipeline, extract_failed, run_steps

        self.settings = settings

        self.extract_failed = extract_failed
        self.decode_html, self.extract, self.unavailable = page_functions(site, settings)

        self.counts = Counts()
        self.pipelines = []
        for path, _ in sorted(settings.getdict("ITEM_PIPELINES").items(), key=lambda kv: kv[1]):
            cls = load_object(path)
            if isinstance(cls, type) and issubclass(cls, ArticlePipeline):
                self.pipelines.append(cls(settings, self.counts))
        self.log = logging.getLogger(site)  # the spider's logger name, as its lines say
        from newscrawl.crawl.writer import WriterPipeline

        if self.pipelines and isinstance(self.pipelines[-1], WriterPipeline):
            # Nothing reads the item after the last step here (no manifest, no revisits, no
            # feed export): the file's sha256 would be computed for no one.
            self.pipelines[-1].digest = False
        # The steps before the first one that writes (owns the disk), and that one and the rest.
        disk = next((i for i, p in enumerate(self.pipelines) if getattr(p, "owns_disk", False)), len(self.pipelines))
        self.before, self.after = self.pipelines[:disk], self.pipelines[disk:]
        # Each part run as one call: its steps' process_article directly (run_steps) when every
        # step keeps ArticlePipeline's process_item, else each process_item in turn.
        self.run_before, self.run_after = (
            functools.partial(run_steps, tuple(part))
            if all(type(p).process_item is ArticlePipeline.process_item for p in part)
            else functools.partial(_each_process_item, tuple(part))
            for part in (self.before, self.after)
        )
        # Whether nothing after the steps before the writer reads an article's body (the writer
        # alone, which reads the file text): the body is then freed when those steps are done
        # (see ``_prepare``). A subclass of the writer, or any other step after it, may read it.
        self.body_unread = len(self.after) == 1 and type(self.after[0]) is WriterPipeline

    def convert(self, task: Task) -> tuple[str, str] | None:
        """Convert and write one article; returns (id, reason) when it is to be marked gone."""
        return self.convert_all([task])[0]

    def convert_all(self, tasks: list[Task]) -> list[tuple[str, str] | None]:
        """Convert and write each task's article (extraction and the steps before the writer for
        all, then the writer and the steps after it for all); per task, (id, reason) when it is
        to be marked gone, else None."""
        results: list[Any] = []
        threshold = gc.get_threshold()
        for first in range(0, len(tasks), WRITE_BATCH):
            batch = tasks[first : first + WRITE_BATCH]
            if threshold[0]:
                # The batch's articles are held until written: their objects would count as
                # growth and start collections that one article at a time does not (and push
                # them to the older generations); the first threshold makes room for them.
                gc.set_threshold(threshold[0] + HELD_OBJECTS * len(batch), *threshold[1:])
            try:
                done = [self._prepare(task) for task in batch]
                for at, article in enumerate(done):
                    if isinstance(article, Article):
                        done[at] = self._run(article, batch[at].article_id, self.run_after)
            finally:
                gc.set_threshold(*threshold)
            results.extend(done)
        return results

    def _prepare(self, task: Task) -> Any:
        """The article after the steps before the writer, or what ``convert`` returns for it."""
        stats = self.counts
        article_id = task.article_id
        try:
            body, content_type = response_body(task.entry)
            text = self.decode_html(body, content_type)
            article = self.extract(text, task.url, requested_id=article_id, redirected=task.redirected)
        except self.unavailable as exc:
            stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.log.warning("Skipped %s (%s): %s", article_id, exc.reason, exc.detail)
            return article_id, exc.reason
        except Exception as exc:  # noqa: BLE001 - one bad page must never stop the rebuild
            self.extract_failed(stats, self.log, article_id, task.url, exc)
            return None
        article.feed = task.feed
        stats.values[f"newscrawl/template/{article.template or 'none'}"] += 1  # stats.inc_value, one frame less
        done = self._run(article, article_id, self.run_before, last=not self.after)
        if self.body_unread and isinstance(done, Article):
            # The body's blocks and spans (a few hundred objects) are freed now, while the steps
            # that just walked them left them in cache, not once the batch's other pages have been
            # converted (each a cache miss then: ~20 µs of CPU an article, measured).
            done.body = []
        return done

    def _run(self, article: Any, article_id: str, run: Callable[[Any], Any], last: bool = True) -> Any:
        """``article`` through ``run`` (a part's steps): the article (not ``last``), else None or
        the (id, reason) of a drop that marks it gone."""
        try:
            article = run(article)
        except DropItem as exc:
            self.counts.inc_value("item_dropped_count")
            reason = getattr(exc, "reason", None)
            if getattr(exc, "log_level", "WARNING") != "DEBUG":
                self.log.warning("Dropped %s (%s): %s", article_id, reason or type(exc).__name__, exc)
            return (article_id, reason) if reason else None
        if not last:
            return article
        self.counts.values["item_scraped_count"] += 1
        return None


def _each_process_item(pipelines: tuple[Any, ...], item: Any) -> Any:
    """Each pipeline's ``process_item`` in turn (a part with a step of its own ``process_item``)."""
    for pipeline in pipelines:
        item = pipeline.process_item(item)
    return item


_converter: Converter | None = None


def _init_worker(settings: dict[str, Any], site: str) -> None:
    from scrapy.settings import Settings

    _init_converter(Settings(settings), site)


def _init_converter(settings: Any, site: str) -> None:
    """This process's converter, on ``settings`` as they are (--jobs 1: the crawler's own, not a
    copy of every setting made into a dict and back: ~3 ms of each run's fixed part)."""
    global _converter
    _converter = Converter(settings, site)


def _import_pipelines(settings: Any) -> None:
    """Import the item pipelines' modules (the converter loads each class to see which are article
    steps), as the spiders' are imported: before the clock starts. One of them imports Scrapy's
    files and media pipelines and itemadapter (~8 ms). A path that fails is left to the converter,
    which says so where it always did."""
    from scrapy.utils.misc import load_object

    for path in settings.getdict("ITEM_PIPELINES"):
        try:
            load_object(path)
        except Exception:  # noqa: BLE001, S112 - reported by the converter, as before
            continue


def _convert_chunk(tasks: list[Task]) -> tuple[Counter[str], list[tuple[str, str]], int]:
    assert _converter is not None
    _converter.counts.values = Counter()
    marks = [mark for mark in _converter.convert_all(tasks) if mark]
    return _converter.counts.values, marks, len(tasks)


def _convert_packed(packed: list[tuple[Any, ...]]) -> tuple[Counter[str], list[tuple[str, str]], int]:
    """A worker's chunk (--jobs N): tasks sent as ``Task.packed`` tuples. A body this worker kept
    from its own index pass (:data:`_store`) is taken from there, not inflated from the file again."""
    tasks = [Task.unpacked(task) for task in packed]
    if _store:
        for task in tasks:
            entry = task.entry
            if entry.block is not None:
                kept = _store.pop((entry.path, entry.start, entry.block[0]), None)
                if kept is not None:
                    entry.kept, entry.data = kept
    return _convert_chunk(tasks)


# A --jobs N worker's bodies kept from its index pass: (file, member start, block start) ->
# (Entry.kept, Entry.data). Each is taken (and freed) by the first task that reads it.
_store: dict[tuple[str, int, int], tuple[bytes | None, bytes | None]] = {}


def _index_kept(piece: Piece, owner: int) -> FileIndex:
    """``index_piece`` in a --jobs N worker: what it kept stays here (:data:`_store`), not sent
    back with the index; its entries name this worker as their owner, so their tasks come here."""
    index = index_piece(piece)
    for entry in index.responses:
        if (entry.kept is not None or entry.data is not None) and entry.block is not None:
            _store[(entry.path, entry.start, entry.block[0])] = (entry.kept, entry.data)
            entry.kept = entry.data = None
            entry.owner = owner
    return index


class _Failed:
    """A worker's exception, sent back to be raised in the main process."""

    def __init__(self, exc: BaseException) -> None:
        import pickle
        import traceback

        try:
            pickle.dumps(exc)
            self.exc: BaseException = exc
        except Exception:  # noqa: BLE001 - an exception that does not pickle goes back as its text
            self.exc = RuntimeError(repr(exc))
        self.text = "".join(traceback.format_exception(exc))


def _serve(conn: Any, owner: int) -> None:
    """A --jobs N worker: indexes pieces, keeps their bodies (its share of REBUILD_KEEP_MB), then
    converts the articles it is sent; one reply per message, in order (``keep`` gets none)."""
    global _converter
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    # Watched beside the pipe: a main process that dies without closing it (killed) ends this one too.
    watch = [conn] if parent is None else [conn, parent.sentinel]
    try:
        while True:
            if conn not in wait(watch):
                return
            message = conn.recv()
            kind = message[0]
            if kind == "stop":
                return
            if kind == "keep":
                _kept.left = message[1]
                continue
            try:
                if kind == "index":
                    reply: Any = _index_kept(message[1], owner)
                elif kind == "init":
                    _init_worker(message[1], message[2])
                    assert _converter is not None
                    _log_level_at_source(_converter.settings)
                    # What this process holds for the whole run (modules, the converter, the kept
                    # bodies' table) out of the collector's sight, as a forked converter had it.
                    gc.freeze()
                    reply = None
                else:
                    reply = _convert_packed(message[1])
            except Exception as exc:  # noqa: BLE001 - raised again in the main process
                reply = _Failed(exc)
            conn.send(reply)
    except (EOFError, KeyboardInterrupt):  # the main process is gone or interrupted: stop quietly
        return


# ---- progress ---------------------------------------------------------------------------


class Progress:
    """A progress bar on a terminal (files, records, articles/s, ETA); else a log line every ``interval`` s."""

    def __init__(self, interval: float, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.started = time.monotonic()
        self.last = 0.0
        self.files = self.files_total = self.records = 0
        self.done = self.total = 0
        self.converting_since = 0.0

    def _rate(self) -> float:
        spent = time.monotonic() - (self.converting_since or self.started)
        return self.done / spent if spent > 0 else 0.0

    def line(self) -> str:
        rate = self._rate()
        eta = (self.total - self.done) / rate if rate > 0 and self.total else 0.0
        bar = ""
        if self.total:
            filled = int(20 * self.done / self.total)
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
        return (
            f"{bar}files {self.files}/{self.files_total}, records {self.records}, "
            f"articles {self.done}/{self.total} ({rate:.0f}/s), ETA {eta:.0f} s"
        )

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            if force or now - self.last >= 0.2:
                self.last = now
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
        elif self.interval and (force or now - self.last >= self.interval):
            self.last = now
            logger.info("Rebuild: %s", self.line())

    def close(self) -> None:
        self.update(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---- the command ------------------------------------------------------------------------

USAGE = "newscrawl rebuild ARCHIVE... --output DIR [--jobs N] [-s NAME=VALUE ...]"


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="newscrawl rebuild",
        usage=USAGE,
        description=(
            "Rebuild the articles of WARC archives (files or folders) into DIR, in N processes: the same "
            "files, summary line and exit status as `scrapy crawl SITE -a warc=ARCHIVE -s OUTPUT_DIR=DIR`."
        ),
    )
    parser.add_argument("archives", nargs="+", metavar="ARCHIVE", help="WARC file or folder (searched recursively)")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the content folder (OUTPUT_DIR)")
    parser.add_argument("--jobs", "-j", type=_jobs, default=os.cpu_count() or 1, metavar="N", help="processes")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting")
    return parser.parse_args(argv)


def _jobs(value: str) -> int:
    """--jobs: a whole number of processes, at least 1 (0 or -1 is a mistake, not "all")."""
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}") from None
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {jobs}")
    return jobs


def _settings(options: argparse.Namespace) -> Any:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    for pair in options.set:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-s {pair}: expected NAME=VALUE")
        settings.set(name, value, "cmdline")
    settings.set("OUTPUT_DIR", options.output, "cmdline")
    return settings


def _configure_logging(settings: Any) -> None:
    from scrapy.utils.log import configure_logging

    configure_logging(settings)


def run(argv: list[str]) -> int:
    """The ``rebuild`` command; returns the exit status (the crawl's table: 0 ok, 2 bad arguments, … 9)."""
    options = _arguments(argv)
    try:
        settings = _settings(options)
    except ValueError as exc:
        sys.stderr.write(f"newscrawl rebuild: {exc}\n")
        return 2
    _configure_logging(settings)
    for name in ("IMAGES_DOWNLOAD", "MANIFEST", "REDIS_URL", "JOBDIR"):
        if settings.get(name) and settings.get(name) not in ("0", "False", "false"):
            logger.error("Bad argument: rebuild does not do %s; replay with `scrapy crawl SITE -a warc=…` does", name)
            return 2
    from newscrawl.archive.files import warc_files

    files: list[Path] = []
    for archive in options.archives:
        try:
            files.extend(warc_files(archive))
        except FileNotFoundError as exc:
            logger.error("Bad argument: %s (%s)", archive, exc)
            return 2
    from newscrawl.crawl import preflight

    problems = preflight.problems(settings)
    if problems:  # as `scrapy crawl` says them, before anything is read
        for problem in problems:
            logger.error("newscrawl: %s", problem)
        return 2
    from newscrawl.archive import gzipview

    if gzipview.INFLATER == "zlib":
        # Same files, only slower: said once, so a venv that lost the dependency (an install with
        # --no-deps, a platform without its wheel) is not mistaken for a slow archive.
        logger.warning(
            "zlib-ng is not installed: WARC members are inflated with the standard zlib (same output, "
            "~1.6x slower to read); `pip install zlib-ng` makes rebuild faster"
        )
    jobs = options.jobs
    progress = Progress(settings.getfloat("PROGRESS_INTERVAL"))
    progress.files_total = len(files)
    pools = Pools(jobs)
    previous = _stop_on_sigterm()
    try:
        return _rebuild(settings, options.archives[0], files, pools, progress)
    except KeyboardInterrupt as stop:
        how = "terminated by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
        logger.error("newscrawl summary: status=FAILED: the rebuild did not finish (%s)", how)
        return 3
    except Exception:  # noqa: BLE001 - a worker that died, a file gone mid-run: said, counted, exit 9
        # Not a bare traceback and Python's status 1: the crawl's table says 9 for "a traceback in
        # the log", and cron reads one summary line either way.
        logger.exception("Rebuild stopped by an unexpected error")
        logger.error("newscrawl summary: status=FAILED: the rebuild did not finish (unexpected error, traceback above)")
        return 9
    finally:
        pools.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM (cron's timeout, systemd, ``kill``), raised where the rebuild is, as Ctrl-C is."""


def _raise_terminated(signum: int, frame: Any) -> None:
    # Once: a second SIGTERM (``kill`` of the whole group, then the main process stopping its
    # workers) would interrupt the cleanup the first one started, e.g. the removal of a temp file.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _stop_on_sigterm() -> Any:
    """Make SIGTERM stop the rebuild as Ctrl-C does (the summary line, exit 3; a file being written
    is not left half-named), not kill it silently; returns the handler it replaced (None: not set,
    off the main thread). Forked workers inherit it: they stop between files and exit quietly."""
    try:
        return signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals are not ours to handle
        return None


class _Worker:
    """The main process's end of one --jobs N worker: its pipe, the replies it owes, the chunks queued for it."""

    def __init__(self, context: Any, owner: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, owner), daemon=True)
        self.process.start()
        child.close()
        self.owed: deque[Callable[[Any], None]] = deque()  # what to do with each reply, in order
        self.queued: deque[tuple[int, list[tuple[Any, ...]]]] = deque()  # (number, packed part) not sent yet

    def send(self, message: tuple[Any, ...], then: Callable[[Any], None]) -> None:
        self.conn.send(message)
        self.owed.append(then)

    def receive(self) -> None:
        """Take one reply (one is ready or owed) and hand it on; a worker's exception is raised here."""
        try:
            reply = self.conn.recv()
        except EOFError:
            self.process.join(5)  # reaped, so its exit status can be said (the pipe closes first)
            status = self.process.exitcode
            raise RuntimeError(f"rebuild worker {self.process.pid} died (exit status {status})") from None
        then = self.owed.popleft()
        if isinstance(reply, _Failed):
            logger.error("Rebuild worker failed:\n%s", reply.text)
            raise reply.exc
        then(reply)


def _ignore(reply: Any) -> None:
    return None


class Pools:
    """The worker processes (--jobs N > 1): each indexes pieces of the archive, keeps the bodies it
    inflated (its share of REBUILD_KEEP_MB), then converts articles, those it keeps first.

    Affinity, not shared memory: a task goes to the worker that indexed its response, which takes
    the body from its own memory instead of reading and inflating the member again (the way
    ``--jobs 1`` converts). A worker with nothing to do takes chunks queued for another (those it
    reads from the file), so neither waits while the other has work: at the start (the plan
    reaches the second worker's pieces later) and at the end. The same under the fork and spawn
    start methods (nothing is inherited but the modules).
    """

    # Chunks sent to a worker ahead of its replies (the rest wait in the main process, where
    # another worker can still take them).
    AHEAD = 2

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        methods = multiprocessing.get_all_start_methods()
        self.context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.workers: list[_Worker] = []
        self.queued = self.delivered = 0  # parts of chunks queued, and whose results were handed on
        self.results: dict[int, Any] = {}  # results that came before an earlier part's

    def start(self) -> None:
        """Start the workers (--jobs N > 1). Forked once the spiders' modules are imported: they
        inherit them (and build only their converters), as the converters forked later did."""
        if self.jobs > 1 and not self.workers:
            self.workers = [_Worker(self.context, owner) for owner in range(self.jobs)]

    def indexed(self, slices: list[Piece], keep: int) -> Iterator[FileIndex]:
        """Each slice's index, in slice order; slices handed to whichever worker is free.
        ``keep``: bytes of bodies all workers together may keep (each keeps its share)."""
        from multiprocessing.connection import wait

        for worker in self.workers:
            worker.conn.send(("keep", keep // len(self.workers)))
        done: dict[int, FileIndex] = {}
        todo = deque(enumerate(slices))
        by_conn = {worker.conn: worker for worker in self.workers}
        following = 0

        def give(worker: _Worker) -> None:
            if todo:
                at, piece = todo.popleft()
                worker.send(("index", piece), functools.partial(done.__setitem__, at))

        for worker in self.workers:
            give(worker)
        while following < len(slices):
            for conn in wait([w.conn for w in self.workers if w.owed]):
                worker = by_conn[conn]
                give(worker)  # first: the worker goes on while this process unpickles its index
                worker.receive()
            while following in done:
                yield done.pop(following)
                following += 1

    def start_converting(self, settings: dict[str, Any], site: str) -> None:
        """The workers build their converters (while the main process goes on)."""
        for worker in self.workers:
            worker.send(("init", settings, site), _ignore)

    def submit(self, tasks: list[Task], then: Callable[[Any], None]) -> None:
        """Queue a chunk's tasks by the worker that keeps their bodies (the chunk's first owner for
        the rest). ``then`` gets each part's result, in the order the parts were queued."""
        owners: dict[int, list[tuple[Any, ...]]] = {}
        first = next((task.entry.owner for task in tasks if task.entry.owner >= 0), 0)
        for task in tasks:
            owner = task.entry.owner
            owners.setdefault(owner if owner >= 0 else first, []).append(task.packed())
        for owner, packed in owners.items():
            self.workers[owner % len(self.workers)].queued.append((self.queued, packed))
            self.queued += 1
        self.pump(then)

    def _result(self, then: Callable[[Any], None], number: int, result: Any) -> None:
        """A part's result, handed on in queue order (counts and gone marks as one process makes them)."""
        self.results[number] = result
        while self.delivered in self.results:
            then(self.results.pop(self.delivered))
            self.delivered += 1

    def _send(self, worker: _Worker, part: tuple[int, list[tuple[Any, ...]]], then: Callable[[Any], None]) -> None:
        worker.send(("convert", part[1]), functools.partial(self._result, then, part[0]))

    def pump(self, then: Callable[[Any], None]) -> None:
        """Take the replies that are ready; send each worker its queued chunks up to AHEAD; an
        idle worker with none queued takes the last chunk queued for the busiest."""
        for worker in self.workers:
            while worker.owed and worker.conn.poll():
                worker.receive()
        for worker in self.workers:
            while len(worker.owed) < self.AHEAD and worker.queued:
                self._send(worker, worker.queued.popleft(), then)
            if not worker.owed:
                other = max(self.workers, key=lambda w: len(w.queued))
                if other.queued:
                    self._send(worker, other.queued.pop(), then)

    def drain(self, then: Callable[[Any], None]) -> None:
        """Wait until every queued chunk is converted and its result handed on."""
        from multiprocessing.connection import wait

        self.pump(then)
        while any(worker.owed or worker.queued for worker in self.workers):
            wait([worker.conn for worker in self.workers if worker.owed])
            self.pump(then)

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
            worker.process.join()
            worker.conn.close()
        self.workers = []
        gc.unfreeze()  # what _rebuild froze is the collector's again (a caller that goes on)


def classifier(settings: Any) -> Callable[[Any, str, str, bytes], tuple[str, dict[str, Any]] | None]:
    """What each capture's site recognizes in an archived request, as replay's index asks it."""
    from newscrawl.sites import get_site

    sites: dict[str, Any] = {}

    def classify(capture: Any, method: str, uri: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
        if capture.spider not in sites:
            try:
                sites[capture.spider] = get_site(capture.spider, settings)
            except KeyError:  # a capture of a site not registered here: served, not classified
                sites[capture.spider] = None
        recognized = capture.classify(method, uri, body, sites[capture.spider])
        return (recognized.kind, recognized.details) if recognized else None

    return classify


def _spider_name(indexes: list[FileIndex]) -> str:
    """The spider of the archive's first capture (warcinfo ``newscrawl-spider``), or ""."""
    from newscrawl.archive.index import Capture, _parse_fields

    for index in indexes:
        for payload in index.infos.values():
            capture = Capture.from_fields(_parse_fields(payload))
            if capture and capture.spider:
                return capture.spider
    return ""


def _log_level_at_source(settings: Any) -> None:
    """Drop log calls below LOG_LEVEL where they are made (as the crawl's LogLevelAtSource does)."""
    level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
    if isinstance(level, int):
        for log in (logging.root, logging.getLogger("scrapy")):
            if log.level < level:
                log.setLevel(level)


def _rebuild(settings: Any, location: str, files: list[Path], pools: Pools, progress: Progress) -> int:
    from scrapy.crawler import Crawler
    from scrapy.spiderloader import get_spider_loader

    from newscrawl.crawl.extensions import summary_line, verdict
    from newscrawl.crawl.writer import WriterPipeline

    # The spiders, as `scrapy crawl` finds them: their modules imported before the clock starts
    # (imports count on no side of the benchmark; ~25 ms, once per run).
    loader = get_spider_loader(settings)
    pools.start()
    # After the workers fork (they import them when they build their converters, as before: the
    # moment each starts indexing stays as it was, and with it which pieces each one keeps).
    _import_pipelines(settings)
    started, cpu_started = time.monotonic(), time.process_time()
    tags = tuple(settings.getlist("METAREFRESH_IGNORE_TAGS"))
    slices = pieces(files, bool(pools.workers), tags, piece_size(files, pools.jobs))
    # What the index pass may keep inflated: the one process's, or shared by the workers.
    keep = max(0, settings.getint("REBUILD_KEEP_MB")) << 20
    _kept.left = 0 if pools.workers else keep
    indexed = pools.indexed(slices, keep) if pools.workers else map(index_piece, slices)
    indexes: list[FileIndex] = []
    for index in merge(indexed):
        indexes.append(index)
        progress.files += 1
        progress.records += index.records
        progress.update()
    # The capture's spider, as `scrapy crawl NAME -a warc=…` would run it.
    crawler = Crawler(loader.load(_spider_name(indexes) or sorted(loader.list())[0]), settings)
    crawler.stats = PlanStats()
    _log_level_at_source(settings)  # after the Crawler: making one resets the root logger's level
    spider = crawler.spidercls.from_crawler(crawler, warc=location)  # replay's settings and arguments
    crawler.spider = spider
    if spider.revisit or crawler.settings.get("REVISIT_SCHEDULE"):
        # Revisits replay answer by answer once the engine is idle (newscrawl.crawl.revisit): replay does that.
        logger.error("Bad argument: rebuild does not do revisits; replay with `scrapy crawl SITE -a warc=…` does")
        return 2
    spider.backlog_limit = 0  # no engine to release held-back feed pages: plan them at once
    stats = crawler.stats
    stats.set_value("start_time", datetime.now(UTC))
    if pools.workers:  # they build their converters while this process builds the index
        pools.start_converting(crawler.settings.copy_to_dict(), spider.name)
    index = ArchiveIndex(indexes, classifier(crawler.settings))
    del indexes
    logger.info("Rebuild index: %d archived responses (WARC files: %d)", len(index), len(files))
    for path, damage in index.damaged:
        damage.log(logger, path)
    if index.damaged:
        stats.set_value("newscrawl/replay/damaged", len(index.damaged))
    WriterPipeline(crawler.settings).open_spider()
    if not pools.workers:
        _init_converter(crawler.settings, spider.name)
    # The index and the rest stay for the whole run: out of the collector's sight, the full
    # collections that planning (and, with one process, converting) triggers do not walk them again.
    gc.freeze()
    progress.converting_since = time.monotonic()

    def collect(result: tuple[Counter[str], list[tuple[str, str]], int]) -> None:
        counts, marks, done = result
        for key, value in counts.items():
            stats.inc_value(key, value)
        for article_id, reason in marks:
            spider.gone.mark(article_id, reason)
        progress.done += done
        progress.update()

    def sink(tasks: list[Task]) -> None:
        """Planned articles go to the workers at once: conversion overlaps the rest of the plan."""
        progress.total += len(tasks)
        if not pools.workers:
            collect(_convert_chunk(tasks))
            return
        pools.submit(tasks, collect)

    def drain() -> None:
        if pools.workers:
            pools.drain(collect)

    planner = Planner(crawler, spider, index, sink, drain, chunk=64 if pools.workers else 256)
    if not pools.workers and planner.empty_output and _converter is not None:
        # One process writes into a folder that held no file: only what it wrote can be there.
        for pipeline in _converter.pipelines:
            if isinstance(pipeline, WriterPipeline):
                pipeline.written_here = set()
    planned = planner.run()
    logger.info("Rebuild plan: %d articles (%.2f s)", planned, time.monotonic() - started)
    drain()
    progress.close()
    values = stats.get_stats()
    code, message = verdict(values, "finished", crawler.settings)
    stats.set_value("newscrawl/exit_code", code)
    stats.set_value("newscrawl/verdict", message)
    spent = time.monotonic() - started
    logger.info(
        "Rebuilt %d articles in %.1f s (%.0f articles/s, %d processes)",
        planned,
        spent,
        planned / spent if spent else 0,
        pools.jobs,
    )
    line = summary_line(stats.get_stats(), code, message, replay=True)
    logger.log(logging.INFO if code == 0 else logging.ERROR, line)
    # Scrapy's CoreStats keys: the benchmarks read the run's own time (no interpreter start) from them.
    stats.set_value("elapsed_time_seconds", spent)
    # This process's CPU time (with --jobs 1, all of the rebuild's): a rate the machine's load moves less.
    stats.set_value("newscrawl/rebuild/cpu_seconds", time.process_time() - cpu_started)
    stats.set_value("finish_reason", "finished")
    stats_file = crawler.settings.get("STATS_FILE")
    if stats_file:
        from newscrawl.crawl.extensions import StatsFile

        StatsFile(stats_file, stats).spider_closed(spider, "finished")
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m newscrawl.archive.rebuild``: the same as ``newscrawl rebuild``."""
    return run(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    # The workers' functions are pickled by reference: they must be newscrawl.archive.rebuild's, not __main__'s.
    from newscrawl.archive.rebuild import main as rebuild_main

    sys.exit(rebuild_main())
