"""Archival images: each written article's body images and thumbnail, downloaded once into a
folder the Hugo site serves, and the article pointed at the local copies.

Enabled by ``IMAGES_DOWNLOAD``. Built on Scrapy's FilesPipeline rather than ImagesPipeline:
ImagesPipeline re-encodes every image as an RGB JPEG, so animated GIFs freeze on their
first frame, PNG transparency turns white and every copy loses quality. An archive keeps
the bytes the publisher served (the same bytes a WARC capture records); the pipeline only
checks they are an image, by their magic number, so an HTML error page is never stored.

A file is named by the SHA-1 of its URL, with the extension its bytes call for (CDN
image URLs have none): ``<IMAGES_STORE>/<source>/<sha1>.<ext>``, linked as
``<IMAGES_URL_PREFIX>/<source>/<sha1>.<ext>``. Because the name follows from the URL, the
store is checked before any request: an image already stored is never fetched again, in
this run or a later one. An image that cannot be downloaded keeps its remote URL and is
counted (``newscrawl/images/failed/<reason>``), never dropped.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import FileInfo, FileInfoOrError
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from newscrawl.convert.article import Article, iter_images
from newscrawl.crawl.spider import failure_reason
from newscrawl.crawl.writer import remove_stale_temp_files, write_atomic
from newscrawl.sites import get_site

logger = logging.getLogger(__name__)

# Formats a browser shows, by magic number -> the extension the stored file gets.
EXTENSIONS = (".jpg", ".png", ".gif", ".webp", ".avif", ".bmp")
# Ask for the image as published: advertising webp/avif support can make a CDN transcode.
IMAGE_ACCEPT = "image/jpeg,image/png,image/gif,image/*;q=0.8,*/*;q=0.5"
_SAFE_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def sniff_extension(data: bytes) -> str | None:
    """The file extension of image bytes, or None when they are not a known image format."""
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return ".avif"
    if data[:2] == b"BM" and len(data) > 26:
        return ".bmp"
    return None


def article_image_urls(article: Article) -> list[str]:
    """The article's remote image URLs, once each: body images in order, then the thumbnail."""
    urls: list[str] = []
    for src in [image.src for image in iter_images(article.body)] + [article.thumbnail]:
        if src and src.startswith(("http://", "https://")) and src not in urls:
            urls.append(src)
    return urls


def image_store(settings: BaseSettings) -> Path:
    """IMAGES_STORE, or ``static/images`` beside OUTPUT_DIR (the Hugo site's static folder)."""
    store = settings.get("IMAGES_STORE")
    if store:
        return Path(store).resolve()
    return Path(settings.get("OUTPUT_DIR") or "output").resolve().parent / "static" / "images"


