"""Optional Cython build of ``newscrawl/convert/_cwalk.pyx`` (the rest of the metadata: pyproject.toml).

``_cwalk`` is the one module written for the compiler: the conversion's hot path (the tree walk over
libxml2's nodes, the text step's paragraph loop, the Markdown of blocks, the qq page's container scan;
see its docstring). Everything else is plain Python. A build without Cython, without lxml's headers,
without a C compiler, or with ``NEWSCRAWL_PURE_PYTHON`` set installs no extension and the Python
functions run: same output, only slower. The extension is ``optional``:
a compiler error is a warning, not a failed install.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

CWALK = "newscrawl.convert._cwalk"


def extensions() -> list:
    if os.environ.get("NEWSCRAWL_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        import lxml
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        print(f"newscrawl: {exc.name} not available at build time; no compiled walker", file=sys.stderr)
        return []
    # lxml's C API headers (lxml.includes.etreepublic); no linking against libxml2 is needed.
    walker = Extension(CWALK, [CWALK.replace(".", "/") + ".pyx"], include_dirs=lxml.get_include())
    try:
        # The generated C stays out of the source tree.
        built = cythonize([walker], language_level=3, quiet=True, build_dir="build/cython")
    except Exception as exc:  # Cython failing must not fail the install
        print(f"newscrawl: Cython failed ({exc}); no compiled walker", file=sys.stderr)
        return []
    for extension in built:  # set here: cythonize() does not carry it over from the template
        extension.optional = True  # a compiler error is a warning; the Python walk is used
    return built


setup(ext_modules=extensions())
