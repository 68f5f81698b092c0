"""The text step's and the renderer's per-kind scans (``_cwalk``'s round-6 section) against the
character loops they replace.

``_settled_fast`` and ``_escape_fast`` read a string's own storage with one loop per kind (one-,
two- and four-byte strings) and per-character tables built at import; ``_settled`` and
``_escape_into`` are the loops they replace, themselves tested against the Python functions
(tests/test_compiled.py). Here both are run on generated text of every kind: NUL and controls,
lone surrogates, markup and escape characters, entity-like runs of every length around the
32-character limit, ``-``/``.`` runs, spaces of every kind, astral characters.
"""

from __future__ import annotations

import random

import pytest

from newscrawl.convert import htmlblocks, markdown
from newscrawl.convert.article import (
    Code,
    Heading,
    Image,
    ImageBlock,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Span,
    Table,
    Video,
)
from tests.test_compiled import _random_spans

C = htmlblocks.COMPILED
pytestmark = pytest.mark.skipif(C is None or not hasattr(C, "_settled_test"), reason="not compiled")

PIECES = ["a", "Z", "0", "9", " ", "  ", "\t", "\n", "\x00", "\x01", "\x1b", "\x7f", "\x80", "\x9b", "\xa0", "é"]
PIECES += ["ÿ", "Ā", "中", "文", "\u3000", "\u200b", "\u200d", "\u2028", "\ud800", "\udfff", "\ue000", "\ufeff"]
PIECES += ["\uffff", "😀", "\U0010ffff", "\U00020000", "\U000e0001", "&", ";", "#", "-", ".", "*", "_", "\\"]
PIECES += ["`", "[", "]", "<", ">", "|", "~", "!", "(", ")", "+", "=", ":", "&amp;", "&#12;", "&nbsp;"]
# Per-kind alphabets: a string made of one of them only stays of that kind.
LATIN1 = [p for p in PIECES if max(p) <= "\xff"]
BMP = [p for p in PIECES if max(p) <= "\uffff"]


def _text(rng: random.Random) -> str:
    alphabet = rng.choice((LATIN1, LATIN1, BMP, BMP, PIECES))
    parts = []
    for _ in range(rng.randrange(0, 14)):
        roll = rng.random()
        if roll < 0.1:  # an entity-like run: & + letters/digits + ; around the 1-32 limit
            name = "".join(rng.choice("aZ09") for _ in range(rng.choice((0, 1, 2, 31, 32, 33, 34, 40))))
            parts.append("&" + name + rng.choice((";", ";", "", " ", "中")))
        elif roll < 0.2:
            parts.append(rng.choice("-. ") * rng.choice((1, 2, 3, 8)))
        else:
            parts.append(rng.choice(alphabet) * rng.choice((1, 1, 1, 2, 9)))
    return "".join(parts)


def test_settled_fast_is_settled() -> None:
    rng = random.Random(6)
    cases = ["", " ", "a", " a", "a ", "a  b", "a b", "中&", "\U0010ffff", "\U000e0001", "a\xa0b"]
    cases += [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c % 7 == 0]  # every table row
    cases += [_text(rng) for _ in range(40_000)]
    seen = {True: 0, False: 0}
    for text in cases:
        ref, fast = C._settled_test(text)
        assert ref == fast, repr(text)
        seen[ref] += 1
    assert min(seen.values()) > 5_000


def test_settled_fast_reads_every_bmp_character_as_settled_does() -> None:
    for c in range(0x10000):
        text = "a" + chr(c) + "b"
        ref, fast = C._settled_test(text)
        assert ref == fast, hex(c)


def test_escape_fast_is_escape_into() -> None:
    rng = random.Random(61)
    cases = [("", 0, 0), ("&amp;", 0, 5), ("&amp;", 0, 4), ("--", 0, 2), ("a--", 1, 3), ("中*", 0, 2)]
    for _ in range(40_000):
        text = _text(rng)
        a = rng.randrange(0, len(text) + 1)
        z = rng.randrange(a, len(text) + 1)
        cases.append((text, a, z))
        cases.append((text, 0, len(text)))
    escaped = 0
    for text, a, z in cases:
        ref, fast = C._escape_test(text, a, z)
        assert ref == fast, (text, a, z)
        escaped += ref != text[a:z]
    assert escaped > 5_000
    for c in range(0x80):  # every ASCII character alone, doubled and before a name
        for text in (chr(c), chr(c) * 2, chr(c) + "amp;"):
            assert C._escape_test(text, 0, len(text))[0] == C._escape_test(text, 0, len(text))[1]


