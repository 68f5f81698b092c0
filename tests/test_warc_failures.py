"""Archive runs that go wrong say so (issue 11): bad replay arguments, a damaged WARC, cron captures with a limit.

End to end against the mock server (one 80-article capture and two ``limit=50`` cron
captures, shared by the module), plus in-process checks of the damage-tolerant reader with
a byte flipped at every position of a record.
"""

from __future__ import annotations

import re
import shutil
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request

from newscrawl.archive.gzipview import BLOCK, CHUNK, FileView
from newscrawl.archive.read import MAGIC, Damage, iter_records
from newscrawl.warc import complete_length, exchange_records, finish_orphans, warcinfo_record
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


@pytest.mark.parametrize(
    ("argument", "message"),
    [("limit=abc", "limit=abc"), ("since=someday", "since=someday"), ("chanels=x", "unknown argument 'chanels'")],
)
@pytest.mark.e2e
def test_invalid_arguments_in_a_replay_write_nothing(archives, tmp_path, argument, message):
    replay = run_replay(tmp_path / "out", archives["warc"], tmp_path, "-a", argument)
    assert replay.returncode == 2, replay.stderr[-3000:]
    assert f"Bad argument: {message}" in replay.stderr
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert replay.stat("newscrawl/replay/served") == 0 and replay.stat("downloader/request_count") == 0
    assert replay.stat("newscrawl/replay/swept_feeds") == replay.stat("newscrawl/replay/swept_articles") == 0
    summary = r"newscrawl summary: found=0 fetched=0 written=0 .* status=FAILED: invalid spider arguments"
    assert re.search(summary, replay.stderr)


# ---- one flipped byte: the rest replays, the damaged record is named, the run fails ---------


