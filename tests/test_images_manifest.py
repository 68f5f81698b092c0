"""Archival mode: downloaded images (IMAGES_DOWNLOAD) and the run manifest (MANIFEST / -o FILE:manifest).

The end-to-end tests run the real ``scrapy crawl qq`` against the mock Tencent server with
``local_images`` on, so every image is served by the mock (one of them 404s), then build
the written folder with Hugo.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from newscrawl.archive.images import LocalImagesPipeline, article_image_urls, sniff_extension
from newscrawl.archive.manifest import ManifestAddon, manifest_record
from newscrawl.convert import frontmatter
from newscrawl.convert.article import Article, Image, ImageBlock, Paragraph, Span
from newscrawl.convert.converter import Converter, normalization_pipelines
from newscrawl.sites.qq.page import decode_html
from tests.crawlrun import CrawlResult, run_crawl
from tests.hugosite import build_site
from tests.mockserver import MockQQServer, jpeg_bytes

IMAGE_REF = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PREFIX = "/images/qq/"


def image_refs(path: Path) -> tuple[list[str], str]:
    """(body image URLs, front matter thumbnail) of a written file."""
    text = path.read_text("utf-8")
    return IMAGE_REF.findall(text), frontmatter.load(text)["thumbnail"]


def manifest_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def remote_name(url: str) -> str:
    """The mock's image name in ``http://127.0.0.1:PORT/img/<name>.jpg``."""
    return url.rsplit("/img/", 1)[1].removesuffix(".jpg")


@dataclass
class Archive:
    work: Path
    content: Path
    static: Path
    ids: list[str]
    expected: dict[str, list[str]]  # article id -> remote image URLs the page converts to
    missing: str  # the image URL the mock answers 404 to
    first: CrawlResult
    first_hits: dict[str, int]  # /img/ path -> requests during the first run
    first_referers: set[str]  # Referer headers of the first run's image requests
    second: CrawlResult
    second_hits: dict[str, int]
    tampered: str  # article id whose file was edited between the runs


def image_hits(mock: MockQQServer) -> dict[str, int]:
    return {path: n for path, n in mock.counters()["paths"].items() if path.startswith("/img/")}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Archive:
    """Two runs with images on: a first one, then a forced re-crawl of the same articles."""
    work = tmp_path_factory.mktemp("archive")
    content = work / "content"
    manifest = work / "manifest.jsonl"
    with MockQQServer(articles=12, local_images=True) as mock:
        ids = mock.ids()
        converter = Converter()
        expected = {}
        for article_id in ids:
            url = mock.article_url.format(id=article_id)
            html = decode_html(urllib.request.urlopen(url).read())
            expected[article_id] = article_image_urls(converter.convert(html, url, article_id))
        # A body image that only one article shows fails.
        counts: dict[str, int] = {}
        for urls in expected.values():
            for url in urls:
                counts[url] = counts.get(url, 0) + 1
        missing = next(u for urls in expected.values() for u in urls[:-1] if counts[u] == 1)
        mock.configure(missing_images=[missing])
        args = ("-a", "ids=" + ",".join(ids), "-s", "IMAGES_DOWNLOAD=1", "-s", f"MANIFEST={manifest}")
        mock.reset_counters()
        first = run_crawl(content, mock.url, *args, work=work)
        first_hits = image_hits(mock)
        first_referers = {e["referer"] for e in mock.log() if e["path"].startswith("/img/")}
        tampered = next(i for i in ids if expected[i])
        with (content / f"zh-CN/news/qq/{tampered}.zh-CN.md").open("a", encoding="utf-8") as handle:
            handle.write("edited by hand\n")
        mock.reset_counters()
        second = run_crawl(content, mock.url, *args, "-a", "force=1", work=work)
        second_hits = image_hits(mock)
        return Archive(
            work, content, work / "static", ids, expected, missing, first, first_hits, first_referers, second,
            second_hits, tampered,
        )  # fmt: skip


