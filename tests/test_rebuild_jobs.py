"""``newscrawl rebuild --jobs N``: the workers that index the archive convert its articles from
the bodies they kept (no second inflate), and N workers write what one process writes."""

from __future__ import annotations

import logging
import os
import shutil
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from newscrawl.archive import rebuild
from tests.crawlrun import REPO, folder_files

SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
ARTICLES = 6  # the sample's archived article pages


def rebuild_here(tmp_path: Path, name: str, archive: Path, *args: str) -> tuple[int, dict, str]:
    """(exit status, {relative path: bytes}, summary line) of an in-process rebuild into tmp_path/name."""
    out = tmp_path / name
    argv = [str(archive), "--output", str(out), "-s", f"STATE_FILE={tmp_path / (name + '-gone.jsonl')}", *args]
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("newscrawl.archive.rebuild")
    logger.addHandler(handler)
    try:
        code = rebuild.run(argv)
    finally:
        logger.removeHandler(handler)
    summaries = [r.getMessage() for r in records if r.getMessage().startswith("newscrawl summary:")]
    assert len(summaries) == 1, [r.getMessage() for r in records]
    return code, folder_files(out), summaries[0]


@pytest.fixture
def inflates(tmp_path, monkeypatch):
    """The pids of the processes that inflate a member from the file to convert or plan it (one line
    each): forked workers inherit the patched function and append to the same file."""
    log = tmp_path / "inflates.txt"
    real = rebuild._inflated

    def counted(entry):
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return real(entry)

    monkeypatch.setattr(rebuild, "_inflated", counted)
    monkeypatch.setattr(rebuild.multiprocessing, "get_all_start_methods", lambda: ["fork"])

    def by_workers() -> int:
        """Inflates by processes other than this one (the workers), since the last call."""
        pids = log.read_text().split() if log.exists() else []
        log.unlink(missing_ok=True)
        return sum(pid != str(os.getpid()) for pid in pids)

    return by_workers


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_workers_convert_the_bodies_they_kept_without_inflating_them_again(tmp_path, monkeypatch, inflates):
    monkeypatch.setattr(rebuild, "PIECE", 4096)  # the sample in 8 pieces: both workers index some
    # Every chunk sent to its owner at once: none waits in the main process for an idle worker to take.
    monkeypatch.setattr(rebuild.Pools, "AHEAD", 10**6)
    code, one, summary = rebuild_here(tmp_path, "one", SAMPLE, "--jobs", "1")
    assert code == 0 and len(one) == ARTICLES
    inflates()

    code, two, summary_two = rebuild_here(tmp_path, "two", SAMPLE, "--jobs", "2")
    assert (code, two, summary_two) == (0, one, summary)
    assert inflates() == 0  # each article's body came from the worker that indexed it

    # Nothing kept (REBUILD_KEEP_MB=0): every article is inflated again in a worker (the counter counts).
    code, none_kept, _ = rebuild_here(tmp_path, "none", SAMPLE, "--jobs", "2", "-s", "REBUILD_KEEP_MB=0")
    assert (code, none_kept) == (0, one)
    assert inflates() == ARTICLES


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_a_body_over_a_workers_share_of_the_budget_is_read_from_the_file(tmp_path, monkeypatch, inflates):
    """REBUILD_KEEP_MB is shared by the workers: each is told its part, and bodies past it are inflated again.

    Which bodies a worker keeps depends on which pieces it happens to index first (feeds and
    robots.txt count too): under load one worker can spend its part on pages that are not
    articles. So the share each is told is checked, and that some article was read again; that
    kept bodies are used is the test above (a whole budget: no article inflated again).
    """
    monkeypatch.setattr(rebuild, "PIECE", 4096)
    monkeypatch.setattr(rebuild.Pools, "AHEAD", 10**6)
    real = rebuild.Pools.indexed
    shares: list[int] = []
    told: list[int] = []

    def tight(self, slices, keep):
        shares.append(keep)
        return real(self, slices, 2 * 3 * 4096)  # about two pages per worker

    real_send = Connection.send

    def send(self, message):
        if isinstance(message, tuple) and message[:1] == ("keep",):
            told.append(message[1])
        return real_send(self, message)

    monkeypatch.setattr(rebuild.Pools, "indexed", tight)
    monkeypatch.setattr(Connection, "send", send)
    code, one, summary = rebuild_here(tmp_path, "one", SAMPLE, "--jobs", "1")
    code, two, summary_two = rebuild_here(tmp_path, "two", SAMPLE, "--jobs", "2")
    assert shares == [256 << 20]  # the whole REBUILD_KEEP_MB, split by the pool
    assert told == [3 * 4096, 3 * 4096]  # each worker its half of the (tightened) budget
    assert (code, sorted(two), summary_two) == (0, sorted(one), summary)
    assert two == one
    again = inflates()
    assert 0 < again <= ARTICLES, again  # the bodies past a worker's part: read from the file again


