"""Tencent news article page -> Article: pure functions, no Scrapy, no I/O.

Layered fallbacks, as the site reference prescribes: ``window.DATA`` first (metadata and
``originContent.text``), then the DOM of the current template (``h1#article-title``,
``#article-author``, the body containers), then the old ``content-article`` template,
the legacy CMS ``ARTICLE_INFO`` page, and ``<meta>`` tags. The DOM is parsed only when
``window.DATA`` leaves something to find, which keeps the common path to one JSON decode
and one parse of the body fragment.

Everything on the page is untrusted. ``window.DATA`` fields are read through typed
accessors (``_text``, ``_scalar``, ``_flag``, ``_dict``, ``_list``): a field of the wrong
type reads as missing, so the next fallback is used and one bad field never costs the
article. Every pattern over page text runs in linear time: no nested or overlapping
unbounded quantifiers, scans that stop at the next ``<``, bounded look-arounds, and
"find the start, then find the end once" instead of a lazy ``(.*?)`` tried from every
start (50,000 unclosed ``<title>`` tags made that quadratic).
"""

from __future__ import annotations

import html as htmllib
import json
import re
from urllib.parse import urlsplit

from lxml import etree
from w3lib.encoding import html_to_unicode

from newscrawl.convert import htmlblocks
from newscrawl.convert.article import Article, Video
from newscrawl.convert.htmlblocks import TooDeep, convert_element, html_to_blocks, parse_document, text_of
from newscrawl.sites.base import Markup, Unavailable
from newscrawl.sites.qq.ids import (
    TENCENT_HOST_SUFFIXES,
    canonical_url,
    id_from_url,
    legacy_id_from_url,
    normalize_id,
)

# The site's markup for the shared HTML walker: bold spans, subheads, video widgets (ours:
# resolve_placeholders and _mark_pushed_videos write videos as such widgets too).
QQ_MARKUP = Markup(
    bold_classes=("qnt-strong",),
    subhead_classes=("qnt-h2",),
    video_attribute="data-widget",
    video_value="video",
    video_id_attribute="data-vid",
    video_title_attribute="data-title",
    video_url="https://v.qq.com/x/page/{vid}.html",
    iframe_video_param="vid",
)


# Reasons, also the stats keys (newscrawl/skipped/<reason>).
DELETED = "deleted"
PAID = "paid"
CHALLENGE = "challenge"
WRONG_ID = "wrong_id"
UNRECOGNIZED = "unrecognized"  # no known template matched: the site may have changed
REDIRECTED = "redirected"  # an HTTP, meta refresh or JS redirect away from the article's page
TOO_DEEP = "too_deep"  # nested deeper than the HTML parser (or the converter) can follow

