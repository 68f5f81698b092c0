"""``scrapy crawl qq -a urls=… / -a ids=…`` end to end, against a local server."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inprocess import crawl_in_process
from tests.localserver import PageServer
from tests.qqpages import EXPECTED, RECONSTRUCTED, RECONSTRUCTED_ID, page_file

REPO = Path(__file__).resolve().parent.parent
HTML = {"Content-Type": "text/html; charset=utf-8"}


def crawl(output: Path, server_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run the real ``scrapy crawl qq`` as a user would, pointed at the local server."""
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "qq",
        "-s",
        f"QQ_ARTICLE_URL={server_url}/rain/a/{{id}}",
        "-s",
        f"OUTPUT_DIR={output}",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=0",
        "-s",
        "LOG_LEVEL=INFO",
        "-s",
        f"STATS_FILE={output.parent / 'stats.json'}",
        "-s",
        f"STATE_FILE={output.parent / 'gone.jsonl'}",
        *args,
    ]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_crawl_writes_the_expected_file(tmp_path):
    routes = {f"/rain/a/{RECONSTRUCTED_ID}": (200, HTML, RECONSTRUCTED.read_bytes())}
    out = tmp_path / "out"
    with PageServer(routes) as server:
        result = crawl(out, server.url, "-a", f"urls=https://news.qq.com/rain/a/{RECONSTRUCTED_ID}?adChannelId=finance")
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [f"zh-CN/news/qq/{RECONSTRUCTED_ID}.zh-CN.md"]
    assert (out / written[0]).read_bytes() == EXPECTED.read_bytes()


def test_crawl_ids_of_every_form_and_bad_pages(tmp_path, caplog):
    """One article under three URL forms is fetched once; deleted/paid/challenge write nothing.

    In process (tests/inprocess.py): the exit status is the subprocess crawls' business."""
    deleted = "20250101A0DEAD00"
    paid = "20250101A0PAID00"
    challenge = "20250101A0CHAL00"
    paid_page = RECONSTRUCTED.read_text("utf-8").replace('"article_is_pay": 0', '"article_is_pay": 1')
    paid_page = paid_page.replace(RECONSTRUCTED_ID, paid)
    routes = {
        f"/rain/a/{RECONSTRUCTED_ID}": (200, HTML, RECONSTRUCTED.read_bytes()),
        "/rain/a/20201130A0G1JJ00": (200, HTML, page_file("20201130A0G1JJ").read_bytes()),
        f"/rain/a/{deleted}": (302, {"Location": "/babygohome/?pgv_ref=apub"}, b""),
        "/babygohome/": (200, HTML, b"<html><head><title>404</title></head><body>gone</body></html>"),
        f"/rain/a/{paid}": (200, HTML, paid_page.encode("utf-8")),
        f"/rain/a/{challenge}": (200, HTML, "<html><head><title>安全验证</title></head></html>".encode()),
    }
    out = tmp_path / "out"
    urls = ",".join(
        [
            f"https://new.qq.com/rain/a/{RECONSTRUCTED_ID}",
            f"https://view.inews.qq.com/k/{RECONSTRUCTED_ID}?web_channel=wap",
            f"https://new.qq.com/omn/20250208/{RECONSTRUCTED_ID}.html",
            "https://new.qq.com/omn/20201130/20201130A0G1JJ.html",
        ]
    )
    with PageServer(routes) as server, caplog.at_level(logging.INFO):
        settings = {
            "QQ_ARTICLE_URL": f"{server.url}/rain/a/{{id}}",
            "OUTPUT_DIR": str(out),
            "STATE_FILE": str(tmp_path / "gone.jsonl"),
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
        }
        crawler = crawl_in_process("qq", settings, urls=urls, ids=f"{deleted},{paid},{challenge}")
        fetched = [p for p in server.requests if p.startswith("/rain/a/")]
    stats = crawler.stats.get_stats()
    assert stats["newscrawl/verdict"] == "ok", caplog.text[-3000:]
    assert sorted(fetched) == sorted(
        {f"/rain/a/{i}" for i in (RECONSTRUCTED_ID, "20201130A0G1JJ00", deleted, paid, challenge)}
    )
    written = sorted(p.name for p in out.rglob("*.md"))
    assert written == ["20201130A0G1JJ00.zh-CN.md", f"{RECONSTRUCTED_ID}.zh-CN.md"]
    assert stats["newscrawl/skipped/deleted"] == 1
    assert stats["newscrawl/skipped/paid"] == 1
    assert stats["newscrawl/skipped/challenge"] == 1
    for reason in ("deleted", "paid", "challenge"):
        assert f"({reason})" in caplog.text
