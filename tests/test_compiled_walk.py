"""The compiled walker's shortcuts give the Python walk's blocks, on many and hostile trees.

``_cwalk`` looks an element's kind up in a C table made from ``htmlblocks._KIND`` (no string per
element), tests span/font bold classes and styles and the ``<div>`` widgets on the attribute's
text node in place, handles ``<img>`` and ``<br>`` and image-bearing paragraphs itself, and reads
the builder's slots directly. Each test here runs the compiled walk and the Python walk
(``htmlblocks.python_walk``) over the same generated markup and compares the blocks, types
included; test_compiled.py compares the two builds' bytes over the corpus.
"""

from __future__ import annotations

import dataclasses
import random
import re

from newscrawl.convert import htmlblocks
from newscrawl.sites.base import PLAIN_MARKUP, Markup
from newscrawl.sites.qq.page import QQ_MARKUP


@dataclasses.dataclass
class DuckMarkup:
    """Not a ``Markup``: the compiled walk must take the general attribute code for it."""

    bold_classes: tuple = ("qnt-strong",)
    subhead_classes: tuple = ("qnt-h2",)
    video_attribute: str = "data-widget"
    video_value: str = "video"
    video_id_attribute: str = "data-vid"
    video_title_attribute: str = "data-title"
    video_url: str = "https://v.example/{vid}"
    iframe_video_param: str = "vid"


MARKUPS = [
    QQ_MARKUP,
    PLAIN_MARKUP,
    # An empty class name is in every non-empty class; non-ASCII names; a name with a colon; a
    # widget whose value is empty.
    Markup(bold_classes=("", "粗"), subhead_classes=("小标题", "h-2"), video_attribute="x:vid", video_value=""),
    Markup(bold_classes=("é", "strong"), subhead_classes=("",), video_attribute="data-widget", video_value="视频"),
    DuckMarkup(),
]

CLASSES = [
    "qnt-strong",
    "x qnt-strong y",
    "qnt-stron",
    "QNT-STRONG",
    "qnt-h2",
    "qnt-h22",
    "粗体",
    "小标题a",
    "",
    "h-2",
    "é",
    "e\u0301",
    "qnt&#45;strong",
    "qnt&amp;strong",
    "strong",
    "a\tb",
]
STYLES = [
    "font-weight:bold",
    "FONT-WEIGHT: 700",
    "font-weight : 600;",
    "font-weight:400",
    "x:font-weight;font-weight:900",
    "ffffont-weight:\t800",
    "font-weight",
    "font-weight:&#98;old",
    "color:red",
    "",
    "font-weight:bolder",
    "fOnt-weight:bold",
    "font-weight:粗",
]
VALUES = ["video", "视频", "", "Video", "vid&#101;o", "x"]
SRCS = [
    "https://a.example/1.jpg",
    "data:image/png;base64,xx",
    "  //b.example/2.png  ",
    "",
    "DATA:x",
    "/rel/3.gif",
    "https://a.example/1.jpg",
]


def _attr(rng: random.Random, name: str, values: list[str]) -> str:
    roll = rng.random()
    if roll < 0.1:
        return f" {name}"  # no value
    if roll < 0.15:
        return f" {name.upper()}='{rng.choice(values)}'"
    if roll < 0.2:  # a duplicate: the parser keeps the first
        return f" {name}='{rng.choice(values)}' {name}='{rng.choice(values)}'"
    return f" {name}='{rng.choice(values)}'" if rng.random() < 0.8 else f' {name}="{rng.choice(values)}"'


