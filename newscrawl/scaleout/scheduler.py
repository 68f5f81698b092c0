"""The shared scheduler of a scale-out run (imported only with ``REDIS_URL`` set).

Scale-out: several workers (processes, machines) share one crawl through Redis.

One setting switches it on: with ``REDIS_URL`` set, the :class:`ScaleOut` add-on makes
:class:`SharedScheduler` the scheduler; without it nothing changes and Redis is not needed.
The README's "Scale-out" section is the user's guide; the design in short:

- **One run, many workers.** Workers that run at the same time belong to one *run*: the
  first worker creates it (a new run id under ``<prefix>:<spider>:run``), later ones join
  it. A run has a shared request queue (scrapy-redis's queue classes) and a shared
  duplicate filter (scrapy-redis's, fingerprinting through the crawler's fingerprinter:
  article requests by article id, see ``newscrawl.fingerprint``). Every worker runs the
  spider's ``start()``; the shared filter lets one worker fetch each feed page, and every
  article request any worker finds goes to the shared queue, which all workers consume.
- **Membership.** Each worker is a member of its run (``host@pid@pidns.token``) with a
  heartbeat (Redis server time, so machines' clocks don't matter) and a state, busy or idle.
  A member is dead when its heartbeat is older than ``REDIS_WORKER_TIMEOUT``, or at once when
  it is on the same host (and pid namespace) and its pid is gone (``kill -9``).
- **The run ends with its last worker**, and its keys are deleted then: the duplicate filter
  never outlives the run. That is what makes a dead worker lose nothing. The requests it had
  taken are gone from the queue while their fingerprints stay in the filter, so this run
  will not fetch them again; the next run starts with an empty filter, rediscovers them in
  the feeds and fetches them, because their files were never written. Across runs, "already
  done" is the output folder (and ``STATE_FILE``), exactly as without Redis.
- **Idle close.** A worker whose queue is empty closes when no other live worker is busy
  (nobody can add work any more), or after ``REDIS_IDLE_CLOSE_SECONDS`` of waiting.
- scrapy-redis's own ``Scheduler`` is not used: with ``SCHEDULER_PERSIST=False`` every worker
  that closes would delete the queue and filter the others still use, with ``True`` the
  filter would persist across runs and hide a dead worker's articles forever, and its
  duplicate filter ignores ``REQUEST_FINGERPRINTER_CLASS``.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
import time
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request, signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.utils.misc import load_object
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter

logger = logging.getLogger(__name__)

HOST = re.sub(r"[^0-9A-Za-z-]", "-", socket.gethostname())[:40] or "host"


def _pid_namespace() -> str:
    """Containers sharing a hostname (host networking) have their own pids: tell them apart."""
    try:
        return format(os.stat("/proc/self/ns/pid").st_ino, "x")
    except OSError:
        return "0"


PIDNS = _pid_namespace()


def worker_id(pid: int | None = None, name: str | None = None) -> str:
    """``host@pid@pidns.token``: who a run member is, and whether its pid can be checked from here."""
    return f"{HOST}@{os.getpid() if pid is None else pid}@{PIDNS}.{name or os.urandom(3).hex()}"


_RUN_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
BUSY, IDLE = "busy", "idle"
# Seconds between an idle worker's looks at the shared queue (the engine's own is 5 s).
IDLE_POLL = 0.2


class ArticleDupeFilter(RFPDupeFilter):
    """scrapy-redis's shared duplicate filter (a Redis set), with the crawler's fingerprints.

    scrapy-redis 0.9.1 hashes method, URL and body itself; this uses
    ``crawler.request_fingerprinter`` so the URL forms of one article are one request.
    """

    def __init__(self, server: Redis, key: str, debug: bool = False, fingerprinter: Any = None) -> None:
        super().__init__(server, key, debug)
        if fingerprinter is None:
            from newscrawl.fingerprint import ArticleFingerprinter

            fingerprinter = ArticleFingerprinter()
        self.fingerprinter = fingerprinter

    @classmethod
    def for_run(cls, server: Redis, key: str, crawler: Any) -> ArticleDupeFilter:
        return cls(server, key, crawler.settings.getbool("DUPEFILTER_DEBUG"), crawler.request_fingerprinter)

    def request_fingerprint(self, request: Request) -> str:
        return self.fingerprinter.fingerprint(request).hex()

    def close(self, reason: str = "") -> None:
        """Keep the set: it belongs to the run, which deletes it when its last worker leaves."""


# Lua: each script is atomic in Redis. Times are the server's (TIME), so workers on machines
# with different clocks agree on who is alive.
_LUA_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function names(base, run)
  local p = base .. ':' .. run .. ':'
  return p .. 'workers', p .. 'state', p .. 'requests', p .. 'dupefilter'
end
local function prune(base, run, timeout)
  local w, s = names(base, run)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', w, '-inf', now - timeout)) do
    redis.call('ZREM', w, m)
    redis.call('HDEL', s, m)
  end
  return redis.call('ZCARD', w)
end
"""

