"""Crawl-level extensions: the run's stats as a JSON file (for cron, monitoring and tests)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

from newscrawl.writer import write_atomic

logger = logging.getLogger(__name__)


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


class StatsFile:
    """Writes the final stats to ``STATS_FILE`` (JSON) when the spider closes."""

    def __init__(self, path: str, stats) -> None:
        self.path = Path(path)
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("STATS_FILE")
        if not path:
            raise NotConfigured
        ext = cls(path, crawler.stats)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider, reason: str) -> None:
        data = {key: _jsonable(value) for key, value in self.stats.get_stats().items()}
        data["finish_reason"] = reason
        write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))
