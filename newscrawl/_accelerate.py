"""Optional compiled builds of the conversion's hot modules, and the switch that turns them off.

The modules in ``ACCELERATED`` are plain Python. When the package is built with Cython and a C
compiler at hand (``pip install .`` or ``pip install -e .``, see ``setup.py``), each is also
compiled, unchanged, into an extension module beside its ``.py``; Python's import system then
prefers the extension. Without Cython or a compiler the build skips them and the ``.py`` files run:
same output, only slower. Nothing else in the project knows which one runs.

This module picks the ``.py`` instead of an extension when:

- ``NEWSCRAWL_PURE_PYTHON`` is set to anything but ``""`` or ``0`` (tests run the same pages both
  ways and compare; also the way to rule the compiled build out when chasing a bug);
- in a source checkout (an editable install), the extension is older than its ``.py``: the source
  was edited or checked out after the last build, and stale compiled code must never run. A
  warning says so once; ``pip install -e .`` (or ``scripts/setup``) rebuilds.

``compiled()`` reports which modules run compiled (the benchmarks print it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from importlib.machinery import ModuleSpec
from pathlib import Path

# The conversion's per-element code: the tree walk, the text step, the Markdown rendering, the
# front matter and the Tencent page extraction (Cython gains 1-2% more instructions per page on
# each of the last two). Kept in step with setup.py's list.
ACCELERATED = (
    "newscrawl.convert.htmlblocks",
    "newscrawl.convert.markdown",
    "newscrawl.convert.normalize",
    "newscrawl.convert.text",
    "newscrawl.convert.frontmatter",
    "newscrawl.sites.qq.page",
)
# A walker written for the compiler (not plain Python): see newscrawl/convert/_cwalk.pyx.
CWALK = "newscrawl.convert._cwalk"
PURE_ENV = "NEWSCRAWL_PURE_PYTHON"
_CHECKOUT = (Path(__file__).resolve().parent.parent / "pyproject.toml").is_file()


def pure_forced() -> bool:
    """True when ``NEWSCRAWL_PURE_PYTHON`` asks for the ``.py`` modules."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def _extension_beside(source: str) -> str | None:
    stem = source.rpartition(".")[0]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.isfile(stem + suffix):
            return stem + suffix
    return None


def extension_allowed(source: str) -> bool:
    """May the extension module built from ``source`` (a ``.py`` or ``.pyx`` path) be imported?

    No when plain Python is forced, or when the extension is stale (older than its source, in a
    source checkout; a warning says so once).
    """
    if pure_forced():
        return False
    extension = _extension_beside(source)
    if extension and _CHECKOUT and os.path.isfile(source) and os.path.getmtime(extension) < os.path.getmtime(source):
        global _warned
        if not _warned:
            _warned = True
            warnings.warn(
                f"newscrawl: {extension} is older than its source; running the .py modules "
                "(rebuild with `pip install -e .` or scripts/setup)",
                RuntimeWarning,
                stacklevel=3,
            )
        return False
    return True


_warned = False


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the ``.py`` of an accelerated module when its extension must not be used; else
    defers to the normal finders (which prefer an extension)."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:  # type: ignore[no-untyped-def]
        if fullname not in ACCELERATED or not path:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path:
            source = os.path.join(entry, leaf)
            if os.path.isfile(source):
                return None if extension_allowed(source) else importlib.util.spec_from_file_location(fullname, source)
        return None


_FINDER = _SourceFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once); ``newscrawl/__init__.py`` calls it."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def compiled() -> dict[str, bool]:
    """For each accelerated module: True when its compiled build runs (imports it). The entry
    ``newscrawl.convert._cwalk`` says whether the tree walk reads libxml2's nodes directly."""
    out = {}
    for name in ACCELERATED:
        module = importlib.import_module(name)
        out[name] = not (getattr(module, "__file__", "") or "").endswith(".py")
    out[CWALK] = importlib.import_module("newscrawl.convert.htmlblocks").C_WALKER
    return out