# KEYS[1] the current-run pointer; ARGV base, explicit run ('' = automatic), new run id, worker, timeout.
# Returns {run, 1 if the run is new, live workers before this one}.
_LUA_JOIN = (
    _LUA_COMMON
    + """
local base, explicit, new_run, worker, timeout = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local run = explicit
if run == '' then run = redis.call('GET', KEYS[1]) end
local fresh, live = 0, 0
if run then
  live = prune(base, run, timeout)
  if live == 0 then
    -- Nobody alive in it: the run is over (or all its workers died). Start afresh.
    redis.call('DEL', names(base, run))
    fresh = 1
    if explicit == '' then run = false end
  end
end
if not run then
  run = new_run
  redis.call('SET', KEYS[1], run)
  fresh = 1
end
local w, s = names(base, run)
redis.call('ZADD', w, now, worker)
redis.call('HSET', s, worker, 'busy')
return {run, fresh, live}
"""
)

# ARGV base, run, worker, state, timeout. Heartbeat + state, then an atomic snapshot:
# {queued requests, {worker, state, worker, state, ...}} of the live members.
_LUA_BEAT = (
    _LUA_COMMON
    + """
local base, run, worker, state, timeout = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local w, s, q = names(base, run)
redis.call('ZADD', w, now, worker)
redis.call('HSET', s, worker, state)
prune(base, run, timeout)
local kind = redis.call('TYPE', q)['ok']
local queued = 0
if kind == 'zset' then queued = redis.call('ZCARD', q) elseif kind == 'list' then queued = redis.call('LLEN', q) end
return {queued, redis.call('HGETALL', s)}
"""
)

# KEYS[1] the current-run pointer; ARGV base, run, worker, timeout. Returns 1 when the run ended.
_LUA_LEAVE = (
    _LUA_COMMON
    + """
local base, run, worker, timeout = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local w, s = names(base, run)
redis.call('ZREM', w, worker)
redis.call('HDEL', s, worker)
if prune(base, run, timeout) > 0 then return 0 end
redis.call('DEL', names(base, run))
if redis.call('GET', KEYS[1]) == run then redis.call('DEL', KEYS[1]) end
return 1
"""
)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class RedisRun:
    """One worker's view of its run: keys, membership, heartbeat, snapshot (no Scrapy here)."""

    def __init__(self, server: Redis, base: str, timeout: float, run: str = "", worker: str = "") -> None:
        if run and not _RUN_NAME.match(run):
            raise ValueError(f"REDIS_RUN must match {_RUN_NAME.pattern}: {run!r}")
        self.server = server
        self.base = base
        self.timeout = timeout
        self.explicit = run
        self.run = run
        self.worker = worker or worker_id()
        self.fresh = False
        self._join = server.register_script(_LUA_JOIN)
        self._beat = server.register_script(_LUA_BEAT)
        self._leave = server.register_script(_LUA_LEAVE)

    @property
    def pointer(self) -> str:
        return f"{self.base}:run"

    def key(self, name: str) -> str:
        """``<base>:<run>:<name>``: workers, state, requests, dupefilter."""
        return f"{self.base}:{self.run}:{name}"

    def join(self) -> tuple[str, int]:
        """Join the current run (or start one); returns (run id, live workers found in it)."""
        current = self.explicit or self.server.get(self.pointer)
        if current:
            self.run = _text(current)
            self.forget_dead_local(self.server.hkeys(self.key("state")))
        new_run = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()
        run, fresh, live = self._join(
            keys=[self.pointer], args=[self.base, self.explicit, new_run, self.worker, self.timeout]
        )
        self.run = _text(run)
        self.fresh = bool(fresh)
        return self.run, int(live)

    def forget_dead_local(self, members: Any) -> list[str]:
        """Remove members on this host whose process is gone (no need to wait for the timeout)."""
        dead = []
        for member in map(_text, members):
            host, pid, token = (member.split("@") + ["", ""])[:3]
            local = host == HOST and token.partition(".")[0] == PIDNS and pid.isdigit()
            if local and member != self.worker and not pid_alive(int(pid)):
                dead.append(member)
        if dead:
            pipe = self.server.pipeline()
            pipe.zrem(self.key("workers"), *dead)
            pipe.hdel(self.key("state"), *dead)
            pipe.execute()
            logger.info("Scale-out: workers %s are dead (their process is gone)", ", ".join(dead))
        return dead

    def beat(self, state: str) -> tuple[int, dict[str, str]]:
        """Heartbeat with this worker's state; returns (queued requests, {live worker: state})."""
        queued, flat = self._beat(args=[self.base, self.run, self.worker, state, self.timeout])
        states = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
        for member in self.forget_dead_local(states):
            states.pop(member, None)
        return int(queued), states

    def leave(self) -> bool:
        """Leave the run; True when this was its last live worker (the run's keys are gone)."""
        self.forget_dead_local(self.server.hkeys(self.key("state")))
        return bool(self._leave(keys=[self.pointer], args=[self.base, self.run, self.worker, self.timeout]))


