"""Failures that used to leave an article in no counter, or a traceback behind ``status=ok``.

A file the disk refuses (a folder where the file goes, a full disk) is ``failed=write_error``
and exit 8; a pipeline or callback that raises where nothing expected it is counted
(``failed=item_error``, ``errors=``) and exit 9. Rebuild counts the same way as replay.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import signals
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

import newscrawl.settings as project_settings_module
from newscrawl.convert.article import Article
from newscrawl.crawl import preflight
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


@pytest.mark.parametrize("force", ["1", None])
def test_a_file_the_disk_refuses_is_a_counted_write_error_and_exit_8(tmp_path, force):
    out = tmp_path / "out"
    with MockQQServer(articles=6) as mock:
        ids = mock.ids("writable")[:4]
        blocked = article_path(out, ids[1])
        blocked.mkdir(parents=True)  # a folder where the article's file goes: EISDIR
        # Without force too: a folder is no archived article (it used to count as skipped_existing).
        extra = {"force": force} if force else {}
        result = run_crawl_in_process(out, mock.url, {}, ids=",".join(ids), **extra)
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


# "{id}.md": every file in one folder (the writer writes relative to the folder's descriptor);
# "{id}/index.md": a folder per article (through write_atomic and the path).
@pytest.mark.parametrize("template", ["{id}.md", "{id}/index.md"])
def test_a_full_disk_drops_the_article_counted_and_leaves_no_partial_file(tmp_path, monkeypatch, caplog, template):
    stats = MemoryStatsCollector(get_crawler())
    pipeline = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": template}), stats)
    real_write = os.write

    def full(fd, data):  # the disk fills up under the article's file (the system call itself fails)
        if bytes(data) == b"x\n":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer_module.os, "write", full)
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
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []  # no file, no temp file


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


# ---- wrong input: one line and an exit status, never a traceback -----------------------------


def cmdline_settings(**values: str) -> Settings:
    settings = get_project_settings().copy()
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    return settings


def test_a_setting_of_the_wrong_type_is_found_before_the_run():
    bad = preflight.problems(
        cmdline_settings(CONCURRENT_REQUESTS="abc", RETRY_ENABLED="maybe", DOWNLOAD_DELAY="0.5", QQ_FEED_TIMEOUT="x")
    )
    assert [p.split("=")[0] for p in bad] == ["CONCURRENT_REQUESTS", "RETRY_ENABLED", "QQ_FEED_TIMEOUT"], bad
    assert "use a number (default: 16)" in bad[0] and "true, false, 1 or 0" in bad[1]
    assert preflight.problems(cmdline_settings(CONCURRENT_REQUESTS="8", DOWNLOAD_DELAY="0.5")) == []


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("FAIL_RATIO", "2", "a number from 0 to 1"),  # would never fail a run
        ("FAIL_RATIO", "nan", "a number from 0 to 1"),
        ("SUMMARY_LENGTH", "-5", "a whole number of at least 0"),  # would cut summaries from the end
        ("CONCURRENT_REQUESTS", "0", "a whole number of at least 1"),  # would fetch nothing
        ("CONCURRENT_REQUESTS", "2.5", "a whole number of at least 1"),  # getint would raise mid-run
        ("DOWNLOAD_TIMEOUT", "-1", "a number of at least 0"),
        ("DOWNLOAD_DELAY", "inf", "a number of at least 0"),
        ("QQ_FEED_PAGES", "0", "a whole number of at least 1"),  # a site's own range: would find nothing
    ],
)
def test_a_number_out_of_its_range_is_found_before_the_run(name, value, expected):
    [problem] = preflight.problems(cmdline_settings(**{name: value}))
    assert problem.startswith(f"{name}={value!r} is not allowed; use {expected} (default: "), problem


def test_numbers_on_the_edges_of_their_ranges_are_allowed():
    edges = {"FAIL_RATIO": "0", "FAIL_MIN_ARTICLES": "0", "RETRY_TIMES": "0", "DOWNLOAD_DELAY": "0.5"}
    assert preflight.problems(cmdline_settings(**edges, QQ_FEED_PAGES="1", CONCURRENT_REQUESTS="1")) == []
    assert preflight.problems(cmdline_settings(FAIL_RATIO="1")) == []


@pytest.mark.parametrize(
    "sites, expected",
    [
        ('{"x": "nonexistent.module.Site"}', "ModuleNotFoundError: No module named 'nonexistent'"),
        ('{"x": "os.path"}', "TypeError: SITES['x'] = 'os.path' is not a newscrawl.sites.base.Site subclass"),
        ('{"x": "newscrawl.sites.qq.site.QQSite"}', "names itself 'qq'"),
    ],
)
def test_a_site_that_cannot_be_loaded_is_one_line_before_the_run(tmp_path, sites, expected):
    """Was the spider loader's traceback, exit 1."""
    [problem] = preflight.problems(cmdline_settings(SITES=sites, OUTPUT_DIR=str(tmp_path)))
    assert problem.startswith("SITES cannot be loaded: ") and expected in problem, problem


