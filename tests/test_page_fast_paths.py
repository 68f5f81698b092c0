"""The qq page's "article gone" URL test finds what urlsplit finds, on many and hostile URLs.

``_gone_url`` tests the usual article URLs (``https://new.qq.com/…``, printable ASCII) without
urlsplit; ``_gone_url_general`` is the urlsplit test it stands beside. Both run over generated
URLs built around the shortcut's edges (other hosts and schemes, tabs and newlines urlsplit
removes, brackets it refuses, non-ASCII), including the ValueError urlsplit raises.
"""

from __future__ import annotations

import random

from newscrawl.sites.qq import page

URL_PARTS = [
    "https://new.qq.com/",
    "https://news.qq.com/",
    "https://www.qq.com/",
    "https://www.qq.com",
    "HTTPS://new.qq.com/",
    "http://new.qq.com/",
    "https://new.qq.com.evil/",
    "/babygohome",
    "babygohome",
    "/baby\tgohome",
    "/baby\ngohome",
    "rain/a/20250204A05C8200",
    "?x=/babygohome",
    "#/babygohome",
    "[",
    "]",
    "[::1]",
    "@",
    ":443",
    " ",
    "\u3000",
    "\x00",
    "\x7f",
    "中文",
    "",
]


def _url(rng: random.Random) -> str:
    return "".join(rng.choice(URL_PARTS) for _ in range(rng.randint(1, 4)))


def _outcome(test, url: str) -> object:
    try:
        return test(url)
    except ValueError as exc:
        return f"ValueError: {exc}"


def test_gone_url_matches_urlsplit():
    rng = random.Random(23)
    shortcut = gone = 0
    samples = [_url(rng) for _ in range(30000)] + ["https://new.qq.com/babygohome", "https://new.qq.com//babygohome"]
    for url in samples:
        assert _outcome(page._gone_url, url) == _outcome(page._gone_url_general, url), url
        shortcut += url.startswith(page._ARTICLE_PREFIXES) and url.isascii() and url.isprintable()
        gone += _outcome(page._gone_url_general, url) is True
    assert shortcut > 800 and gone > 500
