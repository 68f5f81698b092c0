"""The package is grouped by layer, and the layers import one way: convert <- crawl <- archive.

``newscrawl/convert/`` (page -> Article -> file text) imports no crawl, archive or scale-out
module, so the ``Converter`` (``render``, benchmarks) never loads Scrapy's crawl machinery and
no import cycle can form between the layers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_site_boundary import imported_names

PACKAGE = Path(__file__).resolve().parent.parent / "newscrawl"
CONVERT = sorted((PACKAGE / "convert").glob("*.py"))
LATER_LAYERS = ("newscrawl.crawl", "newscrawl.archive", "newscrawl.scaleout", "newscrawl.warc")


def test_the_layers_are_packages():
    for layer in ("convert", "crawl", "archive", "scaleout", "sites"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
    assert (PACKAGE / "crawl" / "commands" / "crawl.py").is_file()  # COMMANDS_MODULE


@pytest.mark.parametrize("path", CONVERT, ids=lambda p: p.name)
def test_convert_imports_no_later_layer(path):
    bad = sorted(n for n in imported_names(path) if n.startswith(LATER_LAYERS))
    assert not bad, f"{path.name} imports {bad}"


def test_importing_the_converter_loads_no_crawl_module():
    """The crawl's item pipelines are loaded by name from ITEM_PIPELINES, at the first page."""
    code = (
        "import sys\n"
        "from newscrawl.convert.converter import Converter\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('newscrawl.crawl', 'newscrawl.archive')))\n"
        "assert not loaded, loaded\n"
        "assert Converter().pipelines\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
