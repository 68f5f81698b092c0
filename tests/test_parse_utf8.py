"""The parser's UTF-8 input (``_cwalk.utf8_for_parser``) gives the trees the str gives.

``htmlblocks._parse`` hands libxml2 the page as UTF-8 bytes written by the compiled module instead
of the str (which lxml passes as UTF-16 for CJK text, for libxml2 to convert). Here: the bytes are
``str.encode``'s, or None exactly where the str must stay (ASCII, a NUL, a lone surrogate, a byte
order mark or ``<?xml`` at the start); and both inputs parse to the same tree and the same parser
errors (the ones ``_parse`` turns into TooDeep) on the corpus and on generated hostile markup.
"""

from __future__ import annotations

import random

import pytest
from lxml import etree

from newscrawl.convert import htmlblocks
from tests.qqpages import PAGES, bodies, wrap_body

pytestmark = pytest.mark.skipif(htmlblocks._utf8 is None, reason="the compiled module is not in use")

CHARS = ["a", "<", ">", "&", " ", "\n", "\r", "\t", "\x00", "\x01", "\x7f", "\x80", "\x9f", "é", "ÿ", "Ā", "ߏ", "ࠀ"]
CHARS += ["中", "文", "　", "\u200b", "\u2028", "\ud800", "\udbff", "\udc00", "\udfff", "\ue000", "\ufeff", "\ufffe"]
CHARS += ["\uffff", "😀", "\U0010ffff", "\U00020000"]
TEXT_CHARS = [c for c in CHARS if c != "\x00" and not "\ud800" <= c <= "\udfff"]


def _expected(text: str) -> bytes | None:
    if not text or text.isascii() or "\x00" in text or text[0] == "\ufeff" or text.startswith("<?xml"):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None


def test_utf8_is_str_encode_or_none() -> None:
    rng = random.Random(15)
    cases = ["", "abc", "<?xml 中", "\ufeff中", "中\ufeff", "中" * 9 + "\x00", "abcdefgh" * 3 + "中"]
    cases.append("\udfff" + "a" * 20)
    for _ in range(30_000):
        # Runs of one character too, so the eight-at-a-time ASCII loop meets every edge.
        pieces = [rng.choice(CHARS) * rng.choice((1, 1, 1, 7, 8, 9, 17)) for _ in range(rng.randrange(0, 12))]
        cases.append("".join(pieces))
    seen = {"bytes": 0, "none": 0}
    for text in cases:
        got = htmlblocks._utf8(text)
        assert got == _expected(text), repr(text)
        seen["none" if got is None else "bytes"] += 1
    assert min(seen.values()) > 3_000


def _parse_both(text: str) -> tuple[tuple[str, list[str]], tuple[str, list[str]]] | None:
    data = htmlblocks._utf8(text)
    if data is None:
        return None
    out = []
    for source, parser in ((text, htmlblocks._PARSER), (data, htmlblocks._PARSER_UTF8)):
        root = etree.fromstring(source, parser)
        tree = "" if root is None else etree.tostring(root, encoding="unicode")
        out.append((tree, [f"{e.type_name} {e.line}:{e.column} {e.message}" for e in parser.error_log]))
    return out[0], out[1]


def test_corpus_parses_the_same_from_utf8() -> None:
    compared = 0
    for row in bodies():
        for text in (row["body_html"], wrap_body(row), wrap_body(row, origin_content=True)):
            for part in (text, text[text.find("<body") :]):
                both = _parse_both(part)
                if both is not None:
                    assert both[0] == both[1], row["id"]
                    compared += 1
    for path in sorted(PAGES.glob("*/page.html")):
        both = _parse_both(path.read_text(encoding="utf-8"))
        if both is not None:
            assert both[0] == both[1], path
            compared += 1
    assert compared > 3_500


