"""Failures that used to leave an article in no counter, or a traceback behind ``status=ok``.

A file the disk refuses (a folder where the file goes, a full disk) is ``failed=write_error``
and exit 8; a pipeline or callback that raises where nothing expected it is counted
(``failed=item_error``, ``errors=``) and exit 9. Rebuild counts the same way as replay.
"""

from __future__ import annotations

import errno
import logging
import re
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

import newscrawl.settings as project_settings_module
from newscrawl.convert.article import Article
from newscrawl.crawl import writer as writer_module
from newscrawl.crawl.extensions import summary_line, verdict
from newscrawl.crawl.writer import WriterPipeline
from tests.crawlrun import folder_files
from tests.inprocess import run_crawl_in_process
from tests.mockserver import MockQQServer
from tests.test_rebuild import run_rebuild, summary
from tests.test_warc import run_replay

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
PIPELINES = dict(project_settings_module.ITEM_PIPELINES)


class RaisingPipeline:
    """A pipeline outside newscrawl's own (an add-on's, a user's) with a bug: raises on every
    second article."""

    def __init__(self) -> None:
        self.seen = 0

    def process_item(self, item):
        self.seen += 1
        if self.seen % 2 == 0:
            raise ValueError("a bug in someone's pipeline")
        return item


def summary_of(log: str) -> str:
    lines = re.findall(r"newscrawl summary: .*", log)
    assert len(lines) == 1, log[-3000:]
    return lines[0]


def counted(stats: dict, fetched_key: str = "newscrawl/articles/fetched") -> int:
    """written + updated + unchanged + skipped (fetched pages) + dropped + failed."""
    total = sum(stats.get(f"newscrawl/articles/{key}", 0) for key in ("written", "updated", "unchanged"))
    for prefix in ("newscrawl/skipped/", "newscrawl/dropped/", "newscrawl/failed/"):
        total += sum(value for key, value in stats.items() if key.startswith(prefix))
    return total


def article_path(out: Path, article_id: str) -> Path:
    return out / "zh-CN" / "news" / "qq" / f"{article_id}.zh-CN.md"


def test_a_file_the_disk_refuses_is_a_counted_write_error_and_exit_8(tmp_path):
    out = tmp_path / "out"
    with MockQQServer(articles=6) as mock:
        ids = mock.ids("writable")[:4]
        blocked = article_path(out, ids[1])
        blocked.mkdir(parents=True)  # a folder where the article's file goes: EISDIR
        # force: without it the folder would read as the article's existing file.
        result = run_crawl_in_process(out, mock.url, {}, ids=",".join(ids), force="1")
    assert result.returncode == 8, result.stderr[-3000:]
    line = summary_of(result.stderr)
    assert "written=3 " in line and "failed=write_error:1 " in line and "status=FAILED: article files" in line
    assert result.stats["newscrawl/failed/write_error/EISDIR"] == 1
    assert counted(result.stats) == result.stats["newscrawl/articles/fetched"] == 4
    # One line that names the article, no traceback at INFO; the other files are whole.
    assert [line for line in result.stderr.splitlines() if f"Failed {ids[1]} (write_error" in line]
    assert "Traceback" not in result.stderr
    assert blocked.is_dir() and not any(blocked.iterdir())
    assert all(article_path(out, i).is_file() for i in ids if i != ids[1])


def test_a_full_disk_drops_the_article_counted_and_leaves_no_partial_file(tmp_path, monkeypatch, caplog):
    stats = MemoryStatsCollector(get_crawler())
    pipeline = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{id}.md"}), stats)

    def full(path, data, fsync=False):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(writer_module, "write_atomic", full)
    article = Article(
        id="20250208A07Y6400",
        url="https://news.qq.com/rain/a/20250208A07Y6400",
        lang="zh-CN",
        source="qq",
        markdown="x\n",
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(DropItem):
        pipeline.process_item(article)
    assert stats.get_value("newscrawl/failed/write_error/ENOSPC") == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        len(errors) == 1 and "20250208A07Y6400" in errors[0].getMessage() and "No space left" in errors[0].getMessage()
    )
    assert list(tmp_path.iterdir()) == []


