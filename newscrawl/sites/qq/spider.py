"""The ``qq`` spider: the qq site (``site.py``) plus the generic article spider."""

from __future__ import annotations

from newscrawl.crawl.spider import ArticleSpider


class QQSpider(ArticleSpider):
    """Tencent news articles. Spider arguments (``-a``) are documented in the docs."""

    name = "qq"
