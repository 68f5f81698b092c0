"""The lean per-article crawl path (issue 15): the same results as Scrapy's plumbing, fewer steps.

The stats collector and the fused item pipelines must give what Scrapy's own give (every
stats key, every step in order, every drop); the crawl tests (goldens, the summary line,
exit statuses) run through both.
"""

from __future__ import annotations

import asyncio
import warnings

import pytest
from scrapy.exceptions import DropItem, ScrapyDeprecationWarning
from scrapy.pipelines import ItemPipelineManager as ScrapyManager
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

import newscrawl.settings as project
from newscrawl.convert.article import Article
from newscrawl.crawl.pipelines import ArticlePipeline, ItemPipelineManager, StepRun
from newscrawl.crawl.stats import StatsCollector


def _ops(stats) -> dict:
    stats.open_spider()
    stats.inc_value("a")
    stats.inc_value("a", 2)
    stats.inc_value("b", 1, start=10)
    stats.set_value("c", "x")
    stats.max_value("m", 3)
    stats.max_value("m", 1)
    stats.min_value("n", 3)
    stats.min_value("n", 1)
    got = {"a": stats.get_value("a"), "missing": stats.get_value("missing", 7)}
    return {**dict(stats.get_stats()), **got}


def test_stats_collector_gives_scrapys_values_without_the_shim():
    crawler = get_crawler()
    assert _ops(StatsCollector(crawler)) == _ops(MemoryStatsCollector(crawler))
    # The point of the class: no Python-level attribute hook on every stats call.
    assert StatsCollector.__getattribute__ is object.__getattribute__
    assert project.STATS_CLASS == "newscrawl.crawl.stats.StatsCollector"


def test_stats_collector_still_warns_on_a_spider_argument():
    stats = StatsCollector(get_crawler())
    with pytest.warns(ScrapyDeprecationWarning, match="inc_value"):
        stats.inc_value("a", spider=object())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats.inc_value("a")  # no argument, no warning
    assert stats.get_value("a") == 2


class Step(ArticlePipeline):
    """A plain article step that records its name (and drops when told to)."""

    calls: list[str] = []
    drop_at = ""

    def process_article(self, article: Article) -> Article:
        name = type(self).__name__
        Step.calls.append(name)
        if name == Step.drop_at:
            raise DropItem(name)
        return article


class One(Step):
    pass


class Two(Step):
    pass


class Three(Step):
    pass


class Four(Step):
    pass


class Plain:
    """Any other pipeline (images, revisits, a user's): keeps its own entry."""

    def process_item(self, item):
        Step.calls.append("Plain")
        return item


def _managers():
    settings = Settings(project.__dict__ | {"ITEM_PROCESSOR": ""})
    steps = [One(settings), Two(settings), Plain(), Three(settings), Four(settings)]
    crawler = get_crawler()
    return ScrapyManager(*steps, crawler=crawler), ItemPipelineManager(*steps, crawler=crawler)


def _run(manager, drop_at: str = "") -> tuple[list[str], str]:
    Step.calls, Step.drop_at = [], drop_at
    article = Article(id="20250208A07Y6400", url="https://news.qq.com/rain/a/20250208A07Y6400")
    try:
        result = asyncio.run(manager.process_item_async(article))
        outcome = "kept" if result is article else "replaced"
    except DropItem as exc:
        outcome = f"dropped {exc}"
    return Step.calls, outcome


def test_fused_pipelines_run_the_same_steps_in_the_same_order():
    scrapy_manager, fused = _managers()
    entries = list(fused.methods["process_item"])
    # One, Two | Plain | Three, Four: two runs of steps around the other pipeline.
    assert len(entries) == 3 and len(scrapy_manager.methods["process_item"]) == 5
    assert isinstance(entries[0].__self__, StepRun) and entries[1].__self__.__class__ is Plain
    for drop_at in ("", "One", "Two", "Three", "Four"):
        assert _run(fused, drop_at) == _run(scrapy_manager, drop_at)
    calls, outcome = _run(fused, "Three")
    assert calls == ["One", "Two", "Plain", "Three"] and outcome.startswith("dropped")


def test_the_project_runs_its_steps_and_writer_as_one_entry():
    from scrapy.utils.misc import build_from_crawler, load_object

    settings = {k: v for k, v in project.__dict__.items() if k.isupper()}
    crawler = get_crawler(settings_dict=settings)
    manager = build_from_crawler(load_object(settings["ITEM_PROCESSOR"]), crawler)
    (entry,) = manager.methods["process_item"]
    names = [type(m.__self__).__name__ for m in entry.__self__.methods]
    assert names == [
        "TextPipeline",
        "ImageUrlPipeline",
        "DatePipeline",
        "SummaryPipeline",
        "MarkdownPipeline",
        "WriterPipeline",
    ]


def test_the_collector_is_tuned_while_crawls_run_only():
    import gc

    from newscrawl.crawl.extensions import CrawlGarbageCollection

    assert "newscrawl.crawl.extensions.CrawlGarbageCollection" in project.EXTENSIONS
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    first, second = CrawlGarbageCollection(), CrawlGarbageCollection()
    first.spider_opened(None)
    try:
        assert gc.get_freeze_count() > 0  # the objects alive at spider open
        assert gc.get_threshold()[0] == max(CrawlGarbageCollection.GEN0_THRESHOLD, before[0])
        second.spider_opened(None)  # two crawls in one process, the first closes first
        first.spider_closed(None, "finished")
        first.spider_closed(None, "finished")  # a second close of one crawl changes nothing
        assert gc.get_freeze_count() > 0 and gc.get_threshold() != before
    finally:
        first.spider_closed(None, "finished")
        second.spider_closed(None, "finished")
    # All handed back: a process of many crawls keeps nothing frozen, and Python's thresholds.
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_debug_lines_per_article_are_built_only_when_printed():
    import logging

    from scrapy.http import HtmlResponse, Request
    from scrapy.logformatter import LogFormatter

    from newscrawl.crawl.extensions import ConciseLogFormatter

    assert project.LOG_FORMATTER == "newscrawl.crawl.extensions.ConciseLogFormatter"
    request = Request("https://news.qq.com/rain/a/20250208A07Y6400", headers={"Referer": "https://news.qq.com/"})
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    ours, scrapys = ConciseLogFormatter(), LogFormatter()
    loggers = [logging.getLogger("scrapy.core.engine"), logging.getLogger("scrapy.core.scraper")]
    levels = [log.level for log in loggers]
    try:
        for log in loggers:
            log.setLevel(logging.INFO)  # as a crawl at LOG_LEVEL=INFO: the lines would be dropped
        assert ours.crawled(request, response, None) is None
        assert ours.scraped({"a": 1}, response, None) is None
        for log in loggers:
            log.setLevel(logging.DEBUG)  # printed: Scrapy's own lines, unchanged
        assert ours.crawled(request, response, None) == scrapys.crawled(request, response, None)
        assert ours.scraped({"a": 1}, response, None) == scrapys.scraped({"a": 1}, response, None)
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
