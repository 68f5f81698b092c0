#!/usr/bin/env python
"""CI check: what a pip user gets from ``pip install .`` (no extras) works from any folder.

1. Copies the repository's files (tracked and new, not ignored: no ``.venv``, no ``output``)
   into a temporary folder, creates a fresh virtualenv and runs ``pip install .`` there.
2. From a folder outside the project, runs the README's offline try-it with the installed
   ``newscrawl`` command: exit 0, six article files whose front matter parses.
3. The same venv with ``-s REDIS_URL=redis://127.0.0.1:1/0``: exit 1, the one-line install
   hint on stderr and no traceback (the core install has no Redis client).
4. The optional compiled walker (``_cwalk``): where a C compiler is, the install runs it;
   reinstalled with ``CC=false`` (a compiler that always fails), the install still succeeds, runs
   the Python walk, and the try-it writes the same six files, byte for byte.

Usage: ``python scripts/check_core_install.py [--keep DIR]``; exit 0 when all holds. Run by
``.ci/run``; takes about a minute with a warm pip cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = "samples/qq-sample.warc.gz"
HINT = "pip install 'newscrawl[redis]'"


def clean_copy(dest: Path) -> None:
    """The files git would commit (tracked plus untracked, minus ignored) under ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


WALKER = "from newscrawl.convert import htmlblocks; print(htmlblocks.WALKER)"


def try_it(command: str, sample: Path, cwd: Path, output: str) -> subprocess.CompletedProcess:
    """The README's offline try-it: the sample archive replayed into ``cwd / output``."""
    return subprocess.run(
        [command, "crawl", "qq", "-a", f"warc={sample}", "-s", f"OUTPUT_DIR={output}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def walker(python: Path, cwd: Path) -> str:
    """Which tree walk the installed package runs: "cython" or "python"."""
    done = subprocess.run([python, "-c", WALKER], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def check(work: Path) -> list[str]:
    """Run every step in ``work``; returns the problems found (empty when all is well)."""
    source, env_dir, elsewhere = work / "src", work / "venv", work / "elsewhere"
    clean_copy(source)
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(source)], check=True)
    elsewhere.mkdir()
    command = str(env_dir / "bin" / "newscrawl")
    problems: list[str] = []

    freeze = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    for extra in ("redis==", "scrapy-redis==", "pytest==", "mkdocs=="):
        if any(line.lower().startswith(extra) for line in freeze.splitlines()):
            problems.append(f"core install pulled in {extra.rstrip('=')}")

    sample = source / SAMPLE
    tried = try_it(command, sample, elsewhere, "try")
    files = sorted((elsewhere / "try").rglob("*.md"))
    if tried.returncode != 0:
        problems.append(f"try-it exited {tried.returncode}:\n{tried.stderr[-2000:]}")
    if len(files) != 6:
        problems.append(f"try-it wrote {len(files)} files, not 6: {files}")
    loader = "import sys, yaml; t = open(sys.argv[1], encoding='utf-8').read(); "
    loader += "d = yaml.safe_load(t.split('---\\n', 2)[1]); assert d['title'] and d['date'], d"
    for path in files:
        parsed = subprocess.run([python, "-c", loader, str(path)], capture_output=True, text=True)
        if parsed.returncode != 0:
            problems.append(f"{path.name}: front matter does not parse:\n{parsed.stderr[-500:]}")

    redis = subprocess.run(
        [command, "crawl", "qq", "-a", f"warc={sample}", "-s", "OUTPUT_DIR=redis",
         "-s", "REDIS_URL=redis://127.0.0.1:1/0"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    if redis.returncode != 1:
        problems.append(f"REDIS_URL without the extra exited {redis.returncode}, not 1")
    if HINT not in redis.stderr:
        problems.append(f"no install hint in:\n{redis.stderr[-1500:]}")
    if "Traceback" in redis.stderr + redis.stdout:
        problems.append(f"a traceback:\n{redis.stderr[-1500:]}")

    # The compiled build is optional: a compiler that fails leaves a working plain-Python install.
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler and walker(python, elsewhere) != "cython":
        problems.append(f"a C compiler is here ({compiler}) but the install runs the Python walk")
    env = dict(os.environ, CC="false")
    env.pop("NEWSCRAWL_PURE_PYTHON", None)
    fresh = work / "src-no-compiler"  # a fresh copy: the first build's build/ would be reused
    clean_copy(fresh)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(fresh)], check=True, env=env
    )
    if walker(python, elsewhere) != "python":
        problems.append("built with CC=false, yet the compiled walker runs")
    again = try_it(command, sample, elsewhere, "try-pure")
    if again.returncode != 0:
        problems.append(f"try-it without the compiled build exited {again.returncode}:\n{again.stderr[-2000:]}")
    pure_files = sorted((elsewhere / "try-pure").rglob("*.md"))
    if [p.relative_to(elsewhere / "try-pure") for p in pure_files] != [p.relative_to(elsewhere / "try") for p in files]:
        problems.append(f"plain Python wrote other files: {pure_files}")
    elif any(a.read_bytes() != b.read_bytes() for a, b in zip(files, pure_files, strict=True)):
        problems.append("plain Python wrote other bytes than the compiled build")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        problems = check(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="newscrawl-core-") as tmp:
            problems = check(Path(tmp))
    for problem in problems:
        print(f"check_core_install: {problem}", file=sys.stderr)
    if not problems:
        print(
            "check_core_install: ok (pip install ., newscrawl crawl from another folder, REDIS_URL hint, "
            "the same files without a C compiler)"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