CHALLENGE_WORDS = ("安全验证", "人机验证", "滑动验证", "验证码")
# The title: the first opening tag (attributes bounded), then the first closing tag after it.
_TITLE_OPEN = re.compile(r"<title\b[^<>]{0,500}>", re.I)
_TITLE_CLOSE = re.compile(r"</title\s{0,100}>", re.I)
_TITLE_SUFFIX = re.compile(r"(?:_[^_]{1,8})?_(?:腾讯新闻|腾讯网)$")
# A tag's attributes stop at the next "<" too: an unclosed tag never rescans the page.
_META_TAG = re.compile(r"<meta\s[^<>]*>", re.I)
_BASE_TAG = re.compile(r"<base\s[^<>]*>", re.I)
# A name starts only after a non-name character: a long name run is scanned once.
_ATTR = re.compile(r"""(?<![-\w:.])([a-zA-Z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_DATA_START = re.compile(r"window\.DATA\s*=\s*(?=\{)")
_VIDEO_PUSH = "videoArr.push("
_PLACEHOLDER = re.compile(r"<!--\s*(IMG|VIDEO)_(\d+)\s*-->")
_ARTICLE_INFO_START = re.compile(r"ARTICLE_INFO\s*=\s*(?:window\.ARTICLE_INFO\s*\|\|\s*)?\{")
_ARTICLE_INFO_END = re.compile(r"\n[ \t]*\}")
# One field per line; the value never crosses a line, so each attempt is bounded by its line.
_JS_FIELD = re.compile(r"""^[ \t]*(\w+)[ \t]*:[ \t]*'((?:[^'\\\n]|\\.)*)'[ \t\r]*,?[ \t\r]*$""", re.M)
# A script that sends the browser elsewhere (only looked at when the page has no article).
_JS_REDIRECT = re.compile(r"\blocation(?:\.href)?\s*=(?!=)|\blocation\.(?:replace|assign)\s*\(")
_DECODER = json.JSONDecoder()

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
# Legacy CMS widgets inside the body container (markup from public copies of such pages, see
# tests/fixtures/SOURCES-qq.md): the "转播到腾讯微博" share button over the lead image (the
# image stays), the related-video box (player, "自动播放" switch, "正在加载" table, playlist)
# and the "转播至微博" selection tip.
_NOT_BODY_CLASSES = frozenset(
    ("article-top-content", "article-status", "introduction", "mbArticleShareBtn", "rv-root-v2")
)
_NOT_BODY_IDS = frozenset(("Status", "backqqcom", "tipsWBzf"))
# The element scans above, as (tags, needles) for ``_scan``: an element can be a container or
# junk only if its id or class holds one of these names.
_CONTAINER_TAGS = (b"div",)
_CONTAINER_NEEDLES = tuple(name.encode() for name in (*_CONTAINER_CLASSES, *_CONTAINER_IDS))
_NOT_BODY_TAGS = (b"div", b"a")
_NOT_BODY_NEEDLES = tuple(name.encode() for name in sorted(_NOT_BODY_CLASSES | _NOT_BODY_IDS))


def _scan_all(root: etree._Element, tags: tuple[bytes, ...], needles: tuple[bytes, ...]) -> list:
    """``(n, el)`` for every element of ``root.iter(*tags)``, numbered in document order: the
    pure-Python scan, which leaves every test to the caller (``needles`` unused)."""
    return list(enumerate(root.iter(*(tag.decode() for tag in tags))))


# ``_cwalk.scan`` when the compiled module runs (the same numbering, only the elements whose id or
# class holds one of ``needles``: a proxy for a few elements instead of every one), else the above.
_scan = getattr(htmlblocks.COMPILED, "scan", None) or _scan_all


def _base_tag_re(head: str) -> str | None:
    """The text of ``_BASE_TAG``'s first match in ``head``, or None (the pure path)."""
    match = _BASE_TAG.search(head)
    return match.group(0) if match else None


# ``_META_TAG.findall``, by ``_cwalk.meta_tags`` when the compiled module runs (a loop over the str).
_meta_tags = getattr(htmlblocks.COMPILED, "meta_tags", None) or _META_TAG.findall
# The first ``_BASE_TAG`` match's text or None, by ``_cwalk.base_tag`` when the compiled module runs.
_base_tag = getattr(htmlblocks.COMPILED, "base_tag", None) or _base_tag_re
# ``_cwalk.holds`` when the compiled module runs, else None (see ``_may_push_videos``).
_holds = getattr(htmlblocks.COMPILED, "holds", None)


def _may_push_videos(text: str, container: etree._Element) -> bool:
    """Whether ``_mark_pushed_videos(container)`` may find a call (a gate: it does the exact work).
    Old pages only: a string scan of the page beats lxml's tree walk, and the compiled module's
    test for a ``<script>`` in the container beats the string scan (~1k instructions, not ~12k)."""
    return "videoArr.push" in text if _holds is None else _holds(container, b"script")


# A legacy paragraph that is only the related-video box's heading.
_WIDGET_LABELS = frozenset(("精彩视频推荐",))


def _not_body(container: etree._Element) -> list[etree._Element]:
    junk = []
    for _, el in _scan(container, _NOT_BODY_TAGS, _NOT_BODY_NEEDLES):
        if el.get("id") in _NOT_BODY_IDS:
            junk.append(el)
            continue
        classes = el.get("class")
        if classes and not _NOT_BODY_CLASSES.isdisjoint(classes.split()):
            junk.append(el)
    return junk


