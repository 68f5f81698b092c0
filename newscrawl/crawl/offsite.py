"""Scrapy's offsite filter, left out of runs whose spider allows every domain.

Scrapy's downloader ``OffsiteMiddleware`` (a default, order 50) checks every request twice
(when scheduled and when downloaded): a deprecation-argument wrapper, a parsed-URL lookup and
a regex search against the spider's ``allowed_domains``. Without ``allowed_domains`` (no
newscrawl spider sets it) its regex is the empty pattern, which allows every host: the work
filters nothing, logs nothing and counts nothing, yet cost ~90k instructions per article
(callgrind, a whole discovery crawl). :class:`OffsiteMiddleware` is Scrapy's class, enabled in
its place (``DOWNLOADER_MIDDLEWARES`` in the project settings), that declines to load
(``NotConfigured``) when the run's spider has no ``allowed_domains`` when the crawl is set up.
A spider that lists domains (as a class attribute or in ``__init__``) gets Scrapy's filter
unchanged. A spider that sets ``allowed_domains`` only later, once the crawl runs, is not
supported (Scrapy re-reads the attribute per request; this reads it once).
"""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware as ScrapyOffsiteMiddleware
from scrapy.exceptions import NotConfigured


class OffsiteMiddleware(ScrapyOffsiteMiddleware):
    """Scrapy's ``OffsiteMiddleware``, not loaded when the spider allows every domain."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> OffsiteMiddleware:
        spider = getattr(crawler, "spider", None)
        # No spider yet (a tool building middlewares by hand): Scrapy's behaviour, to be safe.
        if spider is not None and not getattr(spider, "allowed_domains", None):
            raise NotConfigured("the spider has no allowed_domains: every request is on site")
        return super().from_crawler(crawler)