@pytest.mark.e2e
def test_written_pages_link_local_copies_and_the_failing_image_keeps_its_url(archive):
    first = archive.first
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stat("newscrawl/articles/written") == len(archive.ids)
    images = {url for urls in archive.expected.values() for url in urls}
    assert len(images) >= 10, "the mock articles should show images"
    seen_local = 0
    for article_id, urls in archive.expected.items():
        refs, thumbnail = image_refs(archive.content / f"zh-CN/news/qq/{article_id}.zh-CN.md")
        for ref in [*refs, thumbnail]:
            if not ref:
                continue
            if ref == archive.missing:
                continue
            assert ref.startswith(PREFIX), f"{article_id}: {ref} is not a local copy"
            stored = archive.static / "images" / ref.removeprefix("/images/")
            assert stored.is_file(), ref
            seen_local += 1
        # Every remote image of the page is there, local or (the failing one) remote.
        remote = [u for u in urls if u != archive.missing]
        assert len(set(refs + [thumbnail]) - {""}) == len(urls), (article_id, refs, thumbnail, urls)
        if archive.missing in urls:
            assert archive.missing in refs, "the failing image must keep its remote URL"
        assert not any(u in refs for u in remote)
    assert seen_local >= len(images) - 1
    # The stored files are the bytes the server sent (no re-encoding), named by the URL's SHA-1.
    for url in images - {archive.missing}:
        path = archive.static / "images/qq" / (hashlib.sha1(url.encode()).hexdigest() + ".jpg")
        assert path.read_bytes() == jpeg_bytes(remote_name(url)), url
    assert first.stat("newscrawl/images/downloaded") == len(images) - 1
    assert first.stat("newscrawl/images/failed") == 1
    assert first.stat("newscrawl/images/failed/http_404") == 1
    assert "images_failed=http_404:1 " in first.stderr and "status=ok" in first.stderr  # shown, not a failure
    # Each image fetched once although some are both a thumbnail and a body image, or shared.
    assert archive.first_hits and set(archive.first_hits.values()) == {1}, archive.first_hits
    assert len(archive.first_hits) == len(images)


@pytest.mark.e2e
def test_images_carry_the_referer_the_image_host_expects(archive):
    assert archive.first_referers == {"https://new.qq.com/"}


@pytest.mark.e2e
def test_images_already_stored_are_not_fetched_again(archive):
    second = archive.second
    assert second.returncode == 0, second.stderr[-3000:]
    # Only the image that failed is asked again; the others are found in the store.
    assert archive.second_hits == {f"/img/{remote_name(archive.missing)}.jpg": 1}
    images = {url for urls in archive.expected.values() for url in urls}
    assert second.stat("newscrawl/images/uptodate") == len(images) - 1
    assert second.stat("newscrawl/images/downloaded") == 0
    assert second.stat("newscrawl/images/failed") == 1
    assert second.stat("newscrawl/articles/unchanged") == len(archive.ids) - 1
    assert second.stat("newscrawl/articles/updated") == 1


@pytest.mark.e2e
def test_hugo_serves_the_local_images(archive, tmp_path):
    # The users' layout: the site folder holds content/ and static/, no configuration needed.
    # A second site elsewhere points staticDir at the store's folder instead.
    builds = [
        build_site(archive.content, archive.work),
        build_site(archive.content, tmp_path / "site", extra_config=f"staticDir = [{json.dumps(str(archive.static))}]"),
    ]
    for build in builds:
        assert build.returncode == 0, build.output
        pages = build.pages()
        checked = 0
        for article_id in archive.expected:
            page = pages[f"zh-CN/news/qq/{article_id}.zh-CN.md"]
            srcs = [img.get("src") for img in page.content_tree().iter("img")]
            for src in srcs:
                if src == archive.missing:
                    continue
                assert src.startswith(PREFIX), src
                served = build.public / src.lstrip("/")
                assert served.read_bytes() == (archive.static / src.lstrip("/")).read_bytes()
                checked += 1
        assert checked >= 5


