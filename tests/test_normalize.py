"""Each normalization on its own: text, images, dates, summary, page status, Markdown rules."""

from __future__ import annotations

import json

import pytest

from newscrawl.convert.article import Article, Image, ImageBlock, Paragraph, Span
from newscrawl.convert.converter import Converter
from newscrawl.convert.dates import format_date
from newscrawl.convert.dates import parse_datetime as _parse_datetime
from newscrawl.convert.htmlblocks import html_to_blocks
from newscrawl.convert.images import is_ui_image as _generic_ui_image
from newscrawl.convert.images import normalize_image_url as _normalize_image_url
from newscrawl.convert.markdown import render_blocks, render_inline
from newscrawl.convert.normalize import ImageUrlStep, TextStep, make_summary, plain_text
from newscrawl.convert.text import normalize
from newscrawl.sites.qq.page import Unavailable, extract, find_window_data
from newscrawl.sites.qq.site import SHANGHAI, QQSite
from tests.qqpages import wrap_body

QQ = QQSite()


def parse_datetime(value):
    return _parse_datetime(value, SHANGHAI)


def normalize_image_url(url, base=""):
    return _normalize_image_url(url, base, QQ.https_image_hosts)


def is_ui_image(url):
    return _generic_ui_image(url) or QQ.is_ui_image(url)


def settings():
    return Converter().settings


# ---- text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("a\u00a0b", "a b"),
        ("\u3000\u3000首行缩进", "首行缩进"),
        ("zero\u200bwidth\ufeff\u200d", "zerowidth"),
        ("ctl\x01\x1f\x7f\x85", "ctl"),
        ("double &nbsp; escaped &lt;b&gt;", "double escaped <b>"),
        ("  runs \t\n of   space  ", "runs of space"),
        ("bidi \u202eevil\u202c", "bidi evil"),
    ],
)
def test_text_normalization(raw, clean):
    assert normalize(raw) == clean


def test_text_pipeline_collapses_across_spans_and_keeps_spaces_out_of_emphasis():
    article = Article(
        source="qq",
        lang="zh-CN",
        id="x",
        url="u",
        title=" t\u00a0 ",
        body=[
            Paragraph([Span("\u3000lead "), Span(" bold ", bold=True), Span("\u00a0tail  ")]),
            Paragraph([Span(" \u200b ")]),
        ],
    )
    TextStep(settings()).process_article(article)
    assert article.title == "t"
    assert len(article.body) == 1
    assert render_blocks(article.body) == "lead **bold** tail"


def test_feed_title_fills_a_missing_page_title():
    article = Article(source="qq", lang="zh-CN", id="x", url="u", title="", feed={"title": " 来自列表的标题 "})
    assert TextStep(settings()).process_article(article).title == "来自列表的标题"


# ---- images ----------------------------------------------------------------------------


def test_image_urls():
    assert normalize_image_url("//inews.gtimg.com/newsapp_bt/0/1/1000") == "https://inews.gtimg.com/newsapp_bt/0/1/1000"
    assert normalize_image_url("http://inews.gtimg.com/om_bt/x/641") == "https://inews.gtimg.com/om_bt/x/641"
    assert normalize_image_url("http://example.org/a.jpg") == "http://example.org/a.jpg"  # no https promise
    assert normalize_image_url("/rel.jpg", "https://new.qq.com/rain/a/x") == "https://new.qq.com/rel.jpg"
    assert normalize_image_url("data:image/gif;base64,R0lGOD") == ""
    assert normalize_image_url("javascript:alert(1)") == ""
    assert is_ui_image("https://mat1.gtimg.com/pingjs/ext2020/dc/src/img/favicon.ico")
    assert is_ui_image("https://example.com/x.gif?pgv_ref=1")
    assert not is_ui_image("https://inews.gtimg.com/newsapp_bt/0/13455074465/1000")


def test_data_src_wins_and_duplicates_and_ui_images_go():
    html = (
        '<p><img data-src="//inews.gtimg.com/om_bt/A/641" src="data:image/gif;base64,xx"></p>'
        '<p><img src="https://inews.gtimg.com/om_bt/A/641"></p>'
        '<p><img src="https://mat1.gtimg.com/pingjs/ext2020/dcom/article_logo.png"></p>'
        '<p><img src="http://inews.gtimg.com/om_bt/B/0"></p>'
    )
    article = Article(source="qq", lang="zh-CN", id="x", url="https://new.qq.com/rain/a/x", body=html_to_blocks(html))
    ImageUrlStep(settings()).process_article(article)
    images = [b.image.src for b in article.body if isinstance(b, ImageBlock)]
    assert images == ["https://inews.gtimg.com/om_bt/A/641", "https://inews.gtimg.com/om_bt/B/0"]
    assert article.thumbnail == images[0]  # no og:image, no feed cover: the first body image