class LocalImagesPipeline(FilesPipeline):
    """Downloads article images into IMAGES_STORE and rewrites their URLs to the local copies.

    Sits after ImageUrlPipeline (absolute URLs) and before MarkdownPipeline (which renders
    the rewritten URLs). Not an ArticleStep, so the ``Converter`` skips it.
    """

    MEDIA_NAME = "image"

    def __init__(self, store_uri: str, *, crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        self.root = Path(store_uri)
        self.url_prefix = (settings.get("IMAGES_URL_PREFIX") or "").rstrip("/")
        # "" = each site's own Referer (Site.image_referer): image hosts expect their own site.
        self.referer = settings.get("IMAGES_REFERER") or ""
        self.settings = settings
        self.fsync = settings.getbool("WRITE_FSYNC")
        self.stats = crawler.stats
        # Why a URL failed, for every article that shows it (MediaPipeline caches per run).
        self.failures: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("IMAGES_DOWNLOAD"):
            raise NotConfigured  # no message: Scrapy would log it as a WARNING on every run
        return cls(str(image_store(crawler.settings)), crawler=crawler)

    def open_spider(self, spider=None) -> None:
        super().open_spider()
        removed = remove_stale_temp_files(self.root)
        if removed:
            logger.info("Removed %d stale temporary files from %s", removed, self.root)

    def inc(self, key: str, count: int = 1) -> None:
        self.stats.inc_value(f"newscrawl/images/{key}", count)

    # ---- where files go ---------------------------------------------------------------------

    def relative_path(self, url: str, source: str, ext: str) -> str:
        """``<source>/<sha1 of the URL><ext>``, relative to the store."""
        if not _SAFE_SOURCE.match(source):
            raise ValueError(f"unsafe source {source!r}")
        return f"{source}/{hashlib.sha1(url.encode('utf-8')).hexdigest()}{ext}"

    def stored(self, url: str, source: str) -> str | None:
        """The relative path of the image already in the store, or None (one stat per format)."""
        for ext in EXTENSIONS:
            relative = self.relative_path(url, source, ext)
            if (self.root / relative).is_file():
                return relative
        return None

    def file_path(self, request: Request, response: Response | None = None, info=None, *, item: Any = None) -> str:
        source = item.source if isinstance(item, Article) else "files"
        ext = (sniff_extension(response.body) or "") if response is not None else ""
        return self.stored(request.url, source) or self.relative_path(request.url, source, ext)

    def _site_referer(self, source: str) -> str:
        try:
            return get_site(source, self.settings).image_referer
        except KeyError:  # an article of no registered site: no Referer
            return ""

    # ---- MediaPipeline hooks --------------------------------------------------------------

    def get_media_requests(self, item: Any, info) -> list[Request]:
        if not isinstance(item, Article) or not _SAFE_SOURCE.match(item.source):
            return []
        headers = {"Accept": IMAGE_ACCEPT}
        referer = self.referer or self._site_referer(item.source)
        if referer:
            headers["Referer"] = referer
        return [Request(url, callback=NO_CALLBACK, headers=headers) for url in article_image_urls(item)]

    def media_to_download(self, request: Request, info, *, item: Any = None) -> FileInfo | None:
        relative = self.stored(request.url, item.source)
        if relative is None:
            return None  # download it
        self.inc("uptodate")
        return {"url": request.url, "path": relative, "checksum": None, "status": "uptodate"}

    def media_downloaded(self, response: Response, request: Request, info, *, item: Any = None) -> FileInfo:
        if response.status != 200:
            return self._failed(request, f"http_{response.status}")
        ext = sniff_extension(response.body)
        if ext is None:
            return self._failed(request, "empty" if not response.body else "not_image")
        relative = self.relative_path(request.url, item.source, ext)
        # Atomic: a crawl killed mid-write must not leave a truncated image that later runs
        # would take as already downloaded.
        write_atomic(self.root / relative, response.body, self.fsync)
        self.inc("downloaded")
        return {"url": request.url, "path": relative, "checksum": None, "status": "downloaded"}

    def media_failed(self, failure: Failure, request: Request, info) -> None:
        """Network errors (after retries) and filtered requests: recorded, not raised.

        Raising here would make MediaPipeline log a traceback per image; the article just
        keeps the remote URL, which item_completed reports.
        """
        if failure.check(IgnoreRequest):
            reason = "filtered"
        else:
            reason = failure_reason(failure)
        self._failed(request, reason)

    def _failed(self, request: Request, reason: str) -> FileInfo:
        logger.warning("Image %s not downloaded (%s); the article keeps its remote URL", request.url, reason)
        self.failures[request.url] = reason
        return {"url": request.url, "path": "", "checksum": None, "status": "failed"}

    def item_completed(self, results: list[FileInfoOrError], item: Any, info) -> Any:
        if not isinstance(item, Article) or not _SAFE_SOURCE.match(item.source):
            return item  # nothing was requested (the writer refuses an unsafe source anyway)
        local: dict[str, str] = {}
        records: list[dict[str, str]] = []
        for url, (ok, value) in zip(article_image_urls(item), results, strict=True):
            if ok and value and value.get("path"):
                local[url] = f"{self.url_prefix}/{value['path']}"
                records.append({"url": url, "local": local[url], "file": value["path"], "status": value["status"]})
                continue
            if ok:
                reason = self.failures.get(url, "error")
            else:  # an unexpected exception inside the pipeline
                reason = type(value.value).__name__ if isinstance(value, Failure) else "error"
                logger.error("Image %s of %s failed: %s", url, item.url, value)
            self.inc("failed")
            self.inc(f"failed/{reason}")
            records.append({"url": url, "local": "", "file": "", "status": "failed", "error": reason})
        for image in iter_images(item.body):
            image.src = local.get(image.src, image.src)
        item.thumbnail = local.get(item.thumbnail, item.thumbnail)
        item.images = records
        return item
