"""Scale-out: several real ``scrapy crawl qq`` workers share one crawl through a real Redis.

Workers are subprocesses against the mock Tencent server, each with its own STATE_FILE and
STATS_FILE, all with one OUTPUT_DIR and one REDIS_URL (a redis-server these tests start).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from scrapy import Request
from scrapy.settings import Settings

from newscrawl.fingerprint import ArticleFingerprinter
from newscrawl.scaleout import ScaleOut
from newscrawl.scaleout.scheduler import HOST, RedisRun, worker_id
from newscrawl.sites.qq.feeds import channel_feed_body
from tests.crawlrun import folder_files, run_crawl, written_ids
from tests.mockserver import MockQQProcess
from tests.redisserver import RedisServer
from tests.scaleoutrun import CHANNELS, start_worker, start_workers, wait_all

ARTICLES = 300
# Per-worker concurrency fixed low, and 50 ms per response: a crawl lasts long enough for
# every worker to take part (and for a kill to land mid-run) on a 2-core machine.
LATENCY = "0.05"
WORKER_SETTINGS = ("-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "PROGRESS_INTERVAL=0")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis(redis_server):
    redis_server.flush()
    yield redis_server
    redis_server.flush()


@pytest.fixture(scope="module")
def mock():
    with MockQQProcess("--articles", str(ARTICLES), "--channels", CHANNELS, "--latency", LATENCY) as proc:
        yield proc


@pytest.fixture(scope="module")
def reference(mock, tmp_path_factory):
    """A single-worker run (no Redis): the folder every scale-out run must reproduce."""
    base = tmp_path_factory.mktemp("single")
    mock.control.reset_counters()
    result = run_crawl(base / "out", mock.url, *WORKER_SETTINGS, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(written_ids(base / "out")) == ARTICLES
    return {"files": folder_files(base / "out"), "feed_hits": mock.control.hits("/web_feed/getPCList")}


def test_three_workers_write_every_article_once_and_match_a_single_worker(tmp_path, mock, redis, reference):
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    workers = start_workers(3, out, mock.url, redis.url, tmp_path, *WORKER_SETTINGS)
    codes = wait_all(workers, timeout=90)  # idle workers close on their own
    logs = [w.stderr() for w in workers]
    assert codes == [0, 0, 0], [log[-2000:] for log in logs]
    assert all("status=ok" in log for log in logs)

    assert len(list(out.rglob("*.md"))) == ARTICLES
    assert written_ids(out) == set(control.ids("writable"))
    assert folder_files(out) == reference["files"]
    # Each article page was fetched once in total, and written by exactly one worker.
    assert {control.article_fetches(i) for i in control.ids()} == {1}
    stats = [w.stats() for w in workers]
    assert sum(s.get("newscrawl/articles/written", 0) for s in stats) == ARTICLES
    assert not any(s.get("newscrawl/articles/unchanged") for s in stats)
    # Every worker took part; all were one run.
    assert all(s.get("newscrawl/articles/written", 0) > 0 for s in stats), [
        s.get("newscrawl/scaleout/worker") for s in stats
    ]
    assert len({s["newscrawl/scaleout/run"] for s in stats}) == 1
    # Feed pages (POSTs with bodies) were deduplicated across workers: as many as one worker asks.
    assert control.hits("/web_feed/getPCList") == reference["feed_hits"]
    # The run ended with its last worker: nothing of it is left in Redis.
    assert redis.client().keys("*") == []


def test_a_worker_killed_mid_run_loses_nothing_after_a_rerun(tmp_path, mock, redis, reference):
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    workers = start_workers(3, out, mock.url, redis.url, tmp_path, *WORKER_SETTINGS)
    victim = workers[0]
    client = redis.client()
    deadline = time.monotonic() + 60
    # Mid-run: 60 files written, and the victim is crawling (busy in its run's state).
    while time.monotonic() < deadline:
        states = {k.decode(): v.decode() for key in client.keys("*:state") for k, v in client.hgetall(key).items()}
        victim_busy = any(k.startswith(f"{HOST}@{victim.proc.pid}@") and v == "busy" for k, v in states.items())
        if len(list(out.rglob("*.md"))) >= 60 and victim_busy:
            break
        time.sleep(0.02)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait()
    codes = wait_all(workers[1:], timeout=90)
    survivors = [w.stderr() for w in workers[1:]]
    assert codes == [0, 0], [log[-2000:] for log in survivors]
    assert any(f"@{victim.proc.pid}@" in log and "are dead" in log for log in survivors)
    assert client.keys("*") == [], "the run did not end when its last live worker left"

    writable = set(control.ids("writable"))
    missing = writable - written_ids(out)
    assert missing, "the killed worker had no article in hand: the kill did not land mid-run"
    assert len(written_ids(out)) > 60
    # The killed worker's articles were taken once (their fingerprints stayed in the run's filter).
    assert all(control.article_fetches(i) <= 1 for i in writable)

    control.reset_counters()
    rerun = start_worker(out, mock.url, redis.url, tmp_path / "rerun", *WORKER_SETTINGS)
    assert wait_all([rerun], timeout=90) == [0], rerun.stderr()[-3000:]
    assert folder_files(out) == reference["files"]  # complete, identical, no temp files left
    # The rerun fetched exactly what the killed worker had taken and not written.
    assert {i for i in writable if control.article_fetches(i)} == missing
    assert rerun.stats()["newscrawl/articles/skipped_existing"] == ARTICLES - len(missing)


def test_an_idle_worker_waits_for_busy_ones_then_closes_on_its_own(tmp_path, mock, redis):
    """Alone with a (fake) busy worker: waits REDIS_IDLE_CLOSE_SECONDS, then closes with status 0."""
    control = mock.control
    # A live member of the run that stays busy: this test process, on this host.
    run = RedisRun(redis.client(), "newscrawl:qq", timeout=60, worker=worker_id(name="test"))
    run_id, _ = run.join()
    ids = control.ids()[:5]
    started = time.monotonic()
    worker = start_worker(
        tmp_path / "out", mock.url, redis.url, tmp_path / "w", "-a", f"ids={','.join(ids)}",
        "-s", "REDIS_IDLE_CLOSE_SECONDS=3", *WORKER_SETTINGS,
    )  # fmt: skip
    assert wait_all([worker], timeout=60) == [0], worker.stderr()[-3000:]
    took = time.monotonic() - started
    log = worker.stderr()
    assert f"joined run {run_id}" in log
    assert "idle for 3 s (REDIS_IDLE_CLOSE_SECONDS) while" in log and f"{run.worker} busy" in log
    assert took >= 3
    assert written_ids(tmp_path / "out") == set(ids)
    assert run.leave() is True  # the fake worker was the last one left


def test_redis_url_alone_switches_the_scheduler():
    def settings_with(**values: str) -> Settings:
        settings = Settings()
        settings.setmodule("newscrawl.settings", priority="project")
        for name, value in values.items():
            settings.set(name, value, priority="cmdline")
        ScaleOut().update_settings(settings)
        return settings

    plain = settings_with()
    assert plain["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
    assert plain["DUPEFILTER_CLASS"] == "scrapy.dupefilters.RFPDupeFilter"
    shared = settings_with(REDIS_URL="redis://127.0.0.1:6379/0")
    assert shared["SCHEDULER"] == "newscrawl.scaleout.scheduler.SharedScheduler"
    assert shared["DUPEFILTER_CLASS"] == "newscrawl.scaleout.scheduler.ArticleDupeFilter"
    assert "newscrawl.scaleout.ScaleOut" in plain.getdict("ADDONS")


def test_article_requests_are_fingerprinted_by_article_id():
    fp = ArticleFingerprinter().fingerprint
    article = "20250208A07Y6400"
    forms = [
        Request(f"https://new.qq.com/rain/a/{article}", meta={"article_id": article}),
        Request(f"https://news.qq.com/rain/a/{article}?adChannelId=news", meta={"article_id": article}),
        Request(f"http://127.0.0.1:1234/rain/a/{article}", meta={"article_id": article, "feed": {"title": "t"}}),
    ]
    assert len({fp(r) for r in forms}) == 1
    assert fp(forms[0]) != fp(Request(forms[0].url, meta={"article_id": "20250208A07Y6500"}))
    # A redirect of an article request is a new request (to the "page gone" page, say).
    redirected = Request(
        "https://www.qq.com/babygohome/", meta={"article_id": article, "redirect_urls": [forms[0].url]}
    )
    assert fp(redirected) != fp(forms[0])
    # Feed POSTs: one fingerprint per page asked, the same in every worker.
    url = "https://i.news.qq.com/web_feed/getPCList"
    page = [Request(url, method="POST", body=channel_feed_body("news_news_top", n, 20)) for n in (1, 1, 2)]
    assert fp(page[0]) == fp(page[1]) != fp(page[2])


def test_run_membership_start_join_dead_workers_and_end(redis):
    client = redis.client()

    def member(name: str, pid: int | None = None) -> RedisRun:
        return RedisRun(client, "t:qq", timeout=2.0, worker=worker_id(pid, name))

    a, b = member("a"), member("b")
    run, live = a.join()
    assert (live, a.fresh) == (0, True)
    assert b.join() == (run, 1) and not b.fresh
    client.zadd(a.key("requests"), {b"x": 0})
    assert b.beat("idle") == (1, {a.worker: "busy", b.worker: "idle"})

    # A worker on this host whose process is gone is dropped at once, without waiting for the timeout.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = member("g", pid=dead.pid)
    assert ghost.join()[0] == run
    assert ghost.worker not in b.beat("idle")[1]
    # A worker whose heartbeat is older than the timeout is dead, wherever it runs.
    remote = RedisRun(client, "t:qq", timeout=2.0, worker="otherhost@1@1.r")
    remote.join()
    # Same hostname, another pid namespace (a container with host networking): its pid means nothing here.
    foreign = RedisRun(client, "t:qq", timeout=2.0, worker=f"{HOST}@{dead.pid}@elsewhere.f")
    foreign.join()
    assert {remote.worker, foreign.worker} <= set(b.beat("idle")[1])
    for _ in range(2):
        time.sleep(1.2)
        a.beat("busy")
    assert b.beat("idle")[1] == {a.worker: "busy", b.worker: "idle"}

    assert a.leave() is False
    assert b.leave() is True  # the last live worker ends the run: its keys go
    assert client.keys("t:qq:*") == []
    c = member("c")
    assert c.join()[0] != run and c.fresh
    with pytest.raises(ValueError):
        RedisRun(client, "t:qq", timeout=30, run="no spaces or /")


def test_losing_redis_mid_run_stops_workers_as_unfinished_and_a_rerun_completes(tmp_path, mock, redis, reference):
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    with RedisServer(tmp_path / "lost-redis") as doomed:
        workers = start_workers(
            2, out, mock.url, doomed.url, tmp_path, "-s", "REDIS_WORKER_TIMEOUT=2", *WORKER_SETTINGS
        )
        deadline = time.monotonic() + 60
        while len(list(out.rglob("*.md"))) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        doomed.stop()
        stopped = time.monotonic()
        codes = wait_all(workers, timeout=60)
    assert time.monotonic() - stopped < 30
    logs = [w.stderr() for w in workers]
    assert codes == [3, 3], [log[-2000:] for log in logs]  # the crawl did not finish: cron hears of it
    assert all("Spider closed (redis_unavailable)" in log and "Redis unreachable" in log for log in logs)
    assert len(written_ids(out)) < ARTICLES

    rerun = start_worker(out, mock.url, redis.url, tmp_path / "rerun", *WORKER_SETTINGS)
    assert wait_all([rerun], timeout=90) == [0], rerun.stderr()[-3000:]
    assert folder_files(out) == reference["files"]