MARKUP = [
    "<p>",
    "</p>",
    "<div class='中 x'>",
    "</div>",
    "<span style='font-weight:bold'>",
    "</span>",
    '<meta charset="gbk">',
    '<meta http-equiv="Content-Type" content="text/html; charset=big5">',
    "<?xml version='1.0' encoding='gbk'?>",
    "<!-- 注释 -->",
    "<![CDATA[中]]>",
    "<script>var s = '</div>中';</script>",
    "<style>p{}</style>",
    "&nbsp;",
    "&#x4e2d;",
    "&#0;",
    "&#xD800;",
    "&amp",
    "&中;",
    "<img src='中.jpg' alt=\"中\">",
    '<a href="https://x/?a=1&b=中">',
    "</a>",
    "<br/>",
    "<table><tr><td>",
    "</td></tr></table>",
    "<body>",
    "</body>",
    "<html>",
    "<head>",
    "<title>",
    "<textarea>",
    "<plaintext>",
    "<中>",
    "</中>",
    "<p a=b c='d' e=\"f\" g>",
    "<",
    "</",
    "<!",
    "<!DOCTYPE html>",
]


def test_hostile_markup_parses_the_same_from_utf8() -> None:
    rng = random.Random(1515)
    compared = 0
    for _ in range(4_000):
        pieces = []
        for _ in range(rng.randrange(1, 30)):
            if rng.random() < 0.5:
                pieces.append(rng.choice(MARKUP))
            else:
                # A NUL or a lone surrogate keeps the str (nothing to compare): rare here.
                pool = CHARS if rng.random() < 0.05 else TEXT_CHARS
                pieces.append("".join(rng.choice(pool) for _ in range(rng.randrange(1, 12))))
        text = "".join(pieces)
        if not text.startswith("<") and rng.random() < 0.5:
            text = "<body>" + text
        both = _parse_both(text)
        if both is None:
            continue
        assert both[0] == both[1], repr(text)
        compared += 1
    assert compared > 3_000


def test_too_deep_is_found_from_utf8_too() -> None:
    deep = "<body>" + "<div>中" * 3_000 + "文" + "</div>" * 3_000
    assert htmlblocks._utf8(deep) is not None
    with pytest.raises(htmlblocks.TooDeep):
        htmlblocks.parse_document(deep)
    both = _parse_both(deep)
    assert both is not None and both[0] == both[1]


def test_utf8_from_an_offset_is_the_tails_or_none() -> None:
    """``_utf8(text, start)`` (the page parsed from its ``<body`` without a slice) is
    ``_utf8(text[start:])`` at every offset: the ASCII tail of a wider str, a BOM, ``<?xml`` or a
    NUL after the offset, and the bounds."""
    rng = random.Random(1516)
    cases = ["中<?xml x", "中\ufeffa", "中abc", "é" + "a" * 17, "😀" + "<?xml", "a中", "中\x00", "\udfff中"]
    for _ in range(6_000):
        pieces = [rng.choice(CHARS) * rng.choice((1, 1, 7, 8, 9, 17)) for _ in range(rng.randrange(0, 10))]
        cases.append("".join(pieces))
    seen = {"bytes": 0, "none": 0}
    for text in cases:
        for start in sorted({0, len(text), rng.randrange(len(text) + 1), rng.randrange(len(text) + 1)}):
            got = htmlblocks._utf8(text, start)
            assert got == _expected(text[start:]), (text, start)
            seen["none" if got is None else "bytes"] += 1
    assert min(seen.values()) > 2_000
    for start in (-1, 4):
        with pytest.raises(ValueError):
            htmlblocks._utf8("中文", start)


def test_parse_from_an_offset_is_the_slices_parse() -> None:
    """``parse_document(page, start)`` gives the tree of ``parse_document(page[start:])``, on the
    compiled path (UTF-8 from the offset) and where the tail must stay a str (ASCII tail)."""
    texts = []
    for n, row in enumerate(bodies()):
        if n % 7 == 0:
            texts.append(wrap_body(row))
    texts += ["<head><title>中</title></head><body><p>ascii only</p></body>", "中<body><p>é</p></body>"]
    for text in texts:
        start = text.find("<body")
        for at in (0, start, start + 1):
            got = htmlblocks.parse_document(text, at)
            want = htmlblocks.parse_document(text[at:])
            assert etree.tostring(got, encoding="unicode") == etree.tostring(want, encoding="unicode")
