"""Crafted bad pages (issue 10): wrong-typed ``window.DATA``, hostile markup, redirects,
odd encodings. Generated here, never stored; served by ``tests.localserver.PageServer``.

:func:`bad_pages` returns the pages a crawl of "every kind of bad page" fetches, each with
the outcome it must have: ``written``, ``skipped:<reason>`` or ``failed:extract_error``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from newscrawl.crawl.pipelines import ArticlePipeline

PARAGRAPHS = "<p>第一段正文，讲了一件事。</p><p>第二段正文，讲完了它。</p>"
LEGACY_ID = "20161014A1016000"  # the id the legacy fixture is served under
BOOM = "BOOM"  # a title with this word makes BoomPipeline raise (a bug that still raises)


def page_id(n: int) -> str:
    return f"20250101A1{n:04d}00"


def article_html(
    article_id: str,
    *,
    data: dict | None = None,
    raw_data: str | None = None,
    body: str = PARAGRAPHS,
    head: str = "",
    title: str = "DOM标题",
    charset: str = "utf-8",
    before_body: str = "",
) -> str:
    """A page of the current template. ``data`` entries override window.DATA's fields (any
    JSON type); ``raw_data`` replaces its JSON text; ``body`` goes into ``#article-content``."""
    fields: dict = {
        "article_id": article_id,
        "title": "数据标题",
        "media": "某媒体",
        "pubtime": "2025-01-02 03:04:05",
        "is_deleted": 0,
        "article_is_pay": 0,
    }
    fields.update(data or {})
    data_js = raw_data if raw_data is not None else json.dumps(fields, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<title>{title}_腾讯新闻</title>
{head}
<script>window.DATA = {data_js};</script>
{before_body}
</head>
<body>
<div class="content-article-wp">
<h1 id="article-title">{title}</h1>
<div id="article-content"><div class="rich_media_content">{body}</div></div>
</div>
</body>
</html>
"""


def dom_only_html(title: str = "别的页面", body: str = "<p>这是另一个页面的正文。</p>", head: str = "") -> str:
    """A page with an article-like body but no window.DATA and no id (a redirect's target)."""
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>"
        f"<h1 id='article-title'>{title}</h1><div id='article-content'><p>{body}</p></div></body></html>"
    )


def nested_spans(depth: int) -> str:
    return (
        "<p>"
        + "<span>" * depth
        + "深处的文字"
        + "</span>" * depth
        + "</p><p>嵌套之后的第一段。</p><p>嵌套之后的第二段。</p>"
    )


def unclosed_titles(count: int = 50_000) -> str:
    """A page with ``count`` unclosed ``<title>`` tags in its head; the article is in window.DATA."""
    article = article_html("{id}", data={"originContent": {"text": PARAGRAPHS}}, before_body="<title>" * count)
    return article


@dataclass
class Bad:
    """One crafted page: served at ``/rain/a/<id>`` (plus ``extra`` routes) with ``expect``."""

    name: str
    id: str
    body: bytes
    expect: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    extra: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    status: int = 200


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def wrong_type_pages() -> list[tuple[str, dict]]:
    """(name, window.DATA overrides) of wrong-typed fields; each page must still be written."""
    img = "<p>图前</p><!--IMG_0--><p>图后</p><!--VIDEO_0-->"
    return [
        ("videoArr_int", {"videoArr": 1}),
        ("videoArr_mixed", {"videoArr": [1, None, {"vid": ["x"]}, {"vid": {}}, {"vid": "v0000abcd", "title": 5}]}),
        ("vid_list", {"originContent": {"text": img}, "originAttribute": {"VIDEO_0": {"vid": ["a", "b"]}}}),
        ("imgurl_int", {"originContent": {"text": img}, "originAttribute": {"IMG_0": {"imgurl0": 5}}}),
        ("originAttribute_list", {"originContent": {"text": img}, "originAttribute": [1, 2]}),
        ("originContent_str", {"originContent": "<p>x</p>"}),
        ("originContent_text_int", {"originContent": {"text": 5}}),
        ("title_dict", {"title": {"zh": "标题"}}),
        ("title_list", {"title": ["a", "b"]}),
        ("title_true", {"title": True}),
        ("wrong_types_elsewhere", {"media": ["m"], "pubtime": {"t": 1}, "abstract": 7, "article_id": ["x"]}),
        ("is_deleted_false_string", {"is_deleted": "false", "article_is_pay": "false"}),
    ]


def bad_pages(fixture_legacy: bytes) -> list[Bad]:
    """32 crafted pages of every kind, each with the outcome the crawl must give it."""
    pages: list[Bad] = []
    n = 0

    def next_id() -> str:
        nonlocal n
        n += 1
        return page_id(n)

    for name, data in wrong_type_pages():
        article_id = next_id()
        pages.append(Bad(name, article_id, _utf8(article_html(article_id, data=data)), "written"))
    article_id = next_id()
    pages.append(
        Bad(
            "is_deleted_true_string",
            article_id,
            _utf8(article_html(article_id, data={"is_deleted": "true"})),
            "skipped:deleted",
        )
    )
    article_id = next_id()
    pages.append(
        Bad("window_data_truncated", article_id, _utf8(article_html(article_id, raw_data='{"title": "x')), "written")
    )
    article_id = next_id()
    deep_json = '{"title": "深", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    pages.append(
        Bad("window_data_deep_json", article_id, _utf8(article_html(article_id, raw_data=deep_json)), "written")
    )
    article_id = next_id()
    pages.append(Bad("unclosed_titles", article_id, _utf8(unclosed_titles().replace("{id}", article_id)), "written"))
    article_id = next_id()
    pages.append(
        Bad("nested_300_spans", article_id, _utf8(article_html(article_id, body=nested_spans(300))), "written")
    )
    article_id = next_id()
    pages.append(
        Bad(
            "nested_3000_divs",
            article_id,
            _utf8(article_html(article_id, body="<div>" * 3000 + PARAGRAPHS)),
            "skipped:too_deep",
        )
    )
    # Redirects: HTTP to a page that is no article, a meta refresh Scrapy follows, a JS stub.
    article_id = next_id()
    elsewhere = (200, {"Content-Type": "text/html; charset=utf-8"}, _utf8(dom_only_html()))
    pages.append(
        Bad("http_redirect_elsewhere", article_id, b"", "skipped:redirected", status=302,
            headers={"Location": "/elsewhere/page1.html"}, extra={"/elsewhere/page1.html": elsewhere})
    )  # fmt: skip
    article_id = next_id()
    refresh = (
        '<html><head><meta http-equiv="refresh" content="0; url=/elsewhere/page2.html"></head><body></body></html>'
    )
    pages.append(
        Bad("meta_refresh_elsewhere", article_id, _utf8(refresh), "skipped:redirected",
            extra={"/elsewhere/page2.html": elsewhere})
    )  # fmt: skip
    article_id = next_id()
    js = (
        "<html><head><script>window.location.href = 'https://www.qq.com/other.htm';</script></head><body></body></html>"
    )
    pages.append(Bad("js_redirect_stub", article_id, _utf8(js), "skipped:redirected"))
    article_id = next_id()
    other = page_id(999)
    pages.append(
        Bad("http_redirect_other_article", article_id, b"", "skipped:wrong_id", status=302,
            headers={"Location": f"/rain/a/{other}"},
            extra={f"/rain/a/{other}": (200, {"Content-Type": "text/html; charset=utf-8"}, _utf8(article_html(other)))})
    )  # fmt: skip
    # Encodings: Big5 declared only by <meta charset>; UTF-16 with a byte order mark.
    article_id = next_id()
    trad = "<p>繁體中文的正文，第一段。</p><p>繁體中文的正文，第二段。</p>"
    big5_html = article_html(
        article_id, data={"title": "繁體標題", "media": "媒體"}, title="網頁標題", body=trad, charset="big5"
    )
    big5 = big5_html.encode("big5", errors="xmlcharrefreplace")  # the "_腾讯新闻" suffix
    pages.append(Bad("big5_meta_charset", article_id, big5, "written", headers={"Content-Type": "text/html"}))
    article_id = next_id()
    utf16 = b"\xff\xfe" + article_html(article_id, data={"title": "UTF16標題"}, charset="utf-16").encode("utf-16-le")
    pages.append(Bad("utf16_bom", article_id, utf16, "written", headers={"Content-Type": "text/html"}))
    # Relative image URLs on a mirror; <base href> of a Tencent host and of another host.
    article_id = next_id()
    pages.append(
        Bad(
            "relative_image",
            article_id,
            _utf8(article_html(article_id, body=PARAGRAPHS + '<p><img src="/img/rel.jpg"></p>')),
            "written",
        )
    )
    article_id = next_id()
    base = '<base href="https://new.qq.com/base/dir/">'
    pages.append(
        Bad(
            "base_href_tencent",
            article_id,
            _utf8(article_html(article_id, head=base, body=PARAGRAPHS + '<p><img src="rel2.jpg"></p>')),
            "written",
        )
    )
    article_id = next_id()
    base = '<base href="http://mirror.example/x/">'
    pages.append(
        Bad(
            "base_href_other",
            article_id,
            _utf8(article_html(article_id, head=base, body=PARAGRAPHS + '<p><img src="rel3.jpg"></p>')),
            "written",
        )
    )
    # Text: emoji joiners, NUL bytes, terminal colour codes.
    article_id = next_id()
    text = "<p>家庭👨\u200d👩\u200d👧\u200d👦和旗🏳️\u200d🌈，零\u200d宽</p><p>空\x00字符与\x1b[31m红色\x1b[0m文字</p>"
    pages.append(Bad("text_controls", article_id, _utf8(article_html(article_id, body=text)), "written"))
    # The legacy CMS page (a real public copy), served under a current-form id.
    pages.append(Bad("legacy_cms", LEGACY_ID, fixture_legacy, "written", headers={"Content-Type": "text/html"}))
    # Garbage: binary bytes, an empty 200, a page of NULs.
    article_id = next_id()
    pages.append(Bad("binary_garbage", article_id, bytes(range(256)) * 64, "skipped:unrecognized", headers={}))
    article_id = next_id()
    pages.append(Bad("empty_body", article_id, b"", "skipped:unrecognized"))
    # A bug that still raises while normalizing (BoomPipeline): a counted extract_error.
    article_id = next_id()
    pages.append(
        Bad(
            "raises_in_pipeline",
            article_id,
            _utf8(article_html(article_id, data={"title": BOOM})),
            "failed:extract_error",
        )
    )
    assert len(pages) == 32, len(pages)
    assert len({p.id for p in pages}) == 32
    return pages


class BoomPipeline(ArticlePipeline):
    """Test-only pipeline: raises on articles titled BOOM (a bug that still slips through)."""

    def process_article(self, article):
        if article.title == BOOM:
            raise RuntimeError("boom: a normalization step failed")
        return article