class SharedScheduler(BaseScheduler):
    """The scheduler of a scale-out worker: scrapy-redis's queue and duplicate filter, per run.

    Settings: ``REDIS_URL`` (and scrapy-redis's ``REDIS_PARAMS``), ``REDIS_KEY_PREFIX``,
    ``REDIS_RUN``, ``REDIS_IDLE_CLOSE_SECONDS``, ``REDIS_WORKER_TIMEOUT``,
    ``SCHEDULER_QUEUE_CLASS`` (scrapy-redis queue; default its PriorityQueue, so feed pages,
    priority 10, go first), ``SCHEDULER_SERIALIZER``.
    """

    def __init__(self, crawler: Any, server: Redis) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.queue_cls = load_object(settings.get("SCHEDULER_QUEUE_CLASS") or "scrapy_redis.queue.PriorityQueue")
        serializer = settings.get("SCHEDULER_SERIALIZER")
        self.serializer = importlib.import_module(serializer) if isinstance(serializer, str) else serializer
        self.dupefilter_cls = load_object(settings.get("DUPEFILTER_CLASS"))
        if not hasattr(self.dupefilter_cls, "for_run"):
            self.dupefilter_cls = ArticleDupeFilter
        self.idle_close = settings.getfloat("REDIS_IDLE_CLOSE_SECONDS", 30.0)
        self.prefix = settings.get("REDIS_KEY_PREFIX") or "newscrawl"
        self.timeout = settings.getfloat("REDIS_WORKER_TIMEOUT", 30.0)
        self.explicit_run = settings.get("REDIS_RUN") or ""
        self.state = BUSY
        self.idle_since: float | None = None
        self.run: RedisRun | None = None
        self._heartbeat: Any = None
        self._poke: Any = None
        self.redis_down_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedScheduler:
        server = get_redis_from_settings(crawler.settings)
        server.ping()  # fail at start, with the connection error, not mid-crawl
        scheduler = cls(crawler, server)
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    # ---- lifecycle -------------------------------------------------------------------------

    def open(self, spider: Any) -> None:
        from twisted.internet import task

        self.spider = spider
        self.run = RedisRun(self.server, f"{self.prefix}:{spider.name}", self.timeout, self.explicit_run)
        run, live = self.run.join()
        self.queue = self.queue_cls(
            server=self.server, spider=spider, key=self.run.key("requests"), serializer=self.serializer
        )
        self.df = self.dupefilter_cls.for_run(self.server, self.run.key("dupefilter"), self.crawler)
        self.stats.set_value("newscrawl/scaleout/run", run)
        self.stats.set_value("newscrawl/scaleout/worker", self.run.worker)
        logger.info(
            "Scale-out: worker %s %s run %s (%d other live workers, %d requests queued)",
            self.run.worker,
            "started" if self.run.fresh else "joined",
            run,
            live,
            len(self.queue),
        )
        # Heartbeats well inside the timeout; a busy reactor may delay one or two.
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(max(0.5, self.timeout / 6), now=False)

    def close(self, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        if self._poke is not None and self._poke.active():
            self._poke.cancel()
        if self.run is None:
            return
        try:
            ended = self.run.leave()
        except RedisError as exc:
            logger.error("Scale-out: could not leave run %s: %s", self.run.run, exc)
            return
        if ended:
            logger.info(
                "Scale-out: run %s ended with this worker (its queue and duplicate filter deleted)", self.run.run
            )

    # ---- the scheduler interface ---------------------------------------------------------------

    def has_pending_requests(self) -> bool:
        return self._redis("queue length", lambda: len(self.queue) > 0, False)

    def enqueue_request(self, request: Request) -> bool:
        def push() -> bool:
            if not request.dont_filter and self.df.request_seen(request):
                self.df.log(request, self.spider)
                self.stats.inc_value("dupefilter/filtered")
                return False
            self.queue.push(request)
            self.stats.inc_value("scheduler/enqueued/redis")
            return True

        if self._redis("enqueue", push, None) is None:
            # Lost for this run only: the next run rediscovers it (its file is not written).
            self.stats.inc_value("newscrawl/scaleout/requests_lost")
            return False
        return True

    def next_request(self) -> Request | None:
        request = self._redis("dequeue", self.queue.pop, None)
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
            if self.state != BUSY:
                self.state, self.idle_since = BUSY, None
                self._beat()
        return request

    def _redis(self, what: str, call: Any, default: Any) -> Any:
        """``call()``, or ``default`` while Redis is unreachable (spider_idle stops the worker in time)."""
        try:
            result = call()
        except RedisError as exc:
            self.stats.inc_value("newscrawl/scaleout/redis_errors")
            if self.redis_down_since is None:
                self.redis_down_since = time.monotonic()
                logger.error("Scale-out: Redis unreachable (%s): %s", what, exc)
            return default
        if self.redis_down_since is not None:
            logger.info("Scale-out: Redis is back after %.0f s", time.monotonic() - self.redis_down_since)
            self.redis_down_since = None
        return result

    def __len__(self) -> int:
        return self._redis("queue length", lambda: len(self.queue), 0)

    # ---- idleness ------------------------------------------------------------------------

    def _beat(self) -> tuple[int, dict[str, str]] | None:
        assert self.run is not None
        return self._redis("heartbeat", lambda: self.run.beat(self.state), None)

    def spider_idle(self, spider: Any) -> None:
        """Keep an idle worker while others may still add work; let it close when none can."""
        now = time.monotonic()
        if self.idle_since is None:
            self.state, self.idle_since = IDLE, now
        snapshot = self._beat()
        if snapshot is None:
            # Redis unreachable: wait for it as long as a worker may be silent, then stop,
            # as a crawl that did not finish (exit status 3): the next run does the rest.
            if time.monotonic() - (self.redis_down_since or now) >= self.timeout:
                raise CloseSpider("redis_unavailable")
            self._poke_later()
            raise DontCloseSpider
        queued, states = snapshot
        busy = sorted(w for w, s in states.items() if s == BUSY and w != self.run.worker)
        if not queued and not busy:
            logger.info("Scale-out: the shared queue is empty and no worker is busy: closing")
            return
        waited = now - self.idle_since
        if not queued and waited >= self.idle_close:
            logger.info(
                "Scale-out: idle for %.0f s (REDIS_IDLE_CLOSE_SECONDS) while %s busy: closing", waited, ", ".join(busy)
            )
            return
        self._poke_later()
        raise DontCloseSpider

    def _poke_later(self) -> None:
        """Look at the queue again soon: the engine itself only looks every 5 seconds."""
        from twisted.internet import reactor

        if self._poke is None or not self._poke.active():
            self._poke = reactor.callLater(IDLE_POLL, self._poke_engine)

    def _poke_engine(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)  # Scrapy 2.19's engine slot
        if slot is not None and slot.closing is None:
            slot.nextcall.schedule()
