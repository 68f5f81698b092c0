"""Tencent news (``qq``) as a :class:`~newscrawl.sites.base.Site`: ids, feeds, pages, replay rules.

Extraction is in ``page.py``, feed parsing in ``feeds.py``, ids in ``ids.py``; this module
says how they plug into the generic spider and the shared pipelines.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import scrapy
from scrapy.http import Response

from newscrawl.convert.article import Article
from newscrawl.convert.images import may_contain
from newscrawl.sites.base import ArchivedRequest, FeedPage, Site, split_arg
from newscrawl.sites.qq import feeds, ids, page
from newscrawl.sites.qq import settings as qq_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
_DATE_IN_ID = re.compile(r"^(?:TWF)?(\d{4})(\d{2})(\d{2})")
# Tencent's UI chrome and analytics hosts and beacons (the generic icon/logo rules run too).
# Separate patterns, each with a literal start: one alternation would be tried at every position.
_UI_HOST = re.compile(
    r"https?://(?:mat1\.gtimg\.com|qzonestyle\.gtimg\.cn|pingjs\.qq\.com|[^/]*\.(?:tajs|tcss|beacon)\.qq\.com)/",
    re.I,
)
_UI_TRACKING = re.compile(r"[?&](?:pgv_|pv_|track)", re.I)
# What every _UI_HOST match holds, lower-cased (for ASCII URLs, where re.I is ASCII case folding).
_UI_HOST_NEEDS = ("mat1.gtimg.com/", "qzonestyle.gtimg.cn/", "qq.com/")


@functools.lru_cache(maxsize=64)
def _template_regex(template: str) -> re.Pattern | None:
    """``https://host/rain/a/{id}`` -> a regex with one group per ``{name}``.

    Cached: replay and rebuild classify every archived response with the same few templates
    (building the pattern each time cost ~10 µs per response)."""
    if not template:
        return None
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/?&#]*)" for i, p in enumerate(parts))
    return re.compile(pattern + r"\Z")


class QQSite(Site):
    """Tencent news: channel feeds, the hot list and authors' feeds; ``new.qq.com/rain/a/<id>`` pages."""

    name = "qq"
    lang = "zh-CN"
    timezone = SHANGHAI
    markup = page.QQ_MARKUP
    # Tencent's image CDNs, which all serve https. Other http URLs stay http: making them
    # https could point at a host that has no certificate.
    https_image_hosts = (".gtimg.com", ".qpic.cn", ".qq.com")
    # Tencent's image hosts expect their own site.
    image_referer = "https://new.qq.com/"
    arguments = ("channels", "hot", "authors")
    selection_arguments = ("channels", "authors")
    flag_arguments = ("hot",)
    settings_prefix = "QQ_"
    default_settings = qq_settings.defaults()
    setting_ranges = qq_settings.RANGES
    article_url_setting = "QQ_ARTICLE_URL"

    # ---- ids and pages ---------------------------------------------------------------------

    def id_from_url(self, url: str) -> str | None:
        return ids.id_from_url(url)

    def normalize_id(self, value: str) -> str | None:
        return ids.normalize_id(value)

    def id_forms(self, article_id: str) -> tuple[str, ...]:
        return (article_id, ids.short_id(article_id))

    def canonical_url(self, article_id: str) -> str:
        return ids.canonical_url(article_id)

    def decode_html(self, body: bytes, content_type: str | None = None) -> str:
        return page.decode_html(body, content_type)

    def extract(self, html: str, url: str = "", requested_id: str | None = None, redirected: bool = False) -> Article:
        return page.extract(html, url, requested_id, redirected)

    def is_ui_image(self, url: str) -> bool:
        # _UI_HOST needs one of _UI_HOST_NEEDS in the lower-cased URL (its last alternative ends
        # in ".qq.com/"); most content images are on other hosts, and the pattern's "[^/]*"
        # backtracks over the whole host of each.
        if not may_contain(url, _UI_HOST_NEEDS):
            return bool(("?" in url or "&" in url) and _UI_TRACKING.search(url))
        return self.is_ui_image_general(url)

    def is_ui_image_general(self, url: str) -> bool:
        """``is_ui_image`` without its shortcut for ASCII URLs off the UI hosts (the tests compare both)."""
        return bool(_UI_HOST.match(url) or (("?" in url or "&" in url) and _UI_TRACKING.search(url)))

    def date_from_id(self, article_id: str) -> datetime | None:
        match = _DATE_IN_ID.match(article_id)
        if not match:
            return None
        try:
            return datetime(*(int(g) for g in match.groups()), tzinfo=SHANGHAI)
        except ValueError:
            return None

    # ---- discovery -------------------------------------------------------------------------

    def start_requests(self, spider: Any) -> Iterable[scrapy.Request]:
        args = spider.site_args
        channels = split_arg(args.get("channels")) or (
            [] if spider.explicit else spider.settings.getlist("QQ_CHANNELS")
        )
        for channel in channels:
            yield self.channel_request(spider, channel, 1)
        if spider.flag(args.get("hot"), not spider.explicit):
            yield spider.feed_request(spider.settings.get("QQ_HOT_URL"), kind="hot", headers=feeds.FEED_HEADERS)
        for suid in split_arg(args.get("authors")):
            yield self.author_request(spider, suid, "", 1)

    def channel_request(self, spider: Any, channel: str, page_no: int) -> scrapy.Request:
        settings = spider.settings
        return spider.feed_request(
            settings.get("QQ_FEED_URL"),
            kind="channel",
            headers=feeds.FEED_HEADERS,
            method="POST",
            body=feeds.channel_feed_body(channel, page_no, settings.getint("QQ_FEED_ITEM_COUNT")),
            meta={"channel": channel, "page": page_no},
        )

    def author_request(self, spider: Any, suid: str, cursor: str, page_no: int) -> scrapy.Request:
        url = spider.settings.get("QQ_AUTHOR_FEED_URL").format(suid=quote(suid, safe=""), cursor=quote(cursor, safe=""))
        return spider.feed_request(url, kind="author", headers=feeds.FEED_HEADERS, meta={"suid": suid, "page": page_no})

    def parse_feed(self, spider: Any, response: Response) -> FeedPage:
        meta = response.meta
        kind = meta.get("feed_kind")
        settings = spider.settings
        if kind == "channel":
            items = feeds.parse_channel_feed(response.body)
            page_no = meta["page"]
            more = items and page_no < settings.getint("QQ_FEED_PAGES")
            return FeedPage(
                items,
                partial(self.channel_request, spider, meta["channel"], page_no + 1) if more else None,
                only_if_new=True,
            )
        if kind == "author":
            items, cursor, has_next = feeds.parse_author_feed(response.body)
            page_no = meta["page"]
            more = has_next and items and page_no < settings.getint("QQ_AUTHOR_PAGES")
            return FeedPage(
                items, partial(self.author_request, spider, meta["suid"], cursor, page_no + 1) if more else None
            )
        return FeedPage(feeds.parse_hot_list(response.body))

    def feed_label(self, meta: dict[str, Any]) -> str:
        kind = meta.get("feed_kind", "feed")
        if kind == "channel":
            return f"channel {meta.get('channel')} page {meta.get('page')}"
        if kind == "author":
            return f"author {meta.get('suid')} page {meta.get('page')}"
        if kind == "hot":
            return "hot list"
        return str(kind)

    # ---- replay ----------------------------------------------------------------------------

    def classify(self, method: str, uri: str, body: bytes, settings: dict[str, Any]) -> ArchivedRequest | None:
        get = settings.get
        if method == "POST" and uri == get("QQ_FEED_URL"):
            try:
                data = json.loads(body)
                return ArchivedRequest(
                    "channel", {"channel": str(data["channel_id"]), "page": int(data.get("flush_num") or 1)}
                )
            except (ValueError, KeyError, TypeError):
                return None
        if method != "GET":
            return None
        if uri == get("QQ_HOT_URL"):
            return ArchivedRequest("hot", {})
        for kind, setting in (("article", "QQ_ARTICLE_URL"), ("author", "QQ_AUTHOR_FEED_URL")):
            regex = _template_regex(str(get(setting) or ""))
            match = regex.match(uri) if regex else None
            if match:
                details = {k: unquote(v) for k, v in match.groupdict().items()}
                if kind == "article":
                    article_id = ids.normalize_id(details.get("id", ""))
                    return ArchivedRequest("article", {"id": article_id}) if article_id else None
                return ArchivedRequest(kind, details)
        return None

    def sweep_request(self, spider: Any, archived: ArchivedRequest, settings: Any) -> scrapy.Request | None:
        details = archived.details
        # The last page number: a swept page is replayed on its own, its next page is not followed.
        if archived.kind == "channel":
            request = self.channel_request(spider, details["channel"], details["page"])
            return request.replace(meta={**request.meta, "page": settings.getint("QQ_FEED_PAGES")})
        if archived.kind == "author":
            request = self.author_request(spider, details.get("suid", ""), details.get("cursor", ""), 1)
            return request.replace(meta={**request.meta, "page": settings.getint("QQ_AUTHOR_PAGES")})
        if archived.kind == "hot":
            return spider.feed_request(settings.get("QQ_HOT_URL"), kind="hot", headers=feeds.FEED_HEADERS)
        return None
