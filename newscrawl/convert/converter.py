"""Page HTML -> finished Markdown, without a crawl: the normalization steps in settings order.

Used by ``python -m newscrawl render``, the benchmarks and the tests, so what they see is
exactly what a crawl writes (the writer aside). The steps are the ITEM_PIPELINES entries that
are normalization steps (:class:`~newscrawl.convert.normalize.ArticleStep`, the crawl's item
pipelines wrap them), loaded by name when the first page is converted: this module imports
no crawl module, so the crawl layer can import the convert layer and never the reverse.
"""

from __future__ import annotations

import os
from functools import cached_property

from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object
from scrapy.utils.project import get_project_settings

from newscrawl.convert.article import Article
from newscrawl.convert.normalize import ArticleStep, process_guarded
from newscrawl.sites import registry, site_for_url
from newscrawl.sites.base import Site


def project_settings() -> BaseSettings:
    """newscrawl's settings, also outside the project folder (no scrapy.cfg)."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newscrawl.settings")
    return get_project_settings()


def normalization_pipelines(settings: BaseSettings) -> list[ArticleStep]:
    """The ITEM_PIPELINES that transform articles (not the writer), in their order."""
    pipelines = []
    for path, _ in sorted(settings.getdict("ITEM_PIPELINES").items(), key=lambda kv: kv[1]):
        cls = load_object(path)
        if isinstance(cls, type) and issubclass(cls, ArticleStep) and not getattr(cls, "owns_disk", False):
            pipelines.append(cls(settings))
    return pipelines


class Converter:
    """Reusable page converter (steps built once, at the first page)."""

    def __init__(self, settings: BaseSettings | None = None, site: Site | None = None) -> None:
        self.settings = settings if settings is not None else project_settings()
        self.site = site
        self._sites: list[Site] | None = None  # the registry, read once (not per page)

    @cached_property
    def pipelines(self) -> list[ArticleStep]:
        """The normalization steps, in ITEM_PIPELINES order."""
        return normalization_pipelines(self.settings)

    def process(self, article: Article) -> Article:
        for pipeline in self.pipelines:
            article = process_guarded(pipeline, article)
        return article

    def site_for(self, url: str) -> Site:
        """The converter's site, else the registered site that reads an id in ``url``."""
        if self.site is not None:
            return self.site
        if self._sites is None:
            self._sites = list(registry(self.settings).values())
        if len(self._sites) == 1 and url.isascii() and "[" not in url and "]" not in url:
            # The only site is the answer whatever the URL reads, so its id is not parsed out
            # (~42k instructions a page). Not for URLs that urlsplit may refuse (brackets,
            # non-ASCII hosts): site_for_url raises ValueError for those, and still does.
            return self._sites[0]
        return site_for_url(url, self.settings, self._sites)

    def convert(self, html: str, url: str = "", requested_id: str | None = None, site: Site | None = None) -> Article:
        """Extract and normalize; ``article.markdown`` is the file text.

        The page is ``site``'s, else the converter's site's, else the site ``url`` belongs to.

        Raises ``Unavailable`` (deleted, paid, ...) or ``ArticleDropped`` (empty).
        """
        return self.process((site or self.site_for(url)).extract(html, url, requested_id))
