"""The normalization steps between a site's ``Article`` and the finished file text.

Each step is a plain object built from settings with a pure ``process_article(article) ->
article``: text, image URLs, publish time, summary, Markdown, in ITEM_PIPELINES' order. The
crawl runs them through thin Scrapy item pipelines (:mod:`newscrawl.crawl.pipelines`, which
add stats and DropItem plumbing); the ``Converter`` runs the same steps without a crawl.
This module imports no crawl module.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin

from scrapy.exceptions import DropItem
from scrapy.settings import BaseSettings

from newscrawl.convert import text as textnorm
from newscrawl.convert.article import (
    Article,
    Code,
    Heading,
    Image,
    ImageBlock,
    ListBlock,
    Paragraph,
    Quote,
    Span,
    Table,
    Video,
    iter_blocks,
)
from newscrawl.convert.dates import parse_datetime
from newscrawl.convert.document import render_document
from newscrawl.convert.images import is_ui_image, normalize_image_url
from newscrawl.convert.markdown import escape, escape_url, render_blocks
from newscrawl.sites import get_site
from newscrawl.sites.base import Site

logger = logging.getLogger(__name__)


class ArticleDropped(DropItem):
    """DropItem with a short ``reason`` used as the stats key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def process_guarded(step: ArticleStep, article: Article) -> Article:
    """``step.process_article(article)``; a structure nested deeper than a (recursive)
    step follows is dropped as ``too_deep``, never written half-rendered."""
    try:
        return step.process_article(article)
    except RecursionError:
        raise too_deep(step, article) from None


def too_deep(step: ArticleStep, article: Article) -> ArticleDropped:
    """The drop of an article nested deeper than ``step`` follows (a RecursionError in it)."""
    return ArticleDropped("too_deep", f"article {article.id} nests deeper than {type(step).__name__} follows")


class ArticleStep:
    """Base: build from settings (and, in a crawl, the stats); subclasses implement
    ``process_article``."""

    stats_prefix = "newscrawl"

    def __init__(self, settings: BaseSettings, stats: Any = None) -> None:
        self.settings = settings
        self.stats = stats
        self._sites: dict[str, Site] = {}

    def site(self, article: Article) -> Site:
        """The registered site the article comes from (its rules: images, dates)."""
        site = self._sites.get(article.source)
        if site is None:
            site = self._sites[article.source] = get_site(article.source, self.settings)
        return site

    def inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"{self.stats_prefix}/{key}", count)

    def process_article(self, article: Article) -> Article:
        raise NotImplementedError


# ---- text -------------------------------------------------------------------------------


def _normalize_spans(spans: list[Span]) -> list[Span]:
    """Normalize a paragraph's spans as one text: runs collapse across span edges, the
    paragraph is stripped, and a separating space never lands inside ``**``."""
    if len(spans) == 1:  # the common case: one run that is already clean
        text = spans[0].text
        if text and text[0] != " " and text[-1] != " " and "  " not in text and not textnorm.needs_cleaning(text):
            return spans
    out: list[Span] = []
    pending = False  # a space is owed before the next visible text
    for span in spans:
        text = textnorm.clean_chars(span.text)
        words = text.split()
        if not words:
            pending = pending or (bool(text) and bool(out))
            continue
        body = " ".join(words) if len(words) > 1 else words[0]
        if out and (pending or text[0] == " "):
            if span.bold or span.italic or span.code or span.href:
                out.append(Span(" ", href=span.href if span.href == out[-1].href else None))
            else:
                body = " " + body
        span.text = body  # spans belong to this article: normalize in place
        out.append(span)
        pending = text[-1] == " "
    return out


def _normalize_cell(cell: list) -> list:
    spans: list = []
    out: list = []
    for item in cell:
        if isinstance(item, Image):
            out.extend(_normalize_spans(spans))
            spans = []
            out.append(item)
        else:
            spans.append(item)
    out.extend(_normalize_spans(spans))
    return out


