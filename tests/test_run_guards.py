"""Cron runs that used to do less than asked and still end ``status=ok`` (issue 11).

Each test runs the real ``scrapy crawl qq`` against the mock Tencent server (or a host
that never answers), except where an in-process check proves the same point faster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
from scrapy.http import Request, TextResponse
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from newscrawl.crawl.state import GoneState
from newscrawl.sites.qq.feeds import FeedError, parse_channel_feed
from newscrawl.sites.qq.spider import QQSpider
from tests.crawlrun import REPO, crawl_command, run_crawl, written_ids
from tests.mockserver import MockQQProcess, MockQQServer, synthetic_id

# ---- JOBDIR kept across cron runs ---------------------------------------------------------


@pytest.mark.e2e
def test_a_reused_jobdir_finds_new_articles_and_retries_failed_ones(tmp_path):
    """Done when 2: run, publish 10 more, run: the 10 new are written (and a failed one is retried)."""
    out, jobdir = tmp_path / "out", tmp_path / "job"
    with MockQQServer(articles=10) as mock:
        failing = mock.ids()[0]
        mock.fail_always(failing, "503")
        first = run_crawl(out, mock.url, "-s", f"JOBDIR={jobdir}", "-s", "RETRY_TIMES=0")
        assert first.returncode == 0, first.stderr[-3000:]
        assert written_ids(out) == set(mock.ids("writable"))
        assert first.failed() == {"http_503": 1}

        new = mock.add_articles(10)
        mock.fail_always(failing, None)
        second = run_crawl(out, mock.url, "-s", f"JOBDIR={jobdir}")
        assert second.returncode == 0, second.stderr[-3000:]
        assert set(new) <= written_ids(out)
        assert failing in written_ids(out)  # a finished job leaves no fingerprint behind
        assert written_ids(out) == set(mock.ids("writable"))
        assert second.stat("newscrawl/articles/written") == len(new) + 1
        assert second.stat("newscrawl/articles/found") >= len(mock.ids()) and second.stat("dupefilter/filtered") == 0


def test_the_jobdir_filter_is_the_default_of_one_process_runs_only():
    from scrapy.settings import Settings

    from newscrawl.crawl.jobdir import JobDirAddon

    for redis, expected in (("", "newscrawl.crawl.jobdir.JobDupeFilter"), ("redis://127.0.0.1:1/0", None)):
        settings = Settings()
        settings.setmodule("newscrawl.settings", priority="project")
        settings.set("REDIS_URL", redis, priority="cmdline")
        JobDirAddon().update_settings(settings)
        assert (settings["DUPEFILTER_CLASS"] == expected) if expected else "jobdir" not in settings["DUPEFILTER_CLASS"]
    assert "newscrawl.crawl.jobdir.JobDirAddon" in get_project_settings().getdict("ADDONS")


# ---- spider arguments -----------------------------------------------------------------------


@pytest.mark.e2e
def test_unknown_argument_names_fetch_nothing_and_list_the_valid_ones(tmp_path):
    valid = "authors, channels, force, hot, ids, limit, revisit, since, urls, warc"
    with MockQQServer(articles=3) as mock:
        for name in ("id", "chanels"):
            mock.reset_counters()
            result = run_crawl(tmp_path / "out", mock.url, "-a", f"{name}=news_news_top")
            assert result.returncode == 2, result.stderr[-2000:]
            assert f"unknown argument '{name}' (valid names: {valid})" in result.stderr
            assert "Traceback" not in result.stderr
            assert mock.total() == 0
    assert not written_ids(tmp_path / "out")


def test_argument_names_come_from_the_spider_signature():
    names = {"urls", "ids", "channels", "hot", "authors", "limit", "since", "force", "revisit", "warc"}
    assert QQSpider.argument_names() == names
    assert QQSpider.unknown_arguments({"limit": "1", "_job": "scrapyd-job"}) == []  # scrapyd's own
    assert len(QQSpider.unknown_arguments({"name": "x", "start_urls": "y"})) == 2


# ---- settings checked before the run ------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [
        ("DATE_STYLE=bogus", "rfc3339, legacy"),
        ("LOG_LEVEL=bogus", "CRITICAL, ERROR, WARNING, INFO, DEBUG"),
        ("WRITE_FSYNC=maybe", "true, false, 1, 0"),
    ],
)
@pytest.mark.e2e
def test_a_bad_enumerated_setting_exits_2_before_any_request(tmp_path, setting, allowed):
    with MockQQServer(articles=3) as mock:
        result = run_crawl(tmp_path / "out", mock.url, "-s", setting)
        assert mock.total() == 0
    assert result.returncode == 2, result.stderr[-2000:]
    name, value = setting.split("=")
    assert f"{name}='{value}' is not allowed; use one of: {allowed}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
def test_an_unwritable_output_dir_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    with MockQQServer(articles=3) as mock:
        result = run_crawl(out, mock.url, work=tmp_path)
        assert mock.total() == 0
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines == [f"newscrawl: OUTPUT_DIR {out} cannot be created or written: [Errno 20] Not a directory: '{out}'"]
    assert not result.stats  # nothing started


# ---- the summary line ---------------------------------------------------------------------


@pytest.mark.parametrize("level", ["WARNING", "CRITICAL"])
@pytest.mark.e2e
def test_the_summary_line_is_printed_at_every_log_level(tmp_path, level):
    with MockQQServer(articles=3) as mock:
        result = run_crawl(tmp_path / "out", mock.url, "-s", f"LOG_LEVEL={level}", "-a", "hot=0")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = [line for line in result.stderr.splitlines() if "newscrawl summary:" in line]
    assert len(summary) == 1 and "status=ok" in summary[0] and f"[newscrawl.crawl.extensions] {level}" in summary[0]
    assert " INFO: " not in result.stderr  # the level itself is still obeyed


# ---- feeds ----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_an_error_envelope_is_a_failed_feed_page_named_by_channel_and_page(tmp_path):
    with MockQQServer(articles=5, feed_fault_rate=1.0, feed_fault_kinds=("error_envelope",)) as mock:
        result = run_crawl(tmp_path / "out", mock.url, "-a", "channels=news_news_top,news_news_tech", "-a", "hot=1")
    assert result.returncode == 4, result.stderr[-2000:]
    assert result.stat("newscrawl/feeds/failed/error_envelope") == 3  # two channels and the hot list
    assert "feeds_failed=error_envelope:3" in result.stderr
    for label in ("channel news_news_top page 1", "channel news_news_tech page 1", "hot list"):
        assert f"Feed {label} failed (error_envelope)" in result.stderr


def test_error_envelopes_raise_and_an_empty_page_does_not():
    for body in (b'{"code":-1,"msg":"error","data":null}', b'{"ret":-1,"msg":"busy"}', b'{"ret":"5","data":[]}'):
        with pytest.raises(FeedError) as caught:
            parse_channel_feed(body)
        assert caught.value.reason == "error_envelope"
    assert parse_channel_feed(b'{"ret":0,"msg":"","data":[]}') == []  # exhausted, not failed
    with pytest.raises(FeedError) as caught:
        parse_channel_feed(b'{"ret":0,"data":[{"id"')
    assert caught.value.reason == "bad_json"


def _channel_item(article_id: str, articletype: str = "0", **extra: object) -> dict:
    url = f"https://new.qq.com/rain/a/{article_id}"
    return {"id": article_id, "title": article_id, "articletype": articletype, "link_info": {"url": url}, **extra}


def test_cards_of_type_525_are_expanded_and_their_articles_requested(tmp_path):
    plain, inside = synthetic_id(1), [synthetic_id(2), synthetic_id(3)]
    card = _channel_item("CARD20250101", "525", sub_item=[_channel_item(i) for i in inside])
    page = json.dumps({"ret": 0, "data": [_channel_item(plain), card]}).encode()
    assert [item.id for item in parse_channel_feed(page) if item.is_article] == [plain, *inside]

    settings = {k: v for k, v in get_project_settings().items() if k.startswith("OUTPUT_PATH")}
    crawler = get_crawler(QQSpider, {**settings, "OUTPUT_DIR": str(tmp_path), "STATE_FILE": ""})
    spider = QQSpider.from_crawler(crawler)
    crawler.stats.open_spider()
    meta = {"feed_kind": "channel", "channel": "news_news_top", "page": 1}
    url = crawler.settings["QQ_FEED_URL"]  # the qq site's default, applied by its spider
    response = TextResponse(url, body=page, encoding="utf-8", request=Request(url, meta=meta))
    requested = [r.meta["article_id"] for r in spider.parse_feed(response) if "article_id" in r.meta]
    assert requested == [plain, *inside]
    assert crawler.stats.get_value("newscrawl/feeds/not_article/type_525") == 1


# ---- articles with no text and no images ---------------------------------------------------


@pytest.mark.e2e
def test_an_empty_article_is_recorded_with_its_reason_and_retried_after_the_delay(tmp_path):
    out = tmp_path / "out"
    with MockQQServer(articles=4) as mock:
        empty = mock.ids()[1]
        mock.set_mode(empty, "empty")
        first = run_crawl(out, mock.url, "-a", "hot=0")
        assert first.returncode == 0, first.stderr[-3000:]
        assert first.stat("newscrawl/dropped/empty") == 1
        gone = [json.loads(line) for line in (tmp_path / "gone.jsonl").read_text().splitlines()]
        assert [(g["id"], g["reason"]) for g in gone] == [(empty, "empty")]
        mentions = [line for line in first.stderr.splitlines() if empty in line and "WARNING" in line]
        assert mentions == [m for m in mentions if f"Dropped {empty} (empty): no text and no images" in m]
        assert len(mentions) == 1 and "markdown" not in first.stderr  # one line, no dump of the item

        mock.reset_counters()
        second = run_crawl(out, mock.url, "-a", "hot=0")
        assert mock.article_fetches(empty) == 0
        assert second.stat("newscrawl/articles/skipped_gone") == 1

        third = run_crawl(out, mock.url, "-a", "hot=0", "-s", "EMPTY_RETRY_HOURS=0")
        assert mock.article_fetches(empty) == 1  # the delay is over: looked at again
        assert third.stat("newscrawl/dropped/empty") == 1


def test_gone_state_delays_empty_articles_and_keeps_permanent_ones(tmp_path):
    path = tmp_path / "gone.jsonl"
    lines = [
        {"id": "A1", "reason": "empty", "at": "2000-01-01T00:00:00+00:00"},  # long ago: retry
        {"id": "A2", "reason": "deleted", "at": "2000-01-01T00:00:00+00:00"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    state = GoneState(path, retry_after={"empty": 72 * 3600})
    assert "A1" not in state and "A2" in state
    assert state.mark("A1", "empty") and "A1" in state  # recorded again, now
    assert not state.mark("A1", "empty")
    assert "A1" in GoneState(path, retry_after={"empty": 72 * 3600})  # the newest line wins
    assert "A1" not in GoneState(path)  # without a delay for "empty", never counted as gone
    assert get_project_settings().getfloat("EMPTY_RETRY_HOURS") > 0


def test_a_jobdir_scrapy_could_not_resume_is_one_line_before_the_run(tmp_path):
    """A damaged spider.state (a run killed while writing it) was tracebacks and exit 9 on every
    later run; a damaged queue state, tracebacks and exit 1."""
    import pickle

    from newscrawl.crawl import preflight
    from newscrawl.crawl.jobdir import resume_problem

    job = tmp_path / "job"
    (job / "requests.queue").mkdir(parents=True)
    assert resume_problem(job) is None  # a new job
    (job / "spider.state").write_bytes(pickle.dumps({"seen": 1}, protocol=4))
    (job / "requests.queue" / "active.json").write_text('{"0": []}')
    assert resume_problem(job) is None  # a job to resume
    (job / "spider.state").write_bytes(b"\x80\x04\x95")  # torn
    assert resume_problem(job).startswith(f"JOBDIR {job} cannot be resumed: spider.state is damaged (")
    (job / "spider.state").write_bytes(pickle.dumps({}, protocol=4))
    (job / "requests.queue" / "active.json").write_text("garbage")
    problem = f"JOBDIR {job} cannot be resumed: requests.queue/active.json is damaged (JSONDecodeError"
    assert resume_problem(job).startswith(problem)
    settings = get_project_settings().copy()
    settings.set("JOBDIR", str(job), priority="cmdline")
    settings.set("OUTPUT_DIR", str(tmp_path / "out"), priority="cmdline")
    [found] = preflight.problems(settings)
    assert found.startswith(problem) and found.endswith("move the folder away to start a new job")


def test_a_damaged_state_file_is_read_line_by_line_and_its_bad_lines_are_counted(tmp_path):
    """Bytes that are not UTF-8 used to be a traceback (exit 1) before the first request; lines
    that are no record were skipped without a word. A killed run's torn last line is expected."""
    path = tmp_path / "gone.jsonl"
    good = json.dumps({"id": "A1", "reason": "deleted", "at": "2025-01-01T00:00:00+00:00"})
    odd_time = json.dumps({"id": "A2", "reason": "deleted", "at": "0001-01-01T00:00:00+14:00"})
    path.write_bytes(
        b"garbage\n\x00\xff\xfe\n" + good.encode() + b'\n{"id": 5}\n' + odd_time.encode() + b'\n{"id": "A3", "rea'
    )
    state = GoneState(path)
    assert "A1" in state and "A2" in state and "A3" not in state
    assert state.unreadable == 3  # garbage, the bad bytes, the record without a reason; not the torn end
    path.write_text(good + "\n")
    assert GoneState(path).unreadable == 0


