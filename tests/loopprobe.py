"""A crawl extension (for tests/test_loop.py) that uses asyncio the way a user's code would.

On ``spider_opened`` it awaits ``asyncio.sleep``, a thread through ``run_in_executor`` and an
``asyncio.Future`` completed by a timer, then records the running loop's class in the stats
(``test/loop``): proof that asyncio code runs under the crawl's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import signals


class LoopProbe:
    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LoopProbe:
        return cls(crawler)

    async def spider_opened(self, spider: Any) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.01)
        answer = await loop.run_in_executor(None, sum, [1, 2, 3])
        future = loop.create_future()
        loop.call_later(0.01, future.set_result, answer)
        self.stats.set_value("test/asyncio_answer", await future)
        self.stats.set_value("test/loop", f"{type(loop).__module__}.{type(loop).__qualname__}")
