"""Tencent news list endpoints -> feed items: pure parsing, no Scrapy.

Three endpoints (see the site reference, "Discovery endpoints"): the channel feed
(``POST web_feed/getPCList``, paged by ``flush_num``), the hot list
(``gw/event/hot_ranking_list``) and an author's feed (``getSubNewsMixedList``, paged by
an opaque ``offsetInfo`` cursor while ``hasNext``).
"""

from __future__ import annotations

import json
from typing import Any

from newscrawl.sites.base import FeedError, FeedItem
from newscrawl.sites.qq.ids import id_from_url, normalize_id

__all__ = ["FEED_HEADERS", "FeedError", "FeedItem", "parse_author_feed", "parse_channel_feed", "parse_hot_list"]

# articletype values of items the core can render as articles.
ARTICLE_TYPES = frozenset({"0", "", "1", "2"})  # 0 article; 1/2 seen on picture/long articles
# Referer/Origin the web feed endpoints expect (browsers send them from news.qq.com).
FEED_HEADERS = {
    "Content-Type": "application/json;charset=UTF-8",
    "Referer": "https://news.qq.com/",
    "Origin": "https://news.qq.com",
    "Accept": "application/json, text/plain, */*",
}


def channel_feed_body(channel: str, page: int, count: int) -> str:
    """The JSON body ``getPCList`` takes (as the news.qq.com front page sends it)."""
    return json.dumps(
        {
            "base_req": {"from": "pc"},
            "forward": "1",
            "qimei36": "",
            "device_id": "",
            "flush_num": page,
            "channel_id": channel,
            "item_count": count,
            "is_local_chlid": "0",
        }
    )


def _load(body: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested too deep is no feed either
        raise FeedError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FeedError("not a JSON object")
    # An error answer is a failed page, not an empty one: ``{"code": -1, "msg": "error",
    # "data": null}`` would otherwise read as "channel exhausted".
    for key in ("ret", "code"):
        value = data.get(key, 0)
        if value not in (0, "0", None):
            raise FeedError(f"{key}={value!r} msg={data.get('msg') or data.get('errmsg')!r}", "error_envelope")
    return data


def _first(*values: Any) -> str:
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else ""
        if value not in (None, ""):
            return str(value)
    return ""


def _item(raw: dict[str, Any], urls: list[Any], published: list[Any], covers: list[Any]) -> FeedItem:
    return _feed_item(
        raw, _first(*urls), _first(raw.get("longtitle"), raw.get("title")), _first(*published), _first(*covers)
    )


def _feed_item(raw: dict[str, Any], url: str, title: str, published: str, cover: str) -> FeedItem:
    """The FeedItem of ``raw`` with its fields already chosen: its id (the item's, else the URL's)
    and whether it is an article (its type)."""
    get = raw.get
    article_id = normalize_id(str(get("id") or "")) or (id_from_url(url) if url else None)
    articletype = str(get("articletype", get("article_type", "0")) or "0")
    not_article = "" if article_id is not None and articletype in ARTICLE_TYPES else f"type_{articletype}"
    return FeedItem(article_id, url, title, published, cover, not_article)


def parse_channel_feed(body: bytes | str) -> list[FeedItem]:
    """Items of a ``getPCList`` page; an empty list means the channel is exhausted."""
    data = _load(body)
    items = data.get("data")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise FeedError("data is not a list")
    return _channel_items(items)


def _channel_items(items: list[Any], depth: int = 0) -> list[FeedItem]:
    """``_item`` of each channel item (and of a card's items), with its arguments read in place.

    A channel page lists ~100 items and every listed article is read here first (in a crawl and
    in each rebuild's plan): a field that is a non-empty string is the value ``_first`` would
    give, so the call (and the lists it is handed) is only made when it is not; the same for the
    feed's usual second choices (a title without a longtitle, a cover list's first URL).
    """
    out = []
    for raw in items:
        if not isinstance(raw, dict):
            continue
        get = raw.get
        link = get("link_info")
        if not isinstance(link, dict):
            link = _NONE
        pic = get("pic_info")
        if not isinstance(pic, dict):
            pic = _NONE
        url = link.get("url")
        if type(url) is not str or not url:
            url = _first(url, get("url"))
        title = get("longtitle")
        if type(title) is not str or not title:
            other = get("title")  # the usual one: no longtitle, a title
            if (title is None or title == "") and type(other) is str and other:
                title = other
            else:
                title = _first(title, other)
        published = get("publish_time")
        if type(published) is not str or not published:
            published = _first(published, get("timestamp"))
        cover = get("miniProShareImage")
        if type(cover) is not str or not cover:
            big = pic.get("big_img")  # the usual one: a list whose first element is the URL
            if (cover is None or cover == "") and type(big) is list and big and type(big[0]) is str and big[0]:
                cover = big[0]
            else:
                cover = _first(cover, big, get("thumbnails_big"), get("bigImage"))
        out.append(_feed_item(raw, url, title, published, cover))
        # Cards (articletype 525, 热点精选) hold ordinary feed items in ``sub_item``: the card
        # itself is no article (counted as skipped), its items are. One level: cards in cards
        # have not been seen.
        sub = get("sub_item")
        if depth == 0 and isinstance(sub, list) and sub:
            out.extend(_channel_items(sub, depth + 1))
    return out


_NONE: dict[str, Any] = {}  # a missing or non-object link_info / pic_info: read only, never written


def parse_hot_list(body: bytes | str) -> list[FeedItem]:
    """Items of the hot list: ``idlist[0].newslist`` minus its header item."""
    data = _load(body)
    idlist = data.get("idlist")
    if not isinstance(idlist, list):
        raise FeedError("no idlist")
    out = []
    for group in idlist:
        newslist = group.get("newslist") if isinstance(group, dict) else None
        for raw in newslist or ():
            if not isinstance(raw, dict) or not (raw.get("id") or raw.get("url")):
                continue  # the header item carries no article
            out.append(
                _item(
                    raw,
                    [raw.get("url"), raw.get("surl"), raw.get("shareUrl")],
                    [raw.get("timestamp"), raw.get("publish_time"), raw.get("time")],
                    [raw.get("miniProShareImage"), raw.get("thumbnails_big"), raw.get("bigImage")],
                )
            )
    return out


def parse_author_feed(body: bytes | str) -> tuple[list[FeedItem], str, bool]:
    """(items, next cursor, has next) of one ``getSubNewsMixedList`` page."""
    data = _load(body)
    out = []
    for raw in data.get("newslist") or ():
        if not isinstance(raw, dict):
            continue
        link = raw.get("link_info") if isinstance(raw.get("link_info"), dict) else {}
        out.append(
            _item(
                raw,
                [raw.get("url"), link.get("url")],
                [raw.get("publish_time"), raw.get("time"), raw.get("timestamp")],
                [raw.get("miniProShareImage"), raw.get("miniVideoPic"), raw.get("thumbnails_big")],
            )
        )
    cursor = data.get("offsetInfo") or ""
    return out, str(cursor), bool(data.get("hasNext")) and bool(cursor)