def test_a_run_says_how_many_lines_of_its_state_file_it_could_not_read(tmp_path):
    state = tmp_path / "gone.jsonl"
    state.write_bytes(b"not a state file\n\xff\n")
    with MockQQServer(articles=2) as mock:
        from tests.inprocess import run_crawl_in_process

        ids = ",".join(mock.ids("writable")[:1])
        result = run_crawl_in_process(tmp_path / "out", mock.url, {"STATE_FILE": str(state)}, ids=ids)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["newscrawl/state/unreadable_lines"] == 2
    assert f"STATE_FILE {state}: 2 lines are no record of a gone article" in result.stderr


# ---- a host that accepts connections and never answers ---------------------------------------


class SilentHost:
    """Accepts connections on 127.0.0.1, records each request line, never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[str] = []
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            line = conn.makefile("rb").readline().decode("latin-1").strip()
        except OSError:
            return
        with self.lock:
            self.requests.append(line)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.mark.e2e
def test_a_silent_host_gets_the_feeds_verdict_with_short_robots_and_feed_timeouts(tmp_path):
    host = SilentHost()
    try:
        result = run_crawl(
            tmp_path / "out", host.url, "-a", "channels=news_news_top", "-a", "hot=0",
            "-s", "QQ_FEED_TIMEOUT=1", "-s", "ROBOTSTXT_TIMEOUT=1", "-s", "RETRY_TIMES=3",
            timeout=120,
        )  # fmt: skip
    finally:
        host.close()
    assert result.returncode == 4, result.stderr[-3000:]
    assert "FAILED: feed endpoints unreachable" in result.stderr
    assert "Feed channel news_news_top page 1 failed (timeout)" in result.stderr
    # robots.txt once (no retries), the feed 1 + QQ_FEED_RETRY_TIMES times: not RETRY_TIMES=3.
    settings = spider_settings()
    robots = [r for r in host.requests if r.startswith("GET /robots.txt")]
    feeds = [r for r in host.requests if r.startswith("POST /web_feed/getPCList")]
    assert len(robots) == 1 + settings.getint("ROBOTSTXT_RETRY_TIMES") == 1
    assert len(feeds) == 1 + settings.getint("QQ_FEED_RETRY_TIMES")
    assert "took longer than 1.0 seconds" in result.stderr
    # The robots.txt timeout: one line and a count in the summary, never a traceback.
    assert f"robots.txt of {host.url.split('//')[1]} could not be fetched (DownloadTimeoutError" in result.stderr
    assert "crawling without its rules" in result.stderr
    assert "robots_failed=DownloadTimeoutError:1 " in result.stderr
    assert "Traceback" not in result.stderr


def spider_settings():
    """The project's settings as the qq spider runs with them (its site's settings applied)."""
    settings = get_project_settings()
    QQSpider.update_settings(settings)
    return settings


def test_silent_host_defaults_give_the_verdict_within_about_a_minute():
    settings = spider_settings()
    robots = settings.getfloat("ROBOTSTXT_TIMEOUT") * (1 + settings.getint("ROBOTSTXT_RETRY_TIMES"))
    feeds = settings.getfloat("QQ_FEED_TIMEOUT") * (1 + settings.getint("QQ_FEED_RETRY_TIMES"))
    assert robots <= 15 and robots + feeds <= 65
    assert settings.getfloat("DOWNLOAD_TIMEOUT") >= settings.getfloat("QQ_FEED_TIMEOUT")  # articles keep theirs


# ---- Telnet console and remote control off ------------------------------------------------------


def without_telnet_switch(command: list[str]) -> list[str]:
    """crawl_command's ``-s TELNETCONSOLE_ENABLED=0`` removed: the project's defaults must do."""
    i = command.index("TELNETCONSOLE_ENABLED=0")
    return command[: i - 1] + command[i + 1 :]


@pytest.mark.e2e
def test_no_telnet_console_or_remote_control_and_nothing_left_in_home_after_kill_9(tmp_path):
    """Done when 4: HOME is an empty folder; a run killed with -9 leaves nothing in it."""
    settings = get_project_settings()
    assert not settings.getbool("TELNETCONSOLE_ENABLED") and not settings.getbool("REMOTE_CONTROL_ENABLED")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    log = tmp_path / "crawl.log"
    out = tmp_path / "out"
    with MockQQProcess("--articles", "40", "--latency", "0.05") as mock:
        command = without_telnet_switch(crawl_command(out, mock.url))
        with log.open("w") as stderr:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            deadline = time.monotonic() + 60
            while len(list(out.rglob("*.md"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert proc.poll() is None, "the crawl ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "Spider opened" in text, text[-2000:]
    assert list(home.rglob("*")) == []
    for needle in ("Telnet console listening", "TelnetConsole", "Remote control HTTP server", "RemoteControl"):
        assert needle not in text


@pytest.mark.e2e
def test_telnet_and_remote_control_turn_on_with_one_setting_each(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(tmp_path)
    command = [
        *without_telnet_switch(crawl_command(tmp_path / "out", "http://127.0.0.1:9")),
        "-s", "TELNETCONSOLE_ENABLED=1", "-s", "REMOTE_CONTROL_ENABLED=1", "-a", "limit=x",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]  # the bad argument: nothing fetched
    assert "Telnet console listening on 127.0.0.1:" in result.stderr
    assert "Remote control HTTP server listening" in result.stderr
