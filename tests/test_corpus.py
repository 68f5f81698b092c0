"""All 775 real bodies of 2023-2026, wrapped in today's page template, convert faithfully."""

from __future__ import annotations

import re

import lxml.html
import pytest

from newscrawl.convert.converter import Converter
from newscrawl.convert.images import normalize_image_url as _normalize_image_url
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.sites.qq.site import QQSite
from tests.markdowntext import in_order_coverage, markdown_lines, markdown_plain, squeeze, visible_text_nodes
from tests.qqpages import bodies, wrap_body


def normalize_image_url(url: str) -> str:
    return _normalize_image_url(url, "", QQSite.https_image_hosts)


TEXT_BLOCKS = (
    "//p | //div[contains(concat(' ', normalize-space(@class), ' '), ' qnt-p ')]"
    " | //h1 | //h2 | //h3 | //h4 | //h5 | //h6 | //li"
)
RAW_TAG = re.compile(r"(?<!\\)<[A-Za-z/!?]")


def body_markdown(markdown: str) -> str:
    """The body: after the front matter, before the source link."""
    body = markdown.split("\n---\n", 1)[1]
    return body.rsplit("\n\n[qq](", 1)[0]


@pytest.fixture(scope="module")
def converted() -> dict[tuple[str, bool], tuple[dict, str | None]]:
    """(id, via window.DATA) -> (row, body Markdown or None when dropped as empty)."""
    converter = Converter()
    out = {}
    for row in bodies():
        for origin in (False, True):
            try:
                article = converter.convert(wrap_body(row, origin_content=origin), row["url"], row["id"])
            except ArticleDropped:
                out[row["id"], origin] = (row, None)
                continue
            out[row["id"], origin] = (row, body_markdown(article.markdown))
    return out


def test_every_body_converts(converted):
    assert len(bodies()) == 775
    dropped = [key for key, (row, md) in converted.items() if md is None]
    # Only bodies with no text and no image at all may be dropped.
    for article_id, _ in dropped:
        row = next(r for r in bodies() if r["id"] == article_id)
        assert not squeeze("".join(visible_text_nodes(row["body_html"])))
        assert "<img" not in row["body_html"]
    assert len(dropped) <= 2 * 5


def test_visible_text_appears_in_order(converted):
    worst = []
    for (article_id, origin), (row, md) in converted.items():
        if md is None:
            continue
        coverage = in_order_coverage(visible_text_nodes(row["body_html"]), markdown_plain(md))
        if coverage < 0.995:
            worst.append((coverage, article_id, origin))
    assert not worst, sorted(worst)[:10]


def test_every_text_block_starts_a_line(converted):
    failures = []
    for (article_id, origin), (row, md) in converted.items():
        if md is None or origin:
            continue
        starts = set()
        lines = markdown_lines(md)
        root = lxml.html.fragment_fromstring(row["body_html"], create_parent="div")
        for el in root.xpath(TEXT_BLOCKS):
            if el.xpath("ancestor::table"):
                continue
            # A <br> splits a block into paragraphs: the block's first line is what must start one.
            first_line = re.split(r"<br\b", lxml.html.tostring(el, encoding="unicode"), maxsplit=1)[0]
            head = squeeze("".join(visible_text_nodes(first_line)))[:12]
            if not head:
                continue
            starts.add(head)
        for head in starts:
            if not any(line.startswith(head) for line in lines):
                failures.append((article_id, head))
    assert not failures, failures[:10]


def test_every_content_image_appears(converted):
    missing = []
    for (article_id, origin), (row, md) in converted.items():
        if md is None:
            continue
        root = lxml.html.fragment_fromstring(row["body_html"], create_parent="div")
        for img in root.iter("img"):
            src = img.get("data-src") or img.get("src") or ""
            if "inews.gtimg.com" not in src:
                continue
            url = normalize_image_url(src)
            if f"![图片]({url})" not in md:
                missing.append((article_id, origin, url))
    assert not missing, missing[:10]


def test_images_inside_headings_links_and_tables_are_kept(converted):
    """The old generator lost images in headings; count those cases to know they are covered."""
    covered = {"heading": 0, "link": 0, "table": 0}
    for (article_id, origin), (row, md) in converted.items():
        if md is None or origin:
            continue
        root = lxml.html.fragment_fromstring(row["body_html"], create_parent="div")
        for img in root.iter("img"):
            src = normalize_image_url(img.get("data-src") or img.get("src") or "")
            for kind, xpath in (
                ("heading", "ancestor::h1|ancestor::h2|ancestor::h3|ancestor::h4"),
                ("link", "ancestor::a"),
                ("table", "ancestor::table"),
            ):
                if img.xpath(xpath):
                    covered[kind] += 1
                    assert f"![图片]({src})" in md, (article_id, kind)
    assert covered["heading"] > 0 and covered["table"] > 0


def test_no_html_tag_in_output(converted):
    leaks = [(key, RAW_TAG.search(md).group(0)) for key, (row, md) in converted.items() if md and RAW_TAG.search(md)]
    assert not leaks, leaks[:10]