def normalize_blocks(blocks: list) -> list:
    """Blocks with normalized text; blocks left without text are dropped."""
    out = []
    for block in blocks:
        if isinstance(block, (Paragraph, Heading)):
            block.spans = _normalize_spans(block.spans)
            if not block.spans:
                continue
        elif isinstance(block, Code):
            block.text = textnorm.normalize_code(block.text)
            if not block.text.strip():
                continue
        elif isinstance(block, ListBlock):
            block.items = [items for items in (normalize_blocks(i) for i in block.items) if items]
            if not block.items:
                continue
        elif isinstance(block, Quote):
            block.blocks = normalize_blocks(block.blocks)
            if not block.blocks:
                continue
        elif isinstance(block, Table):
            block.rows = [[_normalize_cell(cell) for cell in row] for row in block.rows]
        elif isinstance(block, Video):
            block.title = textnorm.normalize(block.title)
        out.append(block)
    return out


# The compiled paragraph loop (newscrawl/convert/_cwalk.pyx), when the compiled walker runs; the
# Python functions stay the reference (``python_normalize_blocks``) and the pure path.
python_normalize_spans, python_normalize_blocks = _normalize_spans, normalize_blocks


def _use_compiled() -> None:
    global _normalize_spans, normalize_blocks
    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is not None:
        COMPILED.use_normalize(python_normalize_spans, python_normalize_blocks)
        _normalize_spans, normalize_blocks = COMPILED.normalize_spans, COMPILED.normalize_blocks


_use_compiled()


class TextStep(ArticleStep):
    """NBSP, U+3000, zero-width and control characters, stray entities, whitespace runs.

    A page without a title takes the title its feed listed.
    """

    def process_article(self, article: Article) -> Article:
        article.title = textnorm.normalize(article.title) or textnorm.normalize(article.feed.get("title", ""))
        article.media = textnorm.normalize(article.media)
        article.body = normalize_blocks(article.body)
        return article


# ---- images -----------------------------------------------------------------------------


class ImageUrlStep(ArticleStep):
    """Absolute https image URLs; UI icons, tracking pixels and duplicates dropped.

    Also completes the thumbnail: page ``og:image``, else the feed's cover, else the
    first body image.
    """

    def process_article(self, article: Article) -> Article:
        seen: set[str] = set()
        site = self.site(article)
        self._hosts, self._ui = site.https_image_hosts, site.is_ui_image
        # Relative URLs resolve against the article's own page (or its <base href>),
        # never against the URL it was fetched from: that may be a mirror on another host.
        base = _join(article.url, article.base_url) if article.base_url else article.url
        article.body = self._blocks(article.body, base, seen)
        thumb = normalize_image_url(article.thumbnail, article.url, self._hosts)
        if not thumb or is_ui_image(thumb) or self._ui(thumb):
            thumb = normalize_image_url(article.feed.get("cover", ""), article.url, self._hosts)
        if not thumb:
            src = _first_image(article.body)
            thumb = "" if src is None else src
        article.thumbnail = thumb
        return article

    def _keep(self, image: Image, base: str, seen: set[str]) -> bool:
        url = normalize_image_url(image.src, base, self._hosts)
        if not url or self._ui(url) or is_ui_image(url):
            self.inc("images/dropped_ui")
            return False
        if url in seen:
            self.inc("images/dropped_duplicate")
            return False
        seen.add(url)
        image.src = url
        return True

    def _blocks(self, blocks: list, base: str, seen: set[str]) -> list:
        out = []
        for block in blocks:
            if block.__class__ is Paragraph:  # most blocks: nothing to look at
                out.append(block)
                continue
            if isinstance(block, ImageBlock):
                if not self._keep(block.image, base, seen):
                    continue
            elif isinstance(block, ListBlock):
                block.items = [self._blocks(item, base, seen) for item in block.items]
            elif isinstance(block, Quote):
                block.blocks = self._blocks(block.blocks, base, seen)
            elif isinstance(block, Table):
                block.rows = [
                    [[x for x in cell if not isinstance(x, Image) or self._keep(x, base, seen)] for cell in row]
                    for row in block.rows
                ]
            out.append(block)
        return out


