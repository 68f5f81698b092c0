"""The lean per-article crawl path (issue 15): the same results as Scrapy's plumbing, fewer steps.

The stats collector must give what Scrapy's own gives (every stats key and value); the crawl
tests (goldens, the summary line, exit statuses) run through it.
"""

from __future__ import annotations

import warnings

import pytest
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

import newscrawl.settings as project
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
