"""Shortcuts beside general code give the general code's results, on many and hostile inputs.

Each shortcut here skips work for the common case (an absolute https image URL, a body's first
image, the usual publish-time form, the only registered site); each test runs the shortcut and the general path over
generated inputs built to sit on the shortcut's edges, so any divergence fails.
"""

from __future__ import annotations

import random
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from scrapy.settings import Settings

from newscrawl.convert import images
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
    iter_blocks,
)
from newscrawl.convert.converter import Converter
from newscrawl.convert.dates import UTC_ZONE, parse_datetime, parse_datetime_general
from newscrawl.convert.normalize import _first_image
from newscrawl.sites import site_for_url

SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\u3000", "\u200b", "\ufeff"]
URL_PARTS = [
    "https://",
    "http://",
    "HTTPS://",
    "//",
    "https:/",
    "data:",
    "javascript:",
    "about:",
    "blob:",
    "inews.gtimg.com",
    "x.qpic.cn",
    "example.org",
    "[::1]",
    "[bad",
    "/om_bt/abc",
    "/icon.png",
    "?x=1",
    "#f",
    "中文",
    "%20",
    "..",
    "",
]
HOSTS = [(), (".gtimg.com", ".qpic.cn", ".qq.com"), ("example.org",)]
BASES = ["", "https://new.qq.com/rain/a/x", "http://[bad", "relative/only", "https://example.org/a/b?c#d"]


def _url(rng: random.Random) -> str:
    url = "".join(rng.choice(URL_PARTS) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.4:
        url = "https://" + url
    if rng.random() < 0.3:
        url = rng.choice(SPACES) + url
    if rng.random() < 0.3:
        url += rng.choice(SPACES)
    return url


def test_image_url_shortcut_matches_the_general_path():
    rng = random.Random(15)
    samples = [_url(rng) for _ in range(20000)] + ["https://", "https:// ", "https://x\u3000", "https://\xa0"]
    shortcut = 0
    for url in samples:
        base, hosts = rng.choice(BASES), rng.choice(HOSTS)
        fast = images.normalize_image_url(url, base, hosts)
        assert fast == images.normalize_image_url_general(url, base, hosts), (url, base, hosts)
        shortcut += url.startswith("https://")
    assert shortcut > 2000  # the shortcut was really taken


UI_PARTS = [
    "https://",
    "http://",
    "HtTp://",
    "inews.gtimg.com/",
    "mat1.gtimg.com/",
    "MAT1.GTIMG.COM/",
    "qzonestyle.gtimg.cn/",
    "pingjs.qq.com/",
    "a.tajs.qq.com/",
    "x.TCSS.QQ.COM/",
    "b.beacon.qq.com",
    "qq.com/",
    "qq.co",
    "m/",
    "/om_bt/abc",
    "/favicon",
    "/ICON",
    "/logo-x",
    "/Loading",
    "/placeholder",
    "/blank",
    "/spacer",
    "/pixel",
    ".png",
    ".PNG",
    ".gif",
    ".Gif",
    ".ico",
    ".ICO",
    ".svg",
    ".sVg",
    ".jpg",
    ".ſvg",  # re.I folds "ſ" onto "s"
    ".ıco",  # and "ı"/"İ" onto "i"
    ".İCO",
    "/Kogo",  # the Kelvin sign folds onto "k"
    "?",
    "&",
    "?pgv_x",
    "&PV_",
    "?track",
    "#f",
    "/",
    ".",
    "中文",
    "",
]


@pytest.mark.parametrize("check", ["generic", "qq"])
def test_ui_image_shortcuts_match_the_general_path(check):
    """``images.is_ui_image`` and the qq site's skip their patterns for ASCII URLs that cannot match."""
    if check == "generic":
        fast, general = images.is_ui_image, images.is_ui_image_general
    else:
        site = site_for_url("https://new.qq.com/rain/a/20250208A07Y6400", Settings())
        fast, general = site.is_ui_image, site.is_ui_image_general
    rng = random.Random(18)
    samples = ["".join(rng.choice(UI_PARTS) for _ in range(rng.randint(0, 6))) for _ in range(30000)]
    found = 0
    for url in samples:
        expected = general(url)
        assert fast(url) == expected, url
        found += expected
    assert 1000 < found < len(samples) - 1000  # both outcomes are common in the samples


def _blocks(rng: random.Random, depth: int = 0) -> list:
    out: list = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if kind < 0.45:
            out.append(Paragraph([Span("p")]))
        elif kind < 0.6:
            out.append(ImageBlock(Image(rng.choice(["", "https://a/1", "https://a/2", "x"]))))
        elif kind < 0.7 and depth < 4:
            out.append(ListBlock(rng.random() < 0.5, [_blocks(rng, depth + 1) for _ in range(rng.randint(0, 3))]))
        elif kind < 0.8 and depth < 4:
            out.append(Quote(_blocks(rng, depth + 1)))
        elif kind < 0.9:
            out.append(Table([[[Image("https://table/img")]]]))
        else:
            out.append(rng.choice([Heading(2, [Span("h")]), Code("c"), Rule()]))
    return out


def test_first_image_matches_iter_blocks():
    rng = random.Random(16)
    for _ in range(5000):
        blocks = _blocks(rng)
        expected = next((b.image.src for b in iter_blocks(blocks) if isinstance(b, ImageBlock)), None)
        assert _first_image(blocks) == expected


DIGITS = list("0123456789") * 6 + ["٢", "２", "²", "〇", "a", " ", "-", ":", "T", "Z", "+", "."]
ZONES = [UTC_ZONE, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), timezone(timedelta(hours=-3))]


