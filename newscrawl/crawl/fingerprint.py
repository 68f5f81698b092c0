"""Request fingerprints: an article page is identified by its article id, not its URL.

The duplicate filter (Scrapy's, the JOBDIR one, or the shared scrapy-redis one of a
scale-out run) keys requests by fingerprint. Keying article requests by id makes every URL
form of one article (a site's several URL forms of one id, another worker's article URL
setting) one request. Everything else (feeds, POST bodies included) keeps
Scrapy's default fingerprint.
"""

from __future__ import annotations

import hashlib
from typing import Any

from scrapy import Request
from scrapy.utils.request import RequestFingerprinter


def article_fingerprint(article_id: str) -> bytes:
    return hashlib.sha1(b"newscrawl-article\0" + article_id.encode("utf-8")).digest()


class ArticleFingerprinter:
    """``REQUEST_FINGERPRINTER_CLASS``: ``meta["article_id"]`` requests by id, others as Scrapy does.

    A redirected article request (``redirect_urls`` in its meta) is fingerprinted by its URL
    and article id: it is a new request of the same article, which an id fingerprint would
    drop as a duplicate of the request it came from (a deleted article's redirect to the
    "page gone" page), and the redirects of two deleted articles to that one page are two.
    """

    def __init__(self, crawler: Any = None) -> None:
        self.default = RequestFingerprinter(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArticleFingerprinter:
        return cls(crawler)

    def fingerprint(self, request: Request) -> bytes:
        article_id = request.meta.get("article_id")
        if article_id and "redirect_urls" not in request.meta:
            return article_fingerprint(str(article_id))
        if article_id:
            url = self.default.fingerprint(request)
            return hashlib.sha1(b"newscrawl-redirect\0" + str(article_id).encode("utf-8") + b"\0" + url).digest()
        return self.default.fingerprint(request)
