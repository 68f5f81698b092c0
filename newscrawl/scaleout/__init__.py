"""Scale-out switch: with ``REDIS_URL`` set, workers share one crawl through Redis.

This module imports nothing from Redis: the core install (no ``[redis]`` extra) loads the
add-on on every run, and Redis code is imported only when ``REDIS_URL`` asks for it. The
shared scheduler, duplicate filter and run membership are in :mod:`newscrawl.scaleout.scheduler`.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

logger = logging.getLogger(__name__)

INSTALL_HINT = "REDIS_URL is set, but the scale-out extra is not installed: pip install 'newscrawl[redis]'"


def missing_extra(settings: Any) -> str | None:
    """The one-line reason a run with these settings cannot start, or None."""
    if not settings.get("REDIS_URL"):
        return None
    if all(importlib.util.find_spec(name) is not None for name in ("redis", "scrapy_redis")):
        return None
    return INSTALL_HINT


def redis_problem(settings: Any) -> tuple[int, str] | None:
    """(exit status, one line) when ``REDIS_URL`` is set and Redis cannot be used, else None: a URL
    Redis cannot read (2, a bad setting) or a server that does not answer (1, could not start).
    The scheduler's own check at start was a chain of tracebacks ending in "Engine slot not
    assigned". Only host and port are named: the URL may hold a password."""
    if not settings.get("REDIS_URL") or missing_extra(settings):
        return None
    import redis
    from scrapy_redis.connection import get_redis_from_settings

    try:
        server = get_redis_from_settings(settings)
    except ValueError as exc:
        return 2, f"REDIS_URL is not a Redis URL ({exc}); use redis://HOST:PORT/DB"
    where = server.connection_pool.connection_kwargs
    try:
        server.ping()
    except redis.exceptions.RedisError as exc:
        place = f"{where.get('host', '?')}:{where.get('port', '?')}" if "host" in where else "REDIS_URL"
        return 1, f"Redis at {place} cannot be used: {exc}"
    finally:
        server.close()
    return None


class MissingExtra(RuntimeError):
    """``REDIS_URL`` without the ``[redis]`` extra."""


class ScaleOut:
    """``ADDONS`` entry: with ``REDIS_URL`` set, the shared scheduler and duplicate filter.

    Add-ons run after ``-s`` settings are applied, so ``-s REDIS_URL=...`` alone switches it on;
    settings set here have add-on priority, below the project's and the command line's.
    """

    def update_settings(self, settings: Any) -> None:
        if not settings.get("REDIS_URL"):
            return
        problem = missing_extra(settings)
        if problem:
            raise MissingExtra(problem)
        settings.set("SCHEDULER", "newscrawl.scaleout.scheduler.SharedScheduler", "addon")
        settings.set("DUPEFILTER_CLASS", "newscrawl.scaleout.scheduler.ArticleDupeFilter", "addon")
        if settings.get("JOBDIR"):
            logger.warning("JOBDIR is ignored for the request queue of a scale-out run (it lives in Redis)")