@pytest.mark.e2e
def test_manifest_has_one_line_per_written_article_and_matching_hashes(archive):
    lines = manifest_lines(archive.work / "manifest.jsonl")
    n = len(archive.ids)
    assert len(lines) == 2 * n, "runs append to the manifest"
    first, second = lines[:n], lines[n:]
    for run in (first, second):
        assert sorted(r["id"] for r in run) == sorted(archive.ids)
    assert {r["status"] for r in first} == {"written"}
    assert {r["id"]: r["status"] for r in second} == {
        i: "updated" if i == archive.tampered else "unchanged" for i in archive.ids
    }
    for record in second:
        path = archive.content / record["path"]
        assert record["path"] == f"zh-CN/news/qq/{record['id']}.zh-CN.md"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"], record["id"]
        assert record["url"] == f"https://new.qq.com/rain/a/{record['id']}"
        assert record["title"] and record["media"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", record["published"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", record["crawled"])
        assert [i["url"] for i in record["images"]] == archive.expected[record["id"]]
        for image in record["images"]:
            if image["url"] == archive.missing:
                assert image == {"url": image["url"], "local": "", "file": "", "status": "failed", "error": "http_404"}
            else:
                assert image["status"] == "uptodate"
                assert image["local"] == PREFIX + image["file"].removeprefix("qq/")
                assert (archive.static / "images" / image["file"]).is_file()
        _, thumbnail = image_refs(path)
        assert record["thumbnail"] == thumbnail
    # The first run's hashes are those of the files it wrote (unchanged since, but one).
    for record in first:
        if record["id"] != archive.tampered:
            assert record["sha256"] == next(r["sha256"] for r in second if r["id"] == record["id"])
    assert any(i["status"] == "downloaded" for r in first for i in r["images"])