def _fragment(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        text = rng.choice(["字", "a b", "  ", "", "&amp;", "x&nbsp;y", "\u3000", "，"])
        inner = _fragment(rng, depth + 1) if depth < 4 and rng.random() < 0.5 else text
        if roll < 0.25:
            tag = rng.choice(["span", "font", "SPAN"])
            attrs = (_attr(rng, "class", CLASSES) if rng.random() < 0.6 else "") + (
                _attr(rng, "style", STYLES) if rng.random() < 0.5 else ""
            )
            parts.append(f"<{tag}{attrs}>{inner}</{tag}>{text}")
        elif roll < 0.35:
            tag = rng.choice(["b", "strong", "i", "em", "cite", "dfn", "code", "kbd", "samp", "tt", "u", "sup", "x-y"])
            parts.append(f"<{tag}>{inner}</{tag}>{text}")
        elif roll < 0.42:
            href = rng.choice(["https://h.example/", " http://h.example/a ", "//h.example", "/rel", ""])
            parts.append(f"<a href='{href}'>{inner}</a>{text}")
        elif roll < 0.52:
            attrs = "".join(
                _attr(rng, n, SRCS) for n in rng.sample(["data-src", "data-original", "src"], rng.randint(0, 3))
            )
            alt = _attr(rng, "alt", ["图", "", "a&amp;b"]) if rng.random() < 0.5 else ""
            parts.append(f"<img{attrs}{alt}>{text}")
        elif roll < 0.6:
            parts.append(rng.choice(["<br>", "<br/>", "<BR>", "<br class='x'>"]) + text)
        elif roll < 0.75:
            attrs = ""
            if rng.random() < 0.5:
                attrs += _attr(rng, "class", CLASSES)
            if rng.random() < 0.3:
                attrs += _attr(rng, rng.choice(["data-widget", "x:vid"]), VALUES) + " data-vid='v1' data-title=' t '"
            tag = rng.choice(["div", "div", "p", "section", "DIV"])
            parts.append(f"<{tag}{attrs}>{inner}</{tag}>{text}")
        elif roll < 0.8:
            parts.append(f"<h{rng.randint(1, 6)}>{inner}</h{rng.randint(1, 6)}>{text}")
        elif roll < 0.85:
            parts.append(
                f"<table><tr><td>{inner}<br><img src='https://t.example/t.png'></td><th>{text}</th></tr></table>"
            )
        elif roll < 0.9:
            parts.append(f"<ul><li>{inner}</li>{text}<li><img src='https://l.example/l.jpg'>{text}</li></ul>")
        elif roll < 0.93:
            parts.append(f"<blockquote>{inner}</blockquote><!-- c -->{text}")
        elif roll < 0.96:
            parts.append(f"<script>x</script><iframe src='https://v.example/?vid=abc'></iframe>{text}")
        else:
            parts.append(text)
    return "".join(parts)


def _blocks(html: str, markup, walk) -> object:
    root = htmlblocks.parse_fragment(html)
    if root is None:
        return None
    saved = htmlblocks._walk
    htmlblocks._walk = walk
    try:
        return htmlblocks.convert_element(root, markup)
    except Exception as exc:  # the same exception type both ways
        return type(exc).__name__
    finally:
        htmlblocks._walk = saved


def _typed(value: object) -> object:
    """Blocks with every object's type spelled out (dataclass equality ignores subclasses)."""
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if dataclasses.is_dataclass(value):
        return (type(value).__name__, *(_typed(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return (type(value).__name__, value)


def test_compiled_walk_matches_the_python_walk_on_hostile_markup(compiled):
    rng = random.Random(1515)
    seen = {"bold": 0, "image": 0, "video": 0, "heading": 0, "image_paragraph": 0}
    for n in range(3000):
        html = _fragment(rng)
        markup = MARKUPS[n % len(MARKUPS)]
        fast = _blocks(html, markup, compiled.walk)
        reference = _blocks(html, markup, htmlblocks.python_walk)
        assert _typed(fast) == _typed(reference), (html, markup)
        text = repr(fast)
        seen["bold"] += "bold=True" in text
        seen["image"] += "ImageBlock" in text
        seen["video"] += "Video(" in text
        seen["heading"] += "Heading(" in text
        seen["image_paragraph"] += "ImageBlock" in text and "Paragraph" in text
    assert min(seen.values()) > 100, seen  # the generated markup reaches every shortcut


def test_kind_table_is_the_kind_dict(compiled):
    names = list(htmlblocks._KIND) + ["u", "sup", "x-y", "spa", "spans", "dív", "h7", "", "a" * 40, "img2", "BR"]
    for name in names:
        raw = name.encode()
        if b"\0" in raw:
            continue
        kind, style = compiled._kind_by_name(raw)
        assert kind == htmlblocks._KIND.get(name, htmlblocks._INLINE), name
        assert (style != 0) == (kind == htmlblocks._STYLED), name


def test_raw_attribute_tests_match_the_general_code(compiled):
    rng = random.Random(1516)
    for n in range(4000):
        html = _fragment(rng)
        root = htmlblocks.parse_fragment(html)
        if root is None:
            continue
        markup = MARKUPS[n % len(MARKUPS)]
        for el in root.iter("span", "font", "div", "b", "i", "code", "a"):
            style = rng.choice([htmlblocks._PLAIN, (True, False, False, None), (False, True, True, "https://x/")])
            (general, fast), (special, raw_special) = compiled._style_checks(el, style, markup)
            assert fast == general, (html, markup)
            assert raw_special == special, (html, markup)


def test_compiled_builds_images_as_the_class(compiled):
    from newscrawl.convert.article import Image

    fast, image = compiled._fast_images("https://a/1.jpg", "alt")
    assert fast and type(image) is Image and image == Image("https://a/1.jpg", "alt")


def test_only_font_w_starts_a_bold_style_match():
    # _cwalk._bold_css tries htmlblocks._BOLD_STYLE only at "f", "o", "n", "t", "-", "w" in either
    # case: no other character matches these under re.I (the pattern's own flags).
    for letter in "fontw-":
        pattern = re.compile(re.escape(letter), htmlblocks._BOLD_STYLE.flags)
        assert [c for c in map(chr, range(0x110000)) if pattern.match(c)] == sorted({letter.upper(), letter})


def test_compiled_bold_style_test_is_the_pattern(compiled):
    rng = random.Random(1517)
    pieces = [
        "font-weight",
        "FONT-WEIGHT",
        "fOnT-wEiGhT",
        "font-w",
        "font-family:x;",
        "font-size:1px;",
        "f",
        "F",
        "ont-weight",
        ":",
        " ",
        "\u3000",
        "\xa0",
        "\t",
        "bold",
        "BOLD",
        "b\u014fld",
        "600",
        "700",
        "900",
        "500",
        "60",
        "\uff16\uff10\uff10",
        "font-we\u0130ght",
        "font-we\u0131ght",
        ";",
        "x",
        "字",
        "",
    ]
    spaces = ["", " ", "\u3000", "\xa0", "\t", "\x1c", "  "]
    values = ["bold", "BOLD", "Bold", "b\u014fld", "600", "700", "900", "500", "60", "\uff16\uff10\uff10", "normal"]
    names = [
        "font-weight",
        "FONT-WEIGHT",
        "fOnT-wEiGhT",
        "font-we\u0130ght",
        "font-we\u0131ght",
        "font-weigh",
        "font_weight",
    ]

    def junk() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))

    samples = [
        junk()
        + rng.choice(names)
        + rng.choice(spaces)
        + rng.choice([":", ":", ";"])
        + rng.choice(spaces)
        + rng.choice(values)
        + junk()
        if rng.random() < 0.6
        else "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        for _ in range(20000)
    ]
    found = 0
    for css in samples + STYLES:
        expected = htmlblocks._BOLD_STYLE.search(css) is not None
        assert compiled._bold_css_test(css) == expected, css
        found += expected
    assert 1000 < found < len(samples) - 1000


def test_spaces_is_str_isspace(compiled):
    """The walk's and ``_flush``'s whitespace test (no method call) is ``str.isspace``: every code
    point alone, and generated strings of every width."""
    differ = [c for c in range(0x110000) if compiled._spaces_test(chr(c)) != chr(c).isspace()]
    assert differ == []
    rng = random.Random(1519)
    pool = [" ", "\t", "\n", "\u3000", "\xa0", "\x85", "\u2028", "\x1c", "a", "中", "\U0001f600", "\u200b"]
    for _ in range(20_000):
        text = "".join(rng.choice(pool[: rng.choice((4, 8, 12))]) for _ in range(rng.randrange(0, 9)))
        assert compiled._spaces_test(text) == text.isspace(), repr(text)
