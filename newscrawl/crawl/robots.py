"""robots.txt fetched quickly: a host that never answers must not stall a run for minutes.

Scrapy fetches robots.txt with the crawl's DOWNLOAD_TIMEOUT and RETRY_TIMES (30 s x 4 by
default) before the first request to a host, so against a host that accepts connections
and never answers, two minutes passed before the feeds themselves were even tried. This
downloader middleware gives robots.txt requests their own timeout and retry count
(ROBOTSTXT_TIMEOUT, ROBOTSTXT_RETRY_TIMES). A robots.txt that cannot be fetched means
"no rules", as in Scrapy; the failure is logged by Scrapy's RobotsTxtMiddleware.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.exceptions import NotConfigured


class RobotsTxtLimits:
    """Downloader middleware (before DownloadTimeoutMiddleware, 350): robots.txt request limits."""

    def __init__(self, timeout: float, retries: int) -> None:
        self.timeout = timeout
        self.retries = retries

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        return cls(settings.getfloat("ROBOTSTXT_TIMEOUT"), settings.getint("ROBOTSTXT_RETRY_TIMES"))

    def process_request(self, request: Request) -> None:
        # Scrapy's RobotsTxtMiddleware marks its own robots.txt requests so.
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            request.meta.setdefault("download_timeout", self.timeout)
            request.meta.setdefault("max_retry_times", self.retries)
