"""The optional compiled walker (``_cwalk``) writes exactly what the Python walk writes.

``newscrawl/convert/_cwalk.pyx`` is ``htmlblocks._walk`` written for Cython over libxml2's nodes;
htmlblocks uses it when it is built, unless ``NEWSCRAWL_PURE_PYTHON`` is set. The goldens
(test_corpus, test_pages, ...) run with whichever walk this process imported; here the same pages
are converted both ways, in a subprocess each, and every output must be the same bytes. Where a
C compiler is here, the default run must use the compiled walker: a build that silently fell back
would otherwise leave the comparison comparing Python with itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from newscrawl.convert import htmlblocks

ROOT = Path(__file__).resolve().parent.parent

# Converts the dom, data and page-fixture sets and nested markup around the walk's depth limit;
# prints one JSON object: which walk ran, and each output's SHA-256.
SCRIPT = r"""
import hashlib, json, logging, sys
sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)
from benchmarks.bench_convert import build_inputs, make_newscrawl
from newscrawl.convert.htmlblocks import MAX_DEPTH, WALKER, TooDeep, html_to_blocks
from newscrawl.convert.markdown import render_blocks

inputs = build_inputs()
convert = make_newscrawl()
out = {"walker": WALKER, "outputs": {}}
for name in ("dom", "data", "pages"):
    for n, doc in enumerate(inputs[name]):
        text = convert(doc) or ""
        out["outputs"][f"{name}/{n}"] = hashlib.sha256(text.encode()).hexdigest()
# Just under and just over the limit, in each of the walk's recursive paths.
shapes = {"span": ("<span>", 1), "div": ("<div>", 1), "li": ("<ul><li>", 4), "quote": ("<blockquote>", 3)}
for shape, (open_tag, calls) in shapes.items():
    for levels in (MAX_DEPTH // calls - 5, MAX_DEPTH // calls + 5):
        try:
            result = render_blocks(html_to_blocks(open_tag * levels + "深<b>x</b>"))
        except TooDeep:
            result = "TooDeep"
        out["outputs"][f"deep/{shape}/{levels}"] = result
print(json.dumps(out))
"""


def _start(pure: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != htmlblocks.PURE_ENV}
    if pure:
        env[htmlblocks.PURE_ENV] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ROOT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out)


def _can_compile() -> bool:
    """A C compiler is here (the build fetches Cython and lxml itself: pyproject.toml's build requires)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def _forced() -> bool:
    return os.environ.get(htmlblocks.PURE_ENV, "") not in ("", "0")


def test_compiled_and_pure_python_write_the_same_bytes():
    if _forced():
        pytest.skip(f"{htmlblocks.PURE_ENV} is set: both runs would be plain Python")
    started = _start(pure=False), _start(pure=True)  # side by side: two cores
    fast, pure = (_result(process) for process in started)
    assert pure["walker"] == "python"
    if _can_compile():
        assert fast["walker"] == "cython", (
            f"a C compiler is here, yet the Python walk ran: build with `pip install -e .` (scripts/setup), "
            f"or set {htmlblocks.PURE_ENV}=1 to test plain Python alone"
        )
    elif fast["walker"] != "cython":
        pytest.skip("no compiled walker on this machine: nothing to compare")
    assert len(fast["outputs"]) == 775 * 2 + len(list((ROOT / "tests/fixtures/sites/qq").glob("*/page.html"))) + 8
    differ = [key for key, value in fast["outputs"].items() if pure["outputs"][key] != value]
    assert differ == []
    # The depth cases do what they say: under the limit converts, over it is TooDeep, both ways.
    deep = {key: value for key, value in fast["outputs"].items() if key.startswith("deep/")}
    assert sorted(value == "TooDeep" for value in deep.values()) == [False] * 4 + [True] * 4
    assert all("深**x**" in value for value in deep.values() if value != "TooDeep")


def test_this_process_reports_its_walker():
    assert htmlblocks.WALKER in ("cython", "python")
    assert (htmlblocks.WALKER == "cython") == (htmlblocks._walk.__module__ == "newscrawl.convert._cwalk")
    if _forced():
        assert htmlblocks.WALKER == "python"


@pytest.fixture
def checkout(tmp_path):
    """A source checkout's layout: pyproject.toml, the .pyx and a built extension beside it."""
    (tmp_path / "pyproject.toml").write_text("")
    folder = tmp_path / "newscrawl" / "convert"
    folder.mkdir(parents=True)
    source, built = folder / "_cwalk.pyx", folder / "_cwalk.so"
    source.write_text("")
    built.write_bytes(b"")
    return source, built


def test_a_current_build_is_used(checkout):
    source, built = checkout
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert not htmlblocks._stale(source, built)


def test_a_build_older_than_its_source_is_not_run(checkout, tmp_path):
    source, built = checkout
    os.utime(source, (2_000, 2_000))
    os.utime(built, (1_000, 1_000))
    assert htmlblocks._stale(source, built)
    # Installed (no pyproject.toml above the package): file times say nothing, the build is used.
    (tmp_path / "pyproject.toml").unlink()
    assert not htmlblocks._stale(source, built)
