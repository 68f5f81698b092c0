"""Requests reach the scheduler when made (``newscrawl/crawl/handoff.py``).

Start requests: the first CONCURRENT_REQUESTS one by one, the rest at once (Scrapy's engine reads
``start()`` one request per event-loop round trip while its downloader has room: with fast
answers the downloader never fills). Callbacks' requests: each crawled when made, not through
the scraper's queue, which lets ~2 through per loop iteration.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import scrapy
from scrapy import signals
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.test import get_crawler

from newscrawl.crawl.handoff import RequestHandoffMiddleware
from tests.inprocess import IN_PROCESS, project_settings_dict
from tests.localserver import PageServer


class FakeEngine:
    """What the middleware asks of Scrapy's engine: backout, running, spider, crawl()."""

    def __init__(self, backout_after: int | None = None) -> None:
        self.crawled: list[Any] = []
        self.asked = 0
        self.backout_after = backout_after  # None: the downloader never fills (fast answers)
        self.running = True
        self.spider: Any = object()

    def needs_backout(self) -> bool:
        self.asked += 1
        return self.backout_after is not None and self.asked > self.backout_after

    def crawl(self, request: scrapy.Request) -> None:
        self.crawled.append(request)


class FakeCrawler:
    def __init__(self, engine: FakeEngine, concurrency: int) -> None:
        self.engine = engine
        self.settings = Settings({"CONCURRENT_REQUESTS": concurrency})


def output(middleware: RequestHandoffMiddleware, things: list[Any], engine: FakeEngine) -> list[Any]:
    """What the scraper receives from ``process_spider_output`` over a callback's ``things``;
    each request must have been crawled before the callback was resumed."""
    crawled_when_resumed: list[int] = []

    async def callback():
        for thing in things:
            yield thing
            crawled_when_resumed.append(len(engine.crawled))

    async def drain() -> list[Any]:
        return [thing async for thing in middleware.process_spider_output(None, callback())]

    got = asyncio.run(drain())
    made = [sum(isinstance(t, scrapy.Request) for t in things[: i + 1]) for i in range(len(things))]
    assert crawled_when_resumed == made[: len(crawled_when_resumed)]
    return got


def read(middleware: RequestHandoffMiddleware, things: list[Any]) -> list[Any]:
    """What the engine receives from the middleware's ``process_start`` over ``things``."""

    async def start():
        for thing in things:
            yield thing

    async def drain() -> list[Any]:
        return [thing async for thing in middleware.process_start(start())]

    return asyncio.run(drain())


def requests(n: int) -> list[scrapy.Request]:
    return [scrapy.Request(f"http://127.0.0.1/{i}") for i in range(n)]


def test_the_project_hands_requests_over_at_the_engine_end():
    """Outermost in the chain (Scrapy's StartSpiderMiddleware, depth, Referer and every other
    project middleware see each request before it), enabled by the project's settings."""
    settings = Settings(project_settings_dict())
    order = build_component_list(settings.getwithbase("SPIDER_MIDDLEWARES"))
    # Scrapy chains process_start and process_spider_output from the highest order down: the
    # lowest order is the engine end.
    assert order[0] is RequestHandoffMiddleware or order[0] == "newscrawl.crawl.handoff.RequestHandoffMiddleware"
    for scrapys in ("start.StartSpiderMiddleware", "depth.DepthMiddleware", "referer.RefererMiddleware"):
        assert f"scrapy.spidermiddlewares.{scrapys}" in order[1:]


def test_fast_answers_first_concurrency_requests_to_the_engine_then_the_rest_crawled_at_once():
    engine = FakeEngine(backout_after=None)  # the downloader never fills: Scrapy's slow case
    reqs = requests(40)
    item = {"an": "item"}
    got = read(RequestHandoffMiddleware(FakeCrawler(engine, 5)), [*reqs[:3], item, *reqs[3:]])
    assert got == [*reqs[:3], item, *reqs[3:5]]  # items always go to the engine
    assert engine.crawled == reqs[5:]  # in start()'s order, each once


def test_a_full_downloader_switches_at_once_and_for_good():
    # Full after 2 requests (slow answers): eager from the 3rd on, as Scrapy's engine is;
    # needs_backout is not asked again, so room later does not bring round trips back.
    engine = FakeEngine(backout_after=2)
    reqs = requests(10)
    got = read(RequestHandoffMiddleware(FakeCrawler(engine, 16)), reqs)
    assert got == reqs[:2]
    assert engine.crawled == reqs[2:]
    assert engine.asked == 3


def test_a_stopping_engine_gets_the_requests_to_decide_on():
    engine = FakeEngine(backout_after=None)
    engine.running = False
    reqs = requests(4)
    got = read(RequestHandoffMiddleware(FakeCrawler(engine, 1)), reqs)
    assert got == reqs
    assert engine.crawled == []