def test_an_empty_output_dir_is_refused_not_read_as_the_default_folder():
    """``-s OUTPUT_DIR=$DIR`` in a cron line whose DIR is unset would write into ./output."""
    assert preflight.problems(cmdline_settings(OUTPUT_DIR="")) == [
        "OUTPUT_DIR is empty; give the folder articles are written to (default: output)"
    ]


@pytest.mark.parametrize(
    "template, expected",
    [("../{id}.md", "leaves the output folder"), ("{idx}.md", "KeyError"), ("/etc/{id}.md", "leaves the output")],
)
def test_an_output_template_that_leaves_the_folder_or_names_no_field_is_found_before_the_run(
    tmp_path, template, expected
):
    settings = cmdline_settings(OUTPUT_DIR=str(tmp_path), OUTPUT_PATH_TEMPLATE=template)
    [problem] = preflight.problems(settings)
    assert problem.startswith("OUTPUT_PATH_TEMPLATE=") and expected in problem
    assert preflight.problems(cmdline_settings(OUTPUT_DIR=str(tmp_path))) == []


def test_wrong_settings_and_an_unknown_spider_are_one_line_each(tmp_path):
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "newscrawl.settings"}
    command = [sys.executable, "-m", "newscrawl", "crawl"]
    bad = subprocess.run(
        [*command, "qq", "-s", "CONCURRENT_REQUESTS=abc", "-s", "OUTPUT_PATH_TEMPLATE=../{id}.md",
         "-s", "FAIL_RATIO=2", "-s", f"OUTPUT_DIR={tmp_path / 'out'}", "-a", "ids=20250208A07Y6400"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stderr[-2000:]
    assert bad.stderr.splitlines() == [
        "newscrawl: CONCURRENT_REQUESTS='abc' is not allowed; use a number (default: 16)",
        "newscrawl: FAIL_RATIO='2' is not allowed; use a number from 0 to 1 (default: 0.5)",
        "newscrawl: OUTPUT_PATH_TEMPLATE='../{id}.md': '../{id}.md' leaves the output folder",
    ]
    unknown = subprocess.run([*command, "nosuch"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert unknown.returncode == 1
    assert "newscrawl: unknown spider 'nosuch' (spiders: qq)" in unknown.stderr.splitlines()
    assert "Traceback" not in unknown.stderr


def test_render_of_a_missing_page_or_an_unknown_site_is_one_line(tmp_path, capsys):
    from newscrawl.__main__ import main

    assert main(["render", str(tmp_path / "missing.html")]) == 2
    assert capsys.readouterr().err == f"newscrawl: cannot read {tmp_path / 'missing.html'}: No such file or directory\n"
    (tmp_path / "page.html").write_text("<html></html>")
    assert main(["render", "--site", "nosuch", str(tmp_path / "page.html")]) == 2
    assert capsys.readouterr().err == "newscrawl: no site 'nosuch' in SITES (registered: qq)\n"


def test_fail_ratio_zero_fails_a_run_on_any_failed_article():
    """FAIL_RATIO=0 with FAIL_MIN_ARTICLES=1: any failed article fails a discovery run too."""
    strict = Settings({"FAIL_MIN_ARTICLES": 1, "FAIL_RATIO": 0})
    one_failed = {"newscrawl/articles/fetched": 9, "newscrawl/articles/written": 9, "newscrawl/failed/timeout": 1}
    assert verdict(one_failed, "finished", strict)[0] == 5
    assert verdict(one_failed, "finished", Settings({"FAIL_MIN_ARTICLES": 4, "FAIL_RATIO": 0.5}))[0] == 0


def test_a_run_given_its_articles_fails_on_any_of_them_lost():
    """-a ids=/urls= (``newscrawl/requested``): one lost of three is a failed run, below
    FAIL_MIN_ARTICLES too; FAIL_ON_REQUESTED=False gives the ratio back."""
    project = get_project_settings()
    lost = {"newscrawl/requested": 3, "newscrawl/articles/fetched": 2, "newscrawl/failed/timeout": 1}
    assert verdict(lost, "finished", project) == (5, "requested article fetches failed (1 of 3)")
    broken = {"newscrawl/requested": 3, "newscrawl/articles/fetched": 3, "newscrawl/failed/extract_error/X": 1}
    assert verdict(broken, "finished", project) == (6, "article extraction failed on requested pages (1 of 3)")
    lenient = project.copy()
    lenient.set("FAIL_ON_REQUESTED", False)
    assert verdict(lost, "finished", lenient) == (0, "ok")
    discovered = {k: v for k, v in lost.items() if k != "newscrawl/requested"}
    assert verdict(discovered, "finished", project) == (0, "ok")  # a cron run: the ratio decides
    assert verdict({**lost, "newscrawl/failed/timeout": 0}, "finished", project) == (0, "ok")


def test_a_live_ids_run_with_one_article_lost_says_so_and_exits_5(tmp_path):
    with MockQQServer(articles=3) as mock:
        ids = mock.ids("writable")[:2]
        mock.fail_always(ids[1], "500")
        result = run_crawl_in_process(tmp_path / "out", mock.url, {"RETRY_TIMES": 0}, ids=",".join(ids))
    assert result.returncode == 5, result.stderr[-3000:]
    assert "status=FAILED: requested article fetches failed (1 of 2)" in result.stderr
    assert len(folder_files(tmp_path / "out")) == 1  # the other one is written all the same


@pytest.mark.parametrize("name", ["ids", "urls", "channels", "authors"])
def test_an_empty_list_of_what_to_fetch_is_a_bad_argument_not_a_discovery_run(name):
    from newscrawl.sites.qq.spider import QQSpider

    spider = QQSpider(**{name: " , "})
    assert spider.bad_args == [f"{name}= is empty (leave -a {name} out to discover through the default feeds)"]
    assert QQSpider().bad_args == [] and QQSpider(ids="20250208A07Y6400").bad_args == []
    assert QQSpider(channels="news_news_top", authors="8QIf3nxc64AYuDfe").bad_args == []


@pytest.mark.parametrize("name", ["force", "hot"])
def test_an_on_off_argument_that_is_neither_is_a_bad_argument(name):
    from newscrawl.sites.qq.spider import QQSpider

    assert QQSpider(**{name: "ture"}).bad_args == [
        f"{name}=ture is not on or off; use 1, 0, true, false, yes, no, on or off"
    ]
    for value in ("1", "0", "true", "False", " yes ", "no", "on", "OFF", ""):
        assert QQSpider(**{name: value}).bad_args == [], value


def test_a_misspelt_setting_name_is_found_before_the_run_and_an_unknown_one_is_noted():
    problems, notes = preflight.unknown_names(cmdline_settings(OUTPT_DIR="x", MY_PIPELINE_TOKEN="t", OUTPUT_DIR="y"))
    assert problems == ["unknown setting 'OUTPT_DIR'; did you mean OUTPUT_DIR?"]
    assert notes == ["note: MY_PIPELINE_TOKEN is not a setting of Scrapy, newscrawl or its sites; passed on as given"]
    assert preflight.problems(cmdline_settings(OUTPT_DIR="x")) == problems
    # Scrapy's, the project's, a site's and the scale-out extra's own names are known.
    known = cmdline_settings(CONCURRENT_REQUESTS="2", DATE_STYLE="legacy", QQ_FEED_PAGES="3", SCHEDULER_PERSIST="1")
    assert preflight.unknown_names(known) == ([], [])


def test_a_revision_the_disk_refuses_is_a_write_error_not_a_traceback(tmp_path, caplog):
    from newscrawl.crawl.revisit import RevisitPipeline

    out = tmp_path / "out"
    expected = next((REPO / "tests" / "fixtures" / "sites" / "qq").glob("*/expected.md")).read_text()
    (tmp_path / "revisions").write_text("a file where the revisions folder goes")
    settings = Settings(
        {"OUTPUT_DIR": str(out), "OUTPUT_PATH_TEMPLATE": "{id}.md", "REVISIONS_DIR": str(tmp_path / "revisions")}
    )
    stats = MemoryStatsCollector(get_crawler())
    (out).mkdir()
    (out / "20250208A07Y6400.md").write_text(expected + "an older line\n")
    article = Article(id="20250208A07Y6400", url="u", lang="zh-CN", source="qq", markdown=expected)
    with caplog.at_level(logging.INFO), pytest.raises(DropItem):
        RevisitPipeline(settings, stats).process_item(article)
    assert [key for key in stats.get_stats() if key.startswith("newscrawl/failed/")] == [
        "newscrawl/failed/write_error/ENOTDIR"
    ]
    assert "Failed 20250208A07Y6400 (write_error" in caplog.text


def test_a_file_that_is_no_warc_is_a_bad_argument_for_replay_and_rebuild(tmp_path, capsys):
    from newscrawl.archive.files import NotAWarcFile, warc_files
    from newscrawl.archive.rebuild import run

    page = tmp_path / "page.warc.gz"
    page.write_text("<html>an HTML page saved under a WARC name</html>")
    with pytest.raises(NotAWarcFile, match="is not a WARC file"):
        warc_files(page)
    assert warc_files(SAMPLE) == [SAMPLE]
    assert run([str(page), "--output", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.md"))


def test_an_archive_of_empty_files_is_a_bad_argument_and_one_empty_file_among_others_is_not(tmp_path):
    """An empty capture file (killed before its first record) alone holds nothing to replay: it
    used to run and fail as "feed endpoints unreachable" (exit 4). Beside real files it is read."""
    import shutil

    from newscrawl.archive.files import warc_files
    from newscrawl.archive.rebuild import run

    killed = tmp_path / "archive" / "killed.warc.gz.open"
    killed.parent.mkdir()
    killed.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is empty: no record to replay"):
        warc_files(killed)
    with pytest.raises(FileNotFoundError, match="holds only empty WARC files"):
        warc_files(killed.parent)
    assert run([str(killed), "--output", str(tmp_path / "out")]) == 2
    shutil.copy(SAMPLE, killed.parent / SAMPLE.name)
    assert warc_files(killed.parent) == sorted([killed, killed.parent / SAMPLE.name])


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_rebuild_jobs_must_be_a_whole_number_of_processes(tmp_path, capsys, jobs):
    from newscrawl.archive.rebuild import run

    with pytest.raises(SystemExit) as exit_info:
        run([str(SAMPLE), "--output", str(tmp_path / "out"), "--jobs", jobs])
    assert exit_info.value.code == 2
    assert "argument --jobs/-j:" in capsys.readouterr().err


FOLDERS = ("WARC_DIR", "REVISIONS_DIR", "IMAGES_STORE")


@pytest.mark.parametrize("name", ["STATS_FILE", "STATE_FILE", "LOG_FILE", "MANIFEST", *FOLDERS])
def test_a_file_or_folder_the_run_cannot_write_is_found_before_the_run(tmp_path, name):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder must be")
    also = {"OUTPUT_DIR": str(tmp_path / "o"), "IMAGES_DOWNLOAD": "1"}
    bad = preflight.problems(cmdline_settings(**{name: str(blocker / "x.json"), **also}))
    assert len(bad) == 1 and bad[0].startswith(f"{name} {blocker / 'x.json'} cannot be created or written: "), bad
    if name not in FOLDERS:  # a folder where the file goes
        (tmp_path / "d").mkdir()
        bad = preflight.problems(cmdline_settings(**{name: str(tmp_path / "d"), **also}))
        assert len(bad) == 1 and "is a folder" in bad[0], bad
    good = preflight.problems(cmdline_settings(**{name: str(tmp_path / "new" / "x"), **also}))
    folder = tmp_path / "new" / "x" if name in FOLDERS else tmp_path / "new"
    assert good == [] and not list(folder.iterdir())  # created, and the probe file is gone again


def test_an_images_store_is_not_checked_while_images_are_not_downloaded(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder must be")
    store = {"IMAGES_STORE": str(blocker / "x"), "OUTPUT_DIR": str(tmp_path / "o")}
    assert preflight.problems(cmdline_settings(**store)) == []
    assert len(preflight.problems(cmdline_settings(**store, IMAGES_DOWNLOAD="true"))) == 1


def test_a_stats_file_that_fails_at_the_end_is_one_line_and_exit_8(tmp_path, monkeypatch):
    from newscrawl.crawl import extensions

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(extensions, "write_atomic", full_disk)
    with MockQQServer(articles=3) as mock:
        ids = mock.ids("writable")[:2]
        result = run_crawl_in_process(
            tmp_path / "out", mock.url, {"STATS_FILE": str(tmp_path / "s.json")}, ids=",".join(ids)
        )
    assert result.returncode == 8, result.stderr[-3000:]
    assert result.stats["newscrawl/articles/written"] == 2
    assert f"STATS_FILE {tmp_path / 's.json'} could not be written: [Errno 28]" in result.stderr
    assert "Traceback" not in result.stderr and "Error caught on signal handler" not in result.stderr


class RaisingExtension:
    """An extension outside newscrawl's own with a bug in its spider_opened handler: Scrapy logs
    the traceback and goes on."""

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls()
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        return ext

    def spider_opened(self, spider):
        raise KeyError("a bug in someone's extension")


def test_a_traceback_nothing_else_counts_fails_the_run_with_exit_9(tmp_path):
    extensions = {**project_settings_module.EXTENSIONS, f"{__name__}.RaisingExtension": 100}
    with MockQQServer(articles=3) as mock:
        ids = mock.ids("writable")[:2]
        result = run_crawl_in_process(tmp_path / "out", mock.url, {"EXTENSIONS": extensions}, ids=",".join(ids))
    line = summary_of(result.stderr)
    assert result.returncode == 9, result.stderr[-3000:]
    assert "written=2 " in line and "tracebacks=KeyError:1 " in line and "status=FAILED: unexpected errors" in line
    assert result.stats["newscrawl/tracebacks/KeyError"] == 1


def test_a_good_run_logs_no_traceback_and_counts_none(tmp_path):
    with MockQQServer(articles=3) as mock:
        ids = mock.ids("writable")[:2]
        result = run_crawl_in_process(tmp_path / "out", mock.url, {}, ids=",".join(ids))
    assert result.returncode == 0, result.stderr[-3000:]
    line = summary_of(result.stderr)
    assert "written=2 " in line and "tracebacks=" not in line and line.endswith("status=ok")
    assert not [key for key in result.stats if key.startswith("newscrawl/tracebacks/")]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "*", "a/b", ""])
def test_history_of_something_that_is_no_article_id_is_one_line_and_exit_2(tmp_path, capsys, bad):
    from newscrawl.archive.history import main as history_main

    (tmp_path / "out").mkdir()
    (tmp_path / "passwd.md").write_text("outside the output folder")
    code = history_main([bad, "--output", str(tmp_path / "out"), "--revisions", str(tmp_path / "rev")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == f"newscrawl: {bad!r} is not an article id (letters, digits, - and _)\n"


def test_every_checked_range_is_in_the_usage_docs():
    from newscrawl.sites import registry

    usage = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text(encoding="utf-8")
    names = set(preflight.RANGES).union(*(site.setting_ranges for site in registry().values()))
    assert sorted(name for name in names if f"`{name}`" not in usage) == []


def test_redis_that_cannot_be_used_is_one_line_and_an_exit_status(tmp_path):
    """A server that does not answer: exit 1 (could not start); a URL that is none: exit 2. Both
    were a chain of tracebacks ending in "Engine slot not assigned". The password is not shown."""
    pytest.importorskip("scrapy_redis")
    from newscrawl.scaleout import redis_problem

    refused = redis_problem(cmdline_settings(REDIS_URL="redis://user:secret@127.0.0.1:1/0"))
    assert refused[0] == 1 and refused[1].startswith("Redis at 127.0.0.1:1 cannot be used: ")
    assert "secret" not in refused[1]
    assert redis_problem(cmdline_settings(REDIS_URL="notaurl"))[0] == 2
    assert redis_problem(cmdline_settings()) is None
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "newscrawl.settings"}
    run = subprocess.run(
        [sys.executable, "-m", "newscrawl", "crawl", "qq", "-s", "REDIS_URL=redis://127.0.0.1:1",
         "-s", f"OUTPUT_DIR={tmp_path / 'out'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"newscrawl: {refused[1]}"]


def test_redis_that_answers_passes_the_check(tmp_path):
    pytest.importorskip("scrapy_redis")
    from newscrawl.scaleout import redis_problem
    from tests.redisserver import RedisServer

    with RedisServer(tmp_path / "redis") as redis:
        assert redis_problem(cmdline_settings(REDIS_URL=redis.url)) is None
