"""The shared scheduler of a scale-out run (imported only with ``REDIS_URL`` set).

Scale-out: several workers (processes, machines) share one crawl through Redis.

One setting switches it on: with ``REDIS_URL`` set, the :class:`ScaleOut` add-on makes
:class:`SharedScheduler` the scheduler; without it nothing changes and Redis is not needed.
The user's guide is ``docs/scale-out.md``; the design in short:

- **One run, many workers.** Workers that run at the same time belong to one *run*: the
  first worker creates it (a new run id under ``<prefix>:<spider>:run``), later ones join
  it. A run has a shared request queue (stored as scrapy-redis's queue classes store it) and
  a shared duplicate filter (a Redis set, fingerprinting through the crawler's fingerprinter:
  article requests by article id, see ``newscrawl.crawl.fingerprint``). Every worker runs the
  spider's ``start()``; the shared filter lets one worker fetch each feed page, and every
  article request any worker finds goes to the shared queue, which all workers consume.
- **Membership.** Each worker is a member of its run (``host@pid@pidns.token``) with a
  heartbeat (Redis server time, so machines' clocks don't matter) and a state, busy or idle.
  A member is dead when its heartbeat is older than ``REDIS_WORKER_TIMEOUT``, or at once when
  it is on the same host (and pid namespace) and its pid is gone (``kill -9``).
- **Reliable queue.** Taking a request from the queue and recording it as taken, in the
  hash ``<run>:inflight:<member>``, is one Lua script, so no request is ever only in a
  worker's memory. The record is cleared when the engine is done with the request: its
  callback or errback has run and everything it yielded is handled (requests queued, items
  through the pipelines, so the article's file is written), or it was dropped on the way
  (a downloader middleware's ``IgnoreRequest``, a redirect or retry, which is queued first).
  The hook is the engine slot's ``remove_request``, the last step of every request the
  engine took from the scheduler; requests waiting in the downloader's slots or for the
  scraper are taken and not done, so they are in the record too (the shared scheduler has
  no local queue). A member found dead has its record moved back to the queue and deleted
  in the same script that removes it from the run: whichever live worker notices first
  re-queues it, and only once. The queue entry goes back as it was (same priority, same
  bytes), straight into the queue: the duplicate filter, which already holds its
  fingerprint, is bypassed for it exactly that once. Adding a request (filter + queue) is
  one script too, so a worker killed between the two cannot leave a fingerprint without its
  request. A worker that leaves with requests still recorded (a shutdown that cancelled
  downloads) puts them back as well.
- **The run ends with its last worker**, and its keys are deleted then: the duplicate filter
  never outlives the run. Across runs, "already done" is the output folder (and
  ``STATE_FILE``), exactly as without Redis.
- **Idle close.** A worker whose queue is empty closes when no other live worker is busy
  (nobody can add work any more), or after ``REDIS_IDLE_CLOSE_SECONDS`` of waiting, but not
  while a busy member's heartbeat is late: that member may be dead with requests to re-queue,
  and the verdict comes within ``REDIS_WORKER_TIMEOUT``. Each idle look first buries dead
  members, so a dead member's requests are queued before the queue is found empty.
- scrapy-redis's own ``Scheduler`` is not used: with ``SCHEDULER_PERSIST=False`` every worker
  that closes would delete the queue and filter the others still use, with ``True`` the
  filter would persist across runs and hide a dead worker's articles forever, its queues pop
  without a record, and its duplicate filter ignores ``REQUEST_FINGERPRINTER_CLASS``. Its
  queue classes are used for their storage format and their (de)serialisation.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import re
import time
from typing import Any, NamedTuple

from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request, signals
from scrapy.core.scheduler import BaseScheduler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.utils.misc import load_object
from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter

from newscrawl.osutil import HOST, PID_NAMESPACE, pid_alive

logger = logging.getLogger(__name__)

# Containers sharing a hostname (host networking) have their own pids: tell them apart.
PIDNS = format(PID_NAMESPACE, "x") if PID_NAMESPACE is not None else "0"


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
            from newscrawl.crawl.fingerprint import ArticleFingerprinter

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
#
# A taken request is recorded in ``<run>:inflight:<member>`` (a hash: one field per request the
# member holds) as ``<how to put it back>\n<queue entry>``: ``z<score>`` for the sorted-set
# queue (PriorityQueue), ``r`` / ``l`` for the list queues (Fifo pops on the right, Lifo on the
# left): a re-queued request goes back where it is taken next.
_LUA_KEYS = """
local function names(base, run)
  local p = base .. ':' .. run .. ':'
  return p .. 'workers', p .. 'state', p .. 'requests', p .. 'dupefilter'
