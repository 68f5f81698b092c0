"""Optional Cython build of the conversion's hot modules (the rest of the metadata: pyproject.toml).

The modules are plain Python, compiled unchanged (Cython's pure-Python mode): a build without
Cython, without a C compiler, or with ``NEWSCRAWL_PURE_PYTHON`` set installs the ``.py`` files
alone and everything works, only slower. Extensions are ``optional``: a compiler error is a
warning, not a failed install. See ``newscrawl/_accelerate.py`` for how the choice is made at import.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

# The conversion's per-element code: the tree walk, the text step, the Markdown rendering, the
# front matter and the Tencent page extraction (the last two: 1.7% fewer instructions per page).
MODULES = (
    "newscrawl/convert/htmlblocks.py",
    "newscrawl/convert/markdown.py",
    "newscrawl/convert/normalize.py",
    "newscrawl/convert/text.py",
    "newscrawl/convert/frontmatter.py",
    "newscrawl/sites/qq/page.py",
)

# Written for Cython (not plain Python): the tree walk over libxml2's nodes, replacing htmlblocks._walk.
CWALK = "newscrawl.convert._cwalk"


def extensions() -> list:
    if os.environ.get("NEWSCRAWL_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        print("newscrawl: Cython not available; installing the pure-Python modules", file=sys.stderr)
        return []
    modules = [Extension(path[: -len(".py")].replace("/", "."), [path]) for path in MODULES]
    try:  # the walker over libxml2's nodes needs lxml's C API headers
        import lxml

        modules.append(Extension(CWALK, [CWALK.replace(".", "/") + ".pyx"], include_dirs=lxml.get_include()))
    except ImportError:
        print("newscrawl: lxml not importable at build time; no compiled walker", file=sys.stderr)
    try:
        # annotation_typing off: type hints stay hints (a str | None argument must not become a C check).
        built = cythonize(
            modules,
            language_level=3,
            quiet=True,
            build_dir="build/cython",  # the generated C stays out of the source tree
            compiler_directives={"annotation_typing": False},
        )
    except Exception as exc:  # Cython failing on a module must not fail the install
        print(f"newscrawl: Cython failed ({exc}); installing the pure-Python modules", file=sys.stderr)
        return []
    for extension in built:  # set here: cythonize() does not carry it over from the templates
        extension.optional = True  # a compiler error is a warning; the .py is installed anyway
    return built


setup(ext_modules=extensions())
