"""The ``qq`` spider: decides what to fetch; extraction lives in ``page.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from newscrawl.sites.qq.ids import id_from_url, normalize_id
from newscrawl.sites.qq.page import Unavailable, decode_html, extract


def split_arg(value: str | Iterable[str] | None) -> list[str]:
    """``-a ids=a,b c`` -> ["a", "b", "c"] (commas or whitespace)."""
    if not value:
        return []
    if not isinstance(value, str):
        value = ",".join(value)
    return [part for part in value.replace(",", " ").split() if part]


class QQSpider(scrapy.Spider):
    """Tencent news articles.

    Arguments (``-a``): ``urls`` and ``ids``, comma-separated article URLs (any form) or ids.
    """

    name = "qq"
    source = "qq"

    def __init__(self, urls: str | None = None, ids: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requested: list[str] = []
        for url in split_arg(urls):
            article_id = id_from_url(url)
            if article_id:
                self.requested.append(article_id)
            else:
                self.logger.error("Not a Tencent news article URL: %s", url)
                self._bad_args = getattr(self, "_bad_args", 0) + 1
        for value in split_arg(ids):
            article_id = normalize_id(value)
            if article_id:
                self.requested.append(article_id)
            else:
                self.logger.error("Not a Tencent news article id: %s", value)
                self._bad_args = getattr(self, "_bad_args", 0) + 1

    async def start(self) -> AsyncIterator[scrapy.Request]:
        bad = getattr(self, "_bad_args", 0)
        if bad:
            self.crawler.stats.inc_value("newscrawl/failed/bad_argument", bad)
        seen: set[str] = set()
        for article_id in self.requested:
            if article_id not in seen:
                seen.add(article_id)
                yield self.article_request(article_id)

    def article_request(self, article_id: str, feed: dict[str, str] | None = None) -> scrapy.Request:
        url = self.settings.get("QQ_ARTICLE_URL").format(id=article_id)
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            meta={"article_id": article_id, "feed": feed or {}},
        )

    def parse_article(self, response: Response) -> Iterable[Any]:
        stats = self.crawler.stats
        stats.inc_value("newscrawl/articles/fetched")
        article_id = response.meta["article_id"]
        text = decode_html(response.body, getattr(response, "encoding", None))
        try:
            article = extract(text, response.url, requested_id=article_id)
        except Unavailable as exc:
            stats.inc_value(f"newscrawl/skipped/{exc.reason}")
            self.logger.warning("Skipped %s (%s): %s", article_id, exc.reason, exc.detail)
            return
        article.feed = response.meta.get("feed") or {}
        stats.inc_value(f"newscrawl/template/{article.template or 'none'}")
        yield article

    def article_failed(self, failure: Failure) -> None:
        request = failure.request
        article_id = request.meta.get("article_id")
        reason = failure_reason(failure)
        self.crawler.stats.inc_value(f"newscrawl/failed/{reason}")
        self.logger.error("Failed %s (%s): %s", article_id, reason, failure.getErrorMessage())


def failure_reason(failure: Failure) -> str:
    """A short stats key for a failed request: http_404, timeout, connection, ..."""
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TimeoutError
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(TimeoutError):
        return "timeout"
    if failure.check(DNSLookupError):
        return "dns"
    if failure.check(ConnectionRefusedError):
        return "connection_refused"
    if failure.check(ResponseFailed, ResponseNeverReceived):
        return "connection_lost"
    return failure.type.__name__ if failure.type else "error"
