"""A rebuild stopped by SIGTERM (cron's timeout, systemd, ``kill``) says so as a crawl does: one
``status=FAILED`` summary line and exit status 3, no half-written file left under a temporary
name, and (``--jobs N``) no worker left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from newscrawl.archive import rebuild
from tests.crawlrun import REPO

SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
SUMMARY = "newscrawl summary: status=FAILED: the rebuild did not finish (terminated by SIGTERM)"


def test_sigterm_stops_one_process_with_the_summary_and_exit_3(tmp_path, monkeypatch, caplog):
    convert = rebuild._convert_chunk

    def terminated_midway(tasks):
        os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode: inside the conversion
        return convert(tasks)

    def not_handled(signum, frame):  # what runs if rebuild does not take SIGTERM (not Python's kill)
        raise AssertionError("SIGTERM reached the caller's handler: the rebuild did not handle it")

    monkeypatch.setattr(rebuild, "_convert_chunk", terminated_midway)
    before = signal.signal(signal.SIGTERM, not_handled)
    try:
        code, caught = None, None
        code = rebuild.run([str(SAMPLE), "--output", str(tmp_path / "out"), "--jobs", "1"])
    except AssertionError as exc:
        caught = exc
    finally:
        after = signal.signal(signal.SIGTERM, before)
    assert caught is None, caught
    assert after is not_handled  # the caller's handler is back
    assert code == 3
    assert [r.getMessage() for r in caplog.records if "newscrawl summary:" in r.getMessage()] == [SUMMARY]
    assert not [path for path in (tmp_path / "out").rglob("*") if path.name.endswith(".tmp")]


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_sigterm_stops_workers_and_main_with_the_summary_and_exit_3(tmp_path):
    # The workers (forked: they inherit the patch) hang in their first chunk; the main process is
    # then sent SIGTERM alone, as `kill PID` does.
    script = (
        "import sys, time\n"
        "from newscrawl.archive import rebuild\n"
        "def slow(tasks):\n"
        "    print('converting', flush=True)\n"
        "    time.sleep(60)\n"
        "rebuild._convert_chunk = slow\n"
        "sys.exit(rebuild.main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", script, str(SAMPLE), "--output", str(tmp_path / "out"), "--jobs", "2"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "converting"
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        assert children, "no worker processes found"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, stderr[-3000:]
    assert stderr.count("newscrawl summary:") == 1 and SUMMARY in stderr, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    assert not alive, f"workers left running: {alive}"
