"""Test fixtures: real Tencent news data, and whole pages built from it.

``bodies.jsonl.gz`` holds 775 real body containers (no head, no ``window.DATA``);
``wrap_body`` puts one into a page of today's template, the way
``sites/qq/20250208A07Y6400/page.html`` (reconstructed from a published article) is built.
Used by the tests, the mock Tencent server and the benchmarks.
"""

from __future__ import annotations

import gzip
import html
import json
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
# One folder per page case: page.html, url.txt and (pinned) expected.md.
PAGES = FIXTURES / "sites" / "qq"
RECONSTRUCTED_ID = "20250208A07Y6400"
RECONSTRUCTED = PAGES / RECONSTRUCTED_ID / "page.html"
EXPECTED = PAGES / RECONSTRUCTED_ID / "expected.md"


def page_file(case: str) -> Path:
    """The saved page of one case folder (its name: the old file stem)."""
    return PAGES / case / "page.html"


@cache
def bodies() -> tuple[dict, ...]:
    """The 775 real body captures (id, url, title, media, pubtime, thumbnail, body_html)."""
    with gzip.open(FIXTURES / "bodies.jsonl.gz", "rt", encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def wrap_body(row: dict, origin_content: bool = False, article_id: str | None = None) -> str:
    """A whole page of the current (2023-2026) template around a captured body.

    ``origin_content=True`` also puts the body into ``window.DATA.originContent.text``
    (as the real site does); by default the body is only in the DOM, so extraction takes
    the DOM path that the captures came from.
    """
    article_id = article_id or row["id"]
    title = row.get("title", "")
    data = {
        "article_id": article_id,
        "article_type": "0",
        "title": title,
        "media": row.get("media", ""),
        "pubtime": row.get("pubtime", ""),
        "abstract": "",
        "article_is_pay": 0,
        "is_deleted": 0,
    }
    if origin_content:
        data["originContent"] = {"text": row["body_html"]}
        data["originAttribute"] = {}
    # "</" inside a script would end it early: escape the slash as JSON allows.
    data_js = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    e = html.escape
    thumb = row.get("thumbnail") or ""
    og_image = f'<meta property="og:image" content="{e(thumb)}">\n' if thumb else ""
    body = row["body_html"]
    if 'id="article-content"' not in body[:200]:
        body = f'<div id="article-content"><div class="article-top-content"><p>AI导读</p></div>\n{body}</div>'
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(title)}_腾讯新闻</title>
<meta name="description" content="{e(title)}">
<meta property="og:title" content="{e(title)}">
{og_image}<meta property="article:published_time" content="{e(row.get("pubtime", ""))}">
<meta name="author" content="腾讯新闻">
<link rel="canonical" href="https://news.qq.com/rain/a/{article_id}">
<script>window.DATA = {data_js};</script>
</head>
<body>
<div id="root"><div class="layout"><div class="left-stick-wp"></div>
<div class="content-article-wp">
<h1 id="article-title">{e(title)}</h1>
<div id="article-author"><a href="https://news.qq.com/omn/author/8QIf3nxc64AYuDfe">
<p class="media-name">{e(row.get("media", ""))}</p></a>
<div class="media-meta"><span>{e(row.get("pubtime", ""))}</span></div></div>
{body}
<div class="article-end"><p>免责声明：本内容来自腾讯平台创作者，不代表腾讯新闻或腾讯网的观点和立场。</p></div>
<div id="qqcom-comment"></div>
</div></div></div>
</body>
</html>
"""
