"""Tencent news article page -> Article: pure functions, no Scrapy, no I/O.

Layered fallbacks, as the site reference prescribes: ``window.DATA`` first (metadata and
``originContent.text``), then the DOM of the current template (``h1#article-title``,
``#article-author``, the body containers), then the old ``content-article`` template,
the legacy CMS ``ARTICLE_INFO`` page, and ``<meta>`` tags. The DOM is parsed only when
``window.DATA`` leaves something to find, which keeps the common path to one JSON decode
and one parse of the body fragment.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from urllib.parse import urlsplit

from lxml import etree

from newscrawl.article import Article, Video
from newscrawl.htmlblocks import convert_element, html_to_blocks, parse_document, text_of
from newscrawl.sites.qq.ids import canonical_url, id_from_url, legacy_id_from_url, normalize_id


class Unavailable(Exception):
    """The page holds no article to write. ``reason`` is a short stats key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# Reasons, also the stats keys (newscrawl/skipped/<reason>).
DELETED = "deleted"
PAID = "paid"
CHALLENGE = "challenge"
WRONG_ID = "wrong_id"
UNRECOGNIZED = "unrecognized"  # no known template matched: the site may have changed

CHALLENGE_WORDS = ("安全验证", "人机验证", "滑动验证", "验证码")
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.S | re.I)
_TITLE_SUFFIX = re.compile(r"(?:_[^_]{1,8})?_(?:腾讯新闻|腾讯网)$")
_META_TAG = re.compile(r"<meta\s[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_DATA_START = re.compile(r"window\.DATA\s*=\s*(?=\{)")
_VIDEO_PUSH = re.compile(r"videoArr\.push\(\s*(\{.*?\})\s*\)", re.S)
_PLACEHOLDER = re.compile(r"<!--\s*(IMG|VIDEO)_(\d+)\s*-->")
_ARTICLE_INFO = re.compile(r"ARTICLE_INFO\s*=\s*(?:window\.ARTICLE_INFO\s*\|\|\s*)?\{(.*?)\n\s*\}", re.S)
_JS_FIELD = re.compile(r"""^\s*(\w+)\s*:\s*'((?:[^'\\]|\\.)*)'\s*,?\s*$""", re.M)
_DECODER = json.JSONDecoder()
_AUTHOR_LINK = re.compile(r"/omn/author/([0-9A-Za-z_-]+)")

# Body containers, most specific first (class tests are on whole words).
# Body containers, best first: (rank, name) by class token or id (whole tokens).
_CONTAINER_CLASSES = {
    "rich_media_content": (0, "rich_media_content"),
    "comps-contentify-wrap": (1, "contentify"),
    "article-content-wrap": (2, "content_wrap"),
    "content-article": (4, "omn"),
}
_CONTAINER_IDS = {"article-content": (3, "article_content"), "Cnt-Main-Article-QQ": (5, "legacy_cms")}
# Inside a body container, but not the article: summary box, status/disclaimer, lead box,
# the legacy "back to qq.com" link. (A loop over <div>/<a>: an XPath with class tests over
# every element cost as much as the rest of the extraction.)
_NOT_BODY_CLASSES = frozenset(("article-top-content", "article-status", "introduction"))
_NOT_BODY_IDS = frozenset(("Status", "backqqcom"))


def _not_body(container: etree._Element) -> list[etree._Element]:
    junk = []
    for el in container.iter("div", "a"):
        if el.get("id") in _NOT_BODY_IDS:
            junk.append(el)
            continue
        classes = el.get("class")
        if classes and not _NOT_BODY_CLASSES.isdisjoint(classes.split()):
            junk.append(el)
    return junk


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Page bytes -> text. UTF-8 first: old pages declare gb2312 but are served UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode(declared or "gb18030", errors="replace")


def find_window_data(text: str) -> dict | None:
    """``window.DATA`` as a dict; handles the ``…};`` and multi-line ``…}`` endings."""
    match = _DATA_START.search(text)
    if not match:
        return None
    try:
        data, _ = _DECODER.raw_decode(text, match.end())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def resolve_placeholders(text: str, attributes: dict) -> str:
    """Replace ``<!--IMG_n-->``/``<!--VIDEO_n-->`` with markup from ``originAttribute``."""

    def replace(match: re.Match) -> str:
        kind, n = match.groups()
        attr = attributes.get(f"{kind}_{n}")
        if not isinstance(attr, dict):
            return ""
        if kind == "IMG":
            url = attr.get("imgurl0") or attr.get("imgurl641") or attr.get("imgurl1000") or attr.get("url")
            if not url:
                url = next((v for k, v in attr.items() if k.startswith("imgurl") and isinstance(v, str)), "")
            return f'<p><img src="{htmllib.escape(url)}"></p>' if url else ""
        vid = attr.get("vid")
        title = attr.get("desc") or attr.get("title") or ""
        if not vid:
            return ""
        vid, title = htmllib.escape(str(vid)), htmllib.escape(str(title))
        return f'<div data-widget="video" data-vid="{vid}" data-title="{title}"></div>'

    return _PLACEHOLDER.sub(replace, text)


class cached_property:  # noqa: N801 - functools' name, without its per-access lock
    """Compute once per instance, then a plain attribute (3.11's version takes a lock)."""

    def __init__(self, func) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


class QQPage:
    """One fetched page. Each field is a property with its fallback chain."""

    def __init__(self, text: str, url: str = "", requested_id: str | None = None) -> None:
        self.text = text
        self.url = url
        self.requested_id = requested_id

    # ---- sources -------------------------------------------------------------------------

    @cached_property
    def data(self) -> dict:
        return find_window_data(self.text) or {}

    @cached_property
    def head(self) -> str:
        """The text before ``<body`` (the whole page when it has no ``<body``)."""
        return self.text if self.body_start < 0 else self.text[: self.body_start]

    @cached_property
    def body_start(self) -> int:
        """Where ``<body`` starts, -1 when the page has none."""
        return self.text.find("<body")

    @cached_property
    def meta(self) -> dict[str, str]:
        """``<meta name|property=… content=…>`` of the head, first value of each name."""
        found: dict[str, str] = {}
        for tag in _META_TAG.findall(self.head):
            attrs = {m[0].lower(): m[1] or m[2] or m[3] for m in _ATTR.findall(tag)}
            key = (attrs.get("property") or attrs.get("name") or "").lower()
            if key and "content" in attrs and key not in found:
                found[key] = htmllib.unescape(attrs["content"]).strip()
        return found

    @cached_property
    def title_tag(self) -> str:
        match = _TITLE_TAG.search(self.head)
        return htmllib.unescape(match.group(1)).strip() if match else ""

    @cached_property
    def tree(self) -> etree._Element:
        """The DOM of the ``<body>``: everything read from the head (meta tags, title,
        window.DATA, ARTICLE_INFO) is read from its text, so the head is not parsed."""
        tree = parse_document(self.text[self.body_start :] if self.body_start > 0 else self.text)
        return tree if tree is not None else etree.Element("html")

    @cached_property
    def article_info(self) -> dict[str, str]:
        """The legacy CMS ``ARTICLE_INFO = {site:'…', title:'…'}`` (JavaScript, not JSON)."""
        match = _ARTICLE_INFO.search(self.head)
        if not match:
            return {}
        return {k: v.replace("\\'", "'") for k, v in _JS_FIELD.findall(match.group(1))}

    def _xpath_text(self, xpath: str) -> str:
        found = self.tree.xpath(xpath)
        for node in found:
            value = node if isinstance(node, str) else text_of(node)
            if value and value.strip():
                return value.strip()
        return ""

    # ---- status --------------------------------------------------------------------------

    def check_available(self) -> None:
        """Raise Unavailable for deleted, paid, challenge and other-article pages."""
        parts = urlsplit(self.url)
        if parts.path.startswith("/babygohome") or (parts.hostname == "www.qq.com" and parts.path in ("", "/")):
            raise Unavailable(DELETED, f"redirected to {self.url}")
        if any(word in self.title_tag for word in CHALLENGE_WORDS):
            raise Unavailable(CHALLENGE, self.title_tag)
        data = self.data
        if data.get("is_deleted") not in (None, 0, "0", False, ""):
            raise Unavailable(DELETED, "window.DATA.is_deleted")
        if data.get("article_is_pay") in (1, "1", True):
            raise Unavailable(PAID, "window.DATA.article_is_pay")
        if self.requested_id and self.page_id and self.page_id != self.requested_id:
            raise Unavailable(WRONG_ID, f"asked for {self.requested_id}, page is {self.page_id}")

    @cached_property
    def page_id(self) -> str | None:
        """The id the page itself declares (``cms_id``, ``article_id``, or its URL)."""
        for key in ("cms_id", "article_id", "id"):
            value = normalize_id(_str(self.data.get(key)))
            if value:
                return value
        return id_from_url(self.url) if self.url else None

    # ---- fields --------------------------------------------------------------------------

    @cached_property
    def article_id(self) -> str:
        return (
            self.requested_id
            or self.page_id
            or (legacy_id_from_url(self.url) if self.url else None)
            or self.article_info.get("id", "")
            or legacy_id_from_url(self.article_info.get("article_url", ""))
            or ""
        )

    @property
    def title(self) -> str:
        return (
            _str(self.data.get("title"))
            or self._xpath_text("//h1[@id='article-title']")
            or self._xpath_text("//div[contains(@class,'LEFT')]/h1")
            or self.article_info.get("title", "")
            or self.meta.get("og:title", "")
            or _TITLE_SUFFIX.sub("", self.title_tag)
        )

    @property
    def media(self) -> str:
        return (
            _str(self.data.get("media"))
            or self._xpath_text("//*[@id='article-author']//*[contains(@class,'media-name')]")
            or self.meta.get("article:author", "")
            or self._xpath_text("//*[contains(@class,'a_source')]")
        )

    @property
    def author(self) -> str:
        """The author's suid, from the ``#article-author`` link (a regex: no DOM needed)."""
        start = self.text.find('id="article-author"')
        match = _AUTHOR_LINK.search(self.text, start, start + 2000) if start >= 0 else None
        return match.group(1) if match else ""

    @property
    def published_raw(self) -> str:
        return (
            _str(self.data.get("pubtime"))
            or self.meta.get("article:published_time", "")
            or self.meta.get("apub:time", "")
            or self.meta.get("pubdate", "")
            or self.meta.get("publishdate", "")
            or self.article_info.get("pubtime", "")
            or self._xpath_text("//*[@id='article-author']//*[contains(@class,'media-meta')]/span[1]")
            or self._xpath_text("//*[contains(@class,'a_time')]")
        )

    @property
    def abstract(self) -> str:
        return (
            _str(self.data.get("abstract")) or _str(self.data.get("introduction")) or self.meta.get("description", "")
        )

    @property
    def thumbnail(self) -> str:
        return self.meta.get("og:image", "")

    def body(self) -> tuple[list, str]:
        """(blocks, template name). ``originContent.text`` first, then the DOM containers."""
        origin = self.data.get("originContent")
        text = origin.get("text") if isinstance(origin, dict) else None
        if isinstance(text, str) and text.strip():
            attributes = self.data.get("originAttribute")
            if "<!--" in text and isinstance(attributes, dict):
                text = resolve_placeholders(text, attributes)
            blocks = html_to_blocks(text)
            if blocks:
                return self._with_videos(blocks), "window_data"
        for (_rank, name), container in _ranked_containers(self.tree):
            for junk in _not_body(container):
                _drop(junk)
            if "videoArr.push" in self.text:  # old pages only; a string scan beats a tree walk
                _mark_pushed_videos(container)
            blocks = convert_element(container)
            if blocks or name == "article_content":
                return self._with_videos(blocks), name
        return [], ""

    def _with_videos(self, blocks: list) -> list:
        """``window.DATA.videoArr`` entries not already in the body, at its top."""
        videos = self.data.get("videoArr")
        if not videos:
            return blocks
        present = {b.vid for b in blocks if isinstance(b, Video)}
        extra = []
        for entry in videos:
            if isinstance(entry, dict) and entry.get("vid") and entry["vid"] not in present:
                extra.append(Video(str(entry["vid"]), _str(entry.get("title") or entry.get("desc"))))
        return extra + blocks


def _ranked_containers(tree: etree._Element) -> list[tuple[tuple[int, str], etree._Element]]:
    """Body container candidates, best kind first, document order within a kind."""
    found = []
    # A plain loop over the <div>s beats an XPath with contains() over every element.
    for order, el in enumerate(tree.iter("div")):
        kind = _CONTAINER_IDS.get(el.get("id") or "")
        if kind is None:
            classes = el.get("class")
            if not classes:
                continue
            kinds = [_CONTAINER_CLASSES[c] for c in classes.split() if c in _CONTAINER_CLASSES]
            if not kinds:
                continue
            kind = min(kinds)
        found.append((kind, order, el))
    found.sort(key=lambda item: (item[0][0], item[1]))
    return [(kind, el) for kind, _, el in found]


def _drop(el: etree._Element) -> None:
    """Remove an element but keep its tail text (``drop_tree`` for plain etree)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _mark_pushed_videos(container: etree._Element) -> None:
    """Old pages add videos with ``<script>window.DATA.videoArr.push({...})``: turn each
    script into a video widget element in place, so the video keeps its position."""
    for script in container.iter("script"):
        code = script.text or ""
        if "videoArr.push" not in code:
            continue
        for raw in _VIDEO_PUSH.findall(code):
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("vid"):
                widget = etree.Element("div", {"data-widget": "video", "data-vid": str(entry["vid"])})
                widget.set("data-title", _str(entry.get("title")))
                script.addprevious(widget)


def extract(text: str, url: str = "", requested_id: str | None = None) -> Article:
    """Article of a page's HTML. Raises Unavailable when the page holds none to write.

    ``url`` is where the page was fetched from (after redirects); ``requested_id`` the id
    that was asked for, so a redirect to another article is refused.
    """
    page = QQPage(text, url, requested_id)
    page.check_available()
    blocks, template = page.body()
    article_id = page.article_id
    if not template and not page.data and not page.article_info:
        if "404" in page.title_tag or "找不到" in page.title_tag:
            raise Unavailable(DELETED, "not-found page")
        raise Unavailable(UNRECOGNIZED, "no window.DATA and no known body container")
    if not article_id:
        raise Unavailable(UNRECOGNIZED, "no article id in URL or page")
    legacy = page.article_info.get("article_url", "")
    return Article(
        id=article_id,
        url=canonical_url(article_id) if normalize_id(article_id) else _https(legacy or url),
        title=page.title,
        media=page.media,
        author=page.author,
        published_raw=page.published_raw,
        abstract=page.abstract,
        thumbnail=page.thumbnail,
        body=blocks,
        fetched_url=url,
        template=template,
    )


def _https(url: str) -> str:
    return "https://" + url[7:] if url.startswith("http://") else url
