"""``newscrawl rebuild``: byte for byte what replay writes, on a multi-run archive with faults."""

from __future__ import annotations

import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from newscrawl.archive.read import Member, iter_members
from tests.crawlrun import REPO, folder_files, run_crawl, written_ids
from tests.mockserver import MockQQServer
from tests.test_warc import gone_ids, run_replay

SUMMARY = re.compile(r"newscrawl summary: .*")


def run_rebuild(output: Path, warc: Path, work: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "newscrawl.archive.rebuild", str(warc),
        "--output", str(output),
        "-s", f"STATE_FILE={work / (output.name + '-gone.jsonl')}",
        *args,
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def summary(stderr: str) -> str:
    lines = SUMMARY.findall(stderr)
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def damage_one_article(warc: Path) -> str:
    """Flip a byte inside the deflate data of one archived article response; returns its URI."""
    for path in sorted(warc.iterdir()):
        with path.open("rb") as handle:
            members = [m for m in iter_members(handle) if isinstance(m, Member)]
        for member in members[len(members) // 2 :]:
            head = member.data[:2000]
            if b"WARC-Type: response" in head and b"/rain/a/" in head and b" 200 OK" in member.data[:4000]:
                data = bytearray(path.read_bytes())
                data[(member.start + member.end) // 2] ^= 0xFF
                path.write_bytes(bytes(data))
                return re.search(rb"WARC-Target-URI: (\S+)", head).group(1).decode()
    raise AssertionError("no article response to damage")


def damage_lines(log: str) -> list[str]:
    """The "Damaged WARC record in …" lines of a log, without their timestamp and logger."""
    mark = "Damaged WARC record in"
    return [line[line.index(mark) :] for line in log.splitlines() if mark in line]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Three cron-like runs into one WARC_DIR (a flaky article, 503s and cut answers, the deleted
    article's 302, new articles, an ``-a ids`` run), then one record damaged."""
    root = tmp_path_factory.mktemp("rebuild")
    out, warc = root / "capture-out", root / "warc"
    with MockQQServer(
        articles=10,
        hot_count=3,
        channels=("news_news_top", "other"),
        specials=True,
        fault_rate=0.3,
        fault_max_attempts=1,
        fault_kinds=("503", "truncate"),
    ) as mock:
        flaky = mock.ids()[0]
        mock.fail_always([flaky], "503")
        settings = ("-s", f"WARC_DIR={warc}", "-s", "WARC_MAX_SIZE=40000")
        first = run_crawl(out, mock.url, *settings)
        mock.fail_always([flaky], None)
        mock.add_articles(5)
        second = run_crawl(out, mock.url, *settings)
        unlisted = sorted(set(mock.ids("writable")) - written_ids(out))[0]
        third = run_crawl(out, mock.url, *settings, "-a", f"ids={unlisted}")
        assert first.returncode == second.returncode == third.returncode == 0, third.stderr[-3000:]
        assert mock.counters()["faults"]
    assert len(list(warc.iterdir())) > 3  # several runs, several files each
    damaged = damage_one_article(warc)
    replay = run_replay(root / "replay", warc, root)
    return {"root": root, "warc": warc, "replay": replay, "damaged": damaged}


@pytest.mark.e2e
def test_rebuild_writes_what_replay_writes_with_the_same_summary_and_status(archive, tmp_path):
    replay = archive["replay"]
    assert replay.returncode == 7, replay.stderr[-3000:]  # the damaged record
    assert replay.stat("newscrawl/replay/swept_feeds") and replay.stat("newscrawl/replay/swept_articles")
    assert replay.failed().get("http_503") and replay.stat("newscrawl/skipped/deleted")
    expected = folder_files(archive["root"] / "replay")
    assert len(expected) > 10
    one = run_rebuild(tmp_path / "one", archive["warc"], tmp_path, "--jobs", "1")
    two = run_rebuild(tmp_path / "two", archive["warc"], tmp_path, "--jobs", "2")
    for rebuilt, folder in ((one, tmp_path / "one"), (two, tmp_path / "two")):
        assert rebuilt.returncode == 7, rebuilt.stderr[-3000:]
        assert folder_files(folder) == expected
        assert summary(rebuilt.stderr) == summary(replay.stderr)
        # Rebuild names the damaged record exactly as replay does (same file, offsets, reason, URI).
        assert damage_lines(rebuilt.stderr) == damage_lines(replay.stderr) != [], rebuilt.stderr[-3000:]
    assert gone_ids(tmp_path / "one-gone.jsonl") == gone_ids(archive["root"] / "replay-gone.jsonl") != set()


@pytest.mark.e2e
def test_rebuild_bad_archive_exits_2(tmp_path):
    missing = run_rebuild(tmp_path / "out", tmp_path / "nothing-here", tmp_path)
    assert missing.returncode == 2 and "Bad argument" in missing.stderr
    assert not (tmp_path / "out").exists()


def test_member_reader_matches_zlib():
    """The index inflates each member once; the convert step re-inflates one member by offset."""
    sample = REPO / "samples" / "qq-sample.warc.gz"
    with sample.open("rb") as handle:
        members = [m for m in iter_members(handle) if isinstance(m, Member)]
    raw = sample.read_bytes()
    for member in members:
        assert zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(raw[member.start : member.end]) == member.data


@pytest.mark.e2e
def test_a_big_file_indexed_in_slices_reads_as_one_pass(archive, monkeypatch):
    """Slices cut at record starts (any damage reported once, by the slice it is in) add up to the whole file."""
    from newscrawl.archive import rebuild

    whole = [rebuild.index_file(str(p)) for p in sorted(archive["warc"].iterdir())]
    monkeypatch.setattr(rebuild, "PIECE", 4096)
    slices = rebuild.pieces(sorted(archive["warc"].iterdir()), split=True)
    assert len(slices) > 3 * len(whole)
    joined = list(rebuild.merge(map(rebuild.index_piece, slices)))
    assert [i.path for i in joined] == [i.path for i in whole]
    for one, other in zip(joined, whole, strict=True):
        assert one.responses == other.responses and one.requests == other.requests
        assert one.damaged == other.damaged and one.records == other.records
    assert sum(len(i.damaged) for i in joined) == 1


def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(caplog):
    import io

    from newscrawl.archive.rebuild import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = Progress(60, screen)
    bar.files_total, bar.files, bar.records, bar.total, bar.done = 2, 1, 40, 10, 5
    bar.update(force=True)
    assert re.search(r"\r\[#{10}\.{10}\] files 1/2, records 40, articles 5/10 \(\d+/s\), ETA \d+ s", screen.getvalue())
    with caplog.at_level("INFO", logger="newscrawl.archive.rebuild"):
        plain = Progress(60, io.StringIO())
        plain.update(force=True)
        plain.update()  # within the interval: no second line
    assert len([r for r in caplog.records if r.getMessage().startswith("Rebuild: ")]) == 1


@pytest.mark.e2e
def test_rebuild_refuses_what_it_does_not_do_and_unwritable_output(tmp_path):
    sample = REPO / "samples" / "qq-sample.warc.gz"
    images = run_rebuild(tmp_path / "out", sample, tmp_path, "-s", "IMAGES_DOWNLOAD=1")
    assert images.returncode == 2 and "IMAGES_DOWNLOAD" in images.stderr
    revisits = run_rebuild(tmp_path / "out", sample, tmp_path, "-s", "REVISIT_SCHEDULE=default")
    assert revisits.returncode == 2 and "revisits" in revisits.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.md"))
    (tmp_path / "file").write_text("x")
    blocked = run_rebuild(tmp_path / "file" / "out", sample, tmp_path)
    assert blocked.returncode == 2 and "OUTPUT_DIR" in blocked.stderr


def test_the_newscrawl_command_runs_rebuild(capsys):
    from newscrawl.cli import main

    with pytest.raises(SystemExit) as done:
        main(["rebuild", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "ARCHIVE" in out and "--output" in out and "--jobs" in out
    main(["--help"])
    assert "newscrawl rebuild ARCHIVE" in capsys.readouterr().out


@pytest.mark.e2e
def test_meta_refresh_and_scheme_relative_redirect_as_scrapy_follows_them(tmp_path):
    """An archive made by hand: a page whose meta refresh Scrapy follows, and a 301 to ``//host/…``."""
    import json
    import urllib.request

    from scrapy.http import HtmlResponse, Request, Response

    from newscrawl.warc import WarcFileWriter

    with MockQQServer(articles=2) as mock:
        first, second = mock.ids()
        base = mock.url
        pages = {i: urllib.request.urlopen(f"{base}/rain/a/{i}").read() for i in (first, second)}  # noqa: S310
    host = base.split("//", 1)[1]
    # "Refresh" as pages spell it (Scrapy matches any case): the fast check must not miss it.
    refresh = f'<html><head><meta http-equiv="Refresh" content="0; url=/moved/{first}"></head><body></body></html>'
    html = {"Content-Type": "text/html; charset=utf-8"}
    exchanges = [
        (f"{base}/rain/a/{first}", HtmlResponse, 200, html, refresh.encode()),
        (f"{base}/moved/{first}", HtmlResponse, 200, html, pages[first]),
        (f"{base}/rain/a/{second}", Response, 301, {"Location": f"//{host}/rain/a/{second}?v=2"}, b""),
        (f"{base}/rain/a/{second}?v=2", HtmlResponse, 200, html, pages[second]),
    ]
    info = {
        "newscrawl-spider": "qq",
        "newscrawl-arguments": json.dumps({"ids": f"{first},{second}"}),
        "newscrawl-settings": json.dumps({"QQ_ARTICLE_URL": f"{base}/rain/a/{{id}}", "RETRY_TIMES": 3}),
    }
    warc = tmp_path / "warc"
    writer = WarcFileWriter(warc, "newscrawl", 10**8, info, fsync=False)
    for url, cls, status, headers, body in exchanges:
        writer.write_exchange(Request(url), cls(url, status=status, headers=headers, body=body))
    writer.close()
    replay = run_replay(tmp_path / "replay", warc, tmp_path)
    rebuilt = run_rebuild(tmp_path / "rebuilt", warc, tmp_path, "--jobs", "1")
    assert replay.returncode == rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert written_ids(tmp_path / "replay") == {first, second}
    assert folder_files(tmp_path / "rebuilt") == folder_files(tmp_path / "replay")
    assert summary(rebuilt.stderr) == summary(replay.stderr)


@pytest.mark.e2e
def test_an_uncompressed_warc_rebuilds_as_it_replays(tmp_path):
    import gzip

    plain = tmp_path / "sample.warc"
    plain.write_bytes(gzip.decompress((REPO / "samples" / "qq-sample.warc.gz").read_bytes()))
    replay = run_replay(tmp_path / "replay", plain, tmp_path)
    rebuilt = run_rebuild(tmp_path / "rebuilt", plain, tmp_path, "--jobs", "2")
    assert replay.returncode == rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert len(folder_files(tmp_path / "replay")) == 6
    assert folder_files(tmp_path / "rebuilt") == folder_files(tmp_path / "replay")
    assert summary(rebuilt.stderr) == summary(replay.stderr)


def test_the_index_classifies_when_asked_with_the_same_answers():
    """Kinds are worked out for what the sweep reads and, at the first URL form not archived, for all
    responses in archive order (an id's first response wins), as the up-front classification did."""
    from newscrawl.archive.rebuild import ArchiveIndex, Entry, FileIndex

    def entry(uri: str, status: int = 200) -> Entry:
        return Entry("x.warc.gz", 0, 1, uri, status, "", uri, "", "info")

    index = FileIndex("x.warc.gz", infos={"info": b"newscrawl-spider: qq\r\nnewscrawl-settings: {}\r\n"})
    uris = ["https://a/rain/a/ID1", "https://b/rain/a/ID1", "https://a/rain/a/ID2", "https://a/other"]
    index.responses = [entry(uri) for uri in uris]
    asked: list[str] = []

    def classify(capture, method, uri, body):
        asked.append(uri)
        return ("article", {"id": uri.rsplit("/", 1)[1]}) if "/rain/a/" in uri else None

    archive = ArchiveIndex([index], classify)
    assert asked == [] and archive.next_for("GET", uris[2], b"", "ID2").uri == uris[2] and asked == []
    assert [(s.uri, s.kind, s.details) for s in archive.unserved()][-1] == (uris[3], "", {})
    assert asked == [uris[0], uris[1], uris[3]]  # the unserved ones only
    assert archive.next_for("GET", "https://c/rain/a/ID1", b"", "ID1").uri == uris[0]  # by id: the first
    assert sorted(asked) == sorted(uris)  # every response classified once, no more
    assert archive.by_article == {"ID1": ("GET", uris[0], ""), "ID2": ("GET", uris[2], "")}
    assert archive.next_for("GET", "https://c/rain/a/ID3", b"", "ID3") is None


def test_responses_kept_from_the_index_pass_read_as_the_file_does(monkeypatch):
    """rebuild -j 1 keeps inflated responses (their bodies) up to its budget (REBUILD_KEEP_MB): each is
    read once from memory, then its memory is freed; what is read is what a read from the file gives."""
    from newscrawl.archive import rebuild

    sample = str(REPO / "samples" / "qq-sample.warc.gz")
    plain = rebuild.index_file(sample)
    monkeypatch.setattr(rebuild._kept, "left", 3 * max(e.block[1] - e.block[0] for e in plain.responses))
    kept = rebuild.index_file(sample)
    held = [e.kept is not None or e.data is not None for e in kept.responses]
    assert held.count(True) >= 3
    assert not all(held)  # past the budget: read again from the file
    for with_data, without in zip(kept.responses, plain.responses, strict=True):
        had = with_data.kept is not None or with_data.data is not None
        expected = rebuild.decoded_body(*rebuild.read_response(without))
        assert rebuild.response_body(with_data) == rebuild.response_body(without) == expected
        assert with_data.kept is None and with_data.data is None  # freed once read (again: the file)
        assert not had or rebuild.response_body(with_data) == expected