def _legacy_detect(body: bytes) -> str:
    # Nothing declared and not UTF-8: a Chinese site's pages are GB text.
    return "gb18030"


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Page bytes -> text, the one decoder of ``render`` and the crawl.

    A byte order mark first, then strict UTF-8 (old pages declare gb2312 but are served
    UTF-8, and GB or Big5 text is practically never valid UTF-8), then the charset of the
    HTTP ``Content-Type`` header, then ``<meta charset>``, then GB18030 (w3lib's order:
    gb2312/gbk are read as their superset gb18030). NUL characters are dropped: never
    text, and the HTML parser would turn them into U+FFFD.
    """
    if body[:3] == b"\xef\xbb\xbf":
        text = body[3:].decode("utf-8", errors="replace")
    elif body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        _, text = html_to_unicode(content_type, body)  # BOM: utf-16 (or utf-32) as marked
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            _, text = html_to_unicode(content_type, body, auto_detect_fun=_legacy_detect)
    if text[:1] == "\ufeff":
        text = text[1:]
    return text.replace("\x00", "") if "\x00" in text else text


def find_window_data(text: str) -> dict | None:
    """``window.DATA`` as a dict; handles the ``…};`` and multi-line ``…}`` endings."""
    match = _DATA_START.search(text)
    if not match:
        return None
    try:
        data, _ = _DECODER.raw_decode(text, match.end())
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None
    return data if isinstance(data, dict) else None


def _text(value: object) -> str:
    """A text field, stripped; any other type (dict, list, number, bool) reads as missing."""
    return value.strip() if isinstance(value, str) else ""


def _scalar(value: object) -> str:
    """A string or a number (ids, epoch times) as text; other types read as missing."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _flag(value: object) -> bool:
    """A flag with its real meaning: ``1``, ``true``, ``"1"``, ``"true"``, ``"yes"`` are set;
    ``0``, ``false``, ``"0"``, ``"false"``, ``""`` and values of other types are not."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        value = value.strip().lower()
        return value in ("true", "yes", "on", "y") or (value.isdigit() and int(value) != 0)
    return False


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _image_url(attr: dict) -> str:
    """The first non-empty string among an ``IMG_n`` entry's URL fields."""
    for key in ("imgurl0", "imgurl641", "imgurl1000", "url"):
        value = _text(attr.get(key))
        if value:
            return value
    return next((v.strip() for k, v in attr.items() if k.startswith("imgurl") and _text(v)), "")


def resolve_placeholders(text: str, attributes: dict) -> str:
    """Replace ``<!--IMG_n-->``/``<!--VIDEO_n-->`` with markup from ``originAttribute``."""

    def replace(match: re.Match) -> str:
        kind, n = match.groups()
        attr = attributes.get(f"{kind}_{n}")
        if not isinstance(attr, dict):
            return ""
        if kind == "IMG":
            url = _image_url(attr)
            return f'<p><img src="{htmllib.escape(url)}"></p>' if url else ""
        vid = _scalar(attr.get("vid"))
        title = _text(attr.get("desc")) or _text(attr.get("title"))
        if not vid:
            return ""
        vid, title = htmllib.escape(vid), htmllib.escape(title)
        return f'<div data-widget="video" data-vid="{vid}" data-title="{title}"></div>'

    return _PLACEHOLDER.sub(replace, text)


class HeadMeta:
    """The head's ``<meta>`` values by (lower-case) name: ``get(name, "")`` is the content of
    the first tag whose ``property``, else ``name``, else ``http-equiv`` is ``name`` and that
    has a ``content``. A page reads one or two names, so each is looked up when asked for:
    only tags whose text holds the name have their attributes parsed."""

    __slots__ = ("tags", "found")

    def __init__(self, tags: list[str]) -> None:
        self.tags = tags
        self.found: dict[str, str | None] = {}

    def get(self, name: str, default: str = "") -> str:
        if name in self.found:
            value = self.found[name]
        else:
            value = self.found[name] = self._lookup(name)
        return default if value is None else value

    def _lookup(self, name: str) -> str | None:
        for tag in self.tags:
            # A key is an attribute's text lower-cased: a tag without the name cannot have it.
            if name not in tag.lower():
                continue
            attrs = _attrs(tag)
            key = (attrs.get("property") or attrs.get("name") or attrs.get("http-equiv") or "").lower()
            if key == name and "content" in attrs:
                return htmllib.unescape(attrs["content"]).strip()
        return None


