"""A Scrapy extension for the benchmarks: the crawl's own CPU time, in the stats.

``bench/crawl_cpu_s`` is the process CPU time (user + system, all threads) from ``spider_opened`` to
``spider_closed``: the interpreter start and imports are left out, like in Scrapy's ``elapsed_time_seconds``.
Under a loaded machine the wall time of a crawl stretches; its CPU time much less so.
Enabled by the benchmarks with ``-s EXTENSIONS=...`` (``benchmarks.crawlclock.CrawlCPU``).
"""

from __future__ import annotations

import time

from scrapy import signals


class CrawlCPU:
    def __init__(self, stats) -> None:
        self.stats = stats
        self.started = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.started = time.process_time()

    def spider_closed(self, spider, reason: str) -> None:
        self.stats.set_value("bench/crawl_cpu_s", time.process_time() - self.started)
