"""The offsite filter: Scrapy's, not loaded when the spider allows every domain (newscrawl.crawl.offsite)."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import newscrawl.settings as project_settings
from newscrawl.crawl.offsite import OffsiteMiddleware
from newscrawl.sites.qq.spider import QQSpider

SCRAPY_OFFSITE = "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"


class ListingSpider(QQSpider):
    allowed_domains = ["example.com"]


class LaterListingSpider(QQSpider):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = ["example.com"]


def crawler_with_spider(spidercls):
    crawler = get_crawler(spidercls, {"STATE_FILE": ""})
    crawler.spider = spidercls.from_crawler(crawler)
    crawler.stats.open_spider()
    return crawler


def test_the_project_runs_this_filter_in_place_of_scrapys():
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    classes = DownloaderMiddlewareManager._get_mwlist_from_settings(settings)
    assert "newscrawl.crawl.offsite.OffsiteMiddleware" in classes
    assert SCRAPY_OFFSITE not in classes  # else both would run
    # Same place in the chain as Scrapy's: first, before robots.txt (100).
    assert settings.getwithbase("DOWNLOADER_MIDDLEWARES")["newscrawl.crawl.offsite.OffsiteMiddleware"] == 50


def test_not_loaded_when_the_spider_allows_every_domain():
    crawler = crawler_with_spider(QQSpider)
    assert not getattr(crawler.spider, "allowed_domains", None)
    with pytest.raises(NotConfigured):
        OffsiteMiddleware.from_crawler(crawler)


@pytest.mark.parametrize("spidercls", [ListingSpider, LaterListingSpider])
def test_a_spider_with_allowed_domains_gets_scrapys_filter(spidercls):
    crawler = crawler_with_spider(spidercls)
    middleware = OffsiteMiddleware.from_crawler(crawler)
    middleware.spider_opened(crawler.spider)
    assert middleware.process_request(Request("https://news.example.com/a")) is None
    with pytest.raises(IgnoreRequest):
        middleware.process_request(Request("https://new.qq.com/rain/a/20250208A07Y6400"))
    # Scrapy's own exceptions to the rule still apply.
    assert middleware.process_request(Request("https://new.qq.com/x", dont_filter=True)) is None
    assert middleware.process_request(Request("https://new.qq.com/x", meta={"allow_offsite": True})) is None
    assert crawler.stats.get_value("offsite/filtered") == 1
    assert crawler.stats.get_value("offsite/domains") == 1


def test_without_a_spider_it_is_scrapys_filter():
    crawler = get_crawler(QQSpider, {"STATE_FILE": ""})
    assert crawler.spider is None
    assert isinstance(OffsiteMiddleware.from_crawler(crawler), OffsiteMiddleware)
