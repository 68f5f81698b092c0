"""Item pipelines: Scrapy's plumbing over the normalization steps; the writer owns the disk.

Each pipeline here is one step of :mod:`newscrawl.convert.normalize` (its ``process_article``)
plus what a crawl adds: ``from_crawler``, stats, and the DropItem of an article whose step
raised. The writer (:mod:`newscrawl.crawl.writer`) is the last one, and the only one that
touches the disk.

ITEM_PIPELINES keeps one entry per step (users reorder, disable or insert pipelines between
them, and ``Converter`` finds the steps there), but Scrapy pays ~3 µs of coroutine plumbing
per entry and item (an awaitable made and awaited, the method's name formatted). The
project's ITEM_PROCESSOR, :class:`ItemPipelineManager`, runs each stretch of consecutive
article steps as one entry: the same methods in the same order, with one hop per stretch.
"""

from __future__ import annotations

import errno
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.pipelines import ItemPipelineManager as ScrapyItemPipelineManager

from newscrawl.convert.article import Article
from newscrawl.convert.normalize import (
    ArticleDropped,
    ArticleStep,
    DateStep,
    ImageUrlStep,
    MarkdownStep,
    SummaryStep,
    TextStep,
    process_guarded,
    too_deep,
)

logger = logging.getLogger(__name__)


def extract_failed(stats: Any, log: Any, article_id: str, url: str, exc: BaseException) -> None:
    """Count and log an exception raised while extracting or normalizing one article:
    ``newscrawl/failed/extract_error/<type>``, one ERROR line, the traceback at DEBUG."""
    name = type(exc).__name__
    stats.inc_value(f"newscrawl/failed/extract_error/{name}")
    log.error("Failed %s (extract_error: %s: %s) %s", article_id, name, _short(exc), url)
    log.debug("Traceback of the extract_error of %s", article_id, exc_info=exc)


def write_failed(stats: Any, log: Any, article_id: str, exc: BaseException) -> ArticleFailed:
    """An article file the disk refused: counted (with stats) as
    ``newscrawl/failed/write_error/<errno name or type>``, one ERROR line, the traceback at
    DEBUG; returns the DropItem to raise (``raise write_failed(...) from exc``)."""
    if stats is not None:
        code = getattr(exc, "errno", None)
        name = errno.errorcode.get(code, type(exc).__name__) if isinstance(code, int) else type(exc).__name__
        stats.inc_value(f"newscrawl/failed/write_error/{name}")
        log.error("Failed %s (write_error: %s)", article_id, _short(exc))
        log.debug("Traceback of the write_error of %s", article_id, exc_info=exc)
    return ArticleFailed(f"write_error: {type(exc).__name__}")


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


class ArticleFailed(DropItem):
    """An article whose normalization raised: counted and logged by ``extract_failed``, so
    Scrapy's own "Dropped" line (with the whole item) goes to DEBUG."""

    def __init__(self, message: str) -> None:
        super().__init__(message, log_level="DEBUG")


class ArticlePipeline(ArticleStep):
    """Base of the item pipelines: a step built from the crawler, run by ``process_item``."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings, crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        try:
            return process_guarded(self, item)
        except Exception as exc:
            failure = self.failure(item, exc)
            if failure is None:
                raise
            raise failure from exc

    def failure(self, item: Article, exc: Exception) -> DropItem | None:
        """Count and log ``exc``, raised by this step on ``item``; the DropItem that
        ``process_item`` raises from it, or None when it raises ``exc`` itself (a drop)."""
        if isinstance(exc, ArticleDropped):
            self.inc(f"dropped/{exc.reason}")
            return None
        if getattr(self, "owns_disk", False):
            # The disk's failure, not the page's (full, read-only, a folder where the file
            # goes): counted as write_error, which fails the run (exit 8), never a
            # traceback that leaves the article in no counter.
            return write_failed(self.stats, logger, item.id, exc)
        # One article that breaks a normalization step is a counted failure of that
        # article (extract_error), never a traceback that leaves it in no counter.
        if self.stats is not None:
            extract_failed(self.stats, logger, item.id, item.fetched_url or item.url, exc)
        return ArticleFailed(f"extract_error in {type(self).__name__}: {type(exc).__name__}")


def run_steps(steps: tuple[ArticlePipeline, ...], item: Any) -> Any:
    """``step.process_item`` of each step in turn (each one an ``ArticlePipeline`` whose
    ``process_item`` is the base one), with each step's ``process_article`` called directly:
    two Python frames fewer per step and article (``process_item``, ``process_guarded``).
    The same results, counts, logs and exceptions: a step that raises is handled by its own
    ``failure``; a RecursionError is the ``too_deep`` drop, as ``process_guarded`` makes it."""
    for step in steps:
        if not isinstance(item, Article):
            return item
        try:
            item = step.process_article(item)
        except RecursionError:
            dropped = too_deep(step, item)
            step.failure(item, dropped)
            raise dropped from None
        except Exception as exc:
            failure = step.failure(item, exc)
            if failure is None:
                raise
            raise failure from exc
    return item


class TextPipeline(TextStep, ArticlePipeline):
    """:class:`~newscrawl.convert.normalize.TextStep` in a crawl."""


class ImageUrlPipeline(ImageUrlStep, ArticlePipeline):
    """:class:`~newscrawl.convert.normalize.ImageUrlStep` in a crawl."""


class DatePipeline(DateStep, ArticlePipeline):
    """:class:`~newscrawl.convert.normalize.DateStep` in a crawl."""


class SummaryPipeline(SummaryStep, ArticlePipeline):
    """:class:`~newscrawl.convert.normalize.SummaryStep` in a crawl."""


class MarkdownPipeline(MarkdownStep, ArticlePipeline):
    """:class:`~newscrawl.convert.normalize.MarkdownStep` in a crawl."""


class StepRun:
    """Consecutive article steps' ``process_item`` methods called as one pipeline entry."""

    def __init__(self, methods: list[Callable[[Any], Any]]) -> None:
        self.methods = tuple(methods)
        self.steps = tuple(method.__self__ for method in methods)

    def process_item(self, item: Any) -> Any:
        return run_steps(self.steps, item)

    def __repr__(self) -> str:
        return f"StepRun({', '.join(type(m.__self__).__name__ for m in self.methods)})"


def _fusable(method: Any) -> bool:
    """A plain article step: ``ArticlePipeline.process_item`` itself (sync, no spider argument)."""
    return isinstance(getattr(method, "__self__", None), ArticlePipeline) and (
        getattr(method, "__func__", None) is ArticlePipeline.process_item
    )


def fuse_steps(methods: deque) -> deque:
    """``methods`` with each run of two or more consecutive plain article steps as one StepRun."""
    out: deque = deque()
    run: list = []
    for method in [*methods, None]:
        if method is not None and _fusable(method):
            run.append(method)
            continue
        if len(run) > 1:
            out.append(StepRun(run).process_item)
        else:
            out.extend(run)
        run = []
        if method is not None:
            out.append(method)
    return out


class ItemPipelineManager(ScrapyItemPipelineManager):
    """ITEM_PROCESSOR: Scrapy's item pipeline manager, consecutive article steps fused (see above).

    Every other pipeline (images, revisits, a user's) keeps its own entry and Scrapy's
    handling; ``open_spider``/``close_spider`` are untouched.
    """

    def __init__(self, *middlewares: Any, crawler: Any = None) -> None:
        super().__init__(*middlewares, crawler=crawler)
        self.methods["process_item"] = fuse_steps(self.methods["process_item"])
