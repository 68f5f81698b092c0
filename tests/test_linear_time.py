"""Issue 10: every pattern over page text runs in linear time.

Each adversarial input is built at about 400 KB and at 4x that; the larger must take well
under 16x the time (a quadratic pattern takes ~16x). No wall-clock limit: only the ratio,
of the best of a few timings, so a loaded machine does not make it flaky.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from newscrawl.convert import markdown, text
from newscrawl.convert.converter import Converter
from newscrawl.convert.dates import parse_datetime
from newscrawl.convert.images import is_ui_image, normalize_image_url
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.sites.qq.page import QQPage, Unavailable, decode_html, find_window_data
from tests.badpages import PARAGRAPHS, article_html

SIZE = 400_000
MAX_RATIO = 10  # linear is ~4, quadratic ~16


def best_time(fn: Callable[[], object], repeat: int, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - start)
    return best


def ratio(fn: Callable[[str], object], make: Callable[[int], str], size: int = SIZE) -> float:
    small, big = make(size), make(4 * size)
    # Enough repetitions that the small input takes >= 20 ms (timer noise stays small).
    once = max(best_time(lambda: fn(small), 1, runs=1), 1e-6)
    repeat = max(1, int(0.02 / once))
    return best_time(lambda: fn(big), repeat) / best_time(lambda: fn(small), repeat)


def times(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def _convert(html: str) -> object:
    try:
        return Converter().convert(html, "https://new.qq.com/rain/a/20250101A1000100", "20250101A1000100")
    except (Unavailable, ArticleDropped) as exc:
        return exc


def _page(field: str) -> Callable[[str], object]:
    return lambda html: getattr(QQPage(html), field)


def _script_page(code: str) -> str:
    return f'<html><body><div id="article-content"><p>正文</p><script>{code}</script></div></body></html>'


# (name, function over the input, input of about `size` characters)
PATTERNS: list[tuple[str, Callable[[str], object], Callable[[int], str]]] = [
    ("title: unclosed <title> tags", _page("title_tag"), lambda n: times("<title>", n)),
    ("title: <title without >", _page("title_tag"), lambda n: times("<title ", n)),
    ("title suffix", lambda t: QQPage(f"<title>{t}</title>").title, lambda n: times("_腾讯新闻x", n)),
    ("meta: unclosed <meta", _page("meta"), lambda n: times("<meta a ", n)),
    ("meta: one long attribute name", _page("meta"), lambda n: "<meta " + "a" * n + ">"),
    ("meta: unclosed quotes", _page("meta"), lambda n: "<meta " + times('a="', n) + ">"),
    ("base: unclosed <base", _page("base_href"), lambda n: times("<base ", n)),
    ("ARTICLE_INFO: blank lines", _page("article_info"), lambda n: "ARTICLE_INFO = {" + "\n" * n),
    ("ARTICLE_INFO: spaces", _page("article_info"), lambda n: times("ARTICLE_INFO = window.ARTICLE_INFO ", n)),
    (
        "ARTICLE_INFO: unclosed values",
        _page("article_info"),
        lambda n: "ARTICLE_INFO = {\n" + times("a:'x\n", n) + "'\n}",
    ),
    ("window.DATA: unterminated string", find_window_data, lambda n: 'window.DATA = {"a": "' + "x" * n),
    ("window.DATA: deep nesting", find_window_data, lambda n: 'window.DATA = {"a": ' + "[" * n),
    ("window.DATA: many starts", find_window_data, lambda n: times("window.DATA   ", n)),
    ("videoArr.push: unclosed calls", _convert, lambda n: _script_page(times('videoArr.push({"', n))),
    ("JS redirect scan", _convert, lambda n: "<html><body>" + times("location ", n)),
    (
        "placeholders",
        _convert,
        lambda n: article_html(
            "20250101A1000100", data={"originContent": {"text": PARAGRAPHS + times("<!-- IMG_", n)}}
        ),
    ),
    (
        "bold style",
        _convert,
        lambda n: f'<div id="article-content"><p><span style="{times("font-weight ", n)}">x</span></p></div>',
    ),
    ("publish time", parse_datetime, lambda n: "2025-01-01" + " " * n + "x"),
    ("text: unterminated escape sequences", text.normalize, lambda n: times("\x1b[0;", n)),
    ("text: joiners between emoji", text.normalize, lambda n: times("👨\u200d", n)),
    ("text: entities", text.normalize, lambda n: times("&amp", n) + "\u00a0"),
    ("markdown: entity-like runs", markdown.escape, lambda n: "&" + "a" * n),
    ("markdown: dashes and dots", markdown.escape, lambda n: times("-.", n)),
    ("image: UI name", is_ui_image, lambda n: "http://x.com/" + times("/icon", n)),
    ("image: host", is_ui_image, lambda n: "https://" + times("a.", n)),
    ("image: relative URL", lambda u: normalize_image_url(u, "https://new.qq.com/rain/a/x"), lambda n: times("../", n)),
    ("decode: NULs and GB bytes", lambda s: decode_html(s.encode("gb18030")), lambda n: times("中\x00", n)),
]


@pytest.mark.parametrize("name,fn,make", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_pattern_runs_in_linear_time(name, fn, make):
    assert ratio(fn, make) < MAX_RATIO


PAGES: list[tuple[str, Callable[[int], str]]] = [
    ("50,000 unclosed <title> tags", lambda n: article_html("20250101A1000100", before_body=times("<title>", n))),
    ("unclosed <meta> tags", lambda n: article_html("20250101A1000100", head=times("<meta name=x ", n))),
    ("nested spans", lambda n: article_html("20250101A1000100", body="<p>" + times("<span>", n // 4) + "x</p>")),
    ("unclosed tags in the body", lambda n: article_html("20250101A1000100", body=times("<p><b><i>", n))),
]


@pytest.mark.parametrize("name,make", PAGES, ids=[p[0] for p in PAGES])
def test_adversarial_page_renders_in_linear_time(name, make):
    assert ratio(_convert, make) < MAX_RATIO


@pytest.mark.parametrize("name,make", PAGES[:3], ids=[p[0] for p in PAGES[:3]])
def test_adversarial_page_of_4_mb_renders_in_linear_time(name, make):
    assert ratio(_convert, make, size=1_000_000) < MAX_RATIO  # 1 MB and 4 MB