# ---- render_blocks into one buffer --------------------------------------------------------------


def _blocks(rng: random.Random, depth: int = 0) -> list:
    def spans() -> list[Span]:
        out = _random_spans(rng)
        if rng.random() < 0.2:  # a paragraph that renders empty (its separator is taken back)
            out = [Span("")] * rng.randint(1, 2)
        if rng.random() < 0.05:  # a long one: the page buffer grows past its first 4,096
            out.append(Span("中-" * rng.randint(1000, 3000)))
        return out

    makers = [
        lambda: Paragraph(spans()),
        lambda: Paragraph(spans()),
        lambda: Paragraph([Span(rng.choice(["1. a", "-b", "+", "12) c", "1234567890.", "\u0661."]))]),
        lambda: Heading(rng.randint(0, 3), spans()),
        lambda: ImageBlock(Image(rng.choice(["https://i.example/a b.jpg", "//x/中.png", ""]))),
        lambda: Code(rng.choice(["x = 1", "  ", "```\ny"])),
        lambda: Rule(),
        lambda: Video("v", rng.choice(["", "t*"]), rng.choice(["", "https://v.example/1"])),
        lambda: Table([[spans(), []], [[Image("https://i.example/t.png")]]]),
    ]
    if depth < 2:
        items = lambda: [_blocks(rng, depth + 1) for _ in range(rng.randint(0, 3))]  # noqa: E731
        makers.append(lambda: ListBlock(rng.random() < 0.5, items()))
        makers.append(lambda: Quote(_blocks(rng, depth + 1)))
    return [rng.choice(makers)() for _ in range(rng.randint(0, 8))]


def test_render_page_is_the_join_and_the_python_function(compiled, monkeypatch) -> None:
    for name in ("render_inline", "render_blocks", "escape", "escape_url"):  # a pure Python reference
        monkeypatch.setattr(markdown, name, getattr(markdown, "python_" + name))
    rng = random.Random(62)
    long = empty = 0
    for _ in range(3_000):
        blocks = _blocks(rng)
        expected = markdown.python_render_blocks(blocks)
        assert compiled.render_blocks(blocks) == expected, blocks
        assert compiled._render_blocks_join(blocks) == expected
        long += len(expected) > 4096
        empty += not expected
    assert long > 20 and empty > 20


def test_render_page_takes_what_render_block_returns(compiled, monkeypatch) -> None:
    blocks = [Paragraph([Span("a")]), Rule(), Paragraph([Span("b")])]
    for value in (None, "", 0, 3, b"x", "x"):  # a user's render_block may return anything
        monkeypatch.setattr(markdown, "render_block", lambda block, value=value: value)
        try:
            expected = "\n\n".join(p for p in ("a", value, "b") if p)
        except TypeError as exc:
            expected = type(exc)
        try:
            got = compiled.render_blocks(blocks)
        except TypeError as exc:
            got = type(exc)
        assert got == expected, value


def test_url_safe_table_is_url_safe(compiled) -> None:
    assert compiled._url_safe_differs() == []


def test_clean_is_clean_chars(compiled) -> None:
    rng = random.Random(63)
    cases = ["&", "a&b", "&amp;", "&amp;nbsp;", "&#12;", "&#x1F600;", "&a;", "&" + "a" * 32 + ";", "中&amp\u3000;"]
    cases += [_text(rng) for _ in range(40_000)]
    changed = 0
    for text in cases:
        expected, got = compiled._clean_test(text)
        assert got == expected, repr(text)
        changed += got != text
    assert changed > 5_000


