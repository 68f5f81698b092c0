"""Issue 10: bad and unusual pages never crash, hang, truncate or land under the wrong id.

Every row of the issue's table through ``render`` (in-process) and through one real
``scrapy crawl qq`` of 32 crafted pages served from 127.0.0.1; a second small crawl checks
the verdict when most articles fail to extract.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from newscrawl.__main__ import main as newscrawl_main
from newscrawl.convert import frontmatter
from newscrawl.crawl.extensions import verdict
from newscrawl.sites.qq.feeds import FeedError, parse_channel_feed
from newscrawl.sites.qq.page import Unavailable, decode_html, extract
from newscrawl.sites.qq.spider import QQSpider
from tests.badpages import BOOM, LEGACY_ID, Bad, article_html, bad_pages, dom_only_html, page_id
from tests.crawlrun import run_crawl
from tests.inprocess import run_crawl_in_process
from tests.localserver import PageServer
from tests.qqpages import page_file

LEGACY = page_file("tech_20161014006270")
BOOM_PIPELINES = json.dumps(
    {
        "newscrawl.crawl.pipelines.TextPipeline": 100,
        "tests.badpages.BoomPipeline": 150,
        "newscrawl.crawl.pipelines.ImageUrlPipeline": 200,
        "newscrawl.crawl.pipelines.DatePipeline": 300,
        "newscrawl.crawl.pipelines.SummaryPipeline": 400,
        "newscrawl.crawl.pipelines.MarkdownPipeline": 500,
        "newscrawl.crawl.writer.WriterPipeline": 900,
    }
)
PAGES_BY_NAME = {page.name: page for page in bad_pages(LEGACY.read_bytes())}


def render(tmp_path: Path, body: bytes, url: str, capsys) -> tuple[int, str, str]:
    """``python -m newscrawl render`` in-process: (exit status, stdout, stderr)."""
    path = tmp_path / "page.html"
    path.write_bytes(body)
    code = newscrawl_main(["render", str(path), "--url", url])
    out = capsys.readouterr()
    return code, out.out, out.err


def routes_for(pages: list[Bad]) -> dict[str, tuple[int, dict[str, str], bytes]]:
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    for page in pages:
        routes[f"/rain/a/{page.id}"] = (page.status, page.headers, page.body)
        routes.update(page.extra)
    return routes


def body_of(markdown: str) -> str:
    return markdown.split("\n---\n", 1)[1]


# ---- render: every row of the table ------------------------------------------------------

RENDERABLE = [p for p in PAGES_BY_NAME.values() if p.status == 200 and not p.expect.startswith("failed")]


@pytest.mark.parametrize("page", RENDERABLE, ids=[p.name for p in RENDERABLE])
def test_render_gives_the_expected_outcome(tmp_path, capsys, page):
    code, out, err = render(tmp_path, page.body, f"http://127.0.0.1:9/rain/a/{page.id}", capsys)
    assert "Traceback" not in err
    if page.expect == "written":
        assert code == 0, err
        fields = frontmatter.load(out)
        assert fields["title"] and fields["summary"]
        assert out.endswith(f"[qq](https://new.qq.com/rain/a/{page.id})\n")
        assert "127.0.0.1" not in out
    else:
        reason = page.expect.split(":", 1)[1]
        assert code == 1 and out == ""
        assert f": {reason}" in err


def test_render_wrong_types_fall_back(tmp_path, capsys):
    for name in ("title_dict", "title_list", "title_true"):
        code, out, _ = render(tmp_path, PAGES_BY_NAME[name].body, "", capsys)
        assert code == 0 and frontmatter.load(out)["title"] == "DOM标题"  # not "{'zh': ...}", "True"
    code, out, _ = render(tmp_path, PAGES_BY_NAME["is_deleted_false_string"].body, "", capsys)
    assert code == 0 and "第二段正文" in out
    code, out, _ = render(tmp_path, PAGES_BY_NAME["imgurl_int"].body, "", capsys)
    assert code == 0 and "图前" in out and "图后" in out and "![" not in out
    code, out, _ = render(tmp_path, PAGES_BY_NAME["vid_list"].body, "", capsys)
    assert code == 0 and "v.qq.com" not in out


def test_render_keeps_text_after_300_nested_spans(tmp_path, capsys):
    code, out, _ = render(tmp_path, PAGES_BY_NAME["nested_300_spans"].body, "", capsys)
    assert code == 0
    assert "深处的文字" in out and "嵌套之后的第一段。" in out and "嵌套之后的第二段。" in out


def test_render_decodes_big5_and_utf16(tmp_path, capsys):
    code, out, _ = render(tmp_path, PAGES_BY_NAME["big5_meta_charset"].body, "", capsys)
    assert code == 0 and frontmatter.load(out)["title"] == "繁體標題" and "繁體中文的正文，第二段。" in out
    code, out, _ = render(tmp_path, PAGES_BY_NAME["utf16_bom"].body, "", capsys)
    assert code == 0 and frontmatter.load(out)["title"] == "UTF16標題" and "第二段正文" in out


def test_render_resolves_relative_images_against_the_canonical_url(tmp_path, capsys):
    mirror = "http://127.0.0.1:9/rain/a/{}"
    page = PAGES_BY_NAME["relative_image"]
    _, out, _ = render(tmp_path, page.body, mirror.format(page.id), capsys)
    assert "![图片](https://new.qq.com/img/rel.jpg)" in out
    page = PAGES_BY_NAME["base_href_tencent"]
    _, out, _ = render(tmp_path, page.body, mirror.format(page.id), capsys)
    assert "![图片](https://new.qq.com/base/dir/rel2.jpg)" in out
    page = PAGES_BY_NAME["base_href_other"]  # a base on another host is ignored
    _, out, _ = render(tmp_path, page.body, mirror.format(page.id), capsys)
    assert "![图片](https://new.qq.com/rain/a/rel3.jpg)" in out and "mirror.example" not in out


def test_render_text_joiners_nul_and_escape_sequences(tmp_path, capsys):
    _, out, _ = render(tmp_path, PAGES_BY_NAME["text_controls"].body, "", capsys)
    assert "👨\u200d👩\u200d👧\u200d👦" in out and "🏳️\u200d🌈" in out
    assert "零宽" in out  # a joiner between two letters is still dropped
    assert "空字符与红色文字" in out
    assert "\x00" not in out and "\ufffd" not in out and "[31m" not in out and "[0m" not in out


def test_render_of_a_page_nested_too_deep_says_too_deep(tmp_path, capsys):
    code, out, err = render(tmp_path, PAGES_BY_NAME["nested_3000_divs"].body, "", capsys)
    assert code == 1 and out == "" and "too_deep" in err and "empty" not in err


def test_render_of_a_page_that_still_raises_is_one_line(tmp_path, capsys, monkeypatch):
    import newscrawl.__main__ as entry

    class Broken:
        def convert(self, *args):
            raise KeyError("surprise")

    monkeypatch.setattr(entry, "Converter", Broken)
    code, out, err = render(tmp_path, b"<html></html>", "", capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "extract_error" in err and "KeyError" in err and "Traceback" not in err


# ---- legacy CMS page: a real public copy ------------------------------------------------


def test_legacy_page_keeps_its_time_and_drops_widgets(tmp_path, capsys):
    code, out, _ = render(tmp_path, LEGACY.read_bytes(), "http://tech.qq.com/a/20161014/006270.htm", capsys)
    assert code == 0
    fields = frontmatter.load(out)
    assert fields["date"] == "2016-10-14T07:17:00+08:00"  # "2016年10月14日07:17", not midnight
    assert fields["title"] == "DeepMind新电脑已可利用记忆自学 人工智能迈上新台阶"
    body = body_of(out)
    for widget in (
        "转播到腾讯微博",
        "精彩视频推荐",
        "自动播放",
        "正在加载",
        "全民微信时代",
        "x033633yrm8",
        "转播至微博",
    ):
        assert widget not in body, widget
        assert widget not in fields["summary"], widget
    assert fields["summary"].startswith("TNW中文站 10月14日报道")
    # The article's own text and lead image stay.
    assert "![图片](https://img1.gtimg.com/tech/pics/hv1/168/240/2140/139214868.jpg)" in body
    assert "（编译/林靖东）" in body and "未经授权，不得转载、摘编等。" in body


# ---- one crawl of 32 bad pages --------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_crawl(tmp_path_factory):
    """One crawl of every bad page, in process (its verdict stands for the exit status, which
    test_crawl_where_most_articles_fail_to_extract_fails checks on the real command)."""
    work = tmp_path_factory.mktemp("badcrawl")
    pages = list(PAGES_BY_NAME.values())
    with PageServer(routes_for(pages)) as server:
        ids = ",".join(page.id for page in pages)
        result = run_crawl_in_process(work / "out", server.url, {"ITEM_PIPELINES": json.loads(BOOM_PIPELINES)}, ids=ids)
    return work / "out", result, server.url


def written_file(out: Path, article_id: str) -> Path:
    return out / "zh-CN" / "news" / "qq" / f"{article_id}.zh-CN.md"


def test_crawl_accounts_for_every_bad_page(bad_crawl):
    out, result, _ = bad_crawl
    # The run was given its 32 ids: the one that failed to extract fails it (FAIL_ON_REQUESTED).
    assert result.returncode == 6, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Spider error" not in result.stderr
    stats = result.stats
    assert stats["newscrawl/articles/found"] == 32
    fetched = stats["newscrawl/articles/fetched"]
    assert fetched == 32

    def total(prefix: str) -> int:
        return sum(v for k, v in stats.items() if k.startswith(prefix))

    written = stats.get("newscrawl/articles/written", 0)
    accounted = written + total("newscrawl/skipped/") + total("newscrawl/dropped/") + total("newscrawl/failed/")
    assert accounted == fetched
    summary = [line for line in result.stderr.splitlines() if "newscrawl summary:" in line][-1]
    assert "fetched=32 " in summary and "failed=extract_error:1 " in summary
    assert summary.endswith("status=FAILED: article extraction failed on requested pages (1 of 32)")
    assert "skipped=deleted:1,redirected:3,too_deep:1,unrecognized:2,wrong_id:1 " in summary


@pytest.mark.parametrize("name", list(PAGES_BY_NAME))
def test_crawl_outcome_of_each_bad_page(bad_crawl, name):
    out, result, server_url = bad_crawl
    page = PAGES_BY_NAME[name]
    path = written_file(out, page.id)
    if page.expect == "written":
        text = path.read_text("utf-8")
        assert "127.0.0.1" not in text and "mirror.example" not in text
    else:
        assert not path.exists(), page.expect
        kind, reason = page.expect.split(":")
        key = f"newscrawl/{kind}/{reason}"
        assert any(k == key or k.startswith(key + "/") for k in result.stats), key


def test_crawl_writes_what_render_prints(bad_crawl, tmp_path, capsys):
    out, _, server_url = bad_crawl
    for page in PAGES_BY_NAME.values():
        if page.expect != "written":
            continue
        code, rendered, _ = render(tmp_path, page.body, f"{server_url}/rain/a/{page.id}", capsys)
        assert code == 0
        assert written_file(out, page.id).read_text("utf-8") == rendered, page.name


def test_crawl_redirects_never_write_the_other_page(bad_crawl):
    out, result, _ = bad_crawl
    for name in ("http_redirect_elsewhere", "meta_refresh_elsewhere", "http_redirect_other_article"):
        assert not written_file(out, PAGES_BY_NAME[name].id).exists()
    assert not list(out.rglob(f"{page_id(999)}*"))  # nor under the other article's id
    assert "这是另一个页面的正文" not in "".join(p.read_text("utf-8") for p in out.rglob("*.md"))


def test_crawl_legacy_page_and_the_extract_error_line(bad_crawl):
    out, result, server_url = bad_crawl
    legacy = frontmatter.load(written_file(out, LEGACY_ID).read_text("utf-8"))
    assert legacy["date"] == "2016-10-14T07:17:00+08:00" and "转播到腾讯微博" not in legacy["summary"]
    boom = PAGES_BY_NAME["raises_in_pipeline"]
    lines = [line for line in result.stderr.splitlines() if "extract_error" in line and boom.id in line]
    assert len(lines) == 1 and f"{server_url}/rain/a/{boom.id}" in lines[0] and "RuntimeError" in lines[0]
    assert result.stats["newscrawl/failed/extract_error/RuntimeError"] == 1


@pytest.mark.e2e
def test_crawl_where_most_articles_fail_to_extract_fails(tmp_path):
    ids = [page_id(500 + n) for n in range(5)]
    pages = [
        Bad(f"boom{n}", i, article_html(i, data={"title": BOOM}).encode(), "failed") for n, i in enumerate(ids[:4])
    ]
    pages.append(Bad("ok", ids[4], article_html(ids[4]).encode(), "written"))
    with PageServer(routes_for(pages)) as server:
        result = run_crawl(
            tmp_path / "out", server.url, "-a", f"ids={','.join(ids)}", "-s", f"ITEM_PIPELINES={BOOM_PIPELINES}"
        )
    assert result.returncode == 6, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = [line for line in result.stderr.splitlines() if "newscrawl summary:" in line][-1]
    assert "fetched=5 written=1 " in summary and "failed=extract_error:4 " in summary and "status=FAILED" in summary
    assert result.stats["newscrawl/failed/extract_error/RuntimeError"] == 4


# ---- the spider's guard and the verdict, in-process -----------------------------------------


def test_spider_guard_counts_an_exception_while_extracting(monkeypatch, caplog):
    crawler = get_crawler(QQSpider, {"STATE_FILE": ""})
    spider = QQSpider.from_crawler(crawler)
    crawler.stats.open_spider()

    def explode(*args, **kwargs):
        raise ValueError("unexpected page shape")

    monkeypatch.setattr(spider.site, "extract", explode)  # the qq site the spider asks
    article_id = page_id(777)
    url = f"http://127.0.0.1:9/rain/a/{article_id}"
    response = HtmlResponse(url, body=b"<html></html>", request=Request(url, meta={"article_id": article_id}))
    spider.backlog = 1
    with caplog.at_level(logging.DEBUG):
        assert list(spider.parse_article(response)) == []
    assert crawler.stats.get_value("newscrawl/failed/extract_error/ValueError") == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and article_id in errors[0].getMessage() and url in errors[0].getMessage()
    assert errors[0].exc_info is None  # the traceback is at DEBUG only
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)


def test_verdict_counts_extract_errors():
    settings = Settings({"FAIL_MIN_ARTICLES": 4, "FAIL_RATIO": 0.5})
    fetched = {"newscrawl/articles/fetched": 4, "newscrawl/template/window_data": 4}
    code, message = verdict({**fetched, "newscrawl/failed/extract_error/TypeError": 4}, "finished", settings)
    assert code == 6 and "extraction" in message
    code, _ = verdict({**fetched, "newscrawl/failed/extract_error/TypeError": 2}, "finished", settings)
    assert code == 0  # half is not most
    code, _ = verdict(
        {**fetched, "newscrawl/failed/extract_error/KeyError": 1, "newscrawl/failed/http_404": 5}, "finished", settings
    )
    assert code == 5


def test_a_redirect_to_the_same_article_is_kept_and_to_a_page_without_id_is_not():
    article_id = page_id(900)
    html = article_html(article_id)
    moved = f"https://new.qq.com/omn/20250101/{article_id[:-2]}.html"  # the same id, short form
    assert extract(html, moved, requested_id=article_id, redirected=True).id == article_id
    with pytest.raises(Unavailable) as caught:
        extract(dom_only_html(), "http://127.0.0.1:9/elsewhere.html", requested_id=article_id, redirected=True)
    assert caught.value.reason == "redirected"
    with pytest.raises(Unavailable) as caught:  # the "page gone" page stays "deleted"
        extract(dom_only_html(), "https://news.qq.com/babygohome/?pgv_ref=apub", article_id, redirected=True)
    assert caught.value.reason == "deleted"


def test_one_decoder_header_bom_meta_then_gb18030():
    text = "<html><head><meta charset='big5'></head><body>繁體</body></html>"
    assert "繁體" in decode_html(text.encode("big5"))
    assert "繁體" in decode_html(text.encode("big5"), "text/html; charset=big5")
    gbk = "<html><body>简体中文</body></html>".encode("gbk")
    assert "简体中文" in decode_html(gbk) and "简体中文" in decode_html(gbk, "text/html; charset=gbk")
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"
    assert decode_html(b"\xfe\xff" + "<p>字</p>".encode("utf-16-be")) == "<p>字</p>"
    assert decode_html(b"<p>a\x00b</p>") == "<p>ab</p>"


def test_urls_that_do_not_parse_read_as_missing(tmp_path, capsys):
    article_id = page_id(901)
    head = '<meta property="og:image" content="http://[bad/x.jpg"><base href="http://[x/">'
    body = '<p>正文。</p><p><img src="http://[bad/y.jpg"><img src="ok.jpg"></p>'
    html = article_html(article_id, head=head, body=body)
    code, out, err = render(tmp_path, html.encode(), f"https://new.qq.com/rain/a/{article_id}", capsys)
    assert code == 0, err
    assert "[bad" not in out and "![图片](https://new.qq.com/rain/a/ok.jpg)" in out


def test_a_feed_nested_too_deep_is_a_bad_feed():
    with pytest.raises(FeedError):
        parse_channel_feed('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_a_normalization_step_out_of_depth_drops_too_deep(monkeypatch):
    from newscrawl.convert.converter import Converter
    from newscrawl.crawl import pipelines

    def bottomless(self, article):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pipelines.MarkdownPipeline, "process_article", bottomless)
    article_id = page_id(902)
    with pytest.raises(pipelines.ArticleDropped) as caught:
        Converter().convert(article_html(article_id), f"https://new.qq.com/rain/a/{article_id}", article_id)
    assert caught.value.reason == "too_deep"


def test_escape_sequences_go_whole_and_never_take_text_with_them():
    from newscrawl.convert.text import normalize

    assert normalize("a\x1b]0;window title\x07b \x1b[1;31mred\x1b[0m \x1bMx") == "ab red x"
    assert normalize("\x1b]unterminated 正文") == "unterminated 正文"
    assert normalize("\x1b[ 正文") == "[ 正文"  # an incomplete sequence: only ESC goes
