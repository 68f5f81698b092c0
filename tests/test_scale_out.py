"""Scale-out: several real ``scrapy crawl qq`` workers share one crawl through a real Redis.

Workers are subprocesses against the mock Tencent server, each with its own STATE_FILE and
STATS_FILE, all with one OUTPUT_DIR and one REDIS_URL (a redis-server these tests start).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from scrapy import Request
from scrapy.settings import Settings
from scrapy_redis import picklecompat

from newscrawl.crawl.fingerprint import ArticleFingerprinter
from newscrawl.scaleout import ScaleOut
from newscrawl.scaleout.scheduler import BUSY, HOST, IDLE, RedisRun, worker_id
from newscrawl.sites.qq.feeds import channel_feed_body
from newscrawl.sites.qq.spider import QQSpider
from tests.crawlrun import folder_files, run_crawl, written_ids
from tests.mockserver import MockQQProcess
from tests.redisserver import RedisServer
from tests.scaleoutrun import CHANNELS, Worker, start_worker, start_workers, wait_all

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


@pytest.mark.e2e
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


# Kill tests: each worker may take 12 requests while only 4 download at a time, so a killed
# worker also holds requests waiting in its downloader (they must come back too).
KILL_SETTINGS = ("-s", "CONCURRENT_REQUESTS=12", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "PROGRESS_INTERVAL=0")


def member_pid(member: str) -> int:
    return int(member.split("@")[1])


def held_requests(client) -> dict[int, list[dict]]:
    """Worker pid -> the meta of each request it has taken and not finished (the run's in-flight records)."""
    held: dict[int, list[dict]] = {}
    for key in client.keys("newscrawl:qq:*:inflight:*"):
        pid = member_pid(key.decode().rsplit(":", 1)[1])
        for value in client.hvals(key):
            held.setdefault(pid, []).append(picklecompat.loads(value.partition(b"\n")[2]).get("meta") or {})
    return held


def kill(worker: Worker) -> None:
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()


def wait_for_files(out, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(out.rglob("*.md"))) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def requeued_from(logs: list[str], pid: int) -> int:
    """Requests of the dead worker ``pid`` that the survivors' logs say they put back in the queue."""
    pattern = re.compile(rf"worker \S+@{pid}@\S+ is dead \(its process is gone\): (\d+) requests it had taken")
    return sum(int(n) for log in logs for n in pattern.findall(log))


def check_finished_by_survivors(
    out, control, redis, reference, survivors: list[Worker], dead: list[Worker]
) -> list[str]:
    """The survivors exit 0 with every file written, as a single worker writes them; no key left."""
    codes = wait_all(survivors, timeout=90)
    logs = [w.stderr() for w in survivors]
    assert codes == [0] * len(survivors), [log[-2000:] for log in logs]
    assert written_ids(out) == set(control.ids("writable"))
    files = folder_files(out)
    # A writer killed mid-write leaves its temp file (the next start on this host removes it).
    dead_pids = "|".join(str(w.proc.pid) for w in dead)
    leftovers = {name for name in files if re.search(rf"@(?:{dead_pids})\.[0-9a-f]+\.tmp$", name)}
    assert {k: v for k, v in files.items() if k not in leftovers} == reference["files"]
    assert redis.client().keys("*") == [], "the run did not end with its last worker"
    return logs


@pytest.mark.e2e
def test_killing_the_worker_that_holds_a_feed_page_loses_nothing(tmp_path, mock, redis, reference):
    """kill -9 of a worker holding a channel's page 2 or 3: the survivors alone write all 300.

    The mock logs a request only when it answers, so who holds a page *now* is read from the
    run's in-flight records; the mock's counters confirm the feeds were mid-way at the kill.
    Without the re-queue, the rest of that channel (every later page and its articles) would
    never be asked in this run.
    """
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    workers = start_workers(3, out, mock.url, redis.url, tmp_path, *KILL_SETTINGS)
    by_pid = {w.proc.pid: w for w in workers}
    client = redis.client()
    victim, held = None, []
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for pid, metas in held_requests(client).items():
            mid_feed = any(m.get("feed_kind") == "channel" and 2 <= m["page"] <= 3 for m in metas)
            # Holding more than the 4 it can download at once: some wait in its downloader.
            if pid in by_pid and mid_feed and len(metas) >= 8:
                victim, held = by_pid[pid], metas
                kill(victim)
                break
        else:
            time.sleep(0.005)
    assert victim is not None, "no worker was seen holding a channel's page 2 or 3"
    feed_hits_at_kill = control.hits("/web_feed/getPCList")
    assert feed_hits_at_kill < reference["feed_hits"], "the feeds were not mid-way at the kill"
    # What it held when it died (unless a survivor re-queued it already: then what it held just before).
    held = held_requests(client).get(victim.proc.pid) or held

    survivors = [w for w in workers if w is not victim]
    logs = check_finished_by_survivors(out, control, redis, reference, survivors, [victim])
    # Re-queued once, by one survivor: the page, and more than the 4 it was downloading.
    marks = [log for log in logs if f"@{victim.proc.pid}@" in log and "is dead" in log]
    assert len(marks) == 1, "the dead worker's requests were re-queued by exactly one survivor"
    assert requeued_from(logs, victim.proc.pid) > 4, marks[0][-2000:]
    # Every feed page was asked, the held ones at most once more (a survivor asked again any
    # that had reached the mock from the victim).
    channel_held = sum(m.get("feed_kind") == "channel" for m in held)
    assert reference["feed_hits"] <= control.hits("/web_feed/getPCList") <= reference["feed_hits"] + channel_held
    fetches = {i: control.article_fetches(i) for i in control.ids()}
    assert max(fetches.values()) <= 2, {i: n for i, n in fetches.items() if n > 2}
    stats = [w.stats() for w in survivors]
    assert sum(s.get("newscrawl/scaleout/requeued", 0) for s in stats) == requeued_from(logs, victim.proc.pid)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.e2e
def test_a_worker_killed_at_a_random_moment_loses_nothing(tmp_path, mock, redis, reference, seed):
    """Five rounds: a random worker killed when a random number of files exist; survivors finish."""
    rng = random.Random(seed)
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    workers = start_workers(3, out, mock.url, redis.url, tmp_path, *KILL_SETTINGS)
    victim = rng.choice(workers)
    wait_for_files(out, rng.randrange(0, ARTICLES - 20))
    kill(victim)
    survivors = [w for w in workers if w is not victim]
    check_finished_by_survivors(out, control, redis, reference, survivors, [victim])
    assert max(control.article_fetches(i) for i in control.ids()) <= 2


@pytest.mark.e2e
def test_the_last_of_three_workers_finishes_alone(tmp_path, mock, redis, reference):
    control = mock.control
    control.reset_counters()
    out = tmp_path / "out"
    workers = start_workers(3, out, mock.url, redis.url, tmp_path, *KILL_SETTINGS)
    first, second, last = workers
    wait_for_files(out, 40)
    kill(first)
    wait_for_files(out, 120)
    kill(second)
    logs = check_finished_by_survivors(out, control, redis, reference, [last], [first, second])
    # Each killed worker that had joined the run is buried: the second by the last, the first by
    # whichever of the other two noticed first. (On a loaded machine the first can be killed
    # while still starting, before it joined: then there is nothing of it to bury.)
    everyone = logs[0] + second.stderr()
    for worker in (first, second):
        if re.search(rf"Scale-out: worker \S*@{worker.proc.pid}@\S* (?:started|joined) run", worker.stderr()):
            assert re.search(rf"worker \S*@{worker.proc.pid}@\S* is dead", everyone), worker.stderr()[-2000:]
    # A request re-queued from the first and taken by the second may have been fetched by both.
    assert max(control.article_fetches(i) for i in control.ids()) <= 3


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_a_silent_busy_worker_is_waited_for_and_its_requests_are_finished_by_another(tmp_path, mock, redis):
    """A busy member on another host stops beating while it holds an article request: the idle
    worker does not close by REDIS_IDLE_CLOSE_SECONDS, buries it after REDIS_WORKER_TIMEOUT and
    fetches the article itself, then closes with status 0."""
    client = redis.client()
    control = mock.control
    control.reset_counters()
    remote = RedisRun(client, "newscrawl:qq", timeout=3, worker="otherhost@1@1.remote")
    remote.join()
    held_id, *ids = control.ids()[:4]
    spider = QQSpider()
    request = Request(
        f"{mock.url}/rain/a/{held_id}",
        callback=spider.parse_article,
        errback=spider.article_failed,
        meta={"article_id": held_id, "feed": {}},
    )
    client.hset(remote.held_key(), "1", b"z0\n" + picklecompat.dumps(request.to_dict(spider=spider)))
    worker = start_worker(
        tmp_path / "out", mock.url, redis.url, tmp_path / "w", "-a", f"ids={','.join(ids)}",
        "-s", "REDIS_WORKER_TIMEOUT=3", "-s", "REDIS_IDLE_CLOSE_SECONDS=2", *WORKER_SETTINGS,
    )  # fmt: skip
    # The remote member is alive (beating, busy) until the worker has joined its run.
    deadline = time.monotonic() + 60
    while "joined run" not in worker.stderr() and worker.proc.poll() is None and time.monotonic() < deadline:
        remote.beat(BUSY)
        time.sleep(0.1)
    assert wait_all([worker], timeout=60) == [0], worker.stderr()[-3000:]
    log = worker.stderr()
    assert f"{remote.worker} busy and silent: waiting" in log
    assert f"worker {remote.worker} is dead (silent for REDIS_WORKER_TIMEOUT): 1 requests" in log
    assert "idle for" not in log  # it never closed by the idle limit with the verdict pending
    assert written_ids(tmp_path / "out") == {held_id, *ids}
    assert control.article_fetches(held_id) == 1
    assert client.keys("*") == []


@pytest.mark.parametrize("kind", ["z", "r", "l"])
@pytest.mark.e2e
def test_taken_requests_are_recorded_and_a_dead_members_go_back_once(redis, kind):
    """The reliable queue at the Redis level, for each scrapy-redis queue layout."""
    client = redis.client()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    def member(name: str, pid: int | None = None) -> RedisRun:
        return RedisRun(client, "t:qq", timeout=30, worker=worker_id(pid, name))

    b = member("b")
    run, _ = b.join()
    a = member("a", pid=gone.pid)  # on this host, its process already gone
    a.join()
    assert a.put(b"feed", kind, -10, "fp-feed")
    assert a.put(b"one", kind, 0, "fp-1") and a.put(b"two", kind, 0, "fp-2")
    assert not a.put(b"one again", kind, 0, "fp-1")  # the run's duplicate filter
    first = a.take(kind, "1")
    second = a.take(kind, "2")
    assert a.done("2") == 1
    third = a.take(kind, "3")
    if kind == "z":
        assert (first, second, third) == (b"feed", b"one", b"two")  # priority order
    assert sorted(a.held()) == sorted([first, third])
    assert b.take(kind) is None  # the queue is empty; a holds two

    snapshot = b.beat(IDLE)  # finds a dead, puts back what it held, then looks
    assert snapshot.queued == 2 and a.worker not in snapshot.states
    assert (b.dead, b.requeued) == ([a.worker], 2)
    assert client.keys(a.held_key()) == []
    c = member("c")
    assert c.join() == (run, 1)
    assert c.bury_dead_local([a.worker]) == [] and c.requeued == 0  # once
    # Back as taken next: same bytes, same priority, not filtered again.
    again = [b.take(kind, "1"), b.take(kind, "2")]
    assert sorted(again) == sorted([first, third]) and b.take(kind, "3") is None
    if kind == "z":
        assert again[0] == b"feed"
    assert not b.put(third, kind, 0, "fp-2" if third == b"two" else "fp-feed")  # still in the filter

    # Leaving with requests not finished: they go back for the others; the last one ends the run.
    assert b.leave() is False
    assert c.beat(IDLE).queued == 2
    assert c.leave() is True
    assert client.keys("t:qq*") == []


def test_a_member_silent_for_the_timeout_is_buried_with_its_requests(redis):
    client = redis.client()
    b = RedisRun(client, "t:qq", timeout=1.0, worker=worker_id(name="b"))
    b.join()
    remote = RedisRun(client, "t:qq", timeout=1.0, worker="otherhost@7@1.r")
    remote.join()
    assert remote.put(b"x", "z", 0, "fp-x") and remote.take("z", "1") == b"x"
    snapshot = b.beat(BUSY)
    assert snapshot.queued == 0 and 0 <= snapshot.ages[remote.worker] < 1.0
    time.sleep(1.2)
    snapshot = b.beat(BUSY)
    assert snapshot.queued == 1 and remote.worker not in snapshot.states
    assert (b.dead, b.requeued) == ([remote.worker], 1)
    assert b.leave() is True
    assert client.keys("t:qq*") == []


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
    # Two deleted articles redirected to that one page are two requests (revisits find both).
    other = Request(redirected.url, meta={"article_id": "20250208A07Y6500", "redirect_urls": [forms[0].url]})
    assert fp(other) != fp(redirected)
    # Feed POSTs: one fingerprint per page asked, the same in every worker.
    url = "https://i.news.qq.com/web_feed/getPCList"
    page = [Request(url, method="POST", body=channel_feed_body("news_news_top", n, 20)) for n in (1, 1, 2)]
    assert fp(page[0]) == fp(page[1]) != fp(page[2])


@pytest.mark.e2e
def test_run_membership_start_join_dead_workers_and_end(redis):
    client = redis.client()

    def member(name: str, pid: int | None = None) -> RedisRun:
        return RedisRun(client, "t:qq", timeout=2.0, worker=worker_id(pid, name))

    a, b = member("a"), member("b")
    run, live = a.join()
    assert (live, a.fresh) == (0, True)
    assert b.join() == (run, 1) and not b.fresh
    client.zadd(a.key("requests"), {b"x": 0})
    assert b.beat("idle")[:2] == (1, {a.worker: "busy", b.worker: "idle"})

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


@pytest.mark.e2e
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