@pytest.mark.parametrize("jobs", ["2", "3"])
def test_jobs_n_writes_what_jobs_1_writes_when_workers_take_each_others_chunks(tmp_path, monkeypatch, jobs):
    """One chunk ahead per worker: whichever worker is idle takes chunks queued for another (and
    reads those bodies from the file); a ``.open`` file (a capture still running) beside a closed one."""
    monkeypatch.setattr(rebuild, "PIECE", 4096)
    monkeypatch.setattr(rebuild.Pools, "AHEAD", 1)
    monkeypatch.setattr(rebuild, "WRITE_BATCH", 1)
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(SAMPLE, archive / "a.warc.gz")
    shutil.copy(SAMPLE, archive / "b.warc.gz.open")
    expected = rebuild_here(tmp_path, "one", archive, "--jobs", "1")
    assert expected[0] == 0 and len(expected[1]) == ARTICLES
    assert rebuild_here(tmp_path, "n", archive, "--jobs", jobs) == expected


def test_spawned_workers_write_what_one_process_writes(tmp_path, monkeypatch):
    """Without fork (the spawn start method) workers inherit nothing: the same output."""
    monkeypatch.setattr(rebuild, "PIECE", 4096)
    monkeypatch.setattr(rebuild.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert rebuild.Pools(2).context.get_start_method() == "spawn"
    expected = rebuild_here(tmp_path, "one", SAMPLE, "--jobs", "1")
    assert rebuild_here(tmp_path, "two", SAMPLE, "--jobs", "2") == expected


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_worker_that_fails_fails_the_run(tmp_path, monkeypatch, caplog, how):
    """An exception in a worker is raised in the main process (as a pool's would be), not lost; a
    worker that dies outright is noticed too. Either way: the traceback, one FAILED summary, exit 9."""

    def broken(piece, owner):
        if how == "dies":
            os._exit(3)
        raise OSError("disk gone")

    monkeypatch.setattr(rebuild, "_index_kept", broken)
    monkeypatch.setattr(rebuild.multiprocessing, "get_all_start_methods", lambda: ["fork"])
    with caplog.at_level(logging.ERROR, logger="newscrawl.archive.rebuild"):
        code = rebuild.run([str(SAMPLE), "--output", str(tmp_path / "out"), "--jobs", "2"])
    assert code == 9
    summaries = [r.getMessage() for r in caplog.records if "newscrawl summary:" in r.getMessage()]
    assert summaries == [
        "newscrawl summary: status=FAILED: the rebuild did not finish (unexpected error, traceback above)"
    ]
    failure = next(r for r in caplog.records if r.exc_info)
    assert ("disk gone" if how == "raises" else "died (exit status 3)") in str(failure.exc_info[1])


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_workers_end_when_the_main_process_dies(tmp_path):
    """A main process killed without closing its pipes (each worker holds the others' ends too)
    leaves no worker behind: they watch its sentinel."""
    import subprocess
    import sys
    import time

    script = (
        "import os, sys\n"
        "from newscrawl.archive.rebuild import Pools\n"
        "pools = Pools(2)\n"
        "pools.start()\n"
        "print(' '.join(str(w.process.pid) for w in pools.workers), flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2, done.stderr

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                return handle.read().split(") ")[1][0] != "Z"  # a zombie has ended
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