def test_may_contain_is_the_python_function(compiled) -> None:
    from newscrawl.convert import images
    from newscrawl.sites.qq import site

    assert images.may_contain is compiled.may_contain and site.may_contain is compiled.may_contain
    rng = random.Random(64)
    words = ["", "a", "A", ".png", ".PNG", ".ico", "qq.com/", "mat1.gtimg.com/", "é", "中", "ſ", "x" * 40]
    url_pieces = ["https://", "HTTP://", "Qq.Com/", "qq.com", "/", ".", "png", "PnG", "a", "Z", "?", "中", "é", "ſ"]
    url_pieces += ["\x00", "\x7f", "\U0001f600", "\ud800", "@", "[", "`", "{"]
    found = 0
    for _ in range(20_000):
        url = "".join(rng.choice(url_pieces) for _ in range(rng.randint(0, 12)))
        needles = tuple(rng.choice(words) for _ in range(rng.randint(0, 4)))
        expected = images.python_may_contain(url, needles)
        assert compiled.may_contain(url, needles) == expected, (url, needles)
        found += expected
    assert 2_000 < found < 18_000
    for url, needles in ((None, (".png",)), ("a", None), ("a", ("a", 3)), ("a", [".png"]), (b"a", ("a",))):
        try:
            expected = images.python_may_contain(url, needles)
        except Exception as exc:  # noqa: BLE001 - the exception's type is the outcome compared
            expected = type(exc)
        try:
            got = compiled.may_contain(url, needles)
        except Exception as exc:  # noqa: BLE001
            got = type(exc)
        assert got == expected, (url, needles)


def test_rfc3339_is_isoformat(compiled) -> None:
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from newscrawl.convert import dates

    assert dates._rfc3339 is compiled.rfc3339

    class Later(datetime):  # a subclass may format itself: left to isoformat
        def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
            return "later"

    zones = [None, ZoneInfo("UTC"), ZoneInfo("Asia/Shanghai"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kathmandu")]
    zones += [ZoneInfo("Europe/London"), timezone(timedelta(hours=-14)), timezone(timedelta(hours=14))]
    zones += [
        timezone(timedelta(seconds=30)),
        timezone(timedelta(minutes=-1, seconds=-1)),
        timezone(-timedelta(0, 1, 1)),
    ]
    zones += [timezone(timedelta(microseconds=1)), timezone(timedelta(minutes=-90))]
    rng = random.Random(65)
    fast = 0
    for _ in range(20_000):
        year = rng.choice((1, 9, 99, 999, 1000, 1970, 2025, 9999, rng.randint(1, 9999)))
        micro = rng.choice((0, 0, 0, 1, 999_999))
        try:
            dt = datetime(
                year,
                rng.randint(1, 12),
                rng.randint(1, 28),
                rng.randint(0, 23),
                rng.randint(0, 59),
                rng.randint(0, 59),
                micro,
                tzinfo=rng.choice(zones),
                fold=rng.randint(0, 1),
            )
            expected = dates.python_format_date(dt)
        except (OverflowError, ValueError):  # an offset that takes year 1 or 9999 out of range
            continue
        assert dates.format_date(dt) == expected, repr(dt)
        assert dates.format_date(dt, "legacy") == dates.python_format_date(dt, "legacy")
        fast += compiled.rfc3339(dt) is not None
    assert fast > 5_000
    later = Later(2025, 2, 8, 20, 6, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert compiled.rfc3339(later) is None and dates.format_date(later) == "later"


def test_verbatim_is_the_python_function(compiled) -> None:
    from newscrawl.convert import frontmatter

    assert frontmatter._verbatim is compiled.verbatim
    rng = random.Random(66)
    cases = ["", '"', "\\", "a\U0001f600", "中文", "\x85", "\u2028", "&", "&amp;", "x" * 300]
    cases += [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    cases += [_text(rng) for _ in range(20_000)]
    kept = 0
    for text in cases:
        expected = frontmatter.python_verbatim(text)
        assert compiled.verbatim(text) == expected, repr(text)
        kept += expected
    assert kept > 20_000
    for bad in (None, 3, b"a"):
        try:
            frontmatter.python_verbatim(bad)
        except AttributeError:
            pass
        else:  # pragma: no cover - every non-str here lacks isprintable
            raise AssertionError(bad)
        try:
            compiled.verbatim(bad)
        except AttributeError:
            continue
        raise AssertionError(bad)
