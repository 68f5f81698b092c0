"""The optional compiled (Cython) build of the hot modules writes exactly what the .py modules write.

That build is the .py modules compiled unchanged, plus ``_cwalk``, a walker over libxml2's nodes
written for the compiler that replaces ``htmlblocks._walk``: the comparison below covers both.

The goldens (test_corpus, test_pages, ...) run in whichever form this process imported; here the
same pages are converted both ways, in this process and in a subprocess forced to plain Python
(``NEWSCRAWL_PURE_PYTHON=1``), and every output must be the same bytes. Where the build can
compile (Cython and a C compiler here), this process must run the compiled build: a build that
silently fell back would otherwise leave the comparison comparing Python with itself.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from newscrawl import _accelerate
from newscrawl.convert import compiled

ROOT = Path(__file__).resolve().parent.parent

# Converts the dom, data and page-fixture sets and nested markup around the walk's depth limit;
# prints one JSON object: which modules ran compiled, and each output's SHA-256.
SCRIPT = r"""
import hashlib, json, logging, sys
sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)
from benchmarks.bench_convert import build_inputs, make_newscrawl
from newscrawl.convert import compiled
from newscrawl.convert.htmlblocks import MAX_DEPTH, TooDeep, html_to_blocks
from newscrawl.convert.markdown import render_blocks

inputs = build_inputs()
convert = make_newscrawl()
out = {"compiled": compiled(), "outputs": {}}
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
    env = {k: v for k, v in os.environ.items() if k != _accelerate.PURE_ENV}
    if pure:
        env[_accelerate.PURE_ENV] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ROOT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out)


def _can_compile() -> bool:
    """A C compiler is here (the build fetches Cython itself: pyproject.toml's build requires)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def test_compiled_and_pure_python_write_the_same_bytes():
    if _accelerate.pure_forced():
        pytest.skip(f"{_accelerate.PURE_ENV} is set: both runs would be plain Python")
    started = _start(pure=False), _start(pure=True)  # side by side: two cores
    fast, pure = (_result(process) for process in started)
    assert not any(pure["compiled"].values()), pure["compiled"]
    if _can_compile():
        assert fast["compiled"] and all(fast["compiled"].values()), (
            f"a C compiler is here, yet {fast['compiled']}: build with `pip install -e .` (scripts/setup), "
            f"or set {_accelerate.PURE_ENV}=1 to test plain Python alone"
        )
    elif not any(fast["compiled"].values()):
        pytest.skip("no compiled build on this machine: nothing to compare")
    assert len(fast["outputs"]) == 775 * 2 + len(list((ROOT / "tests/fixtures/sites/qq").glob("*/page.html"))) + 8
    differ = [key for key, value in fast["outputs"].items() if pure["outputs"][key] != value]
    assert differ == []
    # The depth cases do what they say: under the limit converts, over it is TooDeep, both ways.
    deep = {key: value for key, value in fast["outputs"].items() if key.startswith("deep/")}
    assert sorted(value == "TooDeep" for value in deep.values()) == [False] * 4 + [True] * 4
    assert all("深**x**" in value for value in deep.values() if value != "TooDeep")


def test_this_process_reports_its_form():
    forms = compiled()
    assert all(name.startswith("newscrawl.") for name in forms)
    forced = _accelerate.pure_forced()
    assert not (forced and any(forms.values()))


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """A package folder with ``fast.py`` and an (empty) extension file beside it."""
    source = tmp_path / "fast.py"
    source.write_text("X = 1\n")
    extension = tmp_path / ("fast" + importlib.machinery.EXTENSION_SUFFIXES[0])
    extension.write_bytes(b"")
    monkeypatch.setattr(_accelerate, "_CHECKOUT", True)
    monkeypatch.setattr(_accelerate, "_warned", False)
    monkeypatch.delenv(_accelerate.PURE_ENV, raising=False)
    return source, extension


def test_a_current_extension_is_left_to_the_normal_import(fake_module):
    source, extension = fake_module
    os.utime(source, (1_000, 1_000))
    os.utime(extension, (2_000, 2_000))
    assert _accelerate._SourceFinder().find_spec("newscrawl.fast", [str(source.parent)]) is None


def test_a_stale_extension_is_not_run(fake_module):
    source, extension = fake_module
    os.utime(source, (2_000, 2_000))
    os.utime(extension, (1_000, 1_000))
    with pytest.warns(RuntimeWarning, match="older than its source"):
        spec = _accelerate._SourceFinder().find_spec("newscrawl.fast", [str(source.parent)])
    assert spec is not None and spec.origin == str(source)


def test_pure_python_forced_by_the_environment(fake_module, monkeypatch):
    source, extension = fake_module
    os.utime(source, (1_000, 1_000))
    os.utime(extension, (2_000, 2_000))
    monkeypatch.setenv(_accelerate.PURE_ENV, "1")
    spec = _accelerate._SourceFinder().find_spec("newscrawl.fast", [str(source.parent)])
    assert spec is not None and spec.origin == str(source)
    monkeypatch.setenv(_accelerate.PURE_ENV, "0")
    assert _accelerate._SourceFinder().find_spec("newscrawl.fast", [str(source.parent)]) is None