end
local function held(base, run, member)
  return base .. ':' .. run .. ':inflight:' .. member
end
"""

_LUA_COMMON = (
    _LUA_KEYS
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
-- Put back everything a member had taken, as it was, and drop its record. Returns how many.
local function requeue(base, run, member)
  local _, _, q = names(base, run)
  local h = held(base, run, member)
  local entries = redis.call('HVALS', h)
  for _, v in ipairs(entries) do
    local cut = string.find(v, '\\n', 1, true)
    local head, data = string.sub(v, 1, cut - 1), string.sub(v, cut + 1)
    if string.sub(head, 1, 1) == 'z' then
      redis.call('ZADD', q, string.sub(head, 2), data)
    elseif head == 'r' then
      redis.call('RPUSH', q, data)
    else
      redis.call('LPUSH', q, data)
    end
  end
  redis.call('DEL', h)
  return #entries
end
-- Members this script found dead: {member, requests re-queued, ...}.
local buried = {}
local function bury(base, run, member)
  local w, s = names(base, run)
  local was = redis.call('ZREM', w, member)
  redis.call('HDEL', s, member)
  local n = requeue(base, run, member)
  if was == 1 or n > 0 then
    table.insert(buried, member)
    table.insert(buried, n)
  end
end
local function prune(base, run, timeout)
  local w = names(base, run)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', w, '-inf', now - timeout)) do
    bury(base, run, m)
  end
  return redis.call('ZCARD', w)
end
"""
)

# KEYS[1] the current-run pointer; ARGV base, explicit run ('' = automatic), new run id, worker, timeout.
# Returns {run, 1 if the run is new, live workers before this one, buried}.
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
    -- Nobody alive in it: the run is over (or all its workers died). Start afresh: the
    -- feeds are read again and the output folder says what is done.
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
return {run, fresh, live, buried}
"""
)

# ARGV base, run, worker, state, timeout. Heartbeat + state, then an atomic snapshot:
# {queued requests, {worker, state, ...}, {worker, seconds since its heartbeat, ...}, buried}.
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
local ages = redis.call('ZRANGE', w, 0, -1, 'WITHSCORES')
for i = 2, #ages, 2 do ages[i] = tostring(now - tonumber(ages[i])) end
return {queued, redis.call('HGETALL', s), ages, buried}
"""
)

# KEYS[1] the current-run pointer; ARGV base, run, worker, timeout.
# Returns {1 when the run ended, own requests put back, buried}.
_LUA_LEAVE = (
    _LUA_COMMON
    + """
local base, run, worker, timeout = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local w, s = names(base, run)
redis.call('ZREM', w, worker)
redis.call('HDEL', s, worker)
local own = requeue(base, run, worker)
if prune(base, run, timeout) > 0 then return {0, own, buried} end
redis.call('DEL', names(base, run))
if redis.call('GET', KEYS[1]) == run then redis.call('DEL', KEYS[1]) end
return {1, own, buried}
"""
)

# ARGV base, run, members found dead here (their pid is gone). Returns buried (only the
# members this call removed, or whose record it re-queued: a second caller gets nothing).
_LUA_BURY = (
    _LUA_COMMON
    + """
for i = 3, #ARGV do bury(ARGV[1], ARGV[2], ARGV[i]) end
return buried
"""
)

# ARGV base, run, worker, record field ('' = no record), queue kind (z, r or l).
# Takes the next request and records it as the worker's, in one step. Returns the entry or nil.
_LUA_TAKE = (
    _LUA_KEYS
    + """
local base, run, worker, field, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local w, s, q = names(base, run)
local data, head
if kind == 'z' then
  local r = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  if #r == 0 then return false end
  redis.call('ZREMRANGEBYRANK', q, 0, 0)
  data, head = r[1], 'z' .. r[2]
elseif kind == 'r' then
  data, head = redis.call('RPOP', q), 'r'
else
  data, head = redis.call('LPOP', q), 'l'
end
if not data then return false end
if field ~= '' then
  if not redis.call('ZSCORE', w, worker) then
    -- Taken for dead after a long stall, yet taking requests: a member again, so that a
    -- record never exists without its member (the run's end deletes members' keys only).
    local t = redis.call('TIME')
    redis.call('ZADD', w, tonumber(t[1]) + tonumber(t[2]) / 1000000, worker)
    redis.call('HSET', s, worker, 'busy')
  end
  redis.call('HSET', held(base, run, worker), field, head .. '\\n' .. data)
end
return data
"""
)

