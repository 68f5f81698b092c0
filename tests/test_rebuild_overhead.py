"""The per-article work rebuild cut (issue 15): what it keeps is checked here.

- temp file names: the pid and a random part read once per process (again after a fork), a
  counter per file; the name still carries the live pid the stale-file sweep checks;
- the writer's sha256: skipped only where nothing reads it (a rebuild whose writer is last).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

from scrapy.settings import Settings

from newscrawl.archive import rebuild
from newscrawl.archive.rebuild import Converter, Task
from newscrawl.convert.article import Article
from newscrawl.crawl.writer import _TMP_OWNER, WriterPipeline, remove_stale_temp_files
from newscrawl.osutil import HOST_AND_NAMESPACE, write_atomic
from newscrawl.settings import ITEM_PIPELINES
from tests.test_writer_folder import _temp_names as spied_temp_names


def _temp_names(monkeypatch, write) -> list[str]:
    """The temp names ``write()`` opens (the writer's tests' spy on ``os.open``)."""
    names = spied_temp_names(monkeypatch)
    write()
    return names


def test_temp_names_differ_and_carry_this_process(tmp_path, monkeypatch):
    def write() -> None:
        for i in range(3):
            write_atomic(str(tmp_path / "a.md"), b"%d" % i)

    names = _temp_names(monkeypatch, write)
    assert len(set(names)) == 3
    for name in names:
        match = _TMP_OWNER.search(name)
        assert match and match.group(1) == HOST_AND_NAMESPACE and int(match.group(2)) == os.getpid()
    assert (tmp_path / "a.md").read_bytes() == b"2" and [p.name for p in tmp_path.iterdir()] == ["a.md"]


def test_a_forked_child_names_its_temp_files_with_its_own_pid(tmp_path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its temp name's pid and random part
        try:
            names: list[str] = []
            real = os.open
            os.open = lambda path, flags, mode=0o777: names.append(os.path.basename(path)) or real(path, flags, mode)
            write_atomic(str(tmp_path / "child.md"), b"x")
            os.write(write, names[0].encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child_name = os.read(read, 4096).decode()
    os.close(read)
    match = _TMP_OWNER.search(child_name)
    assert match and int(match.group(2)) == pid != os.getpid()  # not the parent's pid, read before the fork


def test_a_dead_writers_leftover_is_still_swept(tmp_path):
    """The sweep reads the pid from the name: a name of a pid that is gone is removed."""
    leftover = tmp_path / f".a.md.{HOST_AND_NAMESPACE}@999999999.0a1b2c3d1.tmp"
    leftover.write_bytes(b"half")
    live = tmp_path / f".b.md.{HOST_AND_NAMESPACE}@{os.getpid()}.0a1b2c3d2.tmp"
    live.write_bytes(b"writing")
    assert remove_stale_temp_files(tmp_path) == 1
    assert not leftover.exists() and live.exists()


def _article() -> Article:
    return Article(id="a1", url="u", lang="zh-CN", source="qq", markdown="---\ntitle: x\n---\n")


def test_the_writer_hashes_the_file_by_default(tmp_path):
    writer = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{id}.md"}))
    article = writer.process_article(_article())
    assert len(article.sha256) == 64


def test_a_rebuild_skips_the_hash_only_when_its_writer_is_the_last_step(tmp_path):
    base = {"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{id}.md"}
    converter = Converter(Settings({**base, "ITEM_PIPELINES": ITEM_PIPELINES}), "qq")
    assert isinstance(converter.pipelines[-1], WriterPipeline) and converter.pipelines[-1].digest is False
    later = {**ITEM_PIPELINES, "newscrawl.crawl.pipelines.SummaryPipeline": 950}  # a step after the writer
    converter = Converter(Settings({**base, "ITEM_PIPELINES": later}), "qq")
    writers = [p for p in converter.pipelines if isinstance(p, WriterPipeline)]
    assert writers and writers[0] is not converter.pipelines[-1] and writers[0].digest is True


def test_entries_and_tasks_cross_to_the_workers_whole():
    """Entries pickle as plain tuples (every field, in order); tasks go as ``Task.packed`` and read the
    same response in a worker as in the main process."""
    sample = str(Path(__file__).resolve().parent.parent / "samples" / "qq-sample.warc.gz")
    entries = rebuild.index_file(sample).responses
    entries[0].refresh, entries[0].data, entries[0].body = (0.0, "https://x/"), b"member", b"post"
    for entry in entries:
        assert dataclasses.astuple(pickle.loads(pickle.dumps(entry))) == dataclasses.astuple(entry)
    entries[0].data = None
    for entry in entries:
        task = Task(entry, entry.uri + "?x", "ID1", True, {"title": "题"})
        worker = Task.unpacked(pickle.loads(pickle.dumps(task.packed())))
        assert (worker.url, worker.article_id, worker.redirected, worker.feed) == (
            "" + entry.uri + "?x",
            "ID1",
            True,
            {"title": "题"},
        )
        assert rebuild.read_response(worker.entry) == rebuild.read_response(entry)


def test_planned_article_requests_are_the_spiders_own():
    """The plan's article requests skip ``safe_url_string`` only where it changes nothing: the same
    fields as the spider's own requests for ids of every kind, and redirects escaped as Request does."""
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from newscrawl.archive.rebuild import _planned_article_request, _PlannedRequest
    from newscrawl.sites.qq.spider import QQSpider

    def fields(request):
        return (request.url, request.method, request.body, request.meta, request.callback, request.errback,
                request.priority, request.dont_filter, request.encoding)  # fmt: skip

    for template in (
        "https://new.qq.com/rain/a/{id}",
        "https://h.example/a b/{id}?x=1&id=",
        "https://h.example/p/{id}",
    ):
        crawler = get_crawler(QQSpider, {"QQ_ARTICLE_URL": template})
        spider = QQSpider.from_crawler(crawler, ids="20250208A07Y6400")
        planned = _planned_article_request(spider)
        assert planned is not None
        for article_id in ("20250208A07Y6400", "TWF2025", "a_b-c", "新闻", "a b", "a%20b", "..", "x/y", ""):
            mine, theirs = planned(article_id, {"t": "1"}), spider.article_request(article_id, {"t": "1"})
            assert isinstance(mine, Request) and fields(mine) == fields(theirs), (template, article_id)
            for target in ("https://new.qq.com/rain/a/ID 2", "https://新.example/a/ID", "https://h.example/%7Eb/ID"):
                assert mine.replace(url=target).url == theirs.replace(url=target).url == Request(target).url
    assert _PlannedRequest._safe_prefixes.get("https://new.qq.com/rain/a") is True  # the fast path ran
    assert _PlannedRequest("https://h.example/x/ID", meta={"verbatim_url": True}).url == "https://h.example/x/ID"
    # Not in Scrapy's live-object registry (the telnet console's; no engine in a rebuild), and its
    # replace() still makes one of its own class.
    from scrapy.utils.trackref import live_refs

    tracked = _PlannedRequest("https://h.example/x/ID2")
    assert _PlannedRequest not in live_refs or tracked not in live_refs[_PlannedRequest]
    assert type(tracked.replace(url="https://h.example/y/ID3")) is _PlannedRequest


