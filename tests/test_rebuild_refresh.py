"""Rebuild's meta refresh check (``rebuild.meta_refresh``) decides as Scrapy's MetaRefreshMiddleware.

The reference is Scrapy itself: the response class ``responsetypes`` picks for the headers and
body, and ``scrapy.utils.response.get_meta_refresh`` on it. Pages are made to hit the edges of
the fast path: case variants, comments and ignored tags, the 4,096-character limit in ASCII and
in multi-byte UTF-8, a cut UTF-8 sequence, a base URL, and the pages it must leave to Scrapy
(other charsets, a BOM, compressed or chunked bodies, several Content-Types, no HTML).
"""

from __future__ import annotations

import gzip
import random

import pytest

from newscrawl.archive import rebuild
from newscrawl.archive.rebuild import decoded_body, meta_refresh, scrapy_meta_refresh

URL = "https://news.qq.com/rain/a/20250208A07Y6400"
TAGS = ("script", "noscript")
UTF8 = [b"HTTP/1.1 200 OK", b"Content-Type: text/html; charset=utf-8"]


def scrapy_refresh(lines: list[bytes], raw: bytes, tags: tuple[str, ...] = TAGS) -> tuple[float, str] | None:
    """What Scrapy follows: its own response class and get_meta_refresh, on the decoded body."""
    body, _ = decoded_body(lines, raw)
    return scrapy_meta_refresh(URL, lines, body, tags)  # the whole body, no shortcut before it


def meta(word: str = "refresh", target: str = "/moved/1") -> str:
    return f'<meta http-equiv="{word}" content="0; url={target}">'


