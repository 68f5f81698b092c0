"""The cron crawl end to end: the real ``scrapy crawl qq`` against the mock Tencent server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from newscrawl.convert.converter import Converter
from newscrawl.sites.qq.page import decode_html
from tests.crawlrun import REPO, check_complete, crawl_command, folder_files, run_crawl, written_ids
from tests.mockserver import DELETED_ID, PAID_ID, MockQQProcess, MockQQServer


@pytest.mark.e2e
def test_first_run_writes_the_listed_articles_second_nothing_third_the_new_ones(tmp_path):
    out = tmp_path / "out"
    with MockQQServer(articles=30, specials=True) as mock:
        first = run_crawl(out, mock.url)
        assert first.returncode == 0, first.stderr[-3000:]
        assert written_ids(out) == set(mock.ids("writable"))
        assert {DELETED_ID, PAID_ID} & written_ids(out) == set()
        for path in out.rglob("*.md"):
            check_complete(path)
        # A sample file is exactly what the page converts to.
        sample = next(i for i in mock.ids("writable") if mock.spec(i).template == "new" and mock.spec(i).thumbnail)
        html = urllib.request.urlopen(f"{mock.url}/rain/a/{sample}").read()
        expected = Converter().convert(decode_html(html), f"https://new.qq.com/rain/a/{sample}", sample).markdown
        assert (out / f"zh-CN/news/qq/{sample}.zh-CN.md").read_text("utf-8") == expected
        assert first.stat("newscrawl/articles/written") == len(mock.ids("writable"))
        assert first.stat("newscrawl/skipped/deleted") == 1 and first.stat("newscrawl/skipped/paid") == 1
        assert "newscrawl summary: found=" in first.stderr and "status=ok" in first.stderr

        mock.reset_counters()
        before = folder_files(out)
        second = run_crawl(out, mock.url)
        assert second.returncode == 0, second.stderr[-3000:]
        assert folder_files(out) == before
        assert sum(mock.article_fetches(i) for i in mock.ids()) == 0, "a second run fetched article pages"
        assert second.stat("newscrawl/articles/written") == 0
        assert second.stat("newscrawl/articles/skipped_existing") == len(mock.ids("writable"))
        assert second.stat("newscrawl/articles/skipped_gone") == 2  # deleted and paid are not retried
        assert re.search(rf"skipped=.*existing:{len(mock.ids('writable'))}", second.stderr)

        new = mock.add_articles(5)
        third = run_crawl(out, mock.url)
        assert third.returncode == 0, third.stderr[-3000:]
        assert written_ids(out) - set(before_ids(before)) == set(new)
        assert third.stat("newscrawl/articles/written") == 5


def before_ids(files: dict[str, bytes]) -> set[str]:
    return {Path(name).name.split(".")[0] for name in files}


def watch_for_partial_files(folder: Path, stop: threading.Event, problems: list[str]) -> None:
    """Poll the folder while a crawl runs: every visible .md must be complete."""
    while not stop.is_set():
        for path in list(folder.rglob("*.md")):
            try:
                check_complete(path)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - record any way a file can be broken
                problems.append(f"{path.name}: {exc!r}")
        time.sleep(0.02)


@pytest.mark.e2e
def test_faults_leave_only_complete_files_and_a_rerun_completes_the_set(tmp_path):
    out = tmp_path / "out"
    with MockQQServer(
        articles=40,
        fault_rate=0.2,
        fault_kinds=("500", "503", "timeout", "reset", "truncate"),
        delay_fault=2.0,
    ) as mock:
        stop = threading.Event()
        problems: list[str] = []
        watcher = threading.Thread(target=watch_for_partial_files, args=(out, stop, problems), daemon=True)
        out.mkdir()
        watcher.start()
        try:
            # One retry only, so some articles really fail and must be counted.
            faulted = run_crawl(out, mock.url, "-s", "RETRY_TIMES=1", "-s", "DOWNLOAD_TIMEOUT=1")
            assert mock.counters()["faults"], "the mock injected no fault"
            writable = set(mock.ids("writable"))
            written = written_ids(out)
            failed = faulted.failed()
            assert written <= writable
            # Every article is written or counted as failed, with its reason.
            assert len(written) + sum(failed.values()) == len(writable), (failed, faulted.stderr[-2000:])
            assert set(failed) <= {"http_500", "http_503", "timeout", "connection_lost"}, failed
            for reason in failed:
                assert f"({reason})" in faulted.stderr
            mock.configure(fault_rate=0.0)
            rerun = run_crawl(out, mock.url)
            assert rerun.returncode == 0, rerun.stderr[-3000:]
            assert written_ids(out) == writable
        finally:
            stop.set()
            watcher.join()
    assert not problems, problems[:5]
    assert not [p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".md")]


@pytest.mark.e2e
def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path):
    with MockQQProcess("--articles", "60", "--latency", "0.05") as mock:
        clean = tmp_path / "clean"
        (tmp_path / "a").mkdir()
        result = run_crawl(clean, mock.url, work=tmp_path / "a")
        assert result.returncode == 0, result.stderr[-3000:]

        killed = tmp_path / "killed"
        (tmp_path / "b").mkdir()
        command = crawl_command(killed, mock.url, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", work=tmp_path / "b")
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(list(killed.rglob("*.md"))) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = len(list(killed.rglob("*.md")))
        assert 0 < partial < len(written_ids(clean)), "the kill did not land mid-run"

        rerun = run_crawl(killed, mock.url, work=tmp_path / "b")
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert rerun.stat("newscrawl/articles/skipped_existing") >= partial
    assert folder_files(killed) == folder_files(clean)


@pytest.mark.e2e
def test_exit_status_says_when_a_run_failed(tmp_path):
    with MockQQServer(articles=8) as mock:
        ok = run_crawl(tmp_path / "ok", mock.url)
        assert ok.returncode == 0 and "status=ok" in ok.stderr

        mock.configure(down=True)
        down = run_crawl(tmp_path / "down", mock.url, "-s", "RETRY_TIMES=0")
        assert down.returncode == 4
        assert "FAILED: feed endpoints unreachable" in down.stderr

        mock.configure(down=False, unrecognized_layout=True)
        changed = run_crawl(tmp_path / "changed", mock.url)
        assert changed.returncode == 6
        assert "FAILED: page template stopped matching" in changed.stderr
        assert not list((tmp_path / "changed").rglob("*.md"))

        mock.configure(unrecognized_layout=False, fault_rate=1.0, fault_kinds=("503",))
        failing = run_crawl(tmp_path / "failing", mock.url, "-s", "RETRY_TIMES=0")
        assert failing.returncode == 5
        assert "FAILED: most article fetches failed" in failing.stderr

        bad = run_crawl(tmp_path / "bad", mock.url, "-a", "urls=https://example.com/not-an-article")
        assert bad.returncode == 2


@pytest.mark.e2e
def test_duplicate_url_forms_fetch_each_article_once(tmp_path):
    out = tmp_path / "out"
    with MockQQServer(articles=12, duplicate_urls=True) as mock:
        result = run_crawl(out, mock.url)
        assert result.returncode == 0, result.stderr[-3000:]
        assert written_ids(out) == set(mock.ids("writable"))
        assert all(mock.article_fetches(i) == 1 for i in mock.ids())
        assert result.stat("newscrawl/feeds/duplicate") > 0


@pytest.mark.e2e
def test_feed_arguments_limit_since_authors_and_non_articles(tmp_path):
    with MockQQServer(articles=30, hot_count=5) as mock:
        ids = mock.ids()  # newest first in feeds
        limited = run_crawl(tmp_path / "limited", mock.url, "-a", "limit=7", "-a", "hot=0")
        assert len(written_ids(tmp_path / "limited")) == 7
        assert limited.stat("newscrawl/feeds/not_article/type_4") > 0  # videos listed, skipped

        cutoff = sorted(mock.spec(i).pubtime for i in ids)[-10]
        run_crawl(tmp_path / "since", mock.url, "-a", f"since={cutoff}", "-a", "hot=0")
        assert written_ids(tmp_path / "since") == {i for i in mock.ids("writable") if mock.spec(i).pubtime >= cutoff}

        run_crawl(tmp_path / "hot", mock.url, "-a", "hot=1", "-a", "channels=none_such")
        assert len(written_ids(tmp_path / "hot")) == 5

        from tests.mockserver import DEFAULT_SUID

        mock.set_authors({DEFAULT_SUID: ids[:23]})
        authors = run_crawl(tmp_path / "authors", mock.url, "-a", f"authors={DEFAULT_SUID}")
        assert written_ids(tmp_path / "authors") == {i for i in ids[:23] if mock.spec(i).writable}
        assert authors.stat("newscrawl/feeds/ok") >= 3  # followed the cursor over pages


@pytest.mark.e2e
def test_jobdir_resumes_an_interrupted_crawl(tmp_path):
    jobdir = tmp_path / "job"
    out = tmp_path / "out"
    with MockQQProcess("--articles", "40", "--latency", "0.1") as mock:
        command = crawl_command(out, mock.url, "-s", f"JOBDIR={jobdir}", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(list(out.rglob("*.md"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # a graceful stop keeps the pending requests in JOBDIR
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 3, stderr[-2000:]  # did not finish: cron hears of it
        assert "did not finish" in stderr
        first = written_ids(out)
        mock.control.reset_counters()
        resumed = run_crawl(out, mock.url, "-s", f"JOBDIR={jobdir}")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert written_ids(out) == set(mock.control.ids("writable"))
        # The resumed run went on from the queue: no page written before was fetched again.
        assert all(mock.control.article_fetches(i) == 0 for i in first)


@pytest.mark.e2e
def test_sigterm_stops_the_crawl_with_a_summary_and_status_3(tmp_path):
    """cron's ``timeout``, systemd and ``kill`` send SIGTERM: the crawl stops as on Ctrl-C (on the
    project's event loop, uvloop where installed), says so in its summary line, exits 3, and leaves
    only whole files and no temp file behind."""
    out = tmp_path / "out"
    with MockQQProcess("--articles", "40", "--latency", "0.1") as mock:
        command = crawl_command(out, mock.url, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(list(out.rglob("*.md"))) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr[-2000:]
    summaries = [line for line in stderr.splitlines() if "newscrawl summary:" in line]
    assert len(summaries) == 1 and "status=FAILED: the crawl did not finish" in summaries[0], summaries
    written = int(re.search(r"written=(\d+)", summaries[0]).group(1))
    files = list(out.rglob("*.md"))
    assert 5 <= written == len(files) < 40  # stopped early, and the summary counts what is there
    for path in files:
        check_complete(path)
    assert not [q for q in out.rglob("*") if q.is_file() and q.suffix != ".md"]  # no temp file left


def test_readme_documents_cron_use():
    readme = (REPO / "README.md").read_text("utf-8")
    usage = (REPO / "docs" / "usage.md").read_text("utf-8")  # the details live in the docs
    for text in (readme, usage):
        assert re.search(r"^\*/\d+ \* \* \* \* .*scrapy crawl qq", text, re.M), "a crontab line"
        for needle in ("STATE_FILE", "exit", "newscrawl summary:"):
            assert needle in text
    for needle in ("newscrawl-gone.jsonl", "Reset"):
        assert needle in usage


@pytest.mark.e2e
def test_politeness_defaults_and_feed_headers(tmp_path):
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    assert settings.getbool("ROBOTSTXT_OBEY") and settings.getbool("AUTOTHROTTLE_ENABLED")
    assert not settings.getbool("HTTPCACHE_ENABLED")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 4 and settings.getfloat("DOWNLOAD_DELAY") > 0
    assert settings.getint("RETRY_TIMES") >= 2 and 503 in settings.getlist("RETRY_HTTP_CODES")
    assert "Mozilla/5.0" in settings.get("USER_AGENT")
    with MockQQServer(articles=3) as mock:
        run_crawl(tmp_path / "out", mock.url)
        log = mock.log()
    assert log[0]["path"] == "/robots.txt"
    feeds = [entry for entry in log if entry["path"].startswith(("/web_feed", "/gw/"))]
    assert feeds and all(entry["referer"] == "https://news.qq.com/" for entry in feeds)
    assert all("Mozilla/5.0" in entry["user_agent"] for entry in log)


@pytest.mark.e2e
def test_progress_lines_count_articles(tmp_path):
    with MockQQServer(articles=20, latency=0.1) as mock:
        result = run_crawl(
            tmp_path / "out", mock.url, "-s", "PROGRESS_INTERVAL=0.3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"
        )
    lines = [line for line in result.stderr.splitlines() if "Articles: found" in line]
    assert lines, result.stderr[-2000:]
    assert re.search(
        r"Articles: found \d+, written \d+, updated \d+, skipped \d+, failed \d+ \(\d+ articles/min\)", lines[-1]
    )
    assert "pages/min" not in result.stderr  # Scrapy's page-counting line is replaced


@pytest.mark.e2e
def test_bad_arguments_fetch_nothing_and_exit_2(tmp_path):
    with MockQQServer(articles=3) as mock:
        missing = tmp_path / "no-such-archive"
        for args in (("-a", f"warc={missing}"), ("-a", "limit=many"), ("-a", "since=yesterday-ish")):
            mock.reset_counters()
            result = run_crawl(tmp_path / "out", mock.url, *args)
            assert result.returncode == 2, result.stderr[-2000:]
            assert "Bad argument" in result.stderr and "Traceback" not in result.stderr
            assert mock.total() == 0


@pytest.mark.e2e
def test_feed_paging_waits_while_articles_are_pending(tmp_path):
    """QQ_FEED_BACKLOG: the next feed page is held back, then released; nothing is lost."""
    with MockQQServer(articles=60, latency=0.02, feed_extras=False) as mock:
        result = run_crawl(
            tmp_path / "out", mock.url, "-a", "hot=0", "-a", "channels=news_news_top",
            "-s", "QQ_FEED_ITEM_COUNT=10", "-s", "QQ_FEED_PAGES=100", "-s", "QQ_FEED_BACKLOG=5",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stat("newscrawl/feeds/held_back") > 0
        assert written_ids(tmp_path / "out") == set(mock.ids("writable"))
