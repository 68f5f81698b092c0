"""WARC record bytes: an HTTP exchange as a response record and its request record, and warcinfo.

Records are built in memory with warcio and returned as bytes (each a gzip member), so the
file writer appends one exchange with one ``write``.

Private API kept: ``_RawHeaders`` sets warcio's ``headers_buff`` and overrides
``compute_headers_buffer`` (no public way to write header bytes unchanged: warcio would
re-encode non-ASCII values, and the archive must hold what the server sent).
"""

from __future__ import annotations

import platform
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from importlib import metadata
from io import BytesIO
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Headers, Request, Response
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import newscrawl

WARC_VERSION = "1.1"


def record_id() -> str:
    """A new WARC-Record-ID (a UUID URN, as warcio makes them)."""
    return f"<urn:uuid:{uuid.uuid4()}>"


def software() -> str:
    try:
        warcio_version = metadata.version("warcio")
    except metadata.PackageNotFoundError:  # pragma: no cover
        warcio_version = "?"
    return (
        f"newscrawl/{newscrawl.__version__} (Scrapy {scrapy.__version__}; warcio {warcio_version}; "
        f"Python {platform.python_version()})"
    )


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
        "WARC-Record-ID": record_id(),
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
            "WARC-Record-ID": record_id(),
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