class _cached:
    """``functools.cached_property`` without its per-access lock (Python 3.11 takes an RLock
    on every first read; a page is read by one thread): the value goes into the instance
    dict on the first read, which then shadows this descriptor."""

    def __init__(self, func) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


class QQPage:
    """One fetched page. Each field is a property with its fallback chain."""

    def __init__(self, text: str, url: str = "", requested_id: str | None = None, redirected: bool = False) -> None:
        self.text = text
        self.url = url
        self.requested_id = requested_id
        self.redirected = redirected

    # ---- sources -------------------------------------------------------------------------

    @_cached
    def data(self) -> dict:
        return find_window_data(self.text) or {}

    @_cached
    def head(self) -> str:
        """The text before ``<body`` (the whole page when it has no ``<body``)."""
        return self.text if self.body_start < 0 else self.text[: self.body_start]

    @_cached
    def body_start(self) -> int:
        """Where ``<body`` starts, -1 when the page has none."""
        return self.text.find("<body")

    @_cached
    def meta(self) -> HeadMeta:
        """``<meta name|property|http-equiv=… content=…>`` of the head, first value of each name."""
        return HeadMeta(_meta_tags(self.head))

    @_cached
    def title_tag(self) -> str:
        head = self.head
        start = _TITLE_OPEN.search(head)
        end = _TITLE_CLOSE.search(head, start.end()) if start else None
        return htmllib.unescape(head[start.end() : end.start()]).strip() if start and end else ""

    @_cached
    def base_href(self) -> str:
        """``<base href>`` when it points at a Tencent host (a mirror's own base is ignored)."""
        tag = _base_tag(self.head)
        href = htmllib.unescape(_attrs(tag).get("href", "")).strip() if tag is not None else ""
        if href.startswith("//"):
            href = "https:" + href
        try:
            host = (urlsplit(href).hostname or "") if href.startswith(("http://", "https://")) else ""
        except ValueError:  # not a URL ("http://[x")
            return ""
        return href if host == "qq.com" or host.endswith(TENCENT_HOST_SUFFIXES) else ""

    @_cached
    def tree(self) -> etree._Element:
        """The DOM of the ``<body>``: everything read from the head (meta tags, title,
        window.DATA, ARTICLE_INFO) is read from its text, so the head is not parsed."""
        tree = parse_document(self.text, self.body_start if self.body_start > 0 else 0)
        return tree if tree is not None else etree.Element("html")

    @_cached
    def article_info(self) -> dict[str, str]:
        """The legacy CMS ``ARTICLE_INFO = {site:'…', title:'…'}`` (JavaScript, not JSON)."""
        head = self.head
        start = _ARTICLE_INFO_START.search(head)
        end = _ARTICLE_INFO_END.search(head, start.end()) if start else None
        if not end:
            return {}
        return {k: v.replace("\\'", "'") for k, v in _JS_FIELD.findall(head[start.end() : end.start()])}

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
        if _gone_url(self.url):
            raise Unavailable(DELETED, f"redirected to {self.url}")
        title = self.title_tag
        for word in CHALLENGE_WORDS:
            if word in title:
                raise Unavailable(CHALLENGE, title)
        data = self.data
        if _flag(data.get("is_deleted")):
            raise Unavailable(DELETED, "window.DATA.is_deleted")
        if _flag(data.get("article_is_pay")):
            raise Unavailable(PAID, "window.DATA.article_is_pay")
        if self.requested_id and self.page_id and self.page_id != self.requested_id:
            raise Unavailable(WRONG_ID, f"asked for {self.requested_id}, page is {self.page_id}")
        if self.redirected and self.requested_id and self.page_id != self.requested_id:
            # The redirect target declares no article id (neither in window.DATA nor in its
            # URL): whatever it shows is not the requested article.
            raise Unavailable(REDIRECTED, f"{self.requested_id} redirected to {self.url}")

    def redirect_target(self) -> str:
        """Where a meta refresh or a script sends the browser ("" when nowhere)."""
        refresh = self.meta.get("refresh", "")
        if refresh:
            _, _, target = refresh.partition("=")
            return target.strip(" '\"") or "meta refresh"
        match = _JS_REDIRECT.search(self.text)
        return "script" if match else ""

    @_cached
    def page_id(self) -> str | None:
        """The id the page itself declares (``cms_id``, ``article_id``, or its URL)."""
        for key in ("cms_id", "article_id", "id"):
            value = normalize_id(_scalar(self.data.get(key)))
            if value:
                return value
        return id_from_url(self.url) if self.url else None

    # ---- fields --------------------------------------------------------------------------

    @_cached
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
            _text(self.data.get("title"))
            or self._xpath_text("//h1[@id='article-title']")
            or self._xpath_text("//div[contains(@class,'LEFT')]/h1")
            or self.article_info.get("title", "")
            or self.meta.get("og:title", "")
            or _TITLE_SUFFIX.sub("", self.title_tag)
        )

    @property
    def media(self) -> str:
        return (
            _text(self.data.get("media"))
            or self._xpath_text("//*[@id='article-author']//*[contains(@class,'media-name')]")
            or self.meta.get("article:author", "")
            or self._xpath_text("//*[contains(@class,'a_source')]")
            or self._xpath_text("//*[@bosszone='jgname']")  # legacy CMS: the source's name
        )

    @property
    def published_raw(self) -> str:
        return (
            _scalar(self.data.get("pubtime"))
            or self.meta.get("article:published_time", "")
            or self.meta.get("apub:time", "")
            or self.meta.get("pubdate", "")
            or self.meta.get("publishdate", "")
            or self.article_info.get("pubtime", "")
            or self._xpath_text("//*[@id='article-author']//*[contains(@class,'media-meta')]/span[1]")
            or self._xpath_text("//*[contains(@class,'a_time')]")
            or self._xpath_text("//*[@id='C-Main-Article-QQ']//*[contains(@class,'pubTime')]")
        )

    @property
    def thumbnail(self) -> str:
        return self.meta.get("og:image", "")

    def body(self) -> tuple[list, str]:
        """(blocks, template name). ``originContent.text`` first, then the DOM containers."""
        text = _text(_dict(self.data.get("originContent")).get("text"))
        if text:
            attributes = _dict(self.data.get("originAttribute"))
            if "<!--" in text and attributes:
                text = resolve_placeholders(text, attributes)
            blocks = html_to_blocks(text, QQ_MARKUP)
            if blocks:
                return self._with_videos(blocks), "window_data"
        for (_rank, name), container in _ranked_containers(self.tree):
            for junk in _not_body(container):
                _drop(junk)
            if name == "legacy_cms":
                for junk in _legacy_widgets(container):
                    _drop(junk)
            if _may_push_videos(self.text, container):
                _mark_pushed_videos(container)
            blocks = convert_element(container, QQ_MARKUP)
            if blocks or name == "article_content":
                return self._with_videos(blocks), name
        return [], ""

    def _with_videos(self, blocks: list) -> list:
        """``window.DATA.videoArr`` entries not already in the body, at its top."""
        videos = _list(self.data.get("videoArr"))
        if not videos:
            return blocks
        present = {b.vid for b in blocks if isinstance(b, Video)}
        extra = []
        for entry in videos:
            vid = _scalar(entry.get("vid")) if isinstance(entry, dict) else ""
            if vid and vid not in present:
                title = _text(entry.get("title")) or _text(entry.get("desc"))
                extra.append(Video(vid, title, QQ_MARKUP.video_url.format(vid=vid)))
        return extra + blocks


