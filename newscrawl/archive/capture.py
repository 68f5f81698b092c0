"""WARC capture (``-s WARC_DIR=archive/``): every HTTP exchange of a crawl into WARC files.

:class:`WarcCaptureMiddleware` appends every HTTP exchange as a ``response`` record and its
``request`` record (``WARC-Concurrent-To`` the response), each a gzip member, to
``<prefix>-<crawl start>-<serial>.warc.gz``. Each file opens with a ``warcinfo`` record
naming the software, the spider arguments and the settings that shape requests. It sits at
950 in DOWNLOADER_MIDDLEWARES, next to the downloader: it sees every response as it came
off the wire, before RetryMiddleware (550), HttpCompressionMiddleware (590) and
RedirectMiddleware (600) act on it, so a 302, a 503 that gets retried and a gzip body are
each archived as they were received.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings

from newscrawl.archive.files import WarcFileWriter, finish_orphans
from newscrawl.archive.records import software
from newscrawl.sites.base import Site

logger = logging.getLogger(__name__)

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


def replayed(name: str, site: Site | None) -> bool:
    prefix = site.settings_prefix if site is not None else ""
    return (bool(prefix) and name.startswith(prefix)) or name in REPLAYED_SETTINGS


def _jsonable(value: Any) -> Any:
    return value.copy_to_dict() if isinstance(value, BaseSettings) else value


def capture_info(crawler, filename_prefix: str) -> dict[str, str]:
    """The warcinfo fields of a capture: software, crawl, spider arguments, settings."""
    settings = crawler.settings
    spider = crawler.spider
    arguments = dict(spider.arguments)
    recorded = {
        name: _jsonable(settings.get(name))
        for name in sorted(settings.attributes)
        if replayed(name, spider.site) or name in RECORDED_SETTINGS
    }
    command = " ".join([f"scrapy crawl {spider.name}", *(f"-a {k}={v}" for k, v in arguments.items())])
    return {
        "software": software(),
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