PAGES = {
    "lower": "<html><head>" + meta() + "</head></html>",
    "upper": "<HTML><HEAD>" + meta("REFRESH") + "</HEAD></HTML>",
    "mixed": "<html><head>" + meta("rEfReSh") + "</head></html>",
    "capital": "<html><head><META HTTP-EQUIV='Refresh' CONTENT='5;URL=https://x.example/p'></head></html>",
    "ie8 comment": "<html><head><!--[if lte IE 8]>" + meta() + "<![endif]--></head></html>",
    "in a script": "<html><head><script>var s = '" + meta() + "';</script></head></html>",
    "no refresh": "<html><head><meta charset='utf-8'><title>refresh</title></head></html>",
    "word only": "<html><body>Refresh the page</body></html>",
    "base href": "<html><head><base href='https://other.example/dir/'>" + meta(target="page") + "</head></html>",
    "after 4096 ascii": "<html><head>" + "x" * 4100 + meta() + "</head></html>",
    "cut at 4096 ascii": "<html><head>" + "x" * (4096 - 12 - 20) + meta() + "</head></html>",
    "chinese before": "<html><head><title>" + "新闻" * 1300 + "</title>" + meta() + "</head></html>",
    "chinese past 4096": "<html><head><title>" + "新闻" * 2100 + "</title>" + meta() + "</head></html>",
    "4-byte chars": "<html><head>" + "😀" * 4000 + meta() + "</head></html>",
    "4-byte past 4096": "<html><head>" + "😀" * 4090 + meta() + "</head></html>",
    "long delay": "<html><head>" + meta().replace('"0;', '"999;') + "</head></html>",
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_utf8_pages_decide_as_scrapy(name):
    raw = PAGES[name].encode()
    assert meta_refresh(URL, UTF8, raw, TAGS) == scrapy_refresh(UTF8, raw)


@pytest.mark.parametrize("name", ["lower", "ie8 comment", "chinese before", "no refresh", "word only"])
def test_a_body_read_in_place_decides_as_the_body_alone(name):
    """The index passes the inflated member and the body's span: bytes around it are not the page."""
    raw = PAGES[name].encode()
    around = b"\xff\xfe" + meta("REFRESH").encode() * 3
    member = around + raw + around
    start = len(around)
    assert meta_refresh(URL, UTF8, member, TAGS, start, start + len(raw)) == scrapy_refresh(UTF8, raw)
    lines = OTHER_HEADERS["gbk"]
    assert meta_refresh(URL, lines, member, TAGS, start, start + len(raw)) == scrapy_refresh(lines, raw)


def test_the_cases_scrapy_follows_are_followed():
    """Not only equal to the reference: the reference does follow these (the test checks something)."""
    for name in ("lower", "upper", "mixed", "capital", "base href", "chinese before", "4-byte chars"):
        assert meta_refresh(URL, UTF8, PAGES[name].encode(), TAGS), name
    assert meta_refresh(URL, UTF8, PAGES["base href"].encode(), TAGS)[1] == "https://other.example/dir/page"
    for name in ("ie8 comment", "in a script", "no refresh", "after 4096 ascii", "chinese past 4096"):
        assert meta_refresh(URL, UTF8, PAGES[name].encode(), TAGS) is None, name


def test_bytes_the_utf8_decoder_replaces_decide_as_scrapy():
    """Bad UTF-8 (each bad byte one replacement character) before and across the 4,096th character."""
    for count in (4070, 4080, 4085, 4090, 4096):
        for bad in (b"\xff", b"\xe6\x96", b"\xf0\x9f\x98", b"\xc3"):
            raw = b"<html><head>" + bad * (count // len(bad)) + meta().encode() + b"</head></html>"
            assert meta_refresh(URL, UTF8, raw, TAGS) == scrapy_refresh(UTF8, raw), (count, bad)


def test_a_refresh_url_cut_at_the_4096th_character_decides_as_scrapy():
    """4-byte characters up to the limit and past it (16,384 bytes and more): the URL Scrapy reads is
    cut where its 4,096 characters end, so a byte window one character short gives another URL."""
    start = "<meta http-equiv=refresh content=0;url=/"  # unquoted: read to the end of the text
    for tail in (b"", b"\xf0\x9f\x98", b"\xff", b"a"):
        for count in (4096 - len(start) - 1, 4096 - len(start), 5000):
            raw = start.encode() + "😀".encode() * count + tail + b">"
            followed = meta_refresh(URL, UTF8, raw, TAGS)
            assert followed == scrapy_refresh(UTF8, raw), (tail, count)
            assert followed and followed[1].count("%F0%9F%98%80") == min(count, 4096 - len(start)), (tail, count)


def test_random_pages_decide_as_scrapy():
    """Pages cut from pieces at random: characters of 1 to 4 bytes, bad bytes, comments, scripts,
    refresh tags in any case, around the 4,096-character limit."""
    rng = random.Random(15)
    pieces = ["a", "é", "新", "😀", "\n", "<!-- x -->", "<!--", "-->", "<script>", "</script>", "<p>", "<", ">"]
    for _ in range(300):
        parts: list[bytes] = [b"<html><head>"]
        size = rng.choice([10, 1000, 1300, 2000, 4000, 4090])
        for _ in range(size):
            if rng.random() < 0.002:
                word = "".join(c.upper() if rng.random() < 0.5 else c for c in "refresh")
                parts.append(meta(word, f"/p{rng.randrange(9)}").encode())
            elif rng.random() < 0.01:
                parts.append(rng.choice([b"\xff", b"\xe6", b"\xf0\x9f"]))
            else:
                parts.append(rng.choice(pieces).encode())
        parts.append(meta(rng.choice(["refresh", "REFRESH", "Refresh"])).encode())
        raw = b"".join(parts)
        tags = rng.choice([TAGS, (), ("noscript",)])
        assert meta_refresh(URL, UTF8, raw, tags) == scrapy_refresh(UTF8, raw, tags)


OTHER_HEADERS = {
    "gbk": [b"HTTP/1.1 200 OK", b"Content-Type: text/html; charset=gbk"],
    "no charset": [b"HTTP/1.1 200 OK", b"Content-Type: text/html"],
    "latin-1": [b"HTTP/1.1 200 OK", b"Content-Type: text/html; charset=ISO-8859-1"],
    "plain text": [b"HTTP/1.1 200 OK", b"Content-Type: text/plain; charset=utf-8"],
    "no type": [b"HTTP/1.1 200 OK"],
    "two types": [b"HTTP/1.1 200 OK", b"Content-Type: text/plain", b"Content-Type: text/html; charset=utf-8"],
    "UTF8 spelled": [b"HTTP/1.1 200 OK", b"content-type: TEXT/HTML; Charset=UTF8"],
}


@pytest.mark.parametrize("name", sorted(OTHER_HEADERS))
def test_other_headers_decide_as_scrapy(name):
    lines = OTHER_HEADERS[name]
    for page in ("lower", "upper", "ie8 comment", "chinese before"):
        raw = PAGES[page].encode()
        assert meta_refresh(URL, lines, raw, TAGS) == scrapy_refresh(lines, raw), page


def test_bom_compressed_and_chunked_bodies_decide_as_scrapy():
    raw = PAGES["upper"].encode()
    utf16 = "\ufeff".encode("utf-16-le") + PAGES["upper"].encode("utf-16-le")
    cases = [
        (UTF8, b"\xef\xbb\xbf" + raw),
        (UTF8, utf16),  # a BOM overrides the header's charset in Scrapy
        ([*UTF8, b"Content-Encoding: gzip"], gzip.compress(raw)),
        ([*UTF8, b"Transfer-Encoding: chunked"], b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw)),
    ]
    for lines, body in cases:
        assert meta_refresh(URL, lines, body, TAGS) == scrapy_refresh(lines, body), lines
    assert meta_refresh(URL, UTF8, b"\xef\xbb\xbf" + raw, TAGS)  # followed, through Scrapy's classes


def test_the_fast_path_is_taken_for_plain_utf8_html(monkeypatch):
    """The common page never builds a Scrapy response (what makes it fast); the others do."""
    built: list[str] = []
    real = rebuild.get_meta_refresh

    def spy(response, ignore_tags):
        built.append(response.url)
        return real(response, ignore_tags=ignore_tags)

    monkeypatch.setattr(rebuild, "get_meta_refresh", spy)
    assert meta_refresh(URL, UTF8, PAGES["upper"].encode(), TAGS)
    assert meta_refresh(URL, UTF8, PAGES["ie8 comment"].encode(), TAGS) is None
    assert built == []
    assert meta_refresh(URL, OTHER_HEADERS["gbk"], PAGES["upper"].encode(), TAGS)
    assert built == [URL]


def test_the_head_bytes_are_those_of_the_first_4096_characters():
    """``_utf8_head``: exactly the bytes of ``text[:4096]`` (any mix of 1- to 4-byte characters, from
    the 6 KB probe or the 16 KB one, a body shorter than that), None for bad UTF-8."""
    rng = random.Random(4096)
    alphabet = ["a", "<", "é", "新", "😀"]
    for _ in range(200):
        weights = [rng.random() for _ in alphabet]
        text = "".join(rng.choices(alphabet, weights, k=rng.choice([100, 3000, 4096, 4097, 5000, 9000])))
        raw = text.encode()
        assert rebuild._utf8_head(raw, 0, len(raw)) == text[:4096].encode(), len(text)
        framed = b"xx" + raw + "新".encode()
        assert rebuild._utf8_head(framed, 2, 2 + len(raw)) == text[:4096].encode()
    assert rebuild._utf8_head(b"ab\xffcd" * 100, 0, 500) is None
    assert rebuild._utf8_head("新".encode()[:2], 0, 2) is None  # a body cut inside its last character


def _refresh_pages(rng: random.Random) -> list[tuple[bytes, int, int]]:
    """(raw, start, end): bodies read in place, with "refresh" (any case, or cut short) placed around
    the edges of the window the check reads (4,096 ASCII bytes, else 16,384) and of the body."""
    pages = []
    plain = (b"x", b"<p>a</p>", "新".encode(), "😀".encode(), b"\x80")
    parts = (b"R", b"H", b"refres", b"efresh")  # pieces of the word, in some pages
    for _ in range(3000):
        before = rng.randbytes(rng.choice((0, 0, 3, 100)))
        size = rng.choice((0, 5, 7, 4095, 4096, 4097, 4102, 16383, 16384, 16390, 17000, rng.randrange(20000)))
        fillers = plain if rng.random() < 0.7 else plain + parts
        ascii_start = rng.random() < 0.3
        body = bytearray()
        while len(body) < size:
            body += b"x" * 64 if ascii_start and len(body) < 4096 else rng.choice(fillers) * rng.randrange(1, 40)
        body = body[:size]
        if rng.random() < 0.8:
            word = bytes(c ^ 0x20 if rng.random() < 0.3 else c for c in rng.choice((b"refresh", b"refresh", b"refres")))
            edge = rng.choice((0, 4096, 16384, size, rng.randrange(size + 1)))
            at = max(0, min(len(body), edge - rng.choice((6, 7, 7, 8, rng.randrange(-1, 9)))))
            body[at : at + len(word)] = word
        after = rng.randbytes(rng.choice((0, 0, 9)))
        raw = before + bytes(body) + after
        pages.append((raw, len(before), len(before) + len(body)))
    return pages


def test_the_compiled_refresh_check_is_the_python_one():
    """``_cwalk.refresh_in_head`` (the index's common-page check, compiled) answers as
    ``python_refresh_in_head`` (its reference) on bodies whose window ends anywhere near the word."""
    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is None:
        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    assert rebuild.refresh_in_head is COMPILED.refresh_in_head
    pages = _refresh_pages(random.Random(15))
    answers = [rebuild.python_refresh_in_head(raw, start, end, 4096) for raw, start, end in pages]
    assert [COMPILED.refresh_in_head(raw, start, end, 4096) for raw, start, end in pages] == answers
    assert 300 < sum(answers) < len(answers) - 300  # both answers, often
    for chars in (1, 6, 7, 8, 100):  # other windows, as small as the word
        for raw, start, end in pages[:300]:
            assert COMPILED.refresh_in_head(raw, start, end, chars) == rebuild.python_refresh_in_head(
                raw, start, end, chars
            ), (raw, start, end, chars)


def test_the_refresh_window_holds_the_characters_scrapy_reads_and_no_more():
    """The check's window ends at the (chars + 1)-th byte that starts a character (not 0x80-0xBF):
    "refresh" anywhere in the first ``chars`` characters of the "replace" decoding (bad bytes, lone
    continuation bytes, 1- to 4-byte characters) is always found, by both forms; and a word that
    starts at or after that byte is not (a CJK page's 4,096 characters are ~12 KB, not 16 KB)."""
    from newscrawl.convert.htmlblocks import COMPILED

    checks = [rebuild.python_refresh_in_head] + ([COMPILED.refresh_in_head] if COMPILED is not None else [])
    rng = random.Random(4097)
    pieces = [b"a", b"<p>", "新".encode(), "😀".encode(), b"\x80", b"\xbf", b"\xc0", b"\xe6\x96", b"\xff", b"refresh"]
    found = 0
    for _ in range(1500):
        raw = b"".join(rng.choice(pieces) * rng.randrange(1, 9) for _ in range(rng.randrange(0, 60)))
        for chars in (1, 7, 8, 30, 100):
            expected = "refresh" in raw.decode("utf-8", "replace")[:chars].lower()
            found += expected
            for check in checks:
                assert check(raw, 0, len(raw), chars) or not expected, (check, raw, chars)
    assert found > 1000
    cjk = "新闻".encode() * 2048  # 4,096 characters in 12,288 bytes
    for check in checks:
        for raw, expected in (
            (cjk + b"refresh", False),  # from the 4,097th character on
            (cjk[:-1] + b"refresh", False),  # a cut character: its U+FFFD is the 4,096th
            (cjk[:-18] + b"refresh" + cjk, False),  # the 4,091st to the 4,097th (the old 16 KB window: True)
            (cjk[:-21] + b"refresh" + cjk, True),  # the 4,090th to the 4,096th
        ):
            assert "refresh" in raw.decode("utf-8", "replace")[:4096] or not expected
            assert check(raw, 0, len(raw), 4096) is expected, (check, expected)
