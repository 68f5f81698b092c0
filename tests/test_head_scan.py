"""The compiled head scans (``_cwalk.meta_tags``, ``_cwalk.base_tag``) find the tags the regexes find.

``QQPage.meta`` reads the head's ``<meta>`` tags with ``_META_TAG.findall`` (``<meta\\s[^<>]*>``,
case-insensitive) and ``QQPage.base_href`` its ``<base>`` with ``_BASE_TAG.search`` on the pure
path, and with a loop over the str's buffer when the compiled module runs. Both are compared on
generated heads of every str width (tags cut short, nested ``<``, every whitespace character and
near-misses of the letters) and on the corpus and fixture pages.
"""

from __future__ import annotations

import random
import sys

import pytest

from newscrawl.convert import htmlblocks
from newscrawl.sites.qq import page
from tests.qqpages import PAGES, bodies, wrap_body

_cwalk = pytest.importorskip("newscrawl.convert._cwalk") if htmlblocks.WALKER == "cython" else None
pytestmark = pytest.mark.skipif(_cwalk is None, reason="no compiled module here: nothing to compare")

WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
PIECES = [
    "<meta",
    "<META",
    "<mEtA",
    "<metas",
    "<met",
    "<me ta",
    "<base",
    "<BASE",
    "<ba\u017fe",
    "<baſe",
    "<bas",
    "<",
    ">",
    "<<",
    ">>",
    "=",
    '"',
    "'",
]
PIECES += ["name=og:image", "content=x", "中", "文", "a", "é", "\u212a", "\u0130", "ＭＥＴＡ", "\U0001f600", "\x00"]


def test_the_compiled_scan_is_the_one_in_use():
    assert page._meta_tags is _cwalk.meta_tags
    assert page._base_tag is _cwalk.base_tag


def test_meta_tags_is_the_regex_on_generated_heads():
    rng = random.Random(1518)
    found = bases = 0
    for n in range(20_000):
        parts = []
        for _ in range(rng.randrange(0, 14)):
            piece = rng.choice(PIECES)
            if piece.lower().startswith(("<meta", "<base", "<ba\u017fe")) and rng.random() < 0.8:
                piece += rng.choice(WHITESPACE + ["x", ">", "<", ""])
            parts.append(piece)
        head = "".join(parts)
        if n % 3 == 0:
            head = head.encode("latin-1", "ignore").decode("latin-1")  # a one-byte str
        expected = page._META_TAG.findall(head)
        assert _cwalk.meta_tags(head) == expected, repr(head)
        found += len(expected)
        base = page._base_tag_re(head)
        assert _cwalk.base_tag(head) == base, repr(head)
        bases += base is not None
    assert found > 500 and bases > 500  # matches as well as near-misses


def test_meta_tags_is_the_regex_on_pages():
    texts = [wrap_body(row) for row in bodies()]
    texts += [path.read_text(encoding="utf-8") for path in sorted(PAGES.glob("*/page.html"))]
    for text in texts:
        head = page.QQPage(text).head
        assert _cwalk.meta_tags(head) == page._META_TAG.findall(head)
        assert _cwalk.base_tag(head) == page._base_tag_re(head)
