"""The front matter's direct quoting (``frontmatter._verbatim``) writes what the YAML emitter writes.

Titles, dates, summaries and thumbnails that both emitters would print unchanged are quoted
without the emitter; everything else still goes through it. This checks the shortcut against
the emitter itself on hostile and random strings, so an eligible string can never differ.
"""

from __future__ import annotations

import random

import yaml

from newscrawl.convert import frontmatter

EDGE = [
    "",
    " ",
    "  leading and trailing  ",
    "#not a comment",
    "- not a list",
    "key: value",
    "{not: a map}",
    "[x]",
    "&anchor *alias !tag %directive @ `",
    "null",
    "true",
    "0x1F",
    "1e3",
    "---",
    "...",
    "我们问专家怎么看DeepSeek？专家：等我问问DeepSeek",
    "a\u00a0b",  # no-break space: not printable for Python, escaped by the emitter
    "a\u2028b",
    "a\ufeffb",
    "a\x85b",
    "emoji 😀 outside the BMP",
    "tab\tinside",
    "x" * 5000,
]
POOL = (
    [chr(c) for c in range(0x20, 0x7F)]
    + list("中文标题，。：；“”‘’（）《》、！？—…·")
    + ["\u00a0", "\u00e9", "\u0300", "\u200d", "\u2028", "\ufeff", "\ufffd", "\ue000", "\U0001f600", "\t", "\n", "\x00"]
)


def _emitter_line(key: str, value: str) -> str:
    return frontmatter._yaml({key: value})


def test_direct_quoting_matches_the_emitter_on_edge_and_random_strings():
    rng = random.Random(20261129)
    samples = EDGE + ["".join(rng.choice(POOL) for _ in range(rng.randint(0, 120))) for _ in range(3000)]
    eligible = 0
    for value in samples:
        block = frontmatter.dump({"title": value})
        assert yaml.safe_load(block.strip("-\n") or "{}") == {"title": value}
        if frontmatter._verbatim(value):
            eligible += 1
            assert f'title: "{value}"\n' == _emitter_line("title", value), repr(value)
    assert 100 < eligible < len(samples)  # both paths were exercised


def test_bmp_test_is_the_max_formula():
    """``_verbatim``'s "nothing outside the BMP" regex says what ``max(value) <= "\\uffff"`` said."""
    rng = random.Random(20261130)
    pool = POOL + ["\uffff", "\U00010000", "\U0010ffff", "\ud800", "\udfff", "\ud83d\ude00", "\U000e0041"]
    samples = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 60))) for _ in range(5000)]
    for value in samples + [c for c in pool if c]:
        assert (frontmatter._OUTSIDE_BMP.search(value) is None) == (max(value) <= "\uffff"), repr(value)


UNUSUAL_DEFAULTS = [
    {"title": "t", "weird key: x": True},  # a key the emitter quotes: was a KeyError per article
    {"yes": "no", "on": True},  # keys YAML 1.1 would read as booleans
    {"widgets": [1, {"a": None}], "menu": ""},  # a mapping in a list: was "unhashable type: 'dict'"
    {"extra": {"a": [1, 2], "b": "x\n---\ny"}},  # a mapping value, with a line that ends front matter
    {"menu": "x\n---\ninjected: 1"},
    {"title": "a\n---\nb: 'c' \"d\"", "odd: key": "", "menu": ""},  # a hostile title beside an odd key
    {"foo-bar": "x", "n": False, "~": None},
]


def test_unusual_front_matter_defaults_dump_to_yaml_that_reads_back_the_same():
    """FRONT_MATTER_DEFAULTS from a user's settings: every article used to fail (exit 6) on
    the first two shapes above; the block must also never end early."""
    for fields in UNUSUAL_DEFAULTS:
        for _ in range(2):  # the second time from the cache, where it holds them
            text = frontmatter.dump(fields)
            assert text.startswith("---\n") and text.endswith("---\n")
            assert text.count("\n---\n") == 1, text  # only the closing line
            assert yaml.safe_load(text[4:-4]) == fields, text
