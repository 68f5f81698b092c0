"""robots.txt fetched quickly: a host that never answers must not stall a run for minutes.

Scrapy fetches robots.txt with the crawl's DOWNLOAD_TIMEOUT and RETRY_TIMES (30 s x 4 by
default) before the first request to a host, so against a host that accepts connections
and never answers, two minutes passed before the feeds themselves were even tried. This
downloader middleware gives robots.txt requests their own timeout and retry count
(ROBOTSTXT_TIMEOUT, ROBOTSTXT_RETRY_TIMES). A robots.txt that cannot be fetched means
"no rules", as in Scrapy. Scrapy's RobotsTxtMiddleware logs that failure as an ERROR with
a traceback and counts it in ``robotstxt/exception_count/<type>``; here it becomes one
WARNING line that says what happens next (the summary line shows the count as
``robots_failed=``), because a dead host's robots.txt is an expected, handled event, not
a bug, and a cron log's tracebacks must each mean something went wrong in the code.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import NotConfigured

# Scrapy's logger for RobotsTxtMiddleware (its module's name).
ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


class RobotsFailureLine(logging.Filter):
    """Scrapy's "Error downloading <request>: <exception>" + traceback for a robots.txt that
    could not be fetched -> one WARNING line naming the host's robots.txt and the error.

    Keyed on what the record is (an ERROR with an exception, on the robots.txt middleware's
    logger, which logs nothing else so), not on Scrapy's wording, which may change."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            args = record.args if isinstance(record.args, dict) else {}
            # The request that needed the rules: its host's robots.txt is the one that failed.
            host = urlsplit(getattr(args.get("request"), "url", "")).netloc or "?"
            record.msg = "robots.txt of %s could not be fetched (%s: %s); crawling without its rules"
            record.args = (host, type(exc).__name__, exc)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def install_failure_line() -> None:
    """Add the filter to Scrapy's robots.txt logger once per process."""
    log = logging.getLogger(ROBOTS_LOGGER)
    if not any(isinstance(f, RobotsFailureLine) for f in log.filters):
        log.addFilter(RobotsFailureLine())


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
        install_failure_line()
        return cls(settings.getfloat("ROBOTSTXT_TIMEOUT"), settings.getint("ROBOTSTXT_RETRY_TIMES"))

    def process_request(self, request: Request) -> None:
        # Scrapy's RobotsTxtMiddleware marks its own robots.txt requests so.
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            request.meta.setdefault("download_timeout", self.timeout)
            request.meta.setdefault("max_retry_times", self.retries)
