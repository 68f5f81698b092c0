"""The run manifest: one JSON line per written article, through Scrapy's feed exports.

``-s MANIFEST=manifest.jsonl`` (or the setting) makes :class:`ManifestAddon` add a FEEDS
entry in the ``manifest`` format, appended to on every run (``overwrite: False``), so a
cron job accumulates one history file. ``-o manifest.jsonl:manifest`` does the same by
hand (``-O`` overwrites). Only articles that reach the end of the pipelines are exported:
written, updated, or found unchanged; dropped and failed ones are in the stats.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from newscrawl.archive.images import article_image_urls
from newscrawl.convert.article import Article
from newscrawl.convert.dates import format_date

FORMAT = "manifest"


def image_records(article: Article) -> list[dict[str, str]]:
    """The images the pipeline downloaded (or failed to), else the remote URLs as ``remote``."""
    if article.images:
        return [dict(record) for record in article.images]
    return [{"url": url, "local": "", "file": "", "status": "remote"} for url in article_image_urls(article)]


def manifest_record(article: Article, crawled: datetime | None = None) -> dict[str, Any]:
    """The manifest line of one article (fields documented in docs/images.md, "Manifest")."""
    crawled = crawled or datetime.now(UTC)
    record = {
        "id": article.id,
        "url": article.url,
        "source": article.source,
        "title": article.title,
        "media": article.media,
        "published": format_date(article.published) if article.published else "",
        "crawled": format_date(crawled.astimezone(UTC)),
        "path": article.path,
        "sha256": article.sha256,
        "status": article.status,
        "thumbnail": article.thumbnail,
        "images": image_records(article),
    }
    if article.previous_sha256:  # an updated file (revisits): the version it replaced
        record["previous_sha256"] = article.previous_sha256
    return record


class ManifestExporter(BaseItemExporter):
    """JSON lines of :func:`manifest_record`; each line flushed whole, so a killed run
    leaves complete lines only."""

    def __init__(self, file, **kwargs: Any) -> None:
        super().__init__(dont_fail=True, **kwargs)
        self.file = file
        self.encoding = self.encoding or "utf-8"

    def export_item(self, item: Any) -> None:
        record = manifest_record(item) if isinstance(item, Article) else ItemAdapter(item).asdict()
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        self.file.write(line.encode(self.encoding))
        flush = getattr(self.file, "flush", None)
        if flush is not None:
            flush()


def manifest_feed() -> dict[str, Any]:
    """The FEEDS options of the manifest: appended to, articles only."""
    return {
        "format": FORMAT,
        "encoding": "utf-8",
        "overwrite": False,
        "store_empty": False,
        # Articles, and the deletions revisits find (newscrawl.crawl.revisit).
        "item_classes": ["newscrawl.convert.article.Article", "newscrawl.crawl.revisit.ArticleDeleted"],
    }


class ManifestAddon:
    """Turns the MANIFEST setting into a FEEDS entry before the crawl starts.

    Merged into FEEDS given by ``-o``/``-O`` or settings, never replacing them.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        path = settings.get("MANIFEST")
        if not path:
            return
        feeds = dict(settings.getdict("FEEDS"))
        feeds.setdefault(str(path), manifest_feed())
        priority = max(settings.getpriority("FEEDS") or 0, SETTINGS_PRIORITIES["addon"])
        settings.set("FEEDS", feeds, priority=priority)
