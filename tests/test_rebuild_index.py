"""Rebuild's index pass in one compiled loop (issue 15, round 7): ``_cwalk.index_run`` and
``_cwalk.utf8_head`` against their Python references (``read.read_member`` + ``rebuild._index_member``,
``rebuild._utf8_head``) on generated archives and bodies: the same index, kept bodies, damage and
budget, member by member, whatever the records, their damage and the piece's bounds."""

from __future__ import annotations

import codecs
import gzip
import random
from pathlib import Path

import pytest

from newscrawl.archive import read, rebuild
from newscrawl.convert.htmlblocks import COMPILED

pytestmark = pytest.mark.skipif(
    getattr(COMPILED, "index_run", None) is None,
    reason="the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)",
)

HTML_UTF8 = b"text/html; charset=utf-8"


def warc_record(kind: str, block: bytes, **fields: str) -> bytes:
    head = [b"WARC/1.1", b"WARC-Type: " + kind.encode()]
    head += [f"{name.replace('_', '-')}: {value}".encode() for name, value in fields.items()]
    head.append(b"Content-Length: %d" % len(block))
    return b"\r\n".join(head) + b"\r\n\r\n" + block + b"\r\n\r\n"


def page(rng: random.Random) -> bytes:
    """An HTML body: Chinese and ASCII text, sometimes a "refresh" (in a comment, a tag, past the head)."""
    words = ["<p>", "新闻", "段落", "text ", "</p>", "é", "😀"]
    body = "".join(rng.choices(words, k=rng.choice([0, 5, 800, 3000]))).encode()
    where = rng.random()
    refresh = rng.choice([
        b'<!--[if IE]><meta http-equiv="refresh" content="0;url=/x"><![endif]-->',
        b'<meta http-equiv="Refresh" content="5; url=http://127.0.0.1:1/y">',
        b"REFRESH",
    ])  # fmt: skip
    if where < 0.3:
        body = refresh + body
    elif where < 0.4:
        body = body + refresh
    return b"<html><head><title>t</title></head><body>" + body + b"</body></html>"


def response_block(rng: random.Random) -> bytes:
    """An HTTP response: mostly the plain case, else each thing the loop leaves to the reference."""
    kind = rng.randrange(14)
    body = page(rng)
    status = b"HTTP/1.1 200 OK"
    headers = [b"Content-Type: " + HTML_UTF8]
    if kind == 1:
        headers.append(b"Content-Type: text/html")  # two Content-Types
    elif kind == 2:
        headers = [b"content-type:  Text/HTML; Charset=UTF-8 "]  # another spelling of the same
    elif kind == 3:
        body = rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00", b"\xff"]) + body
    elif kind == 4:
        headers = [b"Content-Type: text/html; charset=gbk"]
    elif kind == 5:
        headers = [b"Content-Type: application/json"]
    elif kind == 6:
        headers.append(b"Content-Encoding: gzip")
        body = gzip.compress(body, mtime=0)
    elif kind == 7:
        headers.append(b"Transfer-Encoding: chunked")
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    elif kind == 8:
        status = rng.choice([b"HTTP/1.1 OK", b"HTTP/1.1 2x0 OK", b"HTTP/1.1  200", b"junk"])
    elif kind == 9:
        status = b"HTTP/1.1 301 Moved"
        headers.append(b"Location: http://127.0.0.1:1/%d" % rng.randrange(9))
    elif kind == 10:
        headers = []
    elif kind == 11:
        body = b""
    elif kind == 12:
        return status + b"\r\n" + b"\r\n".join(headers)  # no blank line, no body
    return status + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


def request_block(rng: random.Random) -> bytes:
    method = rng.choice([b"GET", b"POST", b"get", b"Post", b"M\xe9THOD", b""])
    line = method + rng.choice([b" /x HTTP/1.1", b"", b"  /y"])
    body = rng.choice([b"", b"a=1&b=2", b"\r\n\r\nmore"])
    if rng.random() < 0.2:
        return line + b"\r\nHost: x"  # no blank line
    return line + b"\r\nHost: x\r\n\r\n" + body