# ARGV base, run, fingerprint ('' = not filtered), queue kind, score, entry. The duplicate
# filter and the queue in one step. Returns 1 when queued, 0 when filtered.
_LUA_PUT = (
    _LUA_KEYS
    + """
local base, run, fp, kind, score, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local _, _, q, df = names(base, run)
if fp ~= '' and redis.call('SADD', df, fp) == 0 then return 0 end
if kind == 'z' then redis.call('ZADD', q, score, data) else redis.call('LPUSH', q, data) end
return 1
"""
)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class Snapshot(NamedTuple):
    """A run as one heartbeat saw it."""

    queued: int  # requests in the shared queue
    states: dict[str, str]  # live member -> busy / idle
    ages: dict[str, float]  # live member -> seconds since its last heartbeat


class RedisRun:
    """One worker's view of its run: keys, membership, heartbeat, taking and returning requests.

    No Scrapy here: queue entries are bytes (the scheduler encodes and decodes them).
    ``dead`` and ``requeued`` count the dead members this worker buried and their requests
    it put back in the queue.
    """

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
        self.dead: list[str] = []
        self.requeued = 0
        self._join = server.register_script(_LUA_JOIN)
        self._beat = server.register_script(_LUA_BEAT)
        self._leave = server.register_script(_LUA_LEAVE)
        self._bury = server.register_script(_LUA_BURY)
        self._take = server.register_script(_LUA_TAKE)
        self._put = server.register_script(_LUA_PUT)

    @property
    def pointer(self) -> str:
        return f"{self.base}:run"

    def key(self, name: str) -> str:
        """``<base>:<run>:<name>``: workers, state, requests, dupefilter, inflight:<member>."""
        return f"{self.base}:{self.run}:{name}"

    def held_key(self, member: str | None = None) -> str:
        """The hash of the requests ``member`` (default: this worker) has taken and not finished."""
        return self.key(f"inflight:{member or self.worker}")

    def join(self) -> tuple[str, int]:
        """Join the current run (or start one); returns (run id, live workers found in it)."""
        current = self.explicit or self.server.get(self.pointer)
        if current:
            self.run = _text(current)
            self.bury_dead_local(self.server.hkeys(self.key("state")))
        new_run = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()
        run, fresh, live, buried = self._join(
            keys=[self.pointer], args=[self.base, self.explicit, new_run, self.worker, self.timeout]
        )
        self._note(buried, "silent for REDIS_WORKER_TIMEOUT")
        self.run = _text(run)
        self.fresh = bool(fresh)
        return self.run, int(live)

    def _note(self, flat: list[Any], why: str) -> list[str]:
        """Log and count the members a script buried: ``[member, requests re-queued, ...]``."""
        members = []
        for i in range(0, len(flat), 2):
            member, count = _text(flat[i]), int(flat[i + 1])
            members.append(member)
            self.dead.append(member)
            self.requeued += count
            logger.info(
                "Scale-out: worker %s is dead (%s): %d requests it had taken are back in the queue",
                member,
                why,
                count,
            )
        return members

    def bury_dead_local(self, members: Any) -> list[str]:
        """Bury members on this host whose process is gone (no need to wait for the timeout)."""
        dead = []
        for member in map(_text, members):
            host, pid, token = (member.split("@") + ["", ""])[:3]
            local = host == HOST and token.partition(".")[0] == PIDNS and pid.isdigit()
            if local and member != self.worker and not pid_alive(int(pid)):
                dead.append(member)
        if not dead:
            return []
        return self._note(self._bury(args=[self.base, self.run, *dead]), "its process is gone")

    def beat(self, state: str) -> Snapshot:
        """Heartbeat with this worker's state, burying dead members first; the run's snapshot."""
        for _ in range(2):
            queued, flat, ages, buried = self._beat(args=[self.base, self.run, self.worker, state, self.timeout])
            self._note(buried, "silent for REDIS_WORKER_TIMEOUT")
            states = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
            # Dead here: bury them, then look again, with their requests in the queue.
            if not self.bury_dead_local(states):
                break
        return Snapshot(int(queued), states, {_text(ages[i]): float(ages[i + 1]) for i in range(0, len(ages), 2)})

    def take(self, kind: str, field: str = "") -> bytes | None:
        """The next queue entry, recorded as this worker's under ``field`` ('' = unrecorded)."""
        return self._take(args=[self.base, self.run, self.worker, field, kind]) or None

    def done(self, *fields: str) -> int:
        """Clear the records of requests this worker has finished with."""
        return int(self.server.hdel(self.held_key(), *fields)) if fields else 0

    def put(self, data: bytes, kind: str, score: float = 0, fingerprint: str = "") -> bool:
        """Queue an entry unless ``fingerprint`` is already in the run's filter (both at once)."""
        return bool(self._put(args=[self.base, self.run, fingerprint, kind, score, data]))

    def held(self, member: str | None = None) -> list[bytes]:
        """The queue entries ``member`` (default: this worker) holds: taken, not finished."""
        return [value.partition(b"\n")[2] for value in self.server.hvals(self.held_key(member))]

    def leave(self) -> bool:
        """Leave the run; True when this was its last live worker (the run's keys are gone).

        Requests still recorded as this worker's go back to the queue (for the others).
        """
        self.bury_dead_local(self.server.hkeys(self.key("state")))
        ended, own, buried = self._leave(keys=[self.pointer], args=[self.base, self.run, self.worker, self.timeout])
        self._note(buried, "silent for REDIS_WORKER_TIMEOUT")
        if own and not ended:
            logger.warning("Scale-out: %d requests this worker had not finished are back in the queue", own)
        return bool(ended)


