"""The committed sample archive is honest: each article is a real capture under its own data.

The replayed files are checked against the source each was built from (a row of
``tests/fixtures/bodies.jsonl.gz``, or the real old-template page): the title, date, media
(manifest) and body must be that source's own, with no ``#<n>`` suffix anywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from newscrawl.convert import frontmatter
from newscrawl.convert.converter import Converter
from newscrawl.sites.qq.ids import canonical_url
from tests.crawlrun import REPO
from tests.mockserver import OLD_PAGE, real_sources, usable_rows
from tests.qqpages import wrap_body

SAMPLE = REPO / "samples" / "qq-sample.warc.gz"


def source_of(article_id: str) -> tuple[str, str, str, str]:
    """(page HTML, title, "YYYY-MM-DD HH:MM:SS" publish time, media) the article was built from."""
    row = real_sources().get(article_id)
    assert row is not None, f"{article_id}: not a real capture's own id"
    if row < 0:
        html = OLD_PAGE.read_text("utf-8")
        data = json.loads(html[html.index("window.DATA = ") + 14 : html.index("}\n", html.index("window.DATA")) + 1])
        return html, data["title"], data["pubtime"], data["media"]
    source = usable_rows()[row]
    assert source["id"] == article_id
    return wrap_body(source), source["title"], source["pubtime"], source["media"]


@pytest.mark.e2e
def test_sample_articles_carry_their_own_titles_dates_and_bodies(tmp_path):
    out, manifest = tmp_path / "out", tmp_path / "manifest.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "qq", "-a", f"warc={SAMPLE}", "-s", f"OUTPUT_DIR={out}",
         "-s", f"MANIFEST={manifest}", "-s", f"STATE_FILE={tmp_path / 'gone.jsonl'}", "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(out.rglob("*.md"))
    assert len(files) == 6
    media = {line["id"]: line["media"] for line in map(json.loads, manifest.read_text("utf-8").splitlines())}
    templates = set()
    for path in files:
        article_id = path.name.split(".")[0]
        html, title, pubtime, source_media = source_of(article_id)
        text = path.read_text("utf-8")
        fields = frontmatter.load(text)
        assert " #" not in text, path
        assert fields["title"] == title, path
        day, clock = pubtime.split(" ")
        assert fields["date"] == f"{day}T{clock}+08:00", path
        assert media[article_id] == source_media, path
        article = Converter().convert(html, canonical_url(article_id), article_id)
        templates.add(article.template)
        # The whole body (text, images, source link) is the source page's own.
        assert text.split("\n---\n", 1)[1] == article.markdown.split("\n---\n", 1)[1], path
    assert "omn" in templates and len(templates) >= 2, templates  # the old template and today's
    titles = [frontmatter.load(p.read_text("utf-8"))["title"] for p in files]
    assert len(set(titles)) == len(titles)
