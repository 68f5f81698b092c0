"""Offline replay (``scrapy crawl <site> -a warc=PATH``): every request answered from a WARC archive.

:func:`prepare_replay` (called by the spider) applies the capture's settings and arguments,
and :class:`WarcReplayMiddleware` answers every request from the archive, so the spider and
pipelines run unchanged on archived responses and no socket is opened. The replay names
each damaged record and its verdict is exit status 7. What replay needs of the spider it
gets through the named methods of ``newscrawl.crawl.spider.ArticleSpider`` (``forget``,
``wants_article``, ``archived_article_request``) and its site (``sweep_request``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from scrapy import signals
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from newscrawl.archive.capture import replayed
from newscrawl.archive.files import warc_files
from newscrawl.archive.index import Capture, ReplayIndex, first_capture, load_response, request_key
from newscrawl.sites.base import ArchivedRequest, Site

logger = logging.getLogger(__name__)


class NotArchived(IgnoreRequest):
    """Replay: the archive holds no response to this request."""


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
    applied = {k: v for k, v in capture.settings.items() if replayed(k, site)}
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
            damage.log(logger, path)
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
        if spider.bad_args:
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
        if spider.limit is not None and self.crawler.settings.getbool("WARC_REPLAY_LIMIT_PER_RUN"):
            logger.info("The capture's limit=%d capped the first run's part; later runs replay whole", spider.limit)
            spider.limit = None

    def _retryable_articles(self, spider) -> set[str]:
        """Articles this replay did not get, of which a later run archived a page.

        Either the replay asked and met an earlier run's failed answers, or (with no limit
        left) the first run's part passed them over (its limit, ``since``); the capture of a
        later run found the article again (in its feeds, with their metadata) and fetched it whole.
        """
        ids = set()
        unlimited = spider.limit is None
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
        again = spider.forget(self.retryable)  # so the later runs' feeds list them again
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