def queue_kind(queue_cls: type) -> str:
    """How the shared queue stores and pops entries: ``z`` sorted set, ``r`` / ``l`` list end."""
    from scrapy_redis.queue import FifoQueue, LifoQueue, PriorityQueue

    for base, kind in ((PriorityQueue, "z"), (FifoQueue, "r"), (LifoQueue, "l")):
        if issubclass(queue_cls, base):
            return kind
    raise ValueError(
        f"SCHEDULER_QUEUE_CLASS: {queue_cls.__name__} is not scrapy-redis's PriorityQueue, "
        "FifoQueue or LifoQueue (or a subclass): the shared queue takes requests atomically with a record"
    )


class SharedScheduler(BaseScheduler):
    """The scheduler of a scale-out worker: a reliable shared queue and duplicate filter, per run.

    Settings: ``REDIS_URL`` (and scrapy-redis's ``REDIS_PARAMS``), ``REDIS_KEY_PREFIX``,
    ``REDIS_RUN``, ``REDIS_IDLE_CLOSE_SECONDS``, ``REDIS_WORKER_TIMEOUT``,
    ``SCHEDULER_QUEUE_CLASS`` (a scrapy-redis queue class; default its PriorityQueue, so feed
    pages, priority 10, go first), ``SCHEDULER_SERIALIZER``.
    """

    def __init__(self, crawler: Any, server: Redis) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.queue_cls = load_object(settings.get("SCHEDULER_QUEUE_CLASS") or "scrapy_redis.queue.PriorityQueue")
        self.kind = queue_kind(self.queue_cls)
        serializer = settings.get("SCHEDULER_SERIALIZER")
        self.serializer = importlib.import_module(serializer) if isinstance(serializer, str) else serializer
        self.dupefilter_cls = load_object(settings.get("DUPEFILTER_CLASS"))
        if not hasattr(self.dupefilter_cls, "for_run"):
            self.dupefilter_cls = ArticleDupeFilter
        self.idle_close = settings.getfloat("REDIS_IDLE_CLOSE_SECONDS", 30.0)
        self.prefix = settings.get("REDIS_KEY_PREFIX") or "newscrawl"
        self.timeout = settings.getfloat("REDIS_WORKER_TIMEOUT", 30.0)
        # Heartbeats well inside the timeout; a busy reactor may delay one or two.
        self.beat_every = max(0.5, self.timeout / 6)
        self.explicit_run = settings.get("REDIS_RUN") or ""
        self.state = BUSY
        self.idle_since: float | None = None
        self.run: RedisRun | None = None
        self._heartbeat: Any = None
        self._poke: Any = None
        self.redis_down_since: float | None = None
        # Requests taken and not finished -> their record's field; records whose clearing
        # failed (Redis unreachable), cleared at the next heartbeat.
        self.taken: dict[Request, str] = {}
        self.uncleared: list[str] = []
        self._fields = itertools.count(1)
        self.reliable = False
        self.waiting_for: set[str] = set()

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
        self.reliable = self._hook_engine()
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
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(self.beat_every, now=False)

    def _hook_engine(self) -> bool:
        """Hear when the engine is done with each request (Scrapy 2.19's engine slot).

        ``_Slot.remove_request`` is the last step of every request the engine took from the
        scheduler, after its callback's output is handled, whatever the outcome: no public
        signal marks that moment. Without it, taken requests are not recorded (a dead
        worker's requests are then lost for the run, as with plain scrapy-redis).
        """
        slot = getattr(self.crawler.engine, "_slot", None)
        remove = getattr(slot, "remove_request", None)
        if remove is None:
            logger.warning("Scale-out: this Scrapy's engine has no slot.remove_request: taken requests are unrecorded")
            return False

        def remove_request(request: Request) -> None:
            # First: removing the last request may close the spider, and the scheduler with it.
            self.request_done(request)
            remove(request)

        slot.remove_request = remove_request
        return True

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
        finally:
            self._count_burials()
        if ended:
            logger.info(
                "Scale-out: run %s ended with this worker (its queue and duplicate filter deleted)", self.run.run
            )

    # ---- the scheduler interface ---------------------------------------------------------------

    def has_pending_requests(self) -> bool:
        return self._redis("queue length", lambda: len(self.queue) > 0, False)

    def enqueue_request(self, request: Request) -> bool:
        assert self.run is not None
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        data = self.queue._encode_request(request)
        queued = self._redis("enqueue", lambda: self.run.put(data, self.kind, -request.priority, fingerprint), None)
        if queued is None:
            # Lost for this run only: the next run rediscovers it (its file is not written).
            self.stats.inc_value("newscrawl/scaleout/requests_lost")
            return False
        if not queued:
            self.df.log(request, self.spider)
            self.stats.inc_value("dupefilter/filtered")
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        assert self.run is not None
        field = f"{next(self._fields)}" if self.reliable else ""
        data = self._redis("dequeue", lambda: self.run.take(self.kind, field), None)
        if data is None:
            return None
        try:
            request = self.queue._decode_request(data)
        except Exception:
            # Not a request this code can read (another version's entry?): drop it, once.
            logger.exception("Scale-out: dropped an unreadable queue entry")
            self.stats.inc_value("newscrawl/scaleout/unreadable")
            if field:
                self._clear([field])
            return None
        if field:
            self.taken[request] = field
        self.stats.inc_value("scheduler/dequeued/redis")
        if self.state != BUSY:
            self.state, self.idle_since = BUSY, None
            self._beat()
        return request

    def request_done(self, request: Request) -> None:
        """The engine is done with ``request``: clear its record (if it was taken from here)."""
        field = self.taken.pop(request, None)
        if field is not None:
            self._clear([field])

    def _clear(self, fields: list[str]) -> None:
        assert self.run is not None
        fields = self.uncleared + fields
        cleared = self._redis("clear taken", lambda: self.run.done(*fields), None)
        # Not cleared: a dead worker's request is fetched twice, never lost.
        self.uncleared = fields if cleared is None else []

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

    def _beat(self) -> Snapshot | None:
        assert self.run is not None
        if self.uncleared:
            self._clear([])
        snapshot = self._redis("heartbeat", lambda: self.run.beat(self.state), None)
        self._count_burials()
        return snapshot

    def _count_burials(self) -> None:
        assert self.run is not None
        self.stats.set_value("newscrawl/scaleout/dead_workers", len(self.run.dead))
        self.stats.set_value("newscrawl/scaleout/requeued", self.run.requeued)

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
        assert self.run is not None
        # The beat buried dead members first: their requests are in ``queued`` by now.
        busy = sorted(w for w, s in snapshot.states.items() if s == BUSY and w != self.run.worker)
        if not snapshot.queued and not busy:
            logger.info("Scale-out: the shared queue is empty and no worker is busy: closing")
            return
        waited = now - self.idle_since
        # A busy member that missed a few heartbeats may be dead with requests to give back:
        # wait for the verdict (REDIS_WORKER_TIMEOUT) rather than close by the idle limit.
        late = {w for w in busy if snapshot.ages.get(w, 0.0) > 3 * self.beat_every}
        if late - self.waiting_for:
            logger.info("Scale-out: %s busy and silent: waiting to know whether it is alive", ", ".join(sorted(late)))
        self.waiting_for = late
        if not snapshot.queued and not late and waited >= self.idle_close:
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