def member_bytes(rng: random.Random, n: int, info_id: str) -> bytes:
    """One gzip member: usually one record, sometimes two, an unusual layout or garbage."""
    rid = f"<urn:uuid:{n:08d}>"
    roll = rng.random()
    if roll < 0.45:
        data = warc_record(
            "response", response_block(rng), WARC_Record_ID=rid, WARC_Target_URI=f"http://127.0.0.1:1/a/{n}?q=é",
            WARC_Concurrent_To=f"<urn:uuid:q{n}>", WARC_Warcinfo_ID=rng.choice([info_id, info_id, "<urn:uuid:other>"]),
        )  # fmt: skip
    elif roll < 0.8:
        data = warc_record(
            "request", request_block(rng), WARC_Record_ID=f"<urn:uuid:q{n}>",
            WARC_Concurrent_To=rng.choice([rid, f"{rid} <urn:uuid:z{n}>", "", f" {rid}\x85 "]),
        )  # fmt: skip
    elif roll < 0.85:
        data = warc_record("warcinfo", b"software: test\r\n", WARC_Record_ID=f"<urn:uuid:i{n}>")
    elif roll < 0.88:
        data = warc_record("metadata", b"x: y", WARC_Record_ID=rid)
    elif roll < 0.92:  # two records in one member
        data = warc_record("response", response_block(rng), WARC_Record_ID=rid) + warc_record(
            "request", request_block(rng), WARC_Record_ID=f"<urn:uuid:q{n}>"
        )
    elif roll < 0.94:
        data = warc_record("response", response_block(rng), WARC_Record_ID=rid) + b"garbage"
    elif roll < 0.96:
        data = b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: -5\r\n\r\nabc"
    elif roll < 0.98:
        data = b"not a warc record"
    else:
        data = b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nshort"
    return gzip.compress(data, compresslevel=rng.choice([1, 6]), mtime=0)


def archive(rng: random.Random, members: int) -> bytes:
    info_id = "<urn:uuid:info>"
    out = [gzip.compress(warc_record("warcinfo", b"software: test\r\n", WARC_Record_ID=info_id), mtime=0)]
    out += [member_bytes(rng, n, info_id) for n in range(members)]
    data = bytearray(b"".join(out))
    for _ in range(rng.choice([0, 0, 1, 3])):  # damage: a flipped bit somewhere
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    if rng.random() < 0.2:
        del data[rng.randrange(len(data)) :]  # a torn tail
    return bytes(data)


def index_of(path: Path, piece: tuple[int, int | None], left: int) -> tuple:
    rebuild._kept.left = left
    index = rebuild.index_piece((str(path), piece[0], piece[1], ()))
    return (
        [entry.__reduce__()[1] for entry in index.responses],
        index.requests,
        index.infos,
        index.damaged,
        index.records,
        rebuild._kept.left,
    )