def test_a_spider_whose_requests_differ_keeps_its_own():
    from scrapy.utils.test import get_crawler

    from newscrawl.archive.rebuild import _planned_article_request
    from newscrawl.sites.qq.spider import QQSpider

    class Other(QQSpider):
        def article_request(self, article_id, feed=None):
            request = super().article_request(article_id, feed)
            return request.replace(priority=5)

    spider = Other.from_crawler(get_crawler(Other, {}), ids="20250208A07Y6400")
    assert _planned_article_request(spider) is None


def test_the_compiled_warc_head_reads_every_field_as_the_python_one():
    """``_cwalk.warc_head`` (the index's header fields, in one pass) gives for every name asked what
    ``_Head.get`` (a lookup of ``CRLF name:`` in the lowercased header) gives: case, repeats (the
    first wins), spaces and tabs, colons in values, lines without one, lone CR or LF, no value."""
    import random

    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is None:
        import pytest

        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    assert rebuild.warc_head is COMPILED.warc_head
    rng = random.Random(15)
    names = [b"WARC-Type", b"warc-record-id", b"Content-Length", b"WARC-Target-URI", b"X", b"", b"a b", b"k\r"]
    values = [b"response", b" <urn:uuid:1> ", b"\t12\t", b"a:b", b"", b" ", b"x\ry", b"x\ny", b"\xff\xfe"]
    for _ in range(3000):
        lines = [b"WARC/1.1"] if rng.random() < 0.95 else [b"WARC/1.1: odd"]
        for _ in range(rng.randrange(12)):
            name = bytes(c ^ 0x20 if 97 <= c | 0x20 <= 122 and rng.random() < 0.3 else c for c in rng.choice(names))
            sep = rng.choice((b":", b":", b": ", b" :", b""))
            lines.append(name + sep + rng.choice(values))
        head = b"\r\n".join(lines) + rng.choice((b"", b"", b"\r", b"\n", b"\r\n"))
        before, after = rng.randbytes(rng.randrange(3)), rng.randbytes(rng.randrange(3))
        data = before + head + after
        asked = (*rebuild.WARC_FIELDS, *{n.lower() for n in names})
        fields = COMPILED.warc_head(data, len(before), len(before) + len(head), asked)
        reference = rebuild._Head(head)
        assert set(fields) <= set(asked)
        for name in asked:
            assert fields.get(name, b"") == reference.get(name), (head, name)