def _first_image(blocks: list) -> str | None:
    """The ``src`` of the first ImageBlock in ``iter_blocks(blocks)``'s order, None when there is
    none (a plain loop: most blocks are paragraphs, skipped without a generator step each)."""
    for block in blocks:
        if block.__class__ is Paragraph:
            continue
        if isinstance(block, ImageBlock):
            return block.image.src
        if isinstance(block, ListBlock):
            for item in block.items:
                src = _first_image(item)
                if src is not None:
                    return src
        elif isinstance(block, Quote):
            src = _first_image(block.blocks)
            if src is not None:
                return src
    return None


def _join(base: str, url: str) -> str:
    try:
        return urljoin(base, url)
    except ValueError:  # a page's <base href> that does not parse
        return base


# ---- dates ------------------------------------------------------------------------------


class DateStep(ArticleStep):
    """Publish time as an aware datetime in the site's time zone.

    The page's time first, then the feed's, then midnight of the date in the id (logged
    and counted: a page that hides its date is worth knowing about).
    """

    def process_article(self, article: Article) -> Article:
        site = self.site(article)
        tz = site.timezone
        published = parse_datetime(article.published_raw, tz) or parse_datetime(article.feed.get("published"), tz)
        if published is None:
            published = site.date_from_id(article.id)
            self.inc("date/from_id" if published else "date/missing")
            logger.warning("No publish time on %s (raw %r); using %s", article.url, article.published_raw, published)
        article.published = published
        return article


# ---- summary ----------------------------------------------------------------------------


def plain_text(blocks: list, limit: int | None = None) -> str:
    """The body's text, blocks separated by spaces, whitespace runs collapsed.

    With ``limit``, stops once the text is at least that long (a summary needs no more).
    """
    parts: list[str] = []
    size = 0
    for block in iter_blocks(blocks):
        if isinstance(block, (Paragraph, Heading)):
            part = "".join(s.text for s in block.spans)
        elif isinstance(block, Code):
            part = block.text
        elif isinstance(block, Table):
            part = " ".join("".join(x.text for x in cell if isinstance(x, Span)) for row in block.rows for cell in row)
        else:
            continue
        parts.append(part)
        size += len(part) + 1
        if limit is not None and size > limit:
            text = textnorm.collapse(" ".join(parts))
            if len(text) >= limit:
                return text
    return textnorm.collapse(" ".join(parts))


def make_summary(text: str, whole_under: int = 80, cut: int = 50) -> str:
    """The contract's rule: whole text under ``whole_under`` chars, else ``cut`` + '...'."""
    if len(text) < whole_under:
        return text
    return text[:cut].rstrip() + "..."


class SummaryStep(ArticleStep):
    """``summary``: the body's plain text, cut by SUMMARY_WHOLE_UNDER / SUMMARY_LENGTH."""

    def __init__(self, settings: BaseSettings, stats: Any = None) -> None:
        super().__init__(settings, stats)
        self.whole_under = settings.getint("SUMMARY_WHOLE_UNDER", 80)
        self.length = settings.getint("SUMMARY_LENGTH", 50)

    def process_article(self, article: Article) -> Article:
        article.summary = make_summary(plain_text(article.body, self.whole_under), self.whole_under, self.length)
        return article


# ---- markdown ---------------------------------------------------------------------------


class MarkdownStep(ArticleStep):
    """Renders the finished file text into ``article.markdown``; drops empty articles."""

    def __init__(self, settings: BaseSettings, stats: Any = None) -> None:
        super().__init__(settings, stats)
        self.defaults = settings.getdict("FRONT_MATTER_DEFAULTS")
        self.date_style = settings.get("DATE_STYLE", "rfc3339")

    def process_article(self, article: Article) -> Article:
        body = render_blocks(article.body)
        if not body.strip():
            # Logged once, by the LOG_FORMATTER's "Dropped" line; the spider records it as gone for now.
            raise ArticleDropped("empty", "no text and no images; not written")
        article.markdown = render_document(
            article,
            body,
            self.defaults,
            self.date_style,
            link=f"[{escape(article.source)}]({escape_url(article.url)})",
        )
        return article
