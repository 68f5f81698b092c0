"""Article -> the finished Hugo page text (front matter, body, source link).

Speed: the front matter's keys and every value except the title, date, summary and
thumbnail are the same for every article of a site (the settings' defaults, the source and
the language), so their YAML is made once per (defaults, source, language, date style) and
kept as a frame with four holes (:class:`_Frame`). An article whose four values the
emitters write verbatim (``frontmatter._verbatim``, most of them) fills the holes; any other
goes through ``frontmatter.dump`` as before. A frame is used only after the text it makes
for the article that built it equals ``frontmatter.dump``'s, and only while the defaults
still equal the copy taken then (a settings dict changed in place builds a new frame).
"""

from __future__ import annotations

import copy
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
# The values that change with every article: the frame's holes, in FRONT_MATTER_ORDER's order.
_HOLES = ("title", "date", "summary", "thumbnail")


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


class _Frame:
    """The front matter of one (defaults, source, language, date style) with the four holes:
    ``parts[0] + title + parts[1] + date + parts[2] + summary + parts[3] + thumbnail + parts[4]``,
    each hole written as ``key: "value"`` and a newline; ``parts`` is None when that shape has no frame."""

    __slots__ = ("defaults", "parts")

    def __init__(self, defaults: dict[str, Any], parts: tuple[str, ...] | None) -> None:
        self.defaults = defaults  # a deep copy: what the frame was made from
        self.parts = parts


_FRAMES: dict[tuple[int, str, str, str], _Frame] = {}
_FRAMES_LIMIT = 64  # sites x languages x settings objects; beyond that, no new frames


def _frame(fields: dict[str, Any], defaults: dict[str, Any]) -> _Frame:
    """The frame of ``fields`` (whose four hole values are verbatim). Its parts are None unless
    its text for ``fields`` is ``dump(fields)``'s: the front matter is then constant text
    around the four quoted lines, as ``dump`` writes each key's lines on their own."""
    frame = _Frame(copy.deepcopy(defaults), None)
    if list(fields)[:3] != ["title", "date", "summary"] or "thumbnail" not in fields:
        return frame
    parts = ["---\n"]
    for key, value in fields.items():
        if key in _HOLES:
            parts.append("")
        else:
            parts[-1] += frontmatter.dump({key: value})[4:-4]  # without the "---\n" lines
    parts[-1] += "---\n"
    if _fill(tuple(parts), fields["title"], fields["date"], fields["summary"], fields["thumbnail"]) == frontmatter.dump(
        fields
    ):
        frame.parts = tuple(parts)
    return frame


def _fill(p: tuple[str, ...], title: str, date: str, summary: str, thumbnail: str) -> str:
    return (
        f'{p[0]}title: "{title}"\n{p[1]}date: "{date}"\n{p[2]}summary: "{summary}"\n'
        f'{p[3]}thumbnail: "{thumbnail}"\n{p[4]}'
    )


def front_matter(article: Article, defaults: dict[str, Any], date_style: str = "rfc3339") -> str:
    """``frontmatter.dump(front_matter_fields(article, defaults, date_style))``, from a frame
    when the article's four values are verbatim."""
    title, summary, thumbnail = article.title, article.summary, article.thumbnail
    date = format_date(article.published, date_style) if article.published else ""
    verbatim = frontmatter._verbatim
    if (
        title.__class__ is str
        and summary.__class__ is str
        and thumbnail.__class__ is str
        and verbatim(title)
        and verbatim(date)
        and verbatim(summary)
        and verbatim(thumbnail)
    ):
        key = (id(defaults), article.source, article.lang, date_style)
        frame = _FRAMES.get(key)
        if frame is None or frame.defaults != defaults:  # new, or the defaults changed in place
            if len(_FRAMES) >= _FRAMES_LIMIT and key not in _FRAMES:
                return frontmatter.dump(front_matter_fields(article, defaults, date_style))
            frame = _FRAMES[key] = _frame(front_matter_fields(article, defaults, date_style), defaults)
        if frame.parts is not None:
            return _fill(frame.parts, title, date, summary, thumbnail)
    return frontmatter.dump(front_matter_fields(article, defaults, date_style))


def render_document(
    article: Article, body: str, defaults: dict[str, Any], date_style: str = "rfc3339", *, link: str
) -> str:
    """Front matter, a blank line, the body, a blank line, the source link, one newline."""
    head = front_matter(article, defaults, date_style)
    return f"{head}\n{body}\n\n{link}\n"  # an empty body never gets here (MarkdownPipeline drops it)
