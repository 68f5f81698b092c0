"""Hostile values: front matter round-trips, nothing leaves the output folder, nothing runs."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from scrapy.settings import Settings

from newscrawl.convert import frontmatter
from newscrawl.convert.article import Article, Paragraph, Span
from newscrawl.convert.converter import Converter
from newscrawl.convert.dates import parse_datetime
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.crawl.writer import UnsafePath, WriterPipeline, article_path
from newscrawl.sites.qq.site import SHANGHAI
from tests.qqpages import wrap_body

HOSTILE_TITLES = [
    'He said "yes" \\ no',
    "key: value # not a comment",
    "---\nfront: matter\n---",
    "line one\nline two\r\nline three",
    "bell\x07 nul\x00 esc\x1b del\x7f c1\x85",
    "<script>alert(1)</script>",
    "true",
    "null",
    "| pipe | and > quote & amp;",
    "emoji 🎉 and bidi \u202eevil\u202c",
    "  leading and trailing   spaces  ",
    "'single' and `backtick`",
    "[link](javascript:alert(1))",
]

HOSTILE_BODY = """
<p>Quote from a model: &lt;/think&gt; and <b>&lt;div onclick="x"&gt;</b></p>
<p><script>alert("body")</script>after script</p>
<p><a href="javascript:alert(1)">js link</a> <a href="data:text/html,x">data link</a>
 <a href="https://example.com/a b(c)">real link</a></p>
