"""The ``qq`` spider: decides what to fetch. Extraction is in ``page.py``, feeds in ``feeds.py``.

With no arguments it discovers articles through the channel feeds and the hot list;
``urls``/``ids`` fetch given articles; ``authors`` follows authors' feeds. Articles whose
file already exists (either id form), or that are known to be gone, are not fetched.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import scrapy
from scrapy import exceptions as scrapy_errors
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_errors
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from newscrawl.dates import parse_datetime
from newscrawl.pipelines import extract_failed
from newscrawl.sites.qq.feeds import (
    FEED_HEADERS,
    FeedError,
    FeedItem,
    channel_feed_body,
    parse_author_feed,
    parse_channel_feed,
    parse_hot_list,
)
from newscrawl.sites.qq.ids import id_from_url, normalize_id, short_id
from newscrawl.sites.qq.page import Unavailable, decode_html, extract
from newscrawl.state import GoneState
from newscrawl.warc import prepare_replay
from newscrawl.writer import existing_article_file

TRUE = {"1", "true", "yes", "on"}
# ``-a`` names accepted and ignored: scrapyd adds ``_job`` to every run it schedules.
IGNORED_ARGUMENTS = frozenset({"_job"})


def split_arg(value: str | Iterable[str] | None) -> list[str]:
    """``-a ids=a,b c`` -> ["a", "b", "c"] (commas or whitespace)."""
    if not value:
        return []
    if not isinstance(value, str):
        value = ",".join(value)
    return [part for part in value.replace(",", " ").split() if part]


def flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in TRUE


class QQSpider(scrapy.Spider):
    """Tencent news articles. Spider arguments (``-a``) are documented in the README."""

    name = "qq"
    source = "qq"
    lang = "zh-CN"

    def __init__(
        self,
        urls: str | None = None,
        ids: str | None = None,
        channels: str | None = None,
        hot: str | None = None,
        authors: str | None = None,
        limit: str | None = None,
        since: str | None = None,
        force: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bad_args: list[str] = []
        self.requested: list[str] = []
        for given, to_id in ((split_arg(urls), id_from_url), (split_arg(ids), normalize_id)):
            for value in given:
                article_id = to_id(value)
                if article_id:
                    self.requested.append(article_id)
                else:
                    self.bad_args.append(value)
        self.channels = split_arg(channels)
        self.authors = split_arg(authors)
        # With nothing named, discover through the default channels and the hot list.
        self.explicit = bool(urls or ids or authors or channels)
        self.hot = flag(hot, not self.explicit)
        self.limit = int(limit) if limit and str(limit).isdigit() else None
        if limit and self.limit is None:
            self.bad_args.append(f"limit={limit}")
        self.since: datetime | None = parse_datetime(since) if since else None
        if since and self.since is None:
            self.bad_args.append(f"since={since}")
        self.force = flag(force, False)
        self.seen: set[str] = set()
        # One bound method object for every article request: Scrapy caches its check of a
        # callback's source in a weak-keyed cache, so a fresh ``self.parse_article`` per
        # request was re-parsed (inspect + ast) for a large share of the responses.
        self.on_article = self.parse_article
        self.on_article_error = self.article_failed
        self.scheduled = 0
        # Article requests scheduled and not ended yet, and the next feed pages held back meanwhile
        # (QQ_FEED_BACKLOG): paging on eagerly would queue every listed article at once.
        self.backlog = 0
        self.backlog_limit = 0
        self.waiting_pages: deque[Callable[[], scrapy.Request]] = deque()

    @classmethod
    def argument_names(cls) -> frozenset[str]:
        """The ``-a`` names the spider takes: its ``__init__`` keywords, and ``warc`` (replay).

        The one list of valid names: unknown ones stop the run (a misspelt ``-a chanels=``
        must not turn into a full discovery run), and replay can check a capture's the same way.
        """
        params = inspect.signature(cls.__init__).parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return frozenset(p.name for p in params if p.kind in kinds and p.name != "self") | {"warc"}

    @classmethod
    def unknown_arguments(cls, arguments: Iterable[str]) -> list[str]:
        """One "Bad argument" message per name in ``arguments`` the spider does not take."""
        valid = cls.argument_names()
        listed = ", ".join(sorted(valid))
        return [
            f"unknown argument {name!r} (valid names: {listed})"
            for name in sorted(set(arguments) - valid - IGNORED_ARGUMENTS)
        ]

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        unknown = cls.unknown_arguments(kwargs)
        # Scrapy would set them as spider attributes (``-a name=`` renames the spider): drop them.
        kwargs = {k: v for k, v in kwargs.items() if k in cls.argument_names() or k in IGNORED_ARGUMENTS}
        try:
            kwargs = prepare_replay(crawler.settings, kwargs)  # -a warc=PATH: the capture's settings and arguments
            missing = None
        except FileNotFoundError as exc:
            missing = f"warc={kwargs.pop('warc', '')} ({exc})"
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.bad_args[:0] = unknown
        if missing:
            spider.bad_args.append(missing)
        spider.arguments = kwargs  # recorded in WARC captures
        spider.gone = GoneState(
            crawler.settings.get("STATE_FILE") or None,
            retry_after={"empty": crawler.settings.getfloat("EMPTY_RETRY_HOURS") * 3600},
        )
        crawler.signals.connect(spider.item_dropped, signal=signals.item_dropped)
        # With JOBDIR the queue is on disk, with REDIS_URL in Redis: no memory to save, and a page
        # held back here would be lost to a resumed run or to the other workers.
        if not (crawler.settings.get("JOBDIR") or crawler.settings.get("REDIS_URL")):
            spider.backlog_limit = crawler.settings.getint("QQ_FEED_BACKLOG")
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    # ---- start ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        stats = self.crawler.stats
        if self.bad_args:
            # Nothing is fetched on bad arguments: a mistyped replay path must not turn into a
            # crawl of the live site, nor a bad id list into a full discovery run.
            for bad in self.bad_args:
                self.logger.error("Bad argument: %s", bad)
                stats.inc_value("newscrawl/failed/bad_argument")
            return
        for article_id in self.requested:
            request = self.consider(FeedItem(article_id, ""))
            if request is not None:
                yield request
        channels = self.channels or ([] if self.explicit else self.settings.getlist("QQ_CHANNELS"))
        for channel in channels:
            yield self.channel_request(channel, 1)
        if self.hot:
            yield self.feed_request(self.settings.get("QQ_HOT_URL"), self.parse_hot, kind="hot")
        for suid in self.authors:
            yield self.author_request(suid, "", 1)

    # ---- feeds ---------------------------------------------------------------------------

    def feed_request(self, url: str, callback, kind: str, **kwargs: Any) -> scrapy.Request:
        self.crawler.stats.inc_value("newscrawl/feeds/requested")
        # Feed answers are small: their own timeout and retries give the feeds' verdict on a
        # host that never answers within about a minute (QQ_FEED_TIMEOUT, QQ_FEED_RETRY_TIMES).
        meta = {
            "feed_kind": kind,
            "download_timeout": self.settings.getfloat("QQ_FEED_TIMEOUT"),
            "max_retry_times": self.settings.getint("QQ_FEED_RETRY_TIMES"),
            **kwargs.pop("meta", {}),
        }
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.feed_failed,
            headers=FEED_HEADERS,
            meta=meta,
            priority=10,  # list pages first: they decide what else to fetch
            **kwargs,
        )

    def channel_request(self, channel: str, page: int) -> scrapy.Request:
        count = self.settings.getint("QQ_FEED_ITEM_COUNT")
        return self.feed_request(
            self.settings.get("QQ_FEED_URL"),
            self.parse_channel,
            kind="channel",
            method="POST",
            body=channel_feed_body(channel, page, count),
            meta={"channel": channel, "page": page},
        )

    def author_request(self, suid: str, cursor: str, page: int) -> scrapy.Request:
        url = self.settings.get("QQ_AUTHOR_FEED_URL").format(suid=quote(suid, safe=""), cursor=quote(cursor, safe=""))
        return self.feed_request(url, self.parse_author, kind="author", meta={"suid": suid, "page": page})

    def _feed_items(self, response: Response, parser) -> Any:
        try:
            result = parser(response.body)
        except FeedError as exc:
            self.crawler.stats.inc_value(f"newscrawl/feeds/failed/{exc.reason}")
            self.logger.error("Feed %s failed (%s) at %s: %s", feed_label(response.meta), exc.reason, response.url, exc)
            return None
        self.crawler.stats.inc_value("newscrawl/feeds/ok")
        return result

    def parse_channel(self, response: Response) -> Iterable[scrapy.Request]:
        items = self._feed_items(response, parse_channel_feed)
        if items is None:
            return
        new = 0
        for item in items:
            new += item.id is not None and item.id not in self.seen
            request = self.consider(item)
            if request is not None:
                yield request
        page = response.meta["page"]
        if items and new and page < self.settings.getint("QQ_FEED_PAGES") and not self.limit_reached():
            yield from self.next_page(partial(self.channel_request, response.meta["channel"], page + 1))

    def parse_hot(self, response: Response) -> Iterable[scrapy.Request]:
        for item in self._feed_items(response, parse_hot_list) or ():
            request = self.consider(item)
            if request is not None:
                yield request

    def parse_author(self, response: Response) -> Iterable[scrapy.Request]:
        result = self._feed_items(response, parse_author_feed)
        if result is None:
            return
        items, cursor, has_next = result
        for item in items:
            request = self.consider(item)
            if request is not None:
                yield request
        page = response.meta["page"]
        if has_next and items and page < self.settings.getint("QQ_AUTHOR_PAGES") and not self.limit_reached():
            yield from self.next_page(partial(self.author_request, response.meta["suid"], cursor, page + 1))

    def next_page(self, make: Callable[[], scrapy.Request]) -> Iterable[scrapy.Request]:
        """A feed's next page now, or held back until the article backlog is below QQ_FEED_BACKLOG."""
        if self.backlog_limit and self.backlog >= self.backlog_limit:
            self.waiting_pages.append(make)
            self.crawler.stats.inc_value("newscrawl/feeds/held_back")
            return ()
        return (make(),)

    def release_pages(self) -> int:
        """Schedule the held-back feed pages (those the article limit still allows)."""
        released = 0
        while self.waiting_pages:
            make = self.waiting_pages.popleft()
            if not self.limit_reached():
                self.crawler.engine.crawl(make())
                released += 1
        return released

    def article_ended(self) -> None:
        """An article request was answered, failed or dropped: held-back pages may go."""
        self.backlog -= 1
        if self.waiting_pages and self.backlog < self.backlog_limit:
            self.release_pages()

    def request_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        if "article_id" in request.meta:  # e.g. a duplicate: no callback will say it ended
            self.article_ended()

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any = None) -> None:
        """A dropped article whose reason is worth remembering (``empty``) goes to STATE_FILE."""
        reason = getattr(exception, "reason", None)
        meta = getattr(response, "meta", None) or {}
        article_id = meta.get("article_id") or getattr(item, "id", None)
        if reason and article_id:
            self.gone.mark(article_id, reason)

    def spider_idle(self, spider: Any = None) -> None:
        # Nothing left to fetch while pages are held back (the backlog count missed an ending):
        # release them rather than end the run early.
        if self.waiting_pages and self.release_pages():
            raise DontCloseSpider

    def feed_failed(self, failure: Failure) -> None:
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"newscrawl/feeds/failed/{reason}")
        request = failure.request
        self.logger.error(
            "Feed %s failed (%s) at %s: %s", feed_label(request.meta), reason, request.url, failure.getErrorMessage()
        )

    # ---- choosing articles ---------------------------------------------------------------

    def limit_reached(self) -> bool:
        return self.limit is not None and self.scheduled >= self.limit

    def consider(self, item: FeedItem) -> scrapy.Request | None:
        """The request for a listed article, or None (with a stats key saying why not)."""
        stats = self.crawler.stats
        if not item.is_article:
            stats.inc_value(f"newscrawl/feeds/not_article/type_{item.articletype or 'none'}")
            return None
        article_id = item.id
        assert article_id is not None
        if article_id in self.seen:
            stats.inc_value("newscrawl/feeds/duplicate")
            return None
        self.seen.add(article_id)
        stats.inc_value("newscrawl/articles/found")
        if self.since and item.published:
            published = parse_datetime(item.published)
            if published and published < self.since:
                stats.inc_value("newscrawl/articles/skipped_old")
                return None
        if not self.force:
            if self.existing_file(article_id):
                stats.inc_value("newscrawl/articles/skipped_existing")
                return None
            if article_id in self.gone:
                stats.inc_value("newscrawl/articles/skipped_gone")
                return None
        if self.limit_reached():
            stats.inc_value("newscrawl/articles/skipped_limit")
            return None
        self.scheduled += 1
        self.backlog += 1
        return self.article_request(article_id, item.metadata())

    def existing_file(self, article_id: str) -> bool:
        settings = self.settings
        return existing_article_file(
            settings.get("OUTPUT_DIR"),
            settings.get("OUTPUT_PATH_TEMPLATE"),
            (article_id, short_id(article_id)),
            self.lang,
            self.source,
        )

    def article_request(self, article_id: str, feed: dict[str, str] | None = None) -> scrapy.Request:
        url = self.settings.get("QQ_ARTICLE_URL").format(id=article_id)
        return scrapy.Request(
            url,
            callback=self.on_article,
            errback=self.on_article_error,
            meta={"article_id": article_id, "feed": feed or {}},
        )

    # ---- articles ------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterable[Any]:
        self.article_ended()
        stats = self.crawler.stats
        stats.inc_value("newscrawl/articles/fetched")
        article_id = response.meta["article_id"]
        # A redirect (HTTP or a meta refresh Scrapy followed) lands on a page that must
        # prove it is this article; the deleted-article redirect is recognized by its URL.
        redirected = bool(response.meta.get("redirect_urls"))
        try:
            text = decode_html(response.body, _content_type(response))
            article = extract(text, response.url, requested_id=article_id, redirected=redirected)
        except Unavailable as exc:
            stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.logger.warning("Skipped %s (%s): %s", article_id, exc.reason, exc.detail)
            self.gone.mark(article_id, exc.reason)
            return
        except Exception as exc:  # one bad page must never stop or hide in the crawl
            extract_failed(self.crawler.stats, self.logger, article_id, response.url, exc)
            return
        article.feed = response.meta.get("feed") or {}
        stats.inc_value(f"newscrawl/template/{article.template or 'none'}")
        yield article

    def article_failed(self, failure: Failure) -> None:
        self.article_ended()
        request = failure.request
        article_id = request.meta.get("article_id")
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"newscrawl/failed/{reason}")
        self.logger.error("Failed %s (%s): %s", article_id, reason, failure.getErrorMessage())
        if article_id:
            self.gone.mark(article_id, reason)