def _date(rng: random.Random) -> str:
    shape = rng.choice(["dddd-dd-dd dd:dd:dd", "dddd-dd-dd dd:dd:dd", "dddd-dd-ddTdd:dd:dd", "dddd/dd/dd dd:dd:dd"])
    text = "".join(
        rng.choice(DIGITS if c == "d" and rng.random() < 0.1 else "0123456789") if c == "d" else c for c in shape
    )
    if rng.random() < 0.5:  # plausible values, so the datetime is built (or refused just over a limit)
        y, mo, d = rng.randint(0, 9999), rng.randint(0, 13), rng.randint(0, 32)
        text = f"{y:04d}-{mo:02d}-{d:02d} {rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:{rng.randint(0, 61):02d}"
    if rng.random() < 0.1:
        text = rng.choice([" ", "\u3000", "Z", "+08:00", ".5", ""]) + text if rng.random() < 0.5 else text + "Z"
    return text


def _outcome(parse, text: str, tz):
    """The result, or the exception as text (the general path raises on some offsets, "+99:99")."""
    try:
        return parse(text, tz)
    except ValueError as exc:
        return f"ValueError: {exc}"


def _same(a, b) -> bool:
    return a == b and repr(a) == repr(b) and (a is None or (a.tzinfo is b.tzinfo and a.fold == b.fold))


def test_common_date_shortcut_matches_the_general_path():
    rng = random.Random(17)
    samples = [_date(rng) for _ in range(20000)] + [
        "2025-02-08 20:06:09",
        "2025-02-29 20:06:09",
        "2024-02-29 23:59:59",
        "2025-02-08 24:00:00",
        "2025-02-08 23:60:00",
        "2025-02-08 23:59:60",
        "0000-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2025-03-30 02:30:00",  # a gap in some zones
        "2025-11-02 01:30:00",  # a fold in New York
    ]
    built = 0
    for text in samples:
        tz = rng.choice(ZONES)
        fast, general = _outcome(parse_datetime, text, tz), _outcome(parse_datetime_general, text, tz)
        assert fast == general if isinstance(fast, str) else _same(fast, general), (text, tz)
        built += fast is not None
    assert built > 5000  # the shortcut built many datetimes, not only refused values


SITE_URLS = [
    "https://new.qq.com/rain/a/",
    "20250204A05C8200",
    "https://example.org/news/",
    "http://[",
    "]",
    "[::1]",
    "中文",
    "\u3000",
    " ",
    "?",
    "#",
    "//",
    "",
]


def _site_outcome(pick, url: str) -> object:
    try:
        return pick(url).name
    except ValueError as exc:
        return f"ValueError: {exc}"


@pytest.mark.parametrize("sites", [None, {"example": "tests.examplesite.site.ExampleSite"}])
def test_converter_site_shortcut_matches_site_for_url(sites):
    settings = Settings()
    settings.setmodule("newscrawl.settings", priority="project")
    if sites is not None:
        settings.set("SITES", sites)
    converter = Converter(settings)
    rng = random.Random(18)
    for _ in range(5000):
        url = "".join(rng.choice(SITE_URLS) for _ in range(rng.randint(0, 4)))
        expected = _site_outcome(lambda u: site_for_url(u, settings), url)
        assert _site_outcome(converter.site_for, url) == expected, url
    assert len(converter._sites) == (1 if sites is None else 2)