# Article pages, whose URLs most pages have: urlsplit finds this host and, when the URL is
# printable ASCII (nothing stripped or removed, no IPv6 brackets), the path right after it.
_ARTICLE_PREFIXES = ("https://new.qq.com/", "https://news.qq.com/")


def _gone_url(url: str) -> bool:
    """The page is the site's "article gone" landing: ``/babygohome``, or the www.qq.com home page."""
    if url.startswith(_ARTICLE_PREFIXES) and url.isascii() and url.isprintable():
        return url.startswith("/babygohome", url.index("/", 8))  # the host is not www.qq.com
    return _gone_url_general(url)


def _gone_url_general(url: str) -> bool:
    """``_gone_url`` by urlsplit (raises ValueError for URLs it cannot split, as it always did)."""
    parts = urlsplit(url)
    return parts.path.startswith("/babygohome") or (parts.hostname == "www.qq.com" and parts.path in ("", "/"))


def _attrs(tag: str) -> dict[str, str]:
    """A start tag's attributes (lower-cased names)."""
    return {m[0].lower(): m[1] or m[2] or m[3] for m in _ATTR.findall(tag)}


def _visible_text(el: etree._Element) -> str:
    """Text below ``el`` without script/style content (for short legacy paragraphs)."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in ("script", "style"):
            parts.append(_visible_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _legacy_widgets(container: etree._Element) -> list[etree._Element]:
    """Widget parts of a legacy CMS body that carry no class or id of their own: the
    related-video box's "精彩视频推荐" heading paragraph and its hidden play-count iframe."""
    junk = []
    for el in container.iter("p", "iframe"):
        if el.tag == "iframe":
            if "display:none" in (el.get("style") or "").replace(" ", "").lower():
                junk.append(el)
        elif _visible_text(el).strip() in _WIDGET_LABELS:
            junk.append(el)
    return junk