def test_a_request_records_method_and_body_are_read_as_from_its_header_lines():
    """The index reads a request record's method and body without splitting its header lines: the
    same (method, body) as the request line's first word (``_http_lines``) and the bytes after the
    first blank line, for blocks with and without a blank line, lone CR or LF, no space, no head."""
    import random

    rng = random.Random(1505)
    pieces = [b"GET", b"post", b" ", b"/a b", b"HTTP/1.1", b"\r\n", b"\r\n\r\n", b"\r", b"\n", b"Host: x", b"{}", b""]
    for _ in range(3000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randrange(9)))
        before, after = rng.randbytes(rng.randrange(3)), rng.randbytes(rng.randrange(3))
        data = before + block + after
        span = (len(before), len(before) + len(block))
        index = rebuild.FileIndex("x.warc.gz")
        headers = {b"warc-type": b"request", b"warc-record-id": b"<r1>", b"warc-concurrent-to": b"<a> <b>"}
        rebuild._index_record(index, 0, 9, headers, data, span)
        lines, body_at = rebuild._http_lines(data, *span)
        expected = (lines[0].split(b" ", 1)[0].decode("latin-1").upper(), data[body_at : span[1]])
        assert index.requests == {"<r1>": expected, "<a>": expected, "<b>": expected}, block


def test_the_compiled_http_head_reads_a_response_as_its_header_lines_do():
    """``_cwalk.http_head`` (status, body offset and the four header fields the index reads, in one
    pass) gives what ``python_http_head`` (the header lines split and read one by one) gives, or
    leaves the status to it (None) where it is not plain digits: case, repeats, spaces and tabs
    around names and values, lines without a colon, lone CR or LF, no blank line, odd status lines."""
    import random

    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is None:
        import pytest

        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    assert rebuild.http_head is COMPILED.http_head
    rng = random.Random(1506)
    statuses = [b"HTTP/1.1 200 OK", b"HTTP/1.1 301", b"HTTP/1.1 0404 x", b"HTTP/1.1  200", b"HTTP/1.1",
                b"HTTP/1.1 ", b"HTTP/1.1 +200 OK", b"HTTP/1.1 2_00", b"HTTP/1.1 1234567890 big", b"HTTP/1.1 20\r0",
                b" 200 x", b""]  # fmt: skip
    names = [b"Content-Type", b"content-TYPE", b"Location", b"Content-Encoding", b"Transfer-Encoding", b"X-A",
             b" Location ", b"\tcontent-type", b"Content-Type\x0b", b"Locations", b""]  # fmt: skip
    values = [b"text/html; charset=utf-8", b" /a b ", b"\tgzip\t", b"a:b", b"", b" ", b"x\ry", b"x\ny", b"\xff"]
    fast = 0
    for _ in range(4000):
        lines = [rng.choice(statuses)]
        for _ in range(rng.randrange(8)):
            sep = rng.choice((b":", b":", b": ", b" :", b""))
            lines.append(rng.choice(names) + sep + rng.choice(values))
        head = b"\r\n".join(lines) + rng.choice((b"\r\n\r\n<html>", b"\r\n\r\n", b"", b"\r\n", b"\r", b"\n\r\n"))
        before, after = rng.randbytes(rng.randrange(3)), rng.randbytes(rng.randrange(3))
        data = before + head + after
        span = (len(before), len(before) + len(head))
        compiled, reference = COMPILED.http_head(data, *span), rebuild.python_http_head(data, *span)
        if compiled is not None:
            fast += 1
            assert compiled == reference, head
    assert fast > 1000  # the plain status lines took the compiled path