def feed_label(meta: dict[str, Any]) -> str:
    """A feed page as log lines name it: "channel news_news_top page 2", "hot list", ..."""
    kind = meta.get("feed_kind", "feed")
    if kind == "channel":
        return f"channel {meta.get('channel')} page {meta.get('page')}"
    if kind == "author":
        return f"author {meta.get('suid')} page {meta.get('page')}"
    if kind == "hot":
        return "hot list"
    return str(kind)


def _content_type(response: Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.decode("latin-1") if value else None


def failure_reason(failure: Failure) -> str:
    """A short stats key for a failed request: http_404, timeout, connection_lost, ..."""
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(scrapy_errors.DownloadTimeoutError, tx_errors.TimeoutError, tx_errors.TCPTimedOutError):
        return "timeout"
    if failure.check(scrapy_errors.CannotResolveHostError, tx_errors.DNSLookupError):
        return "dns"
    if failure.check(scrapy_errors.DownloadConnectionRefusedError, tx_errors.ConnectionRefusedError):
        return "connection_refused"
    if failure.check(
        scrapy_errors.ResponseDataLossError,
        scrapy_errors.DownloadFailedError,
        ResponseFailed,
        ResponseNeverReceived,
        tx_errors.ConnectionLost,
        tx_errors.ConnectionDone,
    ):
        return "connection_lost"
    return failure.type.__name__ if failure.type else "error"