@pytest.mark.e2e
def test_a_flipped_byte_costs_one_record_which_is_named_and_fails_the_run(archives, tmp_path):
    data = bytearray(archives["warc"].read_bytes())
    pages = [
        (start, end, header(inflated, b"WARC-Target-URI"))
        for start, end, inflated in gzip_members(bytes(data))
        if header(inflated, b"WARC-Type") == "response" and "/rain/a/" in header(inflated, b"WARC-Target-URI")
    ]
    assert len(pages) == ARTICLES
    start, end, uri = pages[len(pages) // 2]  # an article page in the middle of the file
    damaged_id = uri.rsplit("/", 1)[1]
    data[(start + end) // 2] ^= 0x10  # in its deflate data
    warc = tmp_path / archives["warc"].name
    warc.write_bytes(data)

    replay = run_replay(tmp_path / "out", warc, tmp_path)
    assert replay.returncode == 7, replay.stderr[-3000:]
    assert written_ids(tmp_path / "out") == archives["ids"] - {damaged_id}
    # The others are rebuilt as captured, byte for byte.
    captured = folder_files(archives["root"] / "full-out")
    rebuilt = folder_files(tmp_path / "out")
    assert rebuilt == {name: body for name, body in captured.items() if damaged_id not in name}
    assert replay.stat("newscrawl/replay/damaged") == 1
    assert replay.failed() == {"NotArchived": 1}
    (line,) = [line for line in replay.stderr.splitlines() if "Damaged WARC record" in line]
    assert f"{warc} at offset {start} " in line and uri in line and f"bytes {start}-{end} skipped" in line
    assert re.search(r"newscrawl summary: .* damaged=1 status=FAILED: damaged WARC archive", replay.stderr)


@pytest.mark.e2e
def test_an_intact_replay_counts_no_damage(archives, tmp_path):
    replay = run_replay(tmp_path / "out", archives["warc"], tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert folder_files(tmp_path / "out") == folder_files(archives["root"] / "full-out")
    assert "damaged=0 status=ok" in replay.stderr


# ---- cron captures with a limit: each run's limit capped its own part ----------------------


@pytest.mark.e2e
def test_cron_captures_with_a_limit_replay_whole(archives, tmp_path):
    replay = run_replay(tmp_path / "out", archives["root"] / "cron", tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert folder_files(tmp_path / "out") == folder_files(archives["root"] / "cron-out")
    assert replay.stat("newscrawl/articles/written") == replay.stat("newscrawl/articles/found") == ARTICLES
    assert "The capture's limit=50 capped the first run's part" in replay.stderr
    assert replay.stat("newscrawl/replay/missing") == 0


@pytest.mark.e2e
def test_a_limit_given_to_the_replay_caps_all_of_it(archives, tmp_path):
    replay = run_replay(tmp_path / "out", archives["root"] / "cron", tmp_path, "-a", "limit=30")
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert len(written_ids(tmp_path / "out")) == 30


# ---- the reader, in process: a byte flipped anywhere in a record ----------------------------


def small_warc(pages: int = 4) -> bytes:
    """A WARC as the capture writes it: warcinfo, then (response, request) pairs, each record a gzip member."""
    info, info_id = warcinfo_record("test.warc.gz", {"software": "test"})
    out = [info]
    for n in range(pages):
        url = f"http://127.0.0.1:1/rain/a/2025010{n}A0TEST00"
        body = "".join(f"<p>第{n}段，第{i}行：{'新闻' * (i % 7)}</p>" for i in range(60)).encode()
        response = HtmlResponse(url, body=body, headers={"Content-Type": "text/html; charset=utf-8"})
        out.append(exchange_records(Request(url), response, info_id))
    return b"".join(out)


def read(path: Path) -> tuple[list[str], list[Damage]]:
    """(WARC-Record-IDs read, damages) of ``path``."""
    ids, damages = [], []
    for item in iter_records(path):
        if isinstance(item, Damage):
            damages.append(item)
        else:
            ids.append(item[1].rec_headers.get_header("WARC-Record-ID"))
            item[1].content_stream().read()
    return ids, damages


def test_a_flip_anywhere_in_a_record_loses_that_record_only(tmp_path):
    data = small_warc()
    members = gzip_members(data)
    record_ids = [header(inflated, b"WARC-Record-ID") for _, _, inflated in members]
    victim = 3  # the second response
    start, end, _ = members[victim]
    others = record_ids[:victim] + record_ids[victim + 1 :]
    path = tmp_path / "x.warc.gz"
    unchecked = set()
    for pos in range(start, end):  # gzip header, deflate data, CRC-32, length
        for bit in (0x01, 0x80):
            flipped = bytearray(data)
            flipped[pos] ^= bit
            path.write_bytes(flipped)
            ids, damages = read(path)
            if damages:  # the member failed its checks: exactly it is lost and named
                assert ids == others, (pos, bit)
                assert [(d.start, d.end) for d in damages] == [(start, end)], (pos, bit, damages)
            else:  # a flip no check covers: the record is intact
                assert ids == record_ids, (pos, bit)
                unchecked.add(pos - start)
    # Only the gzip header's FTEXT/MTIME/XFL/OS and the last deflate byte's padding bits go unchecked.
    assert unchecked <= {3, 4, 5, 6, 7, 8, 9, end - start - 9}, sorted(unchecked)


def test_a_damaged_first_byte_and_a_damaged_last_record(tmp_path):
    data = bytearray(small_warc())
    members = gzip_members(bytes(data))
    data[0] ^= 0xFF  # the warcinfo's gzip magic
    data[members[-1][0] + 20] ^= 0x01  # inside the last record, nothing readable after it
    path = tmp_path / "x.warc.gz"
    path.write_bytes(data)
    ids, damages = read(path)
    assert len(ids) == len(members) - 2
    assert [(d.start, d.to_end) for d in damages] == [(0, False), (members[-1][0], True)]


def test_a_killed_capture_with_a_damaged_record_keeps_the_records_after_it(tmp_path):
    data = bytearray(small_warc())
    members = gzip_members(bytes(data))
    data[(members[1][0] + members[1][1]) // 2] ^= 0x04  # the first response
    cut = len(data) - 40  # the last request torn: its response goes too
    orphan = tmp_path / "newscrawl-20250101000000000-00000.warc.gz.open"
    orphan.write_bytes(data[:cut])
    with orphan.open("rb") as handle:
        assert complete_length(handle) == members[-2][0]
    (final,) = finish_orphans(tmp_path)
    assert final.read_bytes() == data[: members[-2][0]]
    ids, damages = read(final)
    assert len(ids) == len(members) - 3 and [d.start for d in damages] == [members[1][0]]


@pytest.mark.e2e
def test_damaged_copy_of_a_capture_is_read_past(tmp_path, archives):
    """The same flip through the whole-file path: every other record of a real capture is read."""
    warc = tmp_path / "copy.warc.gz"
    shutil.copy(archives["warc"], warc)
    members = gzip_members(warc.read_bytes())
    with warc.open("r+b") as handle:
        handle.seek(members[5][1] - 3)  # the length field of a record's gzip trailer
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    ids, damages = read(warc)
    assert len(ids) == len(members) - 1 and [(d.start, d.end) for d in damages] == [members[5][:2]]


def test_an_uncompressed_warc_is_read_up_to_its_first_unreadable_record(tmp_path):
    plain = b"".join(inflated for _, _, inflated in gzip_members(small_warc()))
    path = tmp_path / "x.warc"
    path.write_bytes(plain)
    ids, damages = read(path)
    assert len(ids) == 9 and not damages
    second = plain.index(b"WARC/1.1", 10)
    path.write_bytes(plain[:second] + b"XARC" + plain[second + 4 :])  # the second record's version line
    ids, damages = read(path)
    (damage,) = damages
    assert len(ids) == 1 and damage.to_end
    assert second - 4 <= damage.start <= second  # where the first record ended (before its CRLF CRLF)


@pytest.mark.parametrize("at", [0, CHUNK - 2, CHUNK - 1, BLOCK - 1, BLOCK + 5])
def test_the_magic_is_found_across_read_edges(at):
    data = bytearray(BLOCK + 64)
    data[at : at + 3] = MAGIC
    view = FileView(BytesIO(bytes(data)))
    assert view.find(MAGIC, 0, len(data)) == at
    assert view.find(MAGIC, at + 1, len(data)) == -1
    assert view[at : at + 3] == MAGIC


def test_members_of_every_size_are_read_whole_across_steps_and_windows():
    """Members from a few bytes to several CHUNKs (inflated in growing steps, from views of the read window),
    laid across BLOCK edges, come back whole with their exact spans, as the test's own splitter sees them."""
    import gzip
    import random

    from newscrawl.archive.read import FIRST, Member, iter_members

    rng = random.Random(15)
    sizes = [0, 1, FIRST - 40, FIRST, FIRST + 1, 3 * FIRST, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]
    sizes += [rng.randrange(0, 4 * CHUNK) for _ in range(40)]
    data = b"".join(
        gzip.compress(b"WARC/1.1\r\nWARC-Type: resource\r\n\r\n" + rng.randbytes(size), mtime=0) for size in sizes
    )
    assert len(data) > 2 * BLOCK
    read = list(iter_members(BytesIO(data)))
    assert all(isinstance(item, Member) for item in read)
    assert [(m.start, m.end, m.data) for m in read] == gzip_members(data)
