"""The compiled element scan (``_cwalk.scan``) finds what the Python scan finds.

``page._ranked_containers`` and ``page._not_body`` read the id and class of every ``<div>``
(and ``<a>``); the compiled scan hands them only the elements whose id or class holds one of
the names they look for. Here both scans run over the corpus bodies and over random hostile
markup (names as parts of longer names, Unicode whitespace between classes, entities in
values, upper case, namespaced tags, duplicate and valueless attributes), and the containers
and junk they lead to must be the same elements.
"""

from __future__ import annotations

import random

import pytest
from lxml import etree

from newscrawl.convert import htmlblocks
from newscrawl.sites.qq import page
from tests.qqpages import bodies

_cwalk = pytest.importorskip("newscrawl.convert._cwalk") if htmlblocks.WALKER == "cython" else None
pytestmark = pytest.mark.skipif(_cwalk is None, reason="no compiled walker here: nothing to compare")

NAMES = [
    "rich_media_content",
    "comps-contentify-wrap",
    "article-content-wrap",
    "content-article",
    "article-content",
    "Cnt-Main-Article-QQ",
    "article-top-content",
    "article-status",
    "introduction",
    "mbArticleShareBtn",
    "rv-root-v2",
    "Status",
    "backqqcom",
    "tipsWBzf",
    "other",
    "",
]
SEPARATORS = [" ", "  ", "\t", "\n", "\u3000", "\xa0", "\x1c", "\x85", "-", "_", "", "&#32;", "&nbsp;"]
TAGS = ["div", "DIV", "a", "A", "p", "span", "svg:div", "x:a", "section", "table", "td"]


def _value(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(NAMES)
        if rng.random() < 0.2:
            name = name.replace("-", "&#45;") if rng.random() < 0.5 else name.upper()
        if rng.random() < 0.2:
            name = rng.choice(["x", "pre-", "中"]) + name + rng.choice(["", "s", "-x"])
        parts.append(name)
    return rng.choice(SEPARATORS).join(parts)


def _attrs(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(["id", "class", "ID", "Class", "xml:id", "data-x", "ns:class"])
        kind = rng.random()
        if kind < 0.1:
            out.append(name)  # no value
        elif kind < 0.2:
            out.append(f"{name}='{_value(rng)}'")
        else:
            out.append(f'{name}="{_value(rng)}"')
    return " " + " ".join(out) if out else ""


def _markup(rng: random.Random, depth: int = 0) -> str:
    out = []
    for _ in range(rng.randint(1, 5)):
        choice = rng.random()
        if choice < 0.6 and depth < 8:
            tag = rng.choice(TAGS)
            close = f"</{tag}>" if rng.random() < 0.9 else ""
            out.append(f"<{tag}{_attrs(rng)}>{_markup(rng, depth + 1)}{close}")
        elif choice < 0.7:
            out.append(rng.choice(["<!-- c -->", "<?pi x?>", "&amp;", "<br>", "</div>", "<p>"]))
        else:
            out.append(rng.choice(["text", "文字", " ", ""]))
    return "".join(out)


def _outcome(root: etree._Element, scan) -> tuple:
    saved = page._scan
    page._scan = scan
    try:
        ranked = page._ranked_containers(root)
        junk = [page._not_body(container) for _, container in ranked]
    finally:
        page._scan = saved
    tree = root.getroottree()
    return (
        [(kind, tree.getpath(el)) for kind, el in ranked],
        [[tree.getpath(el) for el in found] for found in junk],
    )


def _compare(html: str) -> None:
    root = htmlblocks.parse_document(html)
    assert root is not None
    assert _outcome(root, _cwalk.scan) == _outcome(root, page._scan_all), html


def test_the_compiled_scan_is_the_one_in_use():
    assert page._scan is _cwalk.scan


def test_same_containers_and_junk_on_hostile_markup():
    rng = random.Random(20261129)
    for _ in range(3000):
        _compare(f"<body>{_markup(rng)}</body>")
    _compare("<div class='article-content-wrap'>")  # implied <html><body> around it


def test_same_containers_and_junk_on_the_corpus():
    for row in bodies():
        _compare(f"<body>{row['body_html']}</body>")


def test_scan_numbers_elements_as_iter_does():
    root = htmlblocks.parse_document(
        "<body><div class='top'><a class='introduction'>x</a><div id='Status'></div></div>"
        "<div class='x introduction'></div></body>"
    )
    assert [(n, el.tag) for n, el in _cwalk.scan(root, (b"div", b"a"), (b"introduction", b"Status"))] == [
        (1, "a"),
        (2, "div"),
        (3, "div"),
    ]
    assert [n for n, _ in page._scan_all(root, (b"div", b"a"), ())] == [0, 1, 2, 3]
    # The root itself counts, as in iter(); an element without id or class is never kept.
    div = root.find(".//div")
    assert [n for n, _ in _cwalk.scan(div, (b"div",), (b"",))] == [0, 1]
    assert _cwalk.scan(htmlblocks.parse_document("<div><div></div></div>"), (b"div",), (b"",)) == []


def test_holds_is_a_superset_of_iter():
    """``_cwalk.holds(el, name)`` (the gate before ``_mark_pushed_videos``) is True wherever
    ``el.iter(name)`` finds an element below ``el``, on every element of generated trees; it is
    False where no element of that name (in any namespace) is below ``el``."""
    rng = random.Random(1517)
    checked = {True: 0, False: 0}
    for _ in range(300):
        root = htmlblocks.parse_document(f"<body>{_markup(rng)}</body>")
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            for name in ("div", "a", "p", "span", "td", "script"):
                below = [d for d in el.iterdescendants() if isinstance(d.tag, str)]
                exact = any(d.tag == name for d in below)
                any_ns = any(d.tag.rpartition(":")[2] == name or d.tag == name for d in below)
                got = _cwalk.holds(el, name.encode())
                assert got == exact or (got and any_ns), (etree.tostring(el), name)
                checked[got] += 1
    assert min(checked.values()) > 1_000, checked


def test_pushed_videos_gate_on_a_container_with_a_script():
    """The compiled gate finds the script of an old page whose container pushes a video."""
    html = (
        "<body><div id='Cnt-Main-Article-QQ'><p>正文</p><script>window.DATA.videoArr.push("
        '{"vid": "v0000abcd", "title": "t"})</script><p>后文</p></div></body>'
    )
    root = htmlblocks.parse_document(html)
    container = root.find(".//div")
    assert page._may_push_videos(html, container)
    assert not page._may_push_videos(html, container[0])
