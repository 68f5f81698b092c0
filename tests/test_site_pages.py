"""Every saved page of every site renders to its pinned file, byte for byte.

One folder per case under ``tests/fixtures/sites/<site>/``: ``page.html`` (the page as
fetched), ``url.txt`` (the URL it was fetched from) and ``expected.md`` (the file a crawl
writes, pinned). The page is converted as ``newscrawl render PAGE --url URL --site SITE``
converts it. A new site's pages need only new folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newscrawl.convert.converter import Converter
from newscrawl.sites import get_site

SITES = Path(__file__).parent / "fixtures" / "sites"
CASES = sorted(p.parent for p in SITES.glob("*/*/expected.md"))


@pytest.fixture(scope="module")
def converter() -> Converter:
    return Converter()


def test_there_are_cases():
    assert len(CASES) >= 6


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_page_renders_its_expected_file(case, converter):
    site = get_site(case.parent.name)
    url = (case / "url.txt").read_text("utf-8").strip()
    html = site.decode_html((case / "page.html").read_bytes())
    article = converter.convert(html, url, site.id_from_url(url), site)
    assert article.markdown.encode("utf-8") == (case / "expected.md").read_bytes()
