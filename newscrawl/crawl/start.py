"""Start requests read the way Scrapy reads them when its downloader fills, whatever the timing.

Scrapy 2.13+ reads ``Spider.start()`` in ``ExecutionEngine._start_request_processing``: after
each request it asks ``needs_backout()``; while the downloader has room it schedules the
engine's ``nextcall`` and *waits for it* (a loop round trip, so the request reaches the
downloader before the next one is read); once the downloader is full it reads the rest of
``start()`` at once into the scheduler. Which of the two happens for the whole crawl depends on
a race: if the first responses come back before ``CONCURRENT_REQUESTS`` start requests were
sent, the downloader never fills, and every one of an id list's requests costs a round trip of
its own, with 2-3 requests in flight instead of 12-16 (measured on ``bench_crawl.py``'s ids
mode against the local mock: 2,001 round trips instead of 15, ~3,000 engine passes instead of
~650, and 0.2-0.5 ms more CPU per article; docs/notes-issue-15-crawl6.md). A fast answering
site, i.e. a quiet machine and a local mock, makes the slow case the likely one.

:class:`EagerStartMiddleware` sits at the engine end of the ``process_start`` chain (order 1,
outside Scrapy's ``StartSpiderMiddleware`` at 25, so every other middleware still sees every
start request first). It passes the first ``CONCURRENT_REQUESTS`` start requests to the engine
one by one, as Scrapy does while its downloader has room, and then hands each further request
to ``engine.crawl()`` itself, which is what the engine does with start requests once its
downloader is full: the crawl always takes Scrapy's fast path. Items (not requests) from
``start()`` always go to the engine, which sends them to the item pipelines. The requests, their
meta (``is_start_request`` included), the duplicate filter, stats, JOBDIR and the scheduler's
order are Scrapy's: the first requests in order, the rest in the scheduler's own order, as in a
crawl whose downloader filled. A middleware with ``process_start`` placed below order 1 sees
only the first ``CONCURRENT_REQUESTS`` requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request


class EagerStartMiddleware:
    """Reads ``start()`` lazily for the first ``CONCURRENT_REQUESTS`` requests, eagerly after."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        # As many as the downloader holds: Scrapy's own switch point when its first answers are slower.
        self.lazy = max(1, crawler.settings.getint("CONCURRENT_REQUESTS"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> EagerStartMiddleware:
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
                    # The engine is stopping (start() awaited something meanwhile): let it decide.
                    yield item
                else:
                    engine.crawl(item)