def test_the_compiled_record_loop_reads_a_member_as_the_python_one():
    """``_cwalk.warc_records`` (a member's records, each with its header fields and block) gives what
    ``python_records`` gives, or raises the same ValueError: several records, CRLFs between them,
    trailing whitespace or garbage, Content-Lengths too long, negative, huge, spaced or not numbers."""
    import random

    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is None:
        import pytest

        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    assert rebuild._records is rebuild._compiled_records
    rng = random.Random(1507)
    lengths = [b"0", b" 5 ", b"+3", b"1_0", b"-2", b"x", b"", b"99999999999999999999999", b"9"]

    def outcome(read, data):
        try:
            return read(data)
        except ValueError as exc:
            return ("ValueError", str(exc))

    for _ in range(3000):
        data = b""
        for _ in range(rng.randrange(4)):
            block = rng.randbytes(rng.randrange(12))
            length = rng.choice([str(len(block)).encode()] * 6 + lengths)
            head = rng.choice((b"WARC/1.1", b"WARC/1.0", b"WARX/1.1", b" WARC/1.1"))
            head += b"\r\nWARC-Type: response" + rng.choice((b"\r\nContent-Length: " + length, b""))
            data += head + rng.choice((b"\r\n\r\n", b"\r\n\r\n", b"\r\n")) + block
            data += rng.choice((b"", b"\r\n", b"\r\n\r\n", b"\r"))
        data += rng.choice((b"", b"", b" \t\r\n", b"x", b"\x0b"))
        assert outcome(rebuild._records, data) == outcome(rebuild.python_records, data), data


def test_the_compiled_file_encoder_gives_str_encodes_bytes_or_its_error():
    """``_cwalk.file_utf8`` (the writer's UTF-8 of the file text) gives ``str.encode("utf-8")``'s bytes,
    or raises its UnicodeEncodeError, on generated text: runs of ASCII, CJK and two-byte characters
    of every length around the eight-character steps, NUL, U+07FF/U+0800/U+FFFF edges, lone
    surrogates anywhere, one-byte, two-byte and four-byte strings."""
    import random

    import pytest

    from newscrawl.convert.htmlblocks import COMPILED
    from newscrawl.crawl import writer

    if COMPILED is None:
        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    assert writer.utf8 is COMPILED.file_utf8
    rng = random.Random(1508)
    kinds = [
        [0x41, 0x0A, 0x20, 0x7F, 0x00, 0x23],  # ASCII, NUL included
        [0x4E2D, 0x6587, 0x3002, 0xFF0C, 0x0800, 0xD7FF, 0xE000, 0xFFFF, 0xFEFF],  # three bytes
        [0x80, 0xE9, 0x7FF, 0x3A9],  # two bytes
        [0xD800, 0xDBFF, 0xDC00, 0xDFFF],  # lone surrogates
        [0x10000, 0x1F600, 0x10FFFF],  # four bytes
    ]
    weights = [40, 40, 8, 1, 2]

    def outcome(encode, text):
        try:
            return encode(text)
        except UnicodeEncodeError as exc:
            return ("UnicodeEncodeError", exc.start, exc.end, exc.reason)

    errors = 0
    for _ in range(6000):
        parts = []
        for _ in range(rng.randrange(8)):
            kind = rng.choices(kinds, weights)[0]
            parts.extend(chr(rng.choice(kind)) for _ in range(rng.choice((1, 2, 7, 8, 9, 15, 16, 17, 24, 40))))
        text = "".join(parts)
        expected = outcome(str.encode, text)
        errors += isinstance(expected, tuple)
        assert outcome(writer.utf8, text) == expected, text
    assert errors > 100  # the surrogates were met, not only clean text
    page = (Path(__file__).parent / "fixtures/sites/qq/20250208A07Y6400/expected.md").read_text("utf-8")
    assert writer.utf8(page) == page.encode("utf-8") and writer.python_utf8(page) == page.encode("utf-8")
