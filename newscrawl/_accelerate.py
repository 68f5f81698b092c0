"""Optional compiled builds of the conversion's hot modules, and the switch that turns them off.

The hot modules (listed in ``setup.py``) are plain Python. When the package is built with Cython
and a C compiler at hand (``pip install .`` or ``pip install -e .``), each is also compiled,
unchanged, into an extension module beside its ``.py``; Python's import system then prefers the
extension. This module names none of them: it applies to any ``newscrawl`` module with an
extension beside its ``.py``. Without Cython or a compiler the build skips them and the ``.py`` files run:
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

# A walker written for the compiler (not plain Python): see newscrawl/convert/_cwalk.pyx.
CWALK = "newscrawl.convert._cwalk"
_PACKAGE = Path(__file__).resolve().parent
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
    """Finds the ``.py`` of a compiled newscrawl module when its extension must not be used; else
    defers to the normal finders (which prefer an extension)."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:  # type: ignore[no-untyped-def]
        if not path or not fullname.startswith("newscrawl."):
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for entry in path:
            source = os.path.join(entry, leaf)
            if os.path.isfile(source):
                if _extension_beside(source) is None or extension_allowed(source):
                    return None
                return importlib.util.spec_from_file_location(fullname, source)
        return None


_FINDER = _SourceFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once); ``newscrawl/__init__.py`` calls it."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def compiled() -> dict[str, bool]:
    """For each newscrawl module built as an extension: True when the compiled build runs.

    Imports them. A module written for the compiler alone (``_cwalk``, no ``.py``) counts as
    running when the modules that use it imported it (not when plain Python is forced).
    """
    with_source, compiler_only = [], []
    for path in sorted(_PACKAGE.rglob("*")):
        # This interpreter's suffixes, most specific first; another Python's build has a dotted stem.
        suffix = next((x for x in importlib.machinery.EXTENSION_SUFFIXES if path.name.endswith(x)), "")
        stem = path.name[: -len(suffix)]
        if not suffix or not stem.isidentifier():
            continue
        name = ".".join((*path.relative_to(_PACKAGE.parent).parts[:-1], stem))
        (with_source if path.with_name(stem + ".py").is_file() else compiler_only).append(name)
    out = {}
    for name in with_source:
        module = importlib.import_module(name)
        out[name] = not (getattr(module, "__file__", "") or "").endswith(".py")
    for name in compiler_only:
        out[name] = name in sys.modules
    return out
