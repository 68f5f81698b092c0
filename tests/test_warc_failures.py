"""Archive runs that go wrong say so (issue 11): bad replay arguments, a damaged WARC, cron captures with a limit.

End to end against the mock server (one 80-article capture and two ``limit=50`` cron
captures, shared by the module), plus in-process checks of the damage-tolerant reader with
a byte flipped at every position of a record.
"""

from __future__ import annotations

import re
import zlib

import pytest

from tests.crawlrun import folder_files, run_crawl, written_ids
from tests.mockserver import MockQQServer
from tests.test_warc import run_replay

ARTICLES = 80


def gzip_members(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, inflated) of each gzip member: the test's own splitter, independent of the reader."""
    members, pos = [], 0
    while pos < len(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflated = inflater.decompress(data[pos:])
        end = len(data) - len(inflater.unused_data)
        members.append((pos, end, inflated))
        pos = end
    return members


def header(inflated: bytes, name: bytes) -> str:
    match = re.search(rb"\r\n" + name + rb": ([^\r\n]*)", inflated.split(b"\r\n\r\n", 1)[0])
    return match.group(1).decode() if match else ""


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """One full capture of 80 articles in a single WARC file; two cron captures with ``-a limit=50``."""
    root = tmp_path_factory.mktemp("archives")
    with MockQQServer(articles=ARTICLES) as mock:
        full = run_crawl(root / "full-out", mock.url, "-s", f"WARC_DIR={root / 'full'}", work=root)
        assert full.returncode == 0, full.stderr[-3000:]
        cron = [
            run_crawl(root / "cron-out", mock.url, "-a", "limit=50", "-s", f"WARC_DIR={root / 'cron'}", work=root)
            for _ in range(2)
        ]
        assert [run.returncode for run in cron] == [0, 0], cron[-1].stderr[-3000:]
        assert [run.stat("newscrawl/articles/written") for run in cron] == [50, ARTICLES - 50]
        ids = set(mock.ids("writable"))
    (warc,) = (root / "full").iterdir()
    assert written_ids(root / "full-out") == written_ids(root / "cron-out") == ids and len(ids) == ARTICLES
    assert len(list((root / "cron").iterdir())) == 2
    return {"root": root, "warc": warc, "ids": ids}


# ---- invalid arguments: nothing replayed, nothing written ----------------------------------


@pytest.mark.parametrize("argument", ["limit=abc", "since=someday"])
def test_invalid_arguments_in_a_replay_write_nothing(archives, tmp_path, argument):
    replay = run_replay(tmp_path / "out", archives["warc"], tmp_path, "-a", argument)
    assert replay.returncode == 2, replay.stderr[-3000:]
    assert f"Bad argument: {argument}" in replay.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert replay.stat("newscrawl/replay/served") == 0 and replay.stat("downloader/request_count") == 0
    assert replay.stat("newscrawl/replay/swept_feeds") == replay.stat("newscrawl/replay/swept_articles") == 0
    summary = r"newscrawl summary: found=0 fetched=0 written=0 .* status=FAILED: invalid spider arguments"
    assert re.search(summary, replay.stderr)


# ---- cron captures with a limit: each run's limit capped its own part ----------------------


def test_cron_captures_with_a_limit_replay_whole(archives, tmp_path):
    replay = run_replay(tmp_path / "out", archives["root"] / "cron", tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert folder_files(tmp_path / "out") == folder_files(archives["root"] / "cron-out")
    assert replay.stat("newscrawl/articles/written") == replay.stat("newscrawl/articles/found") == ARTICLES
    assert "The capture's limit=50 capped the first run's part" in replay.stderr
    assert replay.stat("newscrawl/replay/missing") == 0


def test_a_limit_given_to_the_replay_caps_all_of_it(archives, tmp_path):
    replay = run_replay(tmp_path / "out", archives["root"] / "cron", tmp_path, "-a", "limit=30")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert len(written_ids(tmp_path / "out")) == 30
