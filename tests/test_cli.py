"""The ``newscrawl`` console script and the core install (no ``[redis]`` extra).

``newscrawl crawl qq`` from another folder must do exactly what ``scrapy crawl qq`` does in
the project folder (same files, same exit status, same summary); ``REDIS_URL`` without the
scale-out extra must stop with one line, not a traceback. The fresh ``pip install .`` of a
clean copy is checked by ``scripts/check_core_install.py``, which ``.ci/run`` runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newscrawl.scaleout import INSTALL_HINT, MissingExtra, ScaleOut, missing_extra
from tests.crawlrun import REPO, folder_files

SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
BIN = Path(sys.executable).parent
# Runs the newscrawl command in a Python where redis and scrapy_redis cannot be found,
# as in a core install (the test venv has the extra).
WITHOUT_REDIS = (
    "import importlib.util as u, sys; find = u.find_spec; "
    "u.find_spec = lambda name, *a, **k: "
    "None if name.split('.')[0] in ('redis', 'scrapy_redis') else find(name, *a, **k); "
    "sys.modules['redis'] = None; sys.modules['scrapy_redis'] = None; "
    "from newscrawl.cli import main; sys.exit(main())"
)


def newscrawl_command() -> list[str]:
    script = BIN / "newscrawl"
    assert script.exists(), f"{script}: the console script is missing (pip install -e . again)"
    return [str(script)]


def test_missing_extra_names_the_extra_only_when_redis_url_is_set(monkeypatch):
    from scrapy.settings import Settings

    assert missing_extra(Settings({"REDIS_URL": ""})) is None
    assert missing_extra(Settings({"REDIS_URL": "redis://127.0.0.1:1/0"})) is None  # the test venv has it
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a, **k: None)
    assert missing_extra(Settings({"REDIS_URL": ""})) is None
    assert missing_extra(Settings({"REDIS_URL": "redis://127.0.0.1:1/0"})) == INSTALL_HINT
    assert "pip install 'newscrawl[redis]'" in INSTALL_HINT
    with pytest.raises(MissingExtra):
        ScaleOut().update_settings(Settings({"REDIS_URL": "redis://127.0.0.1:1/0"}))


@pytest.mark.e2e
def test_scaleout_addon_imports_no_redis_code():
    probe = (
        "import sys; import newscrawl.scaleout, newscrawl.settings, newscrawl.crawl.fingerprint; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'scrapy_redis')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.e2e
def test_redis_url_without_the_extra_stops_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS, "crawl", "qq", "-a", f"warc={SAMPLE}",
         "-s", "OUTPUT_DIR=out", "-s", "REDIS_URL=redis://127.0.0.1:1/0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"newscrawl: {INSTALL_HINT}"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.e2e
def test_without_the_extra_a_crawl_still_works(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS, "crawl", "qq", "-a", f"warc={SAMPLE}", "-s", "OUTPUT_DIR=out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "out").rglob("*.md"))) == 6


@pytest.mark.e2e
def test_usage_and_render_through_the_console_script(tmp_path):
    usage = subprocess.run([*newscrawl_command()], cwd=tmp_path, capture_output=True, text=True)
    assert usage.returncode == 2 and "newscrawl crawl SITE" in usage.stdout
    page = REPO / "tests" / "fixtures" / "sites" / "qq" / "20201130A0G1JJ" / "page.html"
    via_script = subprocess.run([*newscrawl_command(), "render", str(page)], cwd=tmp_path, capture_output=True)
    via_module = subprocess.run([sys.executable, "-m", "newscrawl", "render", str(page)], capture_output=True)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout and via_script.stdout.startswith(b"---\ntitle: ")


def test_a_misspelt_command_gets_one_line_and_status_2(capsys):
    from newscrawl.cli import main

    assert main(["crwal", "qq"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["newscrawl: unknown command 'crwal' (see `newscrawl --help`)"]
    # Scrapy's own commands are still handed over (one that prints and returns at once).
    assert main(["list"]) == 0
    assert capsys.readouterr().out.split() == ["qq"]


def summary_line(stderr: str) -> str:
    lines = [line.split("newscrawl summary: ", 1)[1] for line in stderr.splitlines() if "newscrawl summary: " in line]
    assert len(lines) == 1, stderr[-2000:]
    return lines[0]


# (name, spider arguments, expected exit status): the sample, and a replay of four articles
# the sample does not hold (every fetch fails: exit 5, "most article fetches failed").
CASES = [
    ("sample", [], 0),
    ("missing", ["-a", "ids=20250101A0AAAA00,20250101A0BBBB00,20250101A0CCCC00,20250101A0DDDD00"], 5),
]


@pytest.mark.parametrize(("name", "extra", "status"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.e2e
def test_newscrawl_elsewhere_equals_scrapy_in_the_project(tmp_path, name, extra, status):
    common = ["crawl", "qq", "-a", f"warc={SAMPLE}", *extra, "-s", "LOG_LEVEL=INFO", "-s", "TELNETCONSOLE_ENABLED=0"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Relative settings resolve against the folder the command runs in.
    ours = subprocess.run(
        [*newscrawl_command(), *common, "-s", "OUTPUT_DIR=out", "-s", "STATE_FILE=gone.jsonl"],
        cwd=elsewhere, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    theirs_out = tmp_path / "project-out"
    theirs = subprocess.run(
        [str(BIN / "scrapy"), *common, "-s", f"OUTPUT_DIR={theirs_out}", "-s", f"STATE_FILE={tmp_path / 'gone.jsonl'}"],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert ours.returncode == theirs.returncode == status, (ours.stderr[-2000:], theirs.stderr[-2000:])
    assert summary_line(ours.stderr) == summary_line(theirs.stderr)
    mine = folder_files(elsewhere / "out") if (elsewhere / "out").exists() else {}
    assert mine == (folder_files(theirs_out) if theirs_out.exists() else {})
    if status == 0:
        assert len(mine) == 6
    assert not (REPO / "out").exists()
