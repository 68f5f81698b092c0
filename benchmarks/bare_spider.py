"""The baseline of ``bench_crawl.py``: a bare Scrapy spider that fetches a list of requests and discards them.

    python benchmarks/bare_spider.py REQUESTS.jsonl --stats-file STATS.json [--write-dir DIR] [-s NAME=VALUE ...]

``REQUESTS.jsonl`` holds one request a line: ``{"url", "method", "body", "headers", "priority", "kind"}``
(all but ``url`` optional). Every request is yielded at the start; each response is dropped (only counted by
``kind``, ``bare/responses/<kind>``). No project settings, pipelines or extensions: Scrapy's defaults plus the
``-s`` overrides the benchmark passes to both sides (concurrency, delay, robots.txt, log level). The final
stats (Scrapy's ``elapsed_time_seconds``, ``memusage/max``, ...) are written to ``--stats-file`` as JSON,
as newscrawl's ``STATS_FILE`` does, so both sides are timed by the same clock.

``--write-dir DIR``: the fair floor of a crawler that writes files. Each article response becomes an item,
and an item pipeline (so the project's CONCURRENT_ITEMS applies as to newscrawl's items) writes its body to
one new file in DIR, ``<n>.html``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings


class BareSpider(scrapy.Spider):
    """Fetches the requests of ``requests_file``; the responses are counted and dropped."""

    name = "bare"
    write_to: Path = Path()  # --write-dir, for the pipeline

    def __init__(self, requests_file: str = "", stats_file: str = "", write_dir: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.requests_file = Path(requests_file)
        self.stats_file = Path(stats_file) if stats_file else None
        self.write_dir = Path(write_dir) if write_dir else None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        # engine_stopped: after spider_closed, when CoreStats has set elapsed_time_seconds and finish_reason.
        crawler.signals.connect(spider.write_stats, signal=signals.engine_stopped)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        with self.requests_file.open(encoding="utf-8") as handle:
            for line in handle:
                spec = json.loads(line)
                yield scrapy.Request(
                    spec["url"],
                    method=spec.get("method", "GET"),
                    body=spec.get("body"),
                    headers=spec.get("headers"),
                    priority=spec.get("priority", 0),
                    meta={"kind": spec.get("kind", "article")},
                    callback=self.parse,
                    dont_filter=True,
                )

    def parse(self, response: Response):
        kind = response.meta["kind"]
        self.crawler.stats.inc_value(f"bare/responses/{kind}")
        if self.write_dir is not None and kind == "article":
            yield {"body": response.body}

    def write_stats(self) -> None:
        if self.stats_file is None:
            return
        stats = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.crawler.stats.get_stats().items()}
        self.stats_file.write_text(json.dumps(stats, indent=1, sort_keys=True), encoding="utf-8")


class WriteFilePipeline:
    """Writes each item's body to one new file (``--write-dir``)."""

    def __init__(self) -> None:
        self.count = 0

    def process_item(self, item: dict, spider: scrapy.Spider | None = None) -> dict:
        self.count += 1
        folder = BareSpider.write_to
        (folder / f"{self.count:08d}.html").write_bytes(item["body"])
        return item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests_file")
    parser.add_argument("--stats-file", required=True)
    parser.add_argument("--write-dir", default="", help="write each article page to one file in DIR")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    # Scrapy's defaults (not the project's): no pipelines, no extensions of ours. The asyncio reactor is the
    # project's too, so both sides run the same event loop.
    settings = Settings({"TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
    for pair in args.settings:
        name, _, value = pair.partition("=")
        settings.set(name, value, priority="cmdline")
    if args.write_dir:
        BareSpider.write_to = Path(args.write_dir)
        BareSpider.write_to.mkdir(parents=True, exist_ok=True)
        settings.set("ITEM_PIPELINES", {f"{__name__}.WriteFilePipeline": 100}, priority="cmdline")
    process = CrawlerProcess(settings)
    process.crawl(BareSpider, requests_file=args.requests_file, stats_file=args.stats_file, write_dir=args.write_dir)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
