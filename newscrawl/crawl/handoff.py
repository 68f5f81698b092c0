"""Requests handed to Scrapy's engine as soon as they are made, not one event-loop hop at a time.

Two places in Scrapy 2.19 pass requests to ``ExecutionEngine.crawl()`` (scheduler, then
downloader) with a wait in between that decides how many requests a crawl has in flight:

* **Start requests** (``ExecutionEngine._start_request_processing``): after each request the
  engine asks ``needs_backout()``; while the downloader has room it schedules its ``nextcall``
  and *waits for it* (a loop round trip), once the downloader is full it reads the rest of
  ``start()`` at once into the scheduler. Which of the two a crawl gets is a race: when the first
  answers come back before ``CONCURRENT_REQUESTS`` start requests were sent, the downloader never
  fills, and an id list of N articles costs N round trips and runs with 2-3 requests in flight
  (fast answers, i.e. a quiet machine, make it likely).
* **Requests from callbacks** (``Scraper.handle_spider_output_async``): each output of a callback
  goes through an ``asyncio.Queue`` of ``2 * CONCURRENT_ITEMS`` places to a worker task that calls
  ``engine.crawl()``; the queue lets ~2 requests through per loop iteration, so a feed page's 100
  article requests trickle into the scheduler between other responses' conversions and the
  downloader holds 6-7 requests instead of 16.

Measured on ``bench_crawl.py``'s crawls against the local mock (2,000 articles, 16 requests;
docs/notes-issue-15-crawl6.md): ids mode 2,001 engine round trips instead of 15 and ~0.5 ms more
CPU per article in the slow case; discovery ~1,460 scheduler passes instead of ~600 and 6.5
requests in flight instead of 12.

:class:`RequestHandoffMiddleware` sits at the engine end of the spider middleware chain (order 1,
outside Scrapy's ``StartSpiderMiddleware`` at 25: every other middleware sees each request
first, ``is_start_request``, depth, Referer and the rest included) and calls ``engine.crawl()``
itself, which is what the engine and the scraper do with those requests:

* ``process_start``: the first ``CONCURRENT_REQUESTS`` start requests go to the engine one by one
  (Scrapy's lazy reading while its downloader has room), then, or as soon as the downloader is
  full, every further one is crawled at once: Scrapy's path for a downloader that filled, taken
  whatever the timing.
* ``process_spider_output``: each request a callback makes is crawled when made.

Items (not requests) always go on to the engine and the scraper, which send them to the item
pipelines as before. The requests, their meta, the duplicate filter, the signals and stats,
JOBDIR and the scheduler's order are Scrapy's; what changes is only how soon a request reaches
the scheduler: start requests past the first ``CONCURRENT_REQUESTS`` and a callback's requests
no longer wait for the event loop between them. While the engine is closing (no spider, or not
running) requests go on to Scrapy's own path, which decides about them as before. A
middleware with order below 1 sees only the first start requests and no requests from callbacks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request


class RequestHandoffMiddleware:
    """Start and callback requests to ``engine.crawl()`` as soon as they are made."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        # As many as the downloader holds: Scrapy's own switch point when its first answers are slower.
        self.lazy = max(1, crawler.settings.getint("CONCURRENT_REQUESTS"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> RequestHandoffMiddleware:
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        engine = self.crawler.engine
        lazy = self.lazy
        async for item in start:
            if not isinstance(item, Request):
                yield item
            elif lazy > 0 and not engine.needs_backout():
                lazy -= 1
                yield item
            else:
                lazy = 0  # one way, as Scrapy's: once eager, the rest of start() goes at once
                if engine.spider is None or not engine.running:
                    yield item  # the engine is closing (start() awaited meanwhile): its decision
                else:
                    engine.crawl(item)

    async def process_spider_output(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        engine = self.crawler.engine
        async for item in result:
            if isinstance(item, Request) and engine.spider is not None and engine.running:
                engine.crawl(item)
            else:
                yield item