def test_thumbnail_order_og_image_then_feed_cover():
    def thumb(page: str, cover: str) -> str:
        article = Article(
            source="qq",
            lang="zh-CN",
            id="x",
            url="u",
            thumbnail=page,
            feed={"cover": cover},
            body=[ImageBlock(Image("https://inews.gtimg.com/om_bt/body/0"))],
        )
        return ImageUrlStep(settings()).process_article(article).thumbnail

    assert thumb("https://inews.gtimg.com/om_ls/og/0", "https://inews.gtimg.com/om_ls/cover/0").endswith("/og/0")
    assert thumb("", "//inews.gtimg.com/om_ls/cover/0") == "https://inews.gtimg.com/om_ls/cover/0"
    assert thumb("", "").endswith("/body/0")


# ---- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2025-02-08 20:06:09", "2025-02-08T20:06:09+08:00"),
        ("2019-9-7 21:30:50", "2019-09-07T21:30:50+08:00"),
        ("2019-09-23 07:48", "2019-09-23T07:48:00+08:00"),
        ("2026-10-04", "2026-10-04T00:00:00+08:00"),
        ("12/1/2020, 10:46:16 AM", "2020-12-01T10:46:16+08:00"),
        ("4/26/2021, 10:52:40 PM", "2021-04-26T22:52:40+08:00"),
        ("1738987569", "2025-02-08T12:06:09+08:00"),
        ("1738987569000", "2025-02-08T12:06:09+08:00"),
        ("2025-02-08T12:06:09Z", "2025-02-08T20:06:09+08:00"),
        ("2025-02-08T20:06:09+08:00", "2025-02-08T20:06:09+08:00"),
        ("2025年2月8日 20:06", "2025-02-08T20:06:00+08:00"),
    ],
)
def test_dates(raw, expected):
    assert format_date(parse_datetime(raw)) == expected


def test_bad_dates_and_fallbacks():
    assert parse_datetime("") is None and parse_datetime("not a date") is None
    assert parse_datetime("2025-13-45 99:99:99") is None
    assert format_date(QQ.date_from_id("20250208A07Y6400")) == "2025-02-08T00:00:00+08:00"
    assert format_date(parse_datetime("2025-02-08 20:06:09"), "legacy") == "2025-02-08 20:06:09"


def test_date_style_setting_gives_the_legacy_form():
    from scrapy.settings import Settings

    s = Settings(dict(Converter().settings))
    s.set("DATE_STYLE", "legacy")
    row = {
        "id": "20250101A0000100",
        "title": "t",
        "media": "m",
        "pubtime": "2019-9-7 21:30:50",
        "thumbnail": "",
        "body_html": '<div class="rich_media_content"><p>x</p></div>',
    }
    md = Converter(s).convert(wrap_body(row), "", "20250101A0000100").markdown
    assert 'date: "2019-09-07 21:30:50"\n' in md


# ---- summary ---------------------------------------------------------------------------


def test_summary_rule():
    assert make_summary("短文") == "短文"
    assert make_summary("x" * 79) == "x" * 79
    assert make_summary("y" * 80) == "y" * 50 + "..."
    blocks = [Paragraph([Span("a" * 30)]), Paragraph([Span("b" * 30)]), Paragraph([Span("c" * 300)])]
    assert plain_text(blocks, 80)[:62] == "a" * 30 + " " + "b" * 30 + " "


# ---- page status -----------------------------------------------------------------------


def page_with(data: dict, title: str = "标题_腾讯新闻") -> str:
    return (
        f"<html><head><title>{title}</title><script>window.DATA = {json.dumps(data)};</script></head>"
        '<body><div class="rich_media_content"><p>正文</p></div></body></html>'
    )


