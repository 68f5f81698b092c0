"""``JOBDIR``: pause and resume one crawl; reused by cron, it must not hide new articles.

Scrapy's JOBDIR keeps the pending request queue and the fingerprints of every request
made (``requests.seen``), so that an interrupted crawl (Ctrl-C, SIGTERM) goes on where it
stopped. Kept across cron runs, those fingerprints used to drop the next run's feed
requests as duplicates: ``found=0 … status=ok`` forever. :class:`JobDupeFilter` fixes that:

* feed pages are never filtered as seen by another run: their fingerprints stay in memory
  (a feed page asked twice within one run is still asked once);
* article requests keep Scrapy's persistent dedup (by article id, see
  :mod:`newscrawl.crawl.fingerprint`), so a resumed crawl does not fetch again what it queued;
* a run that finishes clears ``requests.seen``: the job is done, and the next run is a new
  one (an article that failed, or was pending when a run was killed, is retried by the
  first run after the next finished one at the latest).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter


class JobDupeFilter(RFPDupeFilter):
    """RFPDupeFilter whose JOBDIR file holds article requests of an unfinished job only."""

    def request_seen(self, request: Request) -> bool:
        if self.file is None or "feed_kind" not in request.meta:
            return super().request_seen(request)
        fingerprint = self._fingerprint(request)
        if fingerprint in self._fingerprints:
            return True
        self._fingerprints.add(fingerprint)  # not written: a later run asks this page again
        return False

    def close(self, reason: str) -> None:
        path = Path(self.file.name) if self.file is not None else None
        super().close(reason)
        if path is not None and reason == "finished":
            path.write_bytes(b"")


class JobDirAddon:
    """``ADDONS`` entry: :class:`JobDupeFilter` as the duplicate filter of one-process runs."""

    def update_settings(self, settings: Any) -> None:
        if not settings.get("REDIS_URL"):
            settings.set("DUPEFILTER_CLASS", f"{__name__}.JobDupeFilter", "addon")


def resume_problem(jobdir: str | Path) -> str | None:
    """Why Scrapy could not resume the job in ``jobdir``, or None: its ``spider.state`` (a pickle)
    or its queue's ``active.json`` is damaged. Scrapy would fail on them mid-start, with
    tracebacks (a damaged queue state: exit 1 before any request)."""
    folder = Path(jobdir)
    checks = ((folder / "spider.state", pickle.load), (folder / "requests.queue" / "active.json", json.load))
    for path, load in checks:
        if not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                load(handle)  # what Scrapy loads there itself (SpiderState, the scheduler)
        except Exception as exc:  # noqa: BLE001 - a damaged pickle raises anything
            return (
                f"JOBDIR {jobdir} cannot be resumed: {path.relative_to(folder)} is damaged "
                f"({type(exc).__name__}: {exc}); move the folder away to start a new job"
            )
    return None
