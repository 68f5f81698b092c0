"""The downloader middleware walk (newscrawl.crawl.downloader): Scrapy's results, cheaper per method."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.downloadermiddlewares.useragent import UserAgentMiddleware
from scrapy.exceptions import ScrapyDeprecationWarning, _InvalidOutput
from scrapy.http import HtmlResponse, Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from twisted.internet import defer

import newscrawl.settings as project_settings
from newscrawl.crawl.downloader import Downloader, LeanMiddlewareManager, _unwrapped


class Recorder:
    """Middlewares that log each call and answer as the request's meta tells them to."""

    def __init__(self, name: str, log: list) -> None:
        self.name, self.log = name, log

    def answer(self, hook: str, request: Request, default):
        self.log.append((self.name, hook, request.url))
        kind = request.meta.get(f"{self.name}.{hook}")
        if kind == "response":
            return HtmlResponse(request.url, body=b"<p>short</p>", request=request)
        if kind == "request":
            return request.replace(url=request.url + "/next", meta={})
        if kind == "invalid":
            return 5
        if kind == "none":
            return None
        return default


class Plain(Recorder):
    def process_request(self, request):
        return self.answer("req", request, None)

    def process_response(self, request, response):
        return self.answer("resp", request, response)


class Coroutines(Recorder):
    async def process_request(self, request):
        await asyncio.sleep(0)
        return self.answer("req", request, None)

    async def process_response(self, request, response):
        await asyncio.sleep(0)
        return self.answer("resp", request, response)


class Deferreds(Recorder):
    def process_request(self, request):
        return defer.succeed(self.answer("req", request, None))

    def process_response(self, request, response):
        return defer.succeed(self.answer("resp", request, response))


class WantsSpider(Recorder):
    def process_request(self, request, spider):
        assert isinstance(spider, Spider)
        return self.answer("req", request, None)

    def process_response(self, request, response, spider):
        assert isinstance(spider, Spider)
        return self.answer("resp", request, response)


CHAIN = [("plain", Plain), ("coro", Coroutines), ("dfd", Deferreds), ("spider", WantsSpider)]
CASES = [
    {},
    {"plain.req": "response"},
    {"coro.req": "response"},
    {"dfd.req": "response"},
    {"spider.req": "request"},
    {"dfd.resp": "request"},
    {"spider.resp": "request"},
    {"coro.req": "invalid"},
    {"dfd.req": "invalid"},
    {"plain.resp": "invalid"},
    {"coro.resp": "none"},
    {"spider.resp": "invalid"},
]


def walk(lean: bool, meta: dict) -> tuple:
    """(calls, outcome, warnings) of one request through the chain, with Scrapy's walk or ours."""
    log: list = []
    crawler = get_crawler(Spider, {"USER_AGENT": "probe/1"})
    crawler.spider = Spider("probe")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        middlewares = [cls(name, log) for name, cls in CHAIN] + [UserAgentMiddleware.from_crawler(crawler)]
        manager = DownloaderMiddlewareManager(*middlewares, crawler=crawler)
        if lean:
            manager = LeanMiddlewareManager.adopt(manager)

        async def download(request: Request) -> Response:
            log.append(("download", request.url, request.headers.get("User-Agent")))
            return HtmlResponse(request.url, body=b"<p>page</p>", request=request)

        async def run():
            return await manager.download_async(download, Request("https://example.com/a", meta=dict(meta)))

        try:
            result = asyncio.run(run())
            outcome = (type(result).__name__, result.url, getattr(result, "body", None))
        except Exception as error:  # the same error, same message
            outcome = (type(error).__name__, str(error))
    return log, outcome, sorted({(w.category.__name__, str(w.message)) for w in caught})


@pytest.mark.parametrize("meta", CASES, ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()) or "through")
def test_the_walk_is_scrapys(meta):
    scrapy_walk, lean_walk = walk(False, meta), walk(True, meta)
    assert lean_walk == scrapy_walk
    calls, outcome, caught = lean_walk
    assert calls  # the chain did run
    if "invalid" in meta.values():
        assert outcome[0] == _InvalidOutput.__name__
    # Deferred-returning and spider-taking methods still get Scrapy's deprecation warnings.
    ran_deferreds = any(call[0] == "dfd" for call in calls)
    assert ran_deferreds == any("returned a Deferred" in message for _, message in caught)
    assert any("requires a spider argument" in message for _, message in caught)


def test_scrapys_spider_argument_wrapper_is_skipped_only_when_no_spider_is_passed():
    crawler = get_crawler(Spider, {"USER_AGENT": "probe/1"})
    middleware = UserAgentMiddleware.from_crawler(crawler)
    inner = _unwrapped(middleware.process_request)
    assert inner is not middleware.process_request and inner.__self__ is middleware
    assert inner.__func__ is middleware.process_request.__func__.__wrapped__
    request = Request("https://example.com/a")
    assert inner(request=request) is None and request.headers["User-Agent"] == b"probe/1"
    # Any other method is called as it is.
    plain = Plain("p", [])
    assert _unwrapped(plain.process_request) == plain.process_request
    crawler.spider = Spider("probe")
    with pytest.warns(ScrapyDeprecationWarning, match="requires a spider argument"):
        manager = LeanMiddlewareManager.adopt(
            DownloaderMiddlewareManager(middleware, WantsSpider("s", []), crawler=crawler)
        )
    (ua, _, _), (spider_method, _, wants) = manager._steps["process_request"]
    assert ua.__func__ is inner.__func__
    assert wants and spider_method.__func__ is WantsSpider.process_request  # left as it is


def test_the_project_downloader_walks_scrapys_middlewares_the_lean_way():
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    assert settings["DOWNLOADER"] == "newscrawl.crawl.downloader.Downloader"
    crawler = get_crawler(Spider, {"DOWNLOADER": settings["DOWNLOADER"], "DOWNLOADER_MIDDLEWARES": {}})
    downloader = Downloader(crawler)
    manager = downloader.middleware
    assert isinstance(manager, LeanMiddlewareManager)
    # Scrapy built each middleware once; the walk covers each of its methods in Scrapy's order.
    names = [type(mw).__name__ for mw in manager.middlewares]
    assert len(names) == len(set(names)) > 5
    for hook in ("process_request", "process_response"):
        assert [name for _, name, _ in manager._steps[hook]] == [
            f"{m.__module__}.{m.__qualname__}" for m in manager.methods[hook]
        ]