@pytest.mark.parametrize(
    "html,url,reason",
    [
        (page_with({"article_id": "20250101A0000100", "is_deleted": 1}), "", "deleted"),
        (page_with({"article_id": "20250101A0000100", "article_is_pay": 1}), "", "paid"),
        (page_with({}), "https://www.qq.com/babygohome/?pgv_ref=apub", "deleted"),
        (page_with({}), "https://www.qq.com/", "deleted"),
        (page_with({}, "安全验证"), "", "challenge"),
        (page_with({}, "人机验证_腾讯新闻"), "", "challenge"),
        (page_with({}, "请输入验证码"), "", "challenge"),
        (page_with({}, "滑动验证"), "", "challenge"),
        ("<html><head><title>安全验证</title></head></html>", "", "challenge"),  # no <body> at all
        ("<html><body><p>new layout</p></body></html>", "https://new.qq.com/rain/a/20250101A0000100", "unrecognized"),
        ("<html><head><title>404 找不到页面</title></head><body></body></html>", "", "deleted"),
    ],
)
def test_pages_without_an_article(html, url, reason):
    with pytest.raises(Unavailable) as info:
        extract(html, url)
    assert info.value.reason == reason


def test_window_data_both_endings_and_placeholders():
    multi = 'x<script>window.DATA = {\n "a": 1,\n "b": {"c": "}"}\n}\n</script>'
    assert find_window_data(multi) == {"a": 1, "b": {"c": "}"}}
    assert find_window_data('window.DATA = {"a": 2};') == {"a": 2}
    assert find_window_data("window.DATA = {broken") is None
    data = {
        "article_id": "20250101A0000100",
        "title": "t",
        "pubtime": "2025-01-01 00:00:00",
        "originContent": {"text": "<p>一</p><!--IMG_0--><p>二</p><!--VIDEO_0-->"},
        "originAttribute": {
            "IMG_0": {"imgurl0": "https://inews.gtimg.com/om_bt/Z/0"},
            "VIDEO_0": {"vid": "v123", "desc": "片"},
        },
    }
    md = render_blocks(extract(page_with(data)).body)
    assert (
        md == "一\n\n![图片](https://inews.gtimg.com/om_bt/Z/0)\n\n二\n\n[视频：片](https://v.qq.com/x/page/v123.html)"
    )


# ---- markdown rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    "spans,expected",
    [
        ([Span("DeepSeek：", bold=True), Span("传统")], "**DeepSeek**：传统"),
        ([Span("问：为什么？", bold=True)], "**问：为什么？**"),
        ([Span("前"), Span("“引号”", bold=True), Span("后")], "前“**引号**”后"),
        ([Span("a "), Span(" b ", italic=True), Span("c")], "a  *b* c"),
        ([Span("x", bold=True, italic=True)], "***x***"),
        ([Span("code `x`", code=True)], "`` code `x` ``"),
        ([Span("see "), Span("link", href="https://a.example/(x)")], "see [link](https://a.example/%28x%29)"),
        ([Span("wow!"), Span("link", href="https://a.example/")], "wow\\![link](https://a.example/)"),
        ([Span("1. not a list")], "1\\. not a list"),
        ([Span("<b>not html</b>")], "\\<b\\>not html\\</b\\>"),
    ],
)
def test_inline_markdown(spans, expected):
    assert render_inline(spans) == expected


def test_blocks_lists_tables_quotes_code_headings():
    html = (
        "<h1>大标题</h1><h3>小标题<img src='https://inews.gtimg.com/om_bt/H/0'></h3>"
        "<ul><li>一</li><li><p>二</p><p>二续</p></li></ul><ol><li>甲</li><li>乙</li></ol>"
        "<table><tr><th>名</th><th>值</th></tr><tr><td>a|b</td><td><img src='https://inews.gtimg.com/om_bt/T/0'></td></tr></table>"
        "<blockquote><p>引用</p><p>第二段</p></blockquote><pre>line 1\n  line 2</pre><hr>"
    )
    md = render_blocks(html_to_blocks(html))
    assert md == (
        "## 大标题\n\n### 小标题\n\n![图片](https://inews.gtimg.com/om_bt/H/0)\n\n"
        "- 一\n- 二\n\n  二续\n\n1. 甲\n2. 乙\n\n"
        "| 名 | 值 |\n| --- | --- |\n| a\\|b | ![图片](https://inews.gtimg.com/om_bt/T/0) |\n\n"
        "> 引用\n>\n> 第二段\n\n```\nline 1\n  line 2\n```\n\n---"
    )
