"""The front matter's frame (``document.front_matter``) writes what ``frontmatter.dump`` writes.

The frame is the YAML of the constant fields made once, with the title, date, summary and
thumbnail filled in per article. Here it is compared with the general path on hostile and
random articles, under several defaults (extra keys, values the emitter's event path does not
take, keys that clash with the article's own, a dict changed in place between articles).
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from newscrawl.convert import document, frontmatter
from newscrawl.convert.article import Article
from newscrawl.settings import FRONT_MATTER_DEFAULTS

POOL = (
    [chr(c) for c in range(0x20, 0x7F)]
    + list("中文标题，。：；“”‘’（）《》、！？—…·")
    + ["\u00a0", "\u00e9", "\u2028", "\ufeff", "\ufffd", "\U0001f600", "\t", "\n", "\x00", "\x85"]
)
EDGE = ["", " ", "---", "null", "true", 'say "hi"', "back\\slash", "a: b", "- x", "😀", "a\nb", "x" * 3000]
DATES = [
    None,
    datetime(2025, 2, 8, 20, 6, 9, tzinfo=ZoneInfo("Asia/Shanghai")),
    datetime(2025, 2, 8, 20, 6, 9, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=ZoneInfo("UTC")),
]
DEFAULTS = [
    FRONT_MATTER_DEFAULTS,
    {},
    {"widgets": ["a", "b"], "extra": "x", "more": ["y", "z"]},
    {"title": "default title", "thumbnail": "t", "menu": "main", "pager": False},
    {"number": 3, "none": None, "ratio": 0.5},  # not on the emitter's event path
    {"weird": 'quote"d', "lst": ["back\\slash", "😀"]},
]


def _random_text(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(EDGE)
    if rng.random() < 0.5:
        return "".join(rng.choice("中文标题新闻的一是了") for _ in range(rng.randint(0, 60)))
    return "".join(rng.choice(POOL) for _ in range(rng.randint(0, 80)))


def _article(rng: random.Random) -> Article:
    return Article(
        id="x",
        url="https://new.qq.com/rain/a/x",
        source=rng.choice(["qq", "qq", "example", 'q"q']),
        lang=rng.choice(["zh-CN", "zh-CN", "en", ""]),
        title=_random_text(rng),
        summary=_random_text(rng),
        thumbnail=rng.choice(["", "https://inews.gtimg.com/om_ls/abc/640", _random_text(rng)]),
        published=rng.choice(DATES),
    )


@pytest.mark.parametrize("defaults_index", range(len(DEFAULTS)))
def test_frame_matches_dump_on_random_articles(defaults_index: int) -> None:
    rng = random.Random(1000 + defaults_index)
    defaults = copy.deepcopy(DEFAULTS[defaults_index])
    framed = 0
    for _ in range(1500):
        article = _article(rng)
        style = rng.choice(["rfc3339", "legacy"])
        expected = frontmatter.dump(document.front_matter_fields(article, defaults, style))
        assert document.front_matter(article, defaults, style) == expected
        framed += frontmatter._verbatim(article.title) and frontmatter._verbatim(article.summary)
    assert framed > 300  # the frame was really exercised, not only the general path


def test_frame_follows_defaults_changed_in_place() -> None:
    rng = random.Random(7)
    before = copy.deepcopy(FRONT_MATTER_DEFAULTS)
    defaults = copy.deepcopy(FRONT_MATTER_DEFAULTS)  # changed in place below: never the settings' own lists
    article = Article(id="x", url="u", source="qq", lang="zh-CN", title="标题", summary="摘要")
    for step in range(40):
        if step % 5 == 0:
            defaults["sidebar"] = _random_text(rng)
            defaults["widgets"].append(str(step)) if isinstance(defaults.get("widgets"), list) else None
        if step % 7 == 0:
            defaults[f"extra{step}"] = rng.choice([True, "v", ["l"], 5, None])
        expected = frontmatter.dump(document.front_matter_fields(article, defaults, "rfc3339"))
        assert document.front_matter(article, defaults, "rfc3339") == expected
    assert FRONT_MATTER_DEFAULTS == before  # the settings themselves untouched


def test_render_document_uses_the_same_front_matter() -> None:
    article = Article(id="x", url="u", source="qq", lang="zh-CN", title="标题", summary="摘要")
    text = document.render_document(article, "body", FRONT_MATTER_DEFAULTS, link="[qq](u)")
    head = frontmatter.dump(document.front_matter_fields(article, FRONT_MATTER_DEFAULTS, "rfc3339"))
    assert text == f"{head}\nbody\n\n[qq](u)\n"
