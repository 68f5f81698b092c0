"""A second site is one new folder (issue 13, done-when 2): this folder's example site,
registered through SITES alone, is crawled, written, captured, replayed byte for byte and
shared by two scale-out workers, with the same core as the qq site."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newscrawl.convert import frontmatter
from newscrawl.convert.converter import Converter, project_settings
from newscrawl.sites import get_site
from tests.crawlrun import REPO, CrawlResult, folder_files
from tests.examplesite.server import PAGES, ExampleServer
from tests.examplesite.site import ExampleSite
from tests.redisserver import RedisServer

SITES = json.dumps({"example": "tests.examplesite.site.ExampleSite"})
STORIES = {"100201", "100202", "100203"}  # 100204 is listed but 404; 9001 is a gallery


def settings():
    base = project_settings().copy()
    base.set("SITES", {"example": "tests.examplesite.site.ExampleSite"})
    return base


def crawl(work: Path, output: Path, *args: str, url: str = "") -> CrawlResult:
    """``scrapy crawl example`` as a subprocess; ``url`` is the example server (none for a replay)."""
    work.mkdir(parents=True, exist_ok=True)
    stats_file = work / "stats.json"
    stats_file.unlink(missing_ok=True)
    server = []
    if url:
        server = [
            "-s", f"EXAMPLE_ARTICLE_URL={url}/story/{{id}}.html",
            "-s", f"EXAMPLE_FEED_URL={url}/feed/{{section}}.json?page={{page}}",
        ]  # fmt: skip
    command = [
        sys.executable, "-m", "scrapy", "crawl", "example", "-s", f"SITES={SITES}", *server,
        "-s", f"OUTPUT_DIR={output}", "-s", f"STATE_FILE={work / 'gone.jsonl'}", "-s", f"STATS_FILE={stats_file}",
        "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "PROGRESS_INTERVAL=0", *args,
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    return CrawlResult(proc.returncode, proc.stderr, stats)


def written(output: Path) -> dict[str, str]:
    return {p.name.split(".")[0]: p.read_text("utf-8") for p in output.rglob("*.md")}


# ---- in-process: the site through the registry and the shared pipelines ---------------------


def test_the_example_site_is_registered_by_settings_alone():
    site = get_site("example", settings())
    assert isinstance(site, ExampleSite) and site.id_from_url("https://news.example.org/story/100201.html") == "100201"
    with pytest.raises(KeyError):
        get_site("example", project_settings())  # not in the project's SITES_BASE


def test_example_pages_go_through_the_shared_walker_and_pipelines():
    converter = Converter(settings())
    page = (PAGES / "100201.html").read_text("utf-8")
    md = converter.convert(page, "http://127.0.0.1:1/story/100201.html", "100201").markdown
    fields = frontmatter.load(md)
    assert fields["title"] == "Harbour reopens after storm repairs"
    assert fields["date"] == "2025-03-01T09:30:00+00:00" and fields["lang"] == ["en"] and fields["tags"] == ["example"]
    assert fields["thumbnail"] == "https://img.example.org/covers/harbour.jpg"  # the site's https host
    assert "on **Saturday morning**, three" in md and "\n## What was repaired\n" in md  # its markup rules
    assert "(https://video.example.org/clip/c7781)" in md  # its video URL
    assert "![图片](https://img.example.org/photos/wall.jpg)" in md and "logo.png" not in md
    assert md.endswith("\n[example](https://news.example.org/story/100201.html)\n")


# ---- end to end: crawl, capture, replay, scale-out ------------------------------------------


@pytest.mark.e2e
def test_example_site_is_crawled_captured_and_replayed_byte_for_byte(tmp_path):
    with ExampleServer() as server:
        live = crawl(tmp_path / "live", tmp_path / "out", "-s", f"WARC_DIR={tmp_path / 'warc'}", url=server.url)
        hits = sum(server.hits.values())
        assert live.returncode == 0, live.stderr[-3000:]
        files = written(tmp_path / "out")
        assert set(files) == STORIES
        assert live.stat("newscrawl/failed/http_404") == 1
        assert live.stat("newscrawl/feeds/not_article/kind_gallery") == 1
        assert server.hits["/feed/world.json"] == 2  # page 1 said next: 2, page 2 said null
        # The feed's naive time is London time (summer: +01:00) where the page has none.
        assert frontmatter.load(files["100203"])["date"] == "2025-07-14T07:00:00+01:00"
        converter = Converter(settings())
        for story in ("100201", "100202"):
            html = (PAGES / f"{story}.html").read_text("utf-8")
            assert files[story] == converter.convert(html, f"{server.url}/story/{story}.html", story).markdown

        replay = crawl(tmp_path / "replay", tmp_path / "replayed", "-a", f"warc={tmp_path / 'warc'}")
        assert replay.returncode == 0, replay.stderr[-3000:]
        assert sum(server.hits.values()) == hits  # offline
    assert folder_files(tmp_path / "replayed") == folder_files(tmp_path / "out")


@pytest.mark.e2e
def test_two_scale_out_workers_share_the_example_crawl(tmp_path):
    with ExampleServer(latency=0.4) as server, RedisServer(tmp_path / "redis") as redis:
        single = crawl(tmp_path / "single", tmp_path / "single-out", url=server.url)
        assert single.returncode == 0, single.stderr[-3000:]
        server.hits.clear()
        procs = []
        for n in (1, 2):
            work = tmp_path / f"w{n}"
            work.mkdir()
            # Each worker as crawl() would run it, started at once and sharing Redis and the output.
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", _WORKER, str(work), str(tmp_path / "shared-out"), server.url, redis.url],
                    cwd=REPO,
                )
            )
        codes = [proc.wait(timeout=150) for proc in procs]
        assert codes == [0, 0]
        stats = [json.loads((tmp_path / f"w{n}" / "stats.json").read_text()) for n in (1, 2)]
        assert {s.get("newscrawl/scaleout/run") for s in stats} == {stats[0]["newscrawl/scaleout/run"]}  # one run
        assert all(server.hits[f"/story/{story}.html"] == 1 for story in STORIES)  # each fetched once
        assert sum(s.get("newscrawl/articles/fetched", 0) for s in stats) == len(STORIES)
    assert folder_files(tmp_path / "shared-out") == folder_files(tmp_path / "single-out")


_WORKER = """
import sys
from pathlib import Path
from tests.examplesite.test_example_site import crawl
work, out, url, redis = sys.argv[1:]
result = crawl(Path(work), Path(out), "-s", f"REDIS_URL={redis}", "-s", "CONCURRENT_REQUESTS=1", url=url)
sys.stderr.write(result.stderr[-2000:] if result.returncode else "")
sys.exit(result.returncode)
"""