@pytest.mark.e2e
def test_images_off_by_default_and_manifest_by_feed_option(tmp_path):
    """Without IMAGES_DOWNLOAD nothing is fetched but pages; ``-o FILE:manifest`` writes the manifest."""
    content = tmp_path / "content"
    manifest = tmp_path / "by-option.jsonl"
    with MockQQServer(articles=4, local_images=True) as mock:
        ids = mock.ids()
        result = run_crawl(content, mock.url, "-a", "ids=" + ",".join(ids), "-o", f"{manifest}:manifest", work=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert not image_hits(mock)
    assert not (tmp_path / "static").exists()
    records = manifest_lines(manifest)
    assert sorted(r["id"] for r in records) == sorted(ids)
    remote = [i for r in records for i in r["images"]]
    assert remote and {i["status"] for i in remote} == {"remote"}
    for record in records:
        refs, thumbnail = image_refs(content / record["path"])
        assert all(ref.startswith(mock.url) for ref in refs)
        assert hashlib.sha256((content / record["path"]).read_bytes()).hexdigest() == record["sha256"]


# ---- units ----------------------------------------------------------------------------------


def test_pipeline_order_and_converter_skips_the_download_pipeline():
    settings = get_project_settings()
    order = settings.getdict("ITEM_PIPELINES")
    images = order["newscrawl.archive.images.LocalImagesPipeline"]
    pipelines = "newscrawl.crawl.pipelines"
    assert order[f"{pipelines}.ImageUrlPipeline"] < images < order[f"{pipelines}.MarkdownPipeline"]
    assert not settings.getbool("IMAGES_DOWNLOAD")
    enabled = Settings(settings.copy_to_dict())
    enabled.set("IMAGES_DOWNLOAD", True)
    names = [type(p).__name__ for p in normalization_pipelines(enabled)]
    assert "LocalImagesPipeline" not in names and "MarkdownPipeline" in names
    assert Converter(enabled).convert is not None


def test_sniff_extension():
    assert sniff_extension(jpeg_bytes("x")) == ".jpg"
    assert sniff_extension(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) == ".png"
    assert sniff_extension(b"GIF89a...") == ".gif"
    assert sniff_extension(b"RIFF\x10\0\0\0WEBPVP8 ") == ".webp"
    assert sniff_extension(b"\0\0\0\x1cftypavif\0\0") == ".avif"
    assert sniff_extension(b"<!DOCTYPE html><title>403</title>") is None
    assert sniff_extension(b"") is None


def _pipeline(tmp_path: Path) -> LocalImagesPipeline:
    settings = {"IMAGES_DOWNLOAD": True, "IMAGES_STORE": str(tmp_path / "store"), "IMAGES_URL_PREFIX": "/img/"}
    settings["IMAGES_REFERER"] = ""  # the site's own Referer (QQSite.image_referer)
    crawler = get_crawler(settings_dict=settings)
    pipeline = LocalImagesPipeline.from_crawler(crawler)
    crawler.stats.open_spider()
    return pipeline


def test_not_an_image_is_not_stored_and_the_url_is_kept(tmp_path):
    pipeline = _pipeline(tmp_path)
    good, page = "https://inews.gtimg.com/om/a/641", "https://inews.gtimg.com/om/b/641"
    article = Article(
        source="qq",
        lang="zh-CN",
        id="20250101A0000000",
        url="https://new.qq.com/rain/a/20250101A0000000",
        thumbnail=good,
        body=[Paragraph([Span("x")]), ImageBlock(Image(good)), ImageBlock(Image(page))],
    )
    assert article_image_urls(article) == [good, page]
    requests = pipeline.get_media_requests(article, None)
    assert [r.url for r in requests] == [good, page]
    assert requests[0].headers["Referer"] == b"https://new.qq.com/"
    ok = pipeline.media_downloaded(Response(good, body=jpeg_bytes("a")), requests[0], None, item=article)
    bad = pipeline.media_downloaded(
        HtmlResponse(page, body=b"<html><title>verify</title></html>"), requests[1], None, item=article
    )
    assert ok["status"] == "downloaded" and bad["status"] == "failed"
    stored = tmp_path / "store" / ok["path"]
    assert stored.read_bytes() == jpeg_bytes("a") and ok["path"].endswith(".jpg")
    assert [p.name for p in (tmp_path / "store" / "qq").iterdir()] == [stored.name]  # no temp file left
    pipeline.item_completed([(True, ok), (True, bad)], article, None)
    assert article.thumbnail == "/img/" + ok["path"]
    assert [b.image.src for b in article.body if isinstance(b, ImageBlock)] == [article.thumbnail, page]
    assert article.images[1] == {"url": page, "local": "", "file": "", "status": "failed", "error": "not_image"}
    assert pipeline.stats.get_value("newscrawl/images/failed/not_image") == 1
    # Found in the store: no download.
    assert pipeline.media_to_download(Request(good), None, item=article)["status"] == "uptodate"
    assert pipeline.media_to_download(Request(page), None, item=article) is None


def test_manifest_addon_adds_to_feeds_given_on_the_command_line():
    settings = Settings()
    settings.set("FEEDS", {"items.json": {"format": "json"}}, priority="cmdline")
    settings.set("MANIFEST", "m.jsonl", priority="cmdline")
    ManifestAddon().update_settings(settings)
    feeds = settings.getdict("FEEDS")
    assert set(feeds) == {"items.json", "m.jsonl"}
    assert feeds["m.jsonl"]["format"] == "manifest" and feeds["m.jsonl"]["overwrite"] is False
    empty = Settings()
    ManifestAddon().update_settings(empty)
    assert not empty.getdict("FEEDS")


def test_manifest_record_is_json():
    from tests.qqpages import EXPECTED, RECONSTRUCTED, RECONSTRUCTED_ID

    article = Converter().convert(RECONSTRUCTED.read_text("utf-8"), f"https://new.qq.com/rain/a/{RECONSTRUCTED_ID}")
    article.sha256 = hashlib.sha256(article.markdown.encode()).hexdigest()
    record = json.loads(json.dumps(manifest_record(article), ensure_ascii=False))
    assert record["sha256"] == hashlib.sha256(EXPECTED.read_bytes()).hexdigest()
    assert record["published"].endswith("+08:00") and record["id"] == RECONSTRUCTED_ID
    assert [i["url"] for i in record["images"]] == article_image_urls(article)
