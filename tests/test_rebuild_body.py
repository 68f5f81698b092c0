"""Rebuild reads each article's body as the index found it (issue 15, third round).

The index notes where a response's body starts and its Content-Type when the spider gets the
body as stored (no Content-Encoding, not chunked); ``response_body`` then slices it without
reading the header lines again, and ``-j 1`` keeps that body (not the whole member) from the
index pass. Whatever the headers, the result must be ``decoded_body(*read_response(entry))``.
"""

from __future__ import annotations

import gc
import gzip
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

from newscrawl.archive import rebuild
from newscrawl.archive.rebuild import Task

PAGE = "<html><head><title>标题</title></head><body><p>正文 text</p></body></html>".encode()
RESPONSES = {
    "plain": [b"HTTP/1.1 200 OK", b"Content-Type: text/html; charset=utf-8"],
    "no type": [b"HTTP/1.1 200 OK"],
    "two types": [b"HTTP/1.1 200 OK", b"Content-Type: text/plain", b"content-type: text/html; charset=gbk"],
    "gzip": [b"HTTP/1.1 200 OK", b"Content-Type: text/html", b"Content-Encoding: gzip"],
    "chunked": [b"HTTP/1.1 200 OK", b"Content-Type: text/html", b"Transfer-Encoding: chunked"],
    "identity": [b"HTTP/1.1 200 OK", b"Content-Type: text/html", b"Transfer-Encoding: identity"],
    "spaced": [b"HTTP/1.1 200 OK", b"  CONTENT-TYPE :  text/html  "],
}


def _body(name: str) -> bytes:
    if name == "gzip":
        return gzip.compress(PAGE)
    if name == "chunked":
        return b"%x\r\n%s\r\n0\r\n\r\n" % (len(PAGE), PAGE)
    return PAGE


def _record(name: str) -> bytes:
    block = b"\r\n".join(RESPONSES[name]) + b"\r\n\r\n" + _body(name)
    head = (
        f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
        f"WARC-Target-URI: https://example.com/{name.replace(' ', '-')}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n"
    ).encode()
    return gzip.compress(head + block + b"\r\n\r\n")


@pytest.fixture
def archive(tmp_path: Path) -> str:
    path = tmp_path / "bodies.warc.gz"
    path.write_bytes(b"".join(_record(name) for name in RESPONSES))
    return str(path)


def test_each_body_is_what_decoded_body_gives(archive, monkeypatch):
    """Sliced where the body is as stored (kept from the index pass or read again from the file),
    decoded otherwise; the same bytes and Content-Type either way, also in a worker (packed task)."""
    plain = rebuild.index_file(archive)
    monkeypatch.setattr(rebuild._kept, "left", 1 << 20)
    kept = rebuild.index_file(archive)
    assert len(plain.responses) == len(RESPONSES)
    sliced = {e.uri.rsplit("/", 1)[1] for e in plain.responses if e.body_at >= 0}
    assert sliced == {"plain", "no-type", "two-types", "identity", "spaced"}
    for entry, held in zip(plain.responses, kept.responses, strict=True):
        expected = rebuild.decoded_body(*rebuild.read_response(entry))
        assert expected[0] == PAGE
        assert (held.kept is not None) == (entry.body_at >= 0) and (held.data is not None) == (entry.body_at < 0)
        worker = Task.unpacked(pickle.loads(pickle.dumps(Task(entry, entry.uri, "ID1", False, {}).packed())))
        assert rebuild.response_body(entry) == expected
        assert rebuild.response_body(worker.entry) == expected
        assert rebuild.response_body(held) == expected
        assert held.kept is None and held.data is None  # freed once read
        assert rebuild.response_body(held) == expected  # then read from the file


def test_the_utf8_check_reads_the_same_header_fields():
    """``_utf8_html`` on the index's fields decides as it does on the header lines alone."""
    for lines in RESPONSES.values():
        for first in (b"<htm", b"\xef\xbb\xbf<"):
            fields = rebuild._head_fields(lines)
            assert rebuild._utf8_html(lines, first, fields) == rebuild._utf8_html(lines, first)
    assert rebuild._utf8_html(RESPONSES["plain"], b"<htm")
    assert not rebuild._utf8_html(RESPONSES["two types"], b"<htm")
    assert not rebuild._utf8_html(RESPONSES["identity"], b"<htm")


def _converted(tmp_path: Path, folder: str, tasks: list[Task], batch: int, monkeypatch) -> tuple[Any, ...]:
    from scrapy.settings import Settings

    from newscrawl.archive.rebuild import Converter
    from newscrawl.settings import ITEM_PIPELINES

    monkeypatch.setattr(rebuild, "WRITE_BATCH", batch)
    out = tmp_path / folder
    (out / f"{tasks[2].article_id}.md").mkdir(parents=True)  # a folder where a file goes: a write error
    settings = Settings({"OUTPUT_DIR": str(out), "OUTPUT_PATH_TEMPLATE": "{id}.md"})
    settings.set("ITEM_PIPELINES", ITEM_PIPELINES)
    converter = Converter(settings, "qq")
    marks = converter.convert_all(tasks)
    files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return marks, dict(converter.counts.values), files


def test_batched_writes_give_what_one_article_at_a_time_gives(tmp_path, monkeypatch):
    """A chunk is converted, then written back to back (WRITE_BATCH at a time): per task the same
    marks, in task order, the same counts and files as writing each article right after its
    conversion, whether the article fails before the writer or in it."""
    sample = str(Path(__file__).resolve().parent.parent / "samples" / "qq-sample.warc.gz")
    entries = [e for e in rebuild.index_file(sample).responses if "/rain/a/" in e.uri]
    tasks = [Task(e, e.uri, e.uri.rsplit("/", 1)[1], False, {}) for e in entries]
    # Again (the file is there: unchanged), a page that is not an article and one that is not the
    # id asked for (skipped before the writer: marked gone).
    feed = rebuild.index_file(sample).responses[1]
    tasks += [
        tasks[0],
        Task(feed, feed.uri, "20250204A0000000", False, {}),
        Task(entries[1], entries[1].uri, "../x", False, {}),
    ]
    threshold = gc.get_threshold()
    one = _converted(tmp_path, "one", tasks, 1, monkeypatch)
    for batch in (2, 64):
        assert _converted(tmp_path, f"b{batch}", tasks, batch, monkeypatch) == one
    assert gc.get_threshold() == threshold  # room made for a batch's held articles, then given back
    marks, counts, files = one
    assert len(files) == len(entries) - 1 and counts["newscrawl/articles/unchanged"] == 1
    assert counts["newscrawl/failed/write_error/EISDIR"] == 1 and counts["item_dropped_count"] == 1
    assert marks[-2:] == [("20250204A0000000", "unrecognized"), ("../x", "wrong_id")]
    assert marks.count(None) == len(marks) - 2
