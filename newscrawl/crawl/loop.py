"""The asyncio event loop under a crawl's Twisted reactor: uvloop's, else asyncio's own.

A crawl runs Scrapy's default reactor, Twisted's ``AsyncioSelectorReactor``, which drives an
asyncio event loop: every callback, timer, socket event and asynchronous generator of the
crawl goes through it. asyncio's own loop does that in Python; uvloop (libuv, compiled; by
MagicStack, the authors of asyncpg, released steadily since 2016) does the same
work in C: ~300k fewer instructions per article in a crawl (-4.7%, callgrind, whole process;
docs/performance.md). It is the same asyncio API (``asyncio.get_running_loop()``,
``await asyncio.sleep()``, ``loop.run_in_executor()``), so asyncio code in spiders,
middlewares and pipelines runs unchanged.

uvloop does not exist for Windows: :data:`EventLoop` is then asyncio's selector loop, the
loop Scrapy itself would run there. A plain ``pip install`` gets uvloop where it exists
(``pyproject.toml``: a dependency with a platform marker), and a crawl runs without it.
To run asyncio's own loop: ``-s ASYNCIO_EVENT_LOOP=asyncio.SelectorEventLoop`` (or ``None`` in a settings file).
"""

from __future__ import annotations

import asyncio

try:
    from uvloop import Loop as _Loop
except ImportError:  # Windows, or a system without a uvloop wheel: asyncio's selector loop.
    _Loop = asyncio.SelectorEventLoop

#: The loop class ``ASYNCIO_EVENT_LOOP`` names (Scrapy instantiates it once per process).
EventLoop: type[asyncio.AbstractEventLoop] = _Loop
