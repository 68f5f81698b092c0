"""What the crawl remembers between runs besides the output folder: articles that are gone.

An article that is deleted, paid or answers 404/410 will not come back; refetching it on
every cron run would only hammer the site. Such ids are appended to one small JSON-lines
file (``STATE_FILE``), one line per id: plain, greppable, and reset by deleting it (or one
line of it). Transient failures (timeouts, 5xx, challenges) are not recorded, so the next
run retries them. Appending whole lines keeps the file valid when a crawl is killed; a
torn last line is ignored on load.

Some reasons are worth a later look rather than never: a page with no text and no images
(``empty``) may be filled in after publication. Those are recorded the same way, with
their time (``at``), and count as gone only for their delay (``retry_after``; for
``empty`` the EMPTY_RETRY_HOURS setting). A retry that finds the page still empty records
it again: the newest line of an id wins.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

# Reasons after which an article is not fetched again.
PERMANENT_REASONS = frozenset({"deleted", "paid", "http_404", "http_410"})


def _epoch(stamp: object) -> float:
    """Seconds since the epoch of an ``at`` value; 0 (long ago) when it cannot be read."""
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except (ValueError, OverflowError, OSError):  # not a time; or one no timestamp can hold
        return 0.0


class GoneState:
    """The set of article ids not to fetch (again, or for now), backed by an append-only file."""

    def __init__(self, path: str | os.PathLike | None, retry_after: Mapping[str, float] | None = None) -> None:
        self.path = Path(path) if path else None
        # reason -> seconds an article gone for that reason is left alone (permanent ones: forever).
        self.retry_after = dict(retry_after or {})
        self.gone: dict[str, str] = {}
        self.since: dict[str, float] = {}  # id -> when it was recorded (epoch seconds)
        self.unreadable = 0  # lines of the file that are no entry (besides a killed run's torn last line)
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        # Bytes that are not UTF-8 read as U+FFFD: their line is unreadable, not the whole file.
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    article_id, reason = str(entry["id"]), str(entry["reason"])
                except (ValueError, KeyError, TypeError):
                    if line.endswith("\n"):  # a torn last line (a killed run) has none: expected
                        self.unreadable += 1
                    continue
                if self.gone.get(article_id) in PERMANENT_REASONS:
                    continue  # gone for good stays gone
                self.gone[article_id] = reason
                self.since[article_id] = _epoch(entry.get("at"))

    def __contains__(self, article_id: str) -> bool:
        reason = self.gone.get(article_id)
        if reason is None:
            return False
        if reason in self.retry_after:
            return time.time() - self.since.get(article_id, 0.0) < self.retry_after[reason]
        return reason in PERMANENT_REASONS

    def __len__(self) -> int:
        return len(self.gone)

    def mark(self, article_id: str, reason: str) -> bool:
        """Record a gone article if ``reason`` is permanent or delayed; True when recorded."""
        if reason not in PERMANENT_REASONS and reason not in self.retry_after:
            return False
        upgrade = reason in PERMANENT_REASONS and self.gone.get(article_id) not in PERMANENT_REASONS
        if article_id in self and not upgrade:
            return False
        self.gone[article_id] = reason
        self.since[article_id] = time.time()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            line = json.dumps({"id": article_id, "reason": reason, "at": now})
            # One write() of a whole line with O_APPEND: concurrent runs interleave lines, not bytes.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        return True