def test_the_compiled_index_loop_indexes_a_piece_as_the_python_path(tmp_path, monkeypatch):
    """120 generated archives (every record kind, plain and unusual responses and requests, members
    with two records, garbage, bad lengths, flipped bits, torn tails), whole and in two pieces, with
    a budget that keeps every body, some or none: the compiled loop's index is the reference's
    (entries with their kept bodies, requests, warcinfo, damage, record count, budget left)."""
    rng = random.Random(15)
    compiled_run = rebuild._index_run
    slow_calls: list[int] = []
    real_slow = rebuild._index_one

    def counted_slow(*args):
        slow_calls.append(1)
        return real_slow(*args)

    answered = slow = 0
    for n in range(120):
        data = archive(rng, rng.choice([3, 20, 60]))
        path = tmp_path / f"a{n}.warc.gz"
        path.write_bytes(data)
        cut = rebuild.record_starts(path.open("rb"), [len(data) // 2])
        pieces = [(0, None)] + ([(0, cut[0]), (cut[0], None)] if cut else [])
        for piece in pieces:
            for left in (1 << 30, rng.randrange(20_000), 0):
                monkeypatch.setattr(rebuild, "_index_one", counted_slow)
                monkeypatch.setattr(rebuild, "_index_run", compiled_run)
                before = len(slow_calls)
                ours = index_of(path, piece, left)
                slow += len(slow_calls) - before
                answered += ours[4] - (len(slow_calls) - before)
                monkeypatch.setattr(rebuild, "_index_run", None)
                reference = index_of(path, piece, left)
                assert ours == reference, (n, piece, left)
    assert answered > 5000 and slow > 1000  # records indexed by the compiled loop itself, and by the reference


def test_the_compiled_loop_is_not_used_without_the_compiled_inflater(tmp_path, monkeypatch):
    """With ``read._compiled_inflate`` off (as the inflate tests turn it off), the reference reads all."""
    path = tmp_path / "a.warc.gz"
    path.write_bytes(archive(random.Random(2), 10))
    calls: list[int] = []
    monkeypatch.setattr(rebuild, "_index_run", lambda *args: calls.append(1))
    monkeypatch.setattr(read, "_compiled_inflate", None)
    rebuild.index_piece((str(path), 0, None, ()))
    assert calls == []


def test_the_compiled_utf8_head_is_the_python_one():
    """``_cwalk.utf8_head`` gives ``_utf8_head``'s bytes or None on 6,000 generated bodies (1- to
    4-byte characters, bad and cut sequences, surrogates, overlongs) with the real limits and with
    small ones that put every edge (the character limit, each probe's end, the body's end) inside
    multi-byte characters."""
    rng = random.Random(4096)
    pieces = [b"a", b"<", "é".encode(), "新".encode(), "😀".encode(), b"\x80", b"\xc0\xaf", b"\xed\xa0\x80",
              b"\xf4\x90\x80\x80", b"\xe0\x80", b"\xf0\x8f", b"\xff", b"\xc2", b"\xe4\xb8", b"\xf0\x9f\x98",
              b"\xed\xa0", b"\xed\x9f"]  # fmt: skip
    real = (rebuild.HEAD_CHARS, (rebuild.HEAD_PROBE_BYTES, rebuild.UTF8_HEAD_BYTES))
    limits = (real, (100, (150, 404)), (7, (9, 32)))
    differ = 0
    for _ in range(2000):
        weights = [rng.random() ** 3 for _ in pieces]
        for i in range(5, len(pieces)):
            weights[i] *= rng.choice([0, 0, 0.001, 0.02])
        body = b"".join(rng.choices(pieces, weights, k=rng.choice([3, 3000, 4090, 4100, 6200])))
        start = rng.choice([0, 1, 3])
        end = max(start, len(body) - rng.choice([0, 0, 1, 2, 5]))
        for chars, sizes in limits:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(rebuild, "HEAD_CHARS", chars)
                patch.setattr(rebuild, "HEAD_PROBE_BYTES", sizes[0])
                patch.setattr(rebuild, "UTF8_HEAD_BYTES", sizes[1])
                reference = rebuild._utf8_head(body, start, end)
            ours = COMPILED.utf8_head(body, start, end, chars, sizes)
            assert ours == reference, (chars, start, end, body[:64])
            off_by_one = COMPILED.utf8_head(body, start, end, chars + 1, sizes)
            differ += off_by_one != reference
    assert differ > 100  # a limit one character off is caught


def test_the_compiled_utf8_check_ends_where_cpythons_decoder_does():
    """Every ending of up to three bytes (of 40 telling values) after ASCII, final or not: valid with
    the same bytes left over (a cut sequence, a cut surrogate) or invalid as ``utf_8_decode`` says."""
    values = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC,
              0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF, 0x8E, 0x9E, 0xA5, 0xB7, 0xC5, 0xD0, 0xE5,
              0xF2, 0x20, 0x3C, 0xAF, 0x81, 0x91, 0xA1, 0xBE]  # fmt: skip
    endings = [bytes([a]) for a in values] + [bytes([a, b]) for a in values for b in values]
    endings += [bytes([a, b, c]) for a in values if a >= 0xE0 for b in values if b >= 0x80 for c in values]
    for ending in endings:
        body = b"ab" + ending
        for final in (True, False):
            try:
                codecs.utf_8_decode(body, "strict", final)
                valid = True
            except UnicodeDecodeError:
                valid = False
            if final:  # the probe is the whole body: all of it, or None
                ours = COMPILED.utf8_head(body, 0, len(body), 99, (64,))
                assert ours == (body if valid else None), (ending, final)
            else:  # the probe ends inside a longer body: its first character, or None
                ours = COMPILED.utf8_head(body + b"zz", 0, len(body) + 2, 1, (len(body),))
                assert ours == (b"a" if valid else None), (ending, final)


def test_the_compiled_refresh_scan_says_none_only_where_w3lib_finds_none():
    """``_cwalk.no_meta_refresh`` follows w3lib's first scan (comments, ignored tags, meta tags): on
    30,000 generated snippets (comments closed or not, ``<!-->``, metas with quoted and unquoted
    values, unclosed quotes, scripts, case variants, several ignored-tag lists) it never says
    "none" where ``get_meta_refresh`` finds a refresh, and says it for most of the pages w3lib
    finds none in; the IE 8 comment of Tencent's pages is one."""
    from w3lib import html

    rng = random.Random(7)
    bits = [b"<", b">", b"=", b'"', b"'", b" ", b"\t", b"\n", b"-", b"--", b"-->", b"<!--", b"<!-->", b"<!---->",
            b"<meta ", b"<META\t", b"<meta", b"<metax", b"refresh", b"REFRESH", b"Refresh", b"refres",
            b"http-equiv=", b'content="0;url=/x"', b"content='1; url=http://a/b'", b"url=/y", b"<script>",
            b"</script>", b"<SCRIPT ", b"<noscript>", b"</noscript >", b"<scripts", b"a", "新".encode(), b"/",
            b"<p>", b"</", b"<!-", b"0", b";"]  # fmt: skip
    tag_lists = [("script", "noscript"), (), ("style",), ("Script",)]
    said = found_none = 0
    for _ in range(30_000):
        weights = [rng.random() ** 2 for _ in bits]
        text = b"".join(rng.choices(bits, weights, k=rng.choice([1, 3, 8, 20, 60])))
        tags = rng.choice(tag_lists)
        ours = COMPILED.no_meta_refresh(text, rebuild._ignored(tags))
        reference = html.get_meta_refresh(text, "http://127.0.0.1:1/", "utf-8", ignore_tags=list(tags))
        if ours:
            assert reference == (None, None), (tags, text)
        found_none += reference == (None, None)
        said += ours
    assert said > 0.8 * found_none > 10_000
    ie8 = b'<head><meta charset="utf-8"><!--[if lte IE 8]><meta http-equiv="refresh" content="0;url=/x"><![endif]-->'
    assert COMPILED.no_meta_refresh(ie8 + b"<script>var a;</script>", (b"noscript", b"script"))
    assert not COMPILED.no_meta_refresh(ie8.replace(b"<!--", b"<!-- -->"), (b"noscript", b"script"))
    assert COMPILED.no_meta_refresh(ie8.replace(b"-->", b"->"), (b"noscript", b"script"))  # open to the end
    assert not COMPILED.no_meta_refresh(ie8.replace(b"IE 8]>", b"IE 8]-->"), (b"noscript", b"script"))


def test_a_page_that_says_refresh_only_in_a_comment_skips_w3lib(monkeypatch):
    """``meta_refresh`` on such a page: None without w3lib's scan; a real refresh still goes to w3lib."""
    calls: list[int] = []
    real = rebuild.html.get_meta_refresh
    monkeypatch.setattr(rebuild.html, "get_meta_refresh", lambda *a, **k: calls.append(1) or real(*a, **k))
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: " + HTML_UTF8]
    body = b'<html><head><!--[if lte IE 8]><meta http-equiv="refresh" content="0;url=/x"><![endif]--></head>'
    assert rebuild.meta_refresh("http://127.0.0.1:1/a", lines, body, ("noscript", "script")) is None
    assert calls == []
    moved = body.replace(b"<!--", b"").replace(b"-->", b"")
    assert rebuild.meta_refresh("http://127.0.0.1:1/a", lines, moved, ("noscript", "script")) == (
        0.0,
        "http://127.0.0.1:1/x",
    )
    assert calls


@pytest.mark.parametrize(
    "unit",
    ['<meta a="', "<meta a='x' b=", "<!--", "<", "<meta\trefres", "<!-- -->refres"],
    ids=["unclosed quotes", "unquoted values", "unclosed comments", "angles", "near words", "closed comments"],
)
def test_the_compiled_refresh_scan_runs_in_linear_time(unit):
    """Issue 10's rule for scans of page text, on ``no_meta_refresh`` (a "refresh" only at the end)."""
    from tests.test_linear_time import MAX_RATIO, ratio, times

    def scan(text: str) -> bool:
        return COMPILED.no_meta_refresh(text.encode(), (b"noscript", b"script"))

    assert ratio(scan, lambda n: times(unit, n) + " refresh") < MAX_RATIO
