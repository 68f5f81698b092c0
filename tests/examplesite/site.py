"""A test-only example news site, plugged in through the SITES registry like any other.

``-s 'SITES={"example": "tests.examplesite.site.ExampleSite"}'`` is all it takes: the
generic spider crawls it (``scrapy crawl example``), the shared pipelines and writer write
it, WARC capture and replay and scale-out work unchanged. Its pages (``pages/``) are served
by ``tests/examplesite/server.py``: ``/feed/<section>.json?page=N`` lists stories,
``/story/<id>.html`` is one story.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Response

from newscrawl.convert.article import Article
from newscrawl.convert.htmlblocks import convert_element, parse_document, text_of
from newscrawl.sites.base import ArchivedRequest, FeedError, FeedItem, FeedPage, Markup, Site, Unavailable

_STORY = re.compile(r"/story/(\d{4,12})\.html\Z")
_FEED = re.compile(r"/feed/([a-z]+)\.json\Z")
_PAGE = re.compile(r"(?:^|&)page=(\d{1,4})(?:&|$)")
MARKUP = Markup(
    bold_classes=("hl",),
    subhead_classes=("subhead",),
    video_attribute="data-embed",
    video_value="clip",
    video_id_attribute="data-clip",
    video_title_attribute="data-caption",
    video_url="https://video.example.org/clip/{vid}",
)


class ExampleSite(Site):
    """Example News: section feeds (JSON, paged by ``next``), ``/story/<digits>.html`` pages."""

    name = "example"
    lang = "en"
    timezone = ZoneInfo("Europe/London")
    markup = MARKUP
    https_image_hosts = (".example.org",)
    image_referer = "https://news.example.org/"
    arguments = ("sections",)
    selection_arguments = ("sections",)
    settings_prefix = "EXAMPLE_"
    default_settings = {
        "EXAMPLE_ARTICLE_URL": "https://news.example.org/story/{id}.html",
        "EXAMPLE_FEED_URL": "https://news.example.org/feed/{section}.json?page={page}",
        "EXAMPLE_SECTIONS": ["world"],
        "EXAMPLE_FEED_PAGES": 3,
    }
    article_url_setting = "EXAMPLE_ARTICLE_URL"

    def id_from_url(self, url: str) -> str | None:
        match = _STORY.search(urlsplit(url.strip()).path)
        return match.group(1) if match else None

    def normalize_id(self, value: str) -> str | None:
        value = value.strip()
        return value if value.isdigit() and 4 <= len(value) <= 12 else None

    def canonical_url(self, article_id: str) -> str:
        return f"https://news.example.org/story/{article_id}.html"

    def extract(self, html: str, url: str = "", requested_id: str | None = None, redirected: bool = False) -> Article:
        tree = parse_document(html)
        story = tree.find(".//article") if tree is not None else None
        if story is None:
            raise Unavailable("unrecognized", "no <article>")
        article_id = story.get("data-id") or ""
        if requested_id and article_id != requested_id:
            raise Unavailable("wrong_id", f"asked for {requested_id}, page is {article_id}")
        heading, time, body = story.find(".//h1"), story.find(".//time"), story.find(".//div[@class='body']")
        if heading is None or body is None:
            raise Unavailable("unrecognized", "no <h1> or body")
        cover = tree.find(".//meta[@property='og:image']")
        return Article(
            id=article_id,
            url=self.canonical_url(article_id),
            source=self.name,
            lang=self.lang,
            title=text_of(heading).strip(),
            media=(story.get("data-desk") or "").strip(),
            published_raw=time.get("datetime", "") if time is not None else "",
            thumbnail=cover.get("content", "") if cover is not None else "",
            body=convert_element(body, MARKUP),
            fetched_url=url,
            template="story",
        )

    # ---- discovery -------------------------------------------------------------------------

    def start_requests(self, spider: Any):
        given = str(spider.site_args.get("sections") or "").replace(",", " ").split()
        for section in given or ([] if spider.explicit else spider.settings.getlist("EXAMPLE_SECTIONS")):
            yield self.section_request(spider, section, 1)

    def section_request(self, spider: Any, section: str, page: int) -> scrapy.Request:
        url = spider.settings.get("EXAMPLE_FEED_URL").format(section=section, page=page)
        return spider.feed_request(url, kind="section", meta={"section": section, "page": page})

    def parse_feed(self, spider: Any, response: Response) -> FeedPage:
        try:
            data = json.loads(response.body)
            raw_items = [item for item in data["items"] if isinstance(item, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedError(f"not a feed page: {exc}") from None
        items = []
        for raw in raw_items:
            article_id = self.normalize_id(str(raw.get("id", "")))
            kind = str(raw.get("kind", "story"))
            items.append(
                FeedItem(
                    article_id,
                    str(raw.get("url", "")),
                    title=str(raw.get("title", "")),
                    published=str(raw.get("published", "")),
                    not_article="" if article_id and kind == "story" else f"kind_{kind}",
                )
            )
        page, section = response.meta["page"], response.meta["section"]
        more = bool(data.get("next")) and page < spider.settings.getint("EXAMPLE_FEED_PAGES")
        return FeedPage(items, partial(self.section_request, spider, section, page + 1) if more else None)

    def feed_label(self, meta: dict[str, Any]) -> str:
        return f"section {meta.get('section')} page {meta.get('page')}"

    # ---- replay ----------------------------------------------------------------------------

    def classify(self, method: str, uri: str, body: bytes, settings: dict[str, Any]) -> ArchivedRequest | None:
        parts = urlsplit(uri)
        story, feed = _STORY.search(parts.path), _FEED.search(parts.path)
        if story:
            return ArchivedRequest("article", {"id": story.group(1)})
        page = _PAGE.search(parts.query)
        if feed and page:
            return ArchivedRequest("section", {"section": feed.group(1), "page": int(page.group(1))})
        return None

    def sweep_request(self, spider: Any, archived: ArchivedRequest, settings: Any) -> scrapy.Request | None:
        if archived.kind != "section":
            return None
        request = self.section_request(spider, archived.details["section"], archived.details["page"])
        return request.replace(meta={**request.meta, "page": settings.getint("EXAMPLE_FEED_PAGES")})
