"""The example site's test server (127.0.0.1): its pages and feed from ``pages/``, counted."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).resolve().parent / "pages"
_STORY = re.compile(r"/story/(\d+)\.html\Z")
_FEED = re.compile(r"/feed/([a-z]+)\.json\Z")


class _Handler(BaseHTTPRequestHandler):
    server: ExampleServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        parts = urlsplit(self.path)
        self.server.hits[parts.path] += 1
        time.sleep(self.server.latency)
        story, feed = _STORY.search(parts.path), _FEED.search(parts.path)
        path = None
        if story:
            path, ctype = PAGES / f"{story.group(1)}.html", "text/html; charset=utf-8"
        elif feed:
            page = parse_qs(parts.query).get("page", ["1"])[0]
            path, ctype = PAGES / f"feed-{feed.group(1)}-{int(page)}.json", "application/json"
        if parts.path in self.server.replaced:  # a page edited after publication (revisit tests)
            body = self.server.replaced[parts.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path is None or not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ExampleServer(ThreadingHTTPServer):
    """``with ExampleServer() as server:`` serves on ``server.url`` from a thread."""

    daemon_threads = True

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency = latency  # seconds per answer: a crawl lasts long enough to be shared
        self.hits: Counter[str] = Counter()
        self.replaced: dict[str, bytes] = {}  # path -> page served instead of the file
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> ExampleServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