def test_a_callbacks_requests_are_crawled_when_made_and_its_items_go_on():
    engine = FakeEngine()
    reqs = requests(30)
    item = {"an": "item"}
    got = output(RequestHandoffMiddleware(FakeCrawler(engine, 16)), [*reqs[:10], item, *reqs[10:]], engine)
    assert got == [item]
    assert engine.crawled == reqs


def test_a_closing_engine_gets_a_callbacks_requests_to_decide_on():
    engine = FakeEngine()
    engine.spider = None
    reqs = requests(3)
    middleware = RequestHandoffMiddleware(FakeCrawler(engine, 16))

    async def callback():
        for request in reqs:
            yield request

    async def drain() -> list[Any]:
        return [thing async for thing in middleware.process_spider_output(None, callback())]

    assert asyncio.run(drain()) == reqs
    assert engine.crawled == []


class ListSpider(scrapy.Spider):
    name = "list"
    urls: list[str] = []

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        yield {"url": response.url, "start": response.meta.get("is_start_request")}


class StartReads:
    """Counts how often Scrapy's engine reads the next thing of the start chain."""

    reads = 0

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.patch, signal=signals.engine_started)
        return ext

    def patch(self) -> None:
        engine = self.crawler.engine
        original = engine._process_start_next

        async def counted():
            StartReads.reads += 1
            await original()

        engine._process_start_next = counted


def crawl_in_process(spider: type[scrapy.Spider], items: list[dict], **settings: Any) -> Any:
    """Run ``spider`` to its end in this process with the handoff middleware (4 requests at once);
    its scraped items appended to ``items``; the crawler."""
    crawler = get_crawler(
        spider,
        {
            **IN_PROCESS,
            "SPIDER_MIDDLEWARES": {"newscrawl.crawl.handoff.RequestHandoffMiddleware": 1},
            "CONCURRENT_REQUESTS": 4,
            "ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "WARNING",
            **settings,
        },
    )

    def scraped(item: dict) -> None:
        items.append(item)

    crawler.signals.connect(scraped, signal=signals.item_scraped)  # a weak reference: kept alive here
    level = logging.root.level
    try:
        asyncio.run(crawler.crawl_async())
    finally:
        logging.root.setLevel(level)
    return crawler


def test_a_real_crawl_fetches_every_start_request_once_in_a_few_engine_reads():
    """Through Scrapy's engine: every request fetched once, as a start request (Scrapy's
    StartSpiderMiddleware ran), and the engine read the chain about CONCURRENT_REQUESTS times,
    not once per request (without the middleware: once per request, whichever mode)."""
    pages = {f"/p{i}": (200, {"Content-Type": "text/html"}, b"<html>%d</html>" % i) for i in range(60)}
    items: list[dict] = []
    StartReads.reads = 0
    with PageServer(pages) as server:
        ListSpider.urls = [server.url + path for path in pages]
        crawler = crawl_in_process(ListSpider, items, EXTENSIONS={StartReads: 0})
        fetched = sorted(server.requests)
    assert fetched == sorted(pages)
    assert sorted(item["url"] for item in items) == sorted(ListSpider.urls)
    assert all(item["start"] is True for item in items)
    assert crawler.stats.get_value("scheduler/enqueued") == 60
    assert StartReads.reads <= 4 + 2, StartReads.reads


class IndexSpider(scrapy.Spider):
    """One index page whose callback makes a request per page; notes how many requests the
    scheduler had taken each time the callback was resumed."""

    name = "index"
    base = ""
    pages: list[str] = []
    enqueued_when_resumed: list[int] = []

    async def start(self):
        yield scrapy.Request(self.base + "/index", callback=self.parse_index)

    def parse_index(self, response):
        stats = self.crawler.stats
        for path in self.pages:
            yield scrapy.Request(self.base + path, callback=self.parse_page)
            self.enqueued_when_resumed.append(stats.get_value("scheduler/enqueued"))

    def parse_page(self, response):
        yield {"url": response.url, "referer": response.request.headers.get("Referer"), "depth": response.meta["depth"]}


def test_a_real_crawl_schedules_a_callbacks_requests_as_it_makes_them():
    """Through Scrapy's engine and spider middlewares: each request of a callback was in the
    scheduler before the callback went on (Scrapy's scraper queue lags behind), and Scrapy's
    middlewares inside the chain still ran (Referer, depth); every page fetched once."""
    paths = [f"/p{i}" for i in range(40)]
    routes = {path: (200, {"Content-Type": "text/html"}, b"<html>page</html>") for path in ["/index", *paths]}
    items: list[dict] = []
    with PageServer(routes) as server:
        IndexSpider.base, IndexSpider.pages, IndexSpider.enqueued_when_resumed = server.url, paths, []
        crawl_in_process(IndexSpider, items)
        fetched = sorted(server.requests)
    assert fetched == sorted(routes)
    # The index request, then one more per request made.
    assert IndexSpider.enqueued_when_resumed == list(range(2, 2 + len(paths)))
    assert sorted(item["url"] for item in items) == sorted(server.url + path for path in paths)
    assert {item["referer"] for item in items} == {(server.url + "/index").encode()}
    assert {item["depth"] for item in items} == {1}
