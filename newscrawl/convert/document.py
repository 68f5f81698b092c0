"""Article -> the finished Hugo page text (front matter, body, source link)."""

from __future__ import annotations

from typing import Any

from newscrawl.convert import frontmatter
from newscrawl.convert.article import Article
from newscrawl.convert.dates import format_date

# Keys whose values are settings (FRONT_MATTER_DEFAULTS), in the contract's order.
FRONT_MATTER_ORDER = (
    "title",
    "date",
    "summary",
    "categories",
    "lang",
    "translations",
    "tags",
    "menu",
    "thumbnail",
    "lead",
    "comments",
    "authorbox",
    "pager",
    "toc",
    "mathjax",
    "sidebar",
    "widgets",
)


def front_matter_fields(article: Article, defaults: dict[str, Any], date_style: str) -> dict[str, Any]:
    """The front matter values of an article, keys in the contract's order."""
    own = {
        "title": article.title,
        "date": format_date(article.published, date_style) if article.published else "",
        "summary": article.summary,
        "categories": [article.source],
        "lang": [article.lang],
        "translations": [article.lang],
        "tags": [article.source],
        "thumbnail": article.thumbnail,
    }
    fields: dict[str, Any] = {}
    for key in FRONT_MATTER_ORDER:
        fields[key] = own[key] if key in own else defaults.get(key, "")
    for key, value in defaults.items():  # extra keys a site adds go last
        fields.setdefault(key, value)
    return fields


def render_document(
    article: Article, body: str, defaults: dict[str, Any], date_style: str = "rfc3339", *, link: str
) -> str:
    """Front matter, a blank line, the body, a blank line, the source link, one newline."""
    head = frontmatter.dump(front_matter_fields(article, defaults, date_style))
    return f"{head}\n{body}\n\n{link}\n"  # an empty body never gets here (MarkdownPipeline drops it)
