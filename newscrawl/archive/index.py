"""Reading an archive for replay: its captures, and its responses indexed by request.

Files are read record by record by :mod:`newscrawl.archive.read`, which skips a damaged
record and resumes at the next one. What each archived request was (an article, a feed
page) is the capture's site's answer (``Site.classify``), looked up in the SITES registry
by the capture's spider name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

from newscrawl.archive.read import Damage, iter_records
from newscrawl.sites import get_site
from newscrawl.sites.base import ArchivedRequest, Site

Key = tuple[str, str, str]  # (method, URL, sha1 of the request body or "")


def request_key(method: str, url: str, body: bytes) -> Key:
    return (method.upper(), url, hashlib.sha1(body).hexdigest() if body else "")


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


class ServedInOrder:
    """Archived responses by request key, served in archive order (replay's and rebuild's index).

    The n-th request with a key gets the n-th response archived for it (the last one is
    repeated); an article request whose URL form was not archived is matched by article id.
    """

    def __init__(self) -> None:
        self.by_key: dict[Key, list[Any]] = {}
        self.used: dict[Key, int] = {}
        self.by_article: dict[str, Key] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_key.values())

    def next_for(self, method: str, url: str, body: bytes, article_id: str | None) -> Any:
        """The next archived response for this request, or None."""
        key = request_key(method, url, body)
        if key not in self.by_key:
            key = self.by_article.get(article_id) if article_id else None
            if key is None:
                return None
        entries = self.by_key[key]
        used = self.used.get(key, 0)
        self.used[key] = used + 1
        return entries[min(used, len(entries) - 1)]

    def lookup(self, request: Request) -> Any:
        """The next archived response for ``request`` (articles also by id), or None."""
        return self.next_for(request.method, request.url, request.body, request.meta.get("article_id"))

    def unserved(self) -> Iterator[Any]:
        """Archived responses no request has been answered with yet, in archive order."""
        for key, entries in self.by_key.items():
            yield from entries[self.used.get(key, 0) :]


class ReplayIndex(ServedInOrder):
    """Archived responses by request (method, URL, body hash), served in archive order.

    The n-th request with a key gets the n-th response archived for it (the last one is
    repeated): a 503 that the capture retried is replayed as a 503, then its retry's answer.
    """

    def __init__(self, files: list[Path], settings: Any = None) -> None:
        self.files = files
        self.settings = settings  # the SITES registry a capture's spider name is looked up in
        super().__init__()
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