<p>---</p>
<p># not a heading</p>
<p>1. not a list</p>
<p>- not a bullet</p>
<p>* not a bullet either</p>
<p>+ nor this</p>
<p>: not a definition</p>
<p>[not](a link) and ![not](an image) and *not emphasis* and _not_ and ~~not struck~~</p>
<p>`not code` and &amp;amp; and &copy; as text: &amp;copy;</p>
<p>| not | a | table |</p>
<p>&lt;img src=x onerror=alert(1)&gt;</p>
<p><img src="javascript:alert(1)"><img src="https://inews.gtimg.com/om_bt/ok/641" onerror="alert(1)"></p>
<p>Text with control\x01 chars\x1f and zero\u200bwidth\ufeff.</p>
"""


def convert(title: str, body: str = HOSTILE_BODY, article_id: str = "20250101A0000100") -> Article:
    row = {
        "id": article_id,
        "title": title,
        "media": 'M"edia: x',
        "pubtime": "2025-01-01 08:00:00",
        "thumbnail": "",
        "body_html": f'<div class="rich_media_content">{body}</div>',
    }
    return Converter().convert(wrap_body(row), f"https://new.qq.com/rain/a/{article_id}", article_id)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_front_matter_round_trips(title):
    article = convert(title)
    fields = frontmatter.load(article.markdown)
    assert fields["title"] == article.title
    assert fields["summary"] == article.summary
    assert fields["date"] == "2025-01-01T08:00:00+08:00"
    # The title is the text, one line, no invisible or control characters.
    assert "\n" not in article.title and "\x00" not in article.title and "\u202e" not in article.title
    assert article.title == article.title.strip()
    # The front matter is exactly one YAML block between the first two '---' lines.
    head = article.markdown.split("\n---\n", 1)[0]
    assert head.count("\n---") == 0
    assert list(yaml.safe_load(head[4:]).keys())[0] == "title"


def test_front_matter_dump_round_trips_any_string():
    for value in HOSTILE_TITLES + [
        "\x00\x01",
        "a\u2028b",
        "#",
        "- item",
        "? x",
        "%TAG",
        "@at",
        "!tag",
        "*alias",
        "&anchor",
    ]:
        fields = {"title": value, "list": [value], "flag": True}
        assert frontmatter.load(frontmatter.dump(fields) + "\nbody\n") == fields


def test_nothing_executable_reaches_the_body():
    body = convert("t").markdown.split("\n---\n", 1)[1]
    assert not re.search(r"(?<!\\)<[A-Za-z/!?]", body), "raw HTML in the body"
    assert "](javascript:" not in body and "](data:" not in body
    assert 'alert("body")' not in body  # script content is not text
    assert "\\</think\\>" in body  # shown, not interpreted
    assert "[real link](https://example.com/a%20b%28c%29)" in body
    assert "js link" in body and "data link" in body  # the text stays, the link goes
    assert "\n\n\\-\\-\\-\n\n" in body and "\n\n\\# not a heading" in body and "\n\n1\\. not a list" in body
    assert "\n\n\\- not a bullet" in body and "\n\n\\* not a bullet either" in body and "\n\n\\+ nor this" in body
    assert "\\[not\\](a link)" in body and "\\*not emphasis\\*" in body and "\\~\\~not struck\\~\\~" in body
    assert "\\| not \\| a \\| table \\|" in body
    # Entities double-escaped upstream are decoded once more (text pipeline), then shown.
    assert "\\`not code\\` and & and © as text: ©" in body
    assert "\\: not a definition" in body
    assert "![图片](https://inews.gtimg.com/om_bt/ok/641)" in body
    assert "![图片](javascript" not in body
    assert "control chars and zerowidth." in body


@pytest.mark.parametrize(
    "bad_id", ["../../etc/passwd", "../x", "a/b", "/abs", "..", ".", "", "x\x00y", "a\\b", "~root", "a" * 200]
)
def test_unsafe_ids_never_leave_the_output_folder(tmp_path, bad_id):
    out = tmp_path / "out"
    settings = Settings({"OUTPUT_DIR": str(out), "OUTPUT_PATH_TEMPLATE": "{lang}/news/{source}/{id}.{lang}.md"})
    writer = WriterPipeline(settings)
    writer.open_spider()
    article = Article(
        source="qq",
        lang="zh-CN",
        id=bad_id,
        url="https://new.qq.com/rain/a/x",
        body=[Paragraph([Span("x")])],
        markdown="x\n",
    )
    with pytest.raises(ArticleDropped):
        writer.process_article(article)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


def test_unsafe_template_or_lang_is_refused(tmp_path):
    with pytest.raises(UnsafePath):
        article_path(tmp_path, "../{id}.md", "20250101A0000100", "zh-CN", "qq")
    with pytest.raises(UnsafePath):
        article_path(tmp_path, "{lang}/{id}.md", "20250101A0000100", "../zh", "qq")
    with pytest.raises(UnsafePath):
        article_path(tmp_path, "{source}/{id}.md", "20250101A0000100", "zh-CN", "../qq")
    assert article_path(tmp_path, "{lang}/news/{source}/{id}.{lang}.md", "20250101A0000100", "zh-CN", "qq") == (
        tmp_path.resolve() / "zh-CN/news/qq/20250101A0000100.zh-CN.md"
    )


def test_hostile_page_ids_cannot_choose_the_path(tmp_path):
    """A page that declares a path-like id gets the id of its URL, or none at all."""
    row = {
        "id": "../../../tmp/evil",
        "title": "t",
        "media": "m",
        "pubtime": "2025-01-01 08:00:00",
        "thumbnail": "",
        "body_html": '<div class="rich_media_content"><p>x</p></div>',
    }
    html = wrap_body(row)
    from newscrawl.sites.qq.page import Unavailable, extract

    assert extract(html, "https://new.qq.com/rain/a/20250101A0000100").id == "20250101A0000100"
    with pytest.raises(Unavailable):
        extract(html, "https://new.qq.com/rain/a/../../evil")


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    settings = Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{lang}/news/{source}/{id}.{lang}.md"})
    writer = WriterPipeline(settings)
    writer.open_spider()
    article = convert("t")
    writer.process_article(article)
    files = sorted(str(p.relative_to(tmp_path)) for p in Path(tmp_path).rglob("*") if p.is_file())
    assert files == ["zh-CN/news/qq/20250101A0000100.zh-CN.md"]
    assert (tmp_path / files[0]).read_text("utf-8") == article.markdown


@pytest.mark.e2e
def test_orphan_temp_files_of_dead_writers_are_removed(tmp_path):
    import os
    import subprocess

    from newscrawl.crawl.writer import _HOST, remove_stale_temp_files

    folder = tmp_path / "zh-CN"
    folder.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = folder / f".a.md.{_HOST}@{dead.pid}.abc123.tmp"
    mine = folder / f".b.md.{_HOST}@{os.getpid()}.def456.tmp"
    other_host = folder / ".c.md.otherhost@1.ghi789.tmp"
    for path in (orphan, mine, other_host):
        path.write_text("partial")
    assert remove_stale_temp_files(tmp_path) == 1
    assert not orphan.exists() and mine.exists() and other_host.exists()


HOSTILE_TIMES = [
    "2025-02-08 10:00+9999",  # an offset beyond 24 hours
    "2025-02-08T10:00:00-25:00",
    "0001-01-01T00:00:00+14:00",  # moved before year 1 by the zone change
    "9999-12-31T23:59:59-14:00",  # moved past year 9999
    "99999999999999999999",
    "1e400",
]


@pytest.mark.parametrize("value", HOSTILE_TIMES)
def test_a_hostile_publish_time_reads_as_missing_never_as_an_error(value):
    """A page's time that no datetime can hold is no time: the next source (here the date in the
    id) is used and the article is written, instead of an exception in the date step."""
    assert parse_datetime(value, SHANGHAI) is None
    row = {
        "id": "20250101A0000100",
        "title": "t",
        "media": "m",
        "pubtime": value,
        "thumbnail": "",
        "body_html": '<div class="rich_media_content"><p>text</p></div>',
    }
    html = wrap_body(row).replace('content="' + value + '"', 'content=""')  # the page's meta time too
    article = Converter().convert(html, "https://new.qq.com/rain/a/20250101A0000100", "20250101A0000100")
    assert article.published == datetime(2025, 1, 1, tzinfo=SHANGHAI)
    assert 'date: "2025-01-01T00:00:00+08:00"' in article.markdown