def _ranked_containers(tree: etree._Element) -> list[tuple[tuple[int, str], etree._Element]]:
    """Body container candidates, best kind first, document order within a kind."""
    found = []
    # A plain loop over the <div>s beats an XPath with contains() over every element.
    for order, el in _scan(tree, _CONTAINER_TAGS, _CONTAINER_NEEDLES):
        kind = _CONTAINER_IDS.get(el.get("id") or "")
        if kind is None:
            classes = el.get("class")
            if not classes:
                continue
            for name in classes.split():  # the best kind among its classes
                other = _CONTAINER_CLASSES.get(name)
                if other is not None and (kind is None or other < kind):
                    kind = other
            if kind is None:
                continue
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
        if _VIDEO_PUSH not in code:
            continue
        # Each call's object is decoded from its own piece of the script (split, then
        # raw_decode): an unclosed call never rescans the rest of the page.
        for piece in code.split(_VIDEO_PUSH)[1:]:
            piece = piece.lstrip()
            if not piece.startswith("{"):
                continue
            try:
                entry, _ = _DECODER.raw_decode(piece)
            except (ValueError, RecursionError):
                continue
            vid = _scalar(entry.get("vid")) if isinstance(entry, dict) else ""
            if vid:
                widget = etree.Element("div", {"data-widget": "video", "data-vid": vid})
                widget.set("data-title", _text(entry.get("title")))
                script.addprevious(widget)


def extract(text: str, url: str = "", requested_id: str | None = None, redirected: bool = False) -> Article:
    """Article of a page's HTML. Raises Unavailable when the page holds none to write.

    ``url`` is where the page was fetched from (after redirects); ``requested_id`` the id
    that was asked for, so a redirect to another article is refused; ``redirected`` says
    the fetch was redirected (HTTP or meta refresh), so the page must declare that id.
    """
    page = QQPage(text, url, requested_id, redirected)
    page.check_available()
    try:
        return _article(page)
    except TooDeep as exc:
        raise Unavailable(TOO_DEEP, str(exc)) from None


def _article(page: QQPage) -> Article:
    blocks, template = page.body()
    article_id = page.article_id
    if not template and not page.data and not page.article_info:
        if "404" in page.title_tag or "找不到" in page.title_tag:
            raise Unavailable(DELETED, "not-found page")
        target = page.redirect_target()
        if target:
            raise Unavailable(REDIRECTED, f"the page only sends the browser on ({target})")
        raise Unavailable(UNRECOGNIZED, "no window.DATA and no known body container")
    if not article_id:
        raise Unavailable(UNRECOGNIZED, "no article id in URL or page")
    url = page.url
    return Article(
        id=article_id,
        source="qq",
        lang="zh-CN",
        url=canonical_url(article_id)
        if normalize_id(article_id)
        else _https(page.article_info.get("article_url", "") or url),
        title=page.title,
        media=page.media,
        published_raw=page.published_raw,
        thumbnail=page.thumbnail,
        body=blocks,
        fetched_url=url,
        base_url=page.base_href,
        template=template,
    )


def _https(url: str) -> str:
    return "https://" + url[7:] if url.startswith("http://") else url
