"""The generic article spider: navigation for every site, extraction left to the site.

Arguments, the "consider" rules (seen, since, existing file, gone, limit), the feed-page
backlog, article callbacks and failure reasons live here once; a site (``newscrawl.sites``)
says which feeds to read, how they page and how its pages read. A site's spider is the
site plus this class: ``class XSpider(ArticleSpider): name = "x"``.

Stats-key contract (the run verdict in ``newscrawl.crawl.extensions`` reads these):
``newscrawl/articles/{found,fetched,skipped_*}``, ``newscrawl/failed/<reason>``,
``newscrawl/skipped/<reason>``, ``newscrawl/feeds/{requested,ok,failed/<reason>}``,
``newscrawl/template/<name>``.

With no arguments a spider discovers articles through its site's default feeds;
``urls``/``ids`` fetch given articles. Articles whose file already exists (any id form),
or that are known to be gone, are not fetched.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

import scrapy
from scrapy import exceptions as scrapy_errors
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.spiderloader import SpiderLoader
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as tx_errors
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived  # public re-exports

from newscrawl.archive.replay import prepare_replay
from newscrawl.convert.dates import parse_datetime
from newscrawl.crawl.pipelines import extract_failed
from newscrawl.crawl.state import GoneState
from newscrawl.crawl.writer import existing_article_file
from newscrawl.sites import get_site, registry
from newscrawl.sites.base import FeedError, FeedItem, Site, Unavailable, split_arg

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
# ``-a`` names accepted and ignored: scrapyd adds ``_job`` to every run it schedules.
IGNORED_ARGUMENTS = frozenset({"_job"})
# Feed settings the core reads under the site's prefix (``<PREFIX>FEED_TIMEOUT``), with these defaults.
FEED_SETTING_DEFAULTS = {"FEED_TIMEOUT": 15.0, "FEED_RETRY_TIMES": 2, "FEED_BACKLOG": 500}


def flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in TRUE


def flag_problem(name: str, value: Any) -> str | None:
    """Why ``-a name=value`` is no on/off value, or None (a misspelt ``hot=ture`` must not read as off)."""
    if value is None or value == "" or str(value).strip().lower() in TRUE | FALSE:
        return None
    return f"{name}={value} is not on or off; use 1, 0, true, false, yes, no, on or off"


class ArticleSpider(scrapy.Spider):
    """Articles of one site (``name``, looked up in the SITES registry). Arguments: see the docs."""

    name: ClassVar[str] = ""
    flag = staticmethod(flag)

    @classmethod
    def site_of(cls, settings: Any = None) -> Site:
        return get_site(cls.name, settings)

    def __init__(
        self,
        urls: str | None = None,
        ids: str | None = None,
        limit: str | None = None,
        since: str | None = None,
        force: str | None = None,
        revisit: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.site: Site = kwargs.pop("site", None) or self.site_of()
        self.source = self.site.name
        self.lang = self.site.lang
        # The site's own discovery arguments, as given (the site reads them in start_requests).
        self.site_args: dict[str, Any] = {name: kwargs.pop(name, None) for name in self.site.arguments}
        super().__init__(**kwargs)
        self.bad_args: list[str] = []
        self.requested: list[str] = []
        # Whether the command line named articles (from_crawler tells a replay's captured ids apart).
        self.asked = bool(urls or ids)
        for given, to_id in ((split_arg(urls), self.site.id_from_url), (split_arg(ids), self.site.normalize_id)):
            for value in given:
                article_id = to_id(value)
                if article_id:
                    self.requested.append(article_id)
                else:
                    self.bad_args.append(value)
        # "-a ids=$IDS" with an empty $IDS must not turn into a whole discovery run; nor an empty
        # list of what the site's discovery should fetch (channels, authors) into the default one.
        listed = (("urls", urls), ("ids", ids), *((n, self.site_args.get(n)) for n in self.site.selection_arguments))
        for name, value in listed:
            if value is not None and not split_arg(value):
                self.bad_args.append(f"{name}= is empty (leave -a {name} out to discover through the default feeds)")
        for name, value in (("force", force), *((n, self.site_args.get(n)) for n in self.site.flag_arguments)):
            problem = flag_problem(name, value)
            if problem:
                self.bad_args.append(problem)
        # With nothing named, discover through the site's default feeds.
        self.explicit = bool(urls or ids or any(self.site_args.get(n) for n in self.site.selection_arguments))
        self.limit = int(limit) if limit and str(limit).isdigit() else None
        if limit and self.limit is None:
            self.bad_args.append(f"limit={limit}")
        self.since: datetime | None = parse_datetime(since, self.site.timezone) if since else None
        if since and self.since is None:
            self.bad_args.append(f"since={since}")
        self.force = flag(force, False)
        self.revisit = revisit  # read by newscrawl.crawl.revisit (the default curve up to this age)
        self.seen: set[str] = set()
        self.scheduled = 0
        # Article requests scheduled and not ended yet, and the next feed pages held back meanwhile
        # (<prefix>FEED_BACKLOG): paging on eagerly would queue every listed article at once.
        self.backlog = 0
        self.backlog_limit = 0
        self.waiting_pages: deque[Callable[[], scrapy.Request]] = deque()

    # ---- arguments and settings -----------------------------------------------------------

    @classmethod
    def argument_names(cls, site: Site | None = None) -> frozenset[str]:
        """The ``-a`` names the spider takes: its ``__init__`` keywords, its site's, and ``warc`` (replay).

        The one list of valid names: unknown ones stop the run (a misspelt ``-a chanels=``
        must not turn into a full discovery run), and replay can check a capture's the same way.
        """
        params = inspect.signature(cls.__init__).parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        own = frozenset(p.name for p in params if p.kind in kinds and p.name != "self")
        return own | frozenset((site or cls.site_of()).arguments) | {"warc"}

    @classmethod
    def selection_arguments(cls, site: Site | None = None) -> frozenset[str]:
        """Arguments that choose what to crawl: a replay given any of them ignores the capture's."""
        return frozenset({"urls", "ids", *(site or cls.site_of()).arguments})

    @classmethod
    def unknown_arguments(cls, arguments: Iterable[str], site: Site | None = None) -> list[str]:
        """One "Bad argument" message per name in ``arguments`` the spider does not take."""
        valid = cls.argument_names(site)
        listed = ", ".join(sorted(valid))
        return [
            f"unknown argument {name!r} (valid names: {listed})"
            for name in sorted(set(arguments) - valid - IGNORED_ARGUMENTS)
        ]

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        # The site's settings are defaults: the project's settings.py and -s override them.
        settings.setdict(cls.site_of(settings).default_settings, priority="default")
        super().update_settings(settings)

    def site_setting(self, name: str) -> Any:
        """``<site prefix><name>`` (e.g. ``<PREFIX>FEED_TIMEOUT``), else the core's default."""
        return self.settings.get(self.site.settings_prefix + name, FEED_SETTING_DEFAULTS.get(name))

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        site = cls.site_of(crawler.settings)
        unknown = cls.unknown_arguments(kwargs, site)
        # Scrapy would set them as spider attributes (``-a name=`` renames the spider): drop them.
        valid = cls.argument_names(site)
        kwargs = {k: v for k, v in kwargs.items() if k in valid or k in IGNORED_ARGUMENTS}
        # Articles named on this command line (a replay's captured ids were the capture's asking).
        asked = bool(kwargs.get("ids") or kwargs.get("urls"))
        try:
            # -a warc=PATH: the capture's settings and arguments
            kwargs = prepare_replay(crawler.settings, kwargs, cls.selection_arguments(site), site)
            missing = None
        except FileNotFoundError as exc:
            missing = f"warc={kwargs.pop('warc', '')} ({exc})"
        spider = super().from_crawler(crawler, *args, site=site, **kwargs)
        spider.bad_args[:0] = unknown
        if missing:
            spider.bad_args.append(missing)
        spider.arguments = kwargs  # recorded in WARC captures
        spider.asked = asked
        spider.gone = GoneState(
            crawler.settings.get("STATE_FILE") or None,
            retry_after={"empty": crawler.settings.getfloat("EMPTY_RETRY_HOURS") * 3600},
        )
        crawler.signals.connect(spider.item_dropped, signal=signals.item_dropped)
        # With JOBDIR the queue is on disk, with REDIS_URL in Redis: no memory to save, and a page
        # held back here would be lost to a resumed run or to the other workers.
        if not (crawler.settings.get("JOBDIR") or crawler.settings.get("REDIS_URL")):
            spider.backlog_limit = int(spider.site_setting("FEED_BACKLOG"))
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    # ---- start ---------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        stats = self.crawler.stats
        if self.gone.unreadable:
            # Not a failure of this run (those ids may be fetched again), but not silent either:
            # a file that is no state file (a wrong path) would otherwise be ignored line by line.
            self.logger.warning(
                "STATE_FILE %s: %d lines are no record of a gone article (not JSON, or no id and reason); skipped",
                self.gone.path,
                self.gone.unreadable,
            )
            stats.set_value("newscrawl/state/unreadable_lines", self.gone.unreadable)
        if self.bad_args:
            # Nothing is fetched on bad arguments: a mistyped replay path must not turn into a
            # crawl of the live site, nor a bad id list into a full discovery run.
            for bad in self.bad_args:
                self.logger.error("Bad argument: %s", bad)
                stats.inc_value("newscrawl/failed/bad_argument")
            return
        if self.requested and self.asked:
            # The verdict holds the run to every article its command line named (FAIL_ON_REQUESTED);
            # a replay of a capture's own ids re-extracts what was captured, as rebuild does, and
            # the ratio decides there.
            stats.set_value("newscrawl/requested", len(self.requested))
        for article_id in self.requested:
            request = self.consider(FeedItem(article_id, ""))
            if request is not None:
                yield request
        for request in self.site.start_requests(self):
            yield request

    # ---- feeds ---------------------------------------------------------------------------

    def feed_request(self, url: str, kind: str, **kwargs: Any) -> scrapy.Request:
        """A feed page's request (``kind``: the site's name for the feed, in ``meta["feed_kind"]``)."""
        self.crawler.stats.inc_value("newscrawl/feeds/requested")
        # Feed answers are small: their own timeout and retries give the feeds' verdict on a
        # host that never answers within about a minute (<prefix>FEED_TIMEOUT, FEED_RETRY_TIMES).
        meta = {
            "feed_kind": kind,
            "download_timeout": float(self.site_setting("FEED_TIMEOUT")),
            "max_retry_times": int(self.site_setting("FEED_RETRY_TIMES")),
            **kwargs.pop("meta", {}),
        }
        return scrapy.Request(
            url,
            callback=self.parse_feed,
            errback=self.feed_failed,
            meta=meta,
            priority=10,  # list pages first: they decide what else to fetch
            **kwargs,
        )

    def parse_feed(self, response: Response) -> Iterable[scrapy.Request]:
        try:
            page = self.site.parse_feed(self, response)
        except FeedError as exc:
            self.crawler.stats.inc_value(f"newscrawl/feeds/failed/{exc.reason}")
            label = self.site.feed_label(response.meta)
            self.logger.error("Feed %s failed (%s) at %s: %s", label, exc.reason, response.url, exc)
            return
        self.crawler.stats.inc_value("newscrawl/feeds/ok")
        new = 0
        for item in page.items:
            new += item.id is not None and item.id not in self.seen
            request = self.consider(item)
            if request is not None:
                yield request
        if page.next_page is not None and (new or not page.only_if_new) and not self.limit_reached():
            yield from self.next_page(page.next_page)

    def next_page(self, make: Callable[[], scrapy.Request]) -> Iterable[scrapy.Request]:
        """A feed's next page now, or held back until the article backlog is below the limit."""
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
            "Feed %s failed (%s) at %s: %s",
            self.site.feed_label(request.meta),
            reason,
            request.url,
            failure.getErrorMessage(),
        )

    # ---- choosing articles ---------------------------------------------------------------

    def limit_reached(self) -> bool:
        return self.limit is not None and self.scheduled >= self.limit

    def consider(self, item: FeedItem) -> scrapy.Request | None:
        """The request for a listed article, or None (with a stats key saying why not)."""
        stats = self.crawler.stats
        if not item.is_article:
            stats.inc_value(f"newscrawl/feeds/not_article/{item.not_article}")
            return None
        article_id = item.id
        assert article_id is not None
        if article_id in self.seen:
            stats.inc_value("newscrawl/feeds/duplicate")
            return None
        self.seen.add(article_id)
        stats.inc_value("newscrawl/articles/found")
        if self.since and item.published:
            published = parse_datetime(item.published, self.site.timezone)
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
            self.site.id_forms(article_id),
            self.lang,
            self.source,
        )

    def article_request(self, article_id: str, feed: dict[str, str] | None = None) -> scrapy.Request:
        return scrapy.Request(
            self.site.article_url(article_id, self.settings),
            callback=self.parse_article,
            errback=self.article_failed,
            meta={"article_id": article_id, "feed": feed or {}},
        )

    # ---- replay (named methods the WARC replay calls) -------------------------------------

    def forget(self, article_ids: Iterable[str]) -> set[str]:
        """Let these ids be listed again (a replay re-reads later runs' feeds for them).

        Returns those of them that had been seen (the others were never counted as found).
        """
        forgotten = self.seen.intersection(article_ids)
        self.seen -= forgotten
        return forgotten

    def wants_article(self, article_id: str) -> bool:
        """Neither written already nor known to be gone: worth one more try."""
        return article_id not in self.gone and not self.existing_file(article_id)

    def archived_article_request(self, article_id: str) -> scrapy.Request | None:
        """The request for an archived article no feed of this run listed, or None."""
        if article_id in self.seen:
            return None
        return self.consider(FeedItem(article_id, ""))

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
            text = self.site.decode_html(response.body, _content_type(response))
            article = self.site.extract(text, response.url, requested_id=article_id, redirected=redirected)
        except Unavailable as exc:
            stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.logger.warning("Skipped %s (%s): %s", article_id, exc.reason, exc.detail)
            response.meta["unavailable"] = exc.reason  # a revisit's deletion (newscrawl.crawl.revisit)
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


class SiteSpiderLoader:
    """SPIDER_LOADER_CLASS: the spiders of SPIDER_MODULES, plus an ``ArticleSpider`` for each
    site registered in SITES that has none, so registering a site is all it takes to crawl it.

    Wraps Scrapy's loader (its public interface only) rather than subclassing its internals.
    """

    def __init__(self, settings: Any) -> None:
        self.loader = SpiderLoader.from_settings(settings)
        self.generated: dict[str, type[ArticleSpider]] = {}
        known = set(self.loader.list())
        for name in registry(settings):
            if name not in known:
                self.generated[name] = type(f"{name.title()}Spider", (ArticleSpider,), {"name": name})

    @classmethod
    def from_settings(cls, settings: Any) -> SiteSpiderLoader:
        return cls(settings)

    def load(self, spider_name: str) -> type[scrapy.Spider]:
        if spider_name in self.generated:
            return self.generated[spider_name]
        return self.loader.load(spider_name)

    def list(self) -> list[str]:
        return [*self.loader.list(), *self.generated]

    def find_by_request(self, request: scrapy.Request) -> list[str]:
        return self.loader.find_by_request(request)


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