def test_a_pipeline_that_raises_is_a_counted_item_error_and_exit_9(tmp_path):
    out = tmp_path / "out"
    pipelines = {**PIPELINES, "tests.test_nothing_silent.RaisingPipeline": 600}
    with MockQQServer(articles=4) as mock:
        ids = mock.ids("writable")[:4]
        result = run_crawl_in_process(out, mock.url, {"ITEM_PIPELINES": pipelines}, ids=",".join(ids))
    assert result.returncode == 9, result.stderr[-3000:]
    line = summary_of(result.stderr)
    assert "written=2 " in line and "failed=item_error:2 " in line and "status=FAILED: unexpected errors" in line
    assert result.stats["newscrawl/failed/item_error/ValueError"] == 2
    assert counted(result.stats) == result.stats["newscrawl/articles/fetched"] == 4


def test_the_verdict_of_tracebacks_and_of_a_full_disk():
    settings = Settings({"FAIL_MIN_ARTICLES": 5, "FAIL_RATIO": 0.5})
    # A callback that raised (Scrapy's spider_exceptions/<type>) fails a run that wrote everything.
    stats = {"newscrawl/articles/fetched": 10, "newscrawl/articles/written": 10, "spider_exceptions/KeyError": 1}
    code, message = verdict(stats, "finished", settings)
    assert code == 9
    assert "errors=KeyError:1 status=FAILED: unexpected errors" in summary_line(stats, code, message)
    # A disk that refused every file is the disk's failure (8), not "most fetches failed" (5).
    full = {"newscrawl/articles/fetched": 10, "newscrawl/failed/write_error/ENOSPC": 10}
    assert verdict(full, "finished", settings)[0] == 8
    # A manifest (a Scrapy feed export) that could not be stored is a lost file too.
    lost = {
        "newscrawl/articles/fetched": 10,
        "newscrawl/articles/written": 10,
        "feedexport/failed_count/FileFeedStorage": 1,
    }
    assert verdict(lost, "finished", settings)[0] == 8
    # ...while fetches that really failed still say so.
    fetches = {"newscrawl/articles/fetched": 2, "newscrawl/failed/timeout": 8, "newscrawl/failed/write_error/ENOSPC": 1}
    assert verdict(fetches, "finished", settings)[0] == 5
    clean = {"newscrawl/articles/fetched": 10, "newscrawl/articles/written": 10}
    assert verdict(clean, "finished", settings) == (0, "ok")
    assert "errors=" not in summary_line(clean, 0, "ok")


@pytest.mark.e2e
def test_rebuild_counts_a_write_error_as_replay_does(tmp_path):
    reference = run_rebuild(tmp_path / "ref", SAMPLE, tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]
    files = sorted(folder_files(tmp_path / "ref"))
    for name in ("rebuilt", "replayed"):
        # A file where the articles' folder goes: every write fails (the disk's fault, not the pages').
        blocker = tmp_path / name / Path(files[0]).parent
        blocker.parent.mkdir(parents=True)
        blocker.write_text("not a folder")
    rebuilt = run_rebuild(tmp_path / "rebuilt", SAMPLE, tmp_path)
    replayed = run_replay(tmp_path / "replayed", SAMPLE, tmp_path)
    assert rebuilt.returncode == replayed.returncode == 8, rebuilt.stderr[-2000:] + replayed.stderr[-2000:]
    assert summary(rebuilt.stderr) == summary(replayed.stderr)
    assert "written=0 " in summary(rebuilt.stderr) and f"failed=write_error:{len(files)} " in summary(rebuilt.stderr)
    assert folder_files(tmp_path / "rebuilt") == folder_files(tmp_path / "replayed")
