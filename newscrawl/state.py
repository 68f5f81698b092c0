"""What the crawl remembers between runs besides the output folder: articles that are gone.

An article that is deleted, paid or answers 404/410 will not come back; refetching it on
every cron run would only hammer the site. Such ids are appended to one small JSON-lines
file (``STATE_FILE``), one line per id: plain, greppable, and reset by deleting it (or one
line of it). Transient failures (timeouts, 5xx, challenges) are not recorded, so the next
run retries them. Appending whole lines keeps the file valid when a crawl is killed; a
torn last line is ignored on load.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

# Reasons after which an article is not fetched again.
PERMANENT_REASONS = frozenset({"deleted", "paid", "http_404", "http_410"})


class GoneState:
    """The set of article ids not to fetch again, backed by an append-only file."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self.gone: dict[str, str] = {}
        if self.path and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    self.gone[str(entry["id"])] = str(entry["reason"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn line from a killed run

    def __contains__(self, article_id: str) -> bool:
        return article_id in self.gone

    def __len__(self) -> int:
        return len(self.gone)

    def mark(self, article_id: str, reason: str) -> bool:
        """Record a gone article if ``reason`` is permanent; True when recorded."""
        if reason not in PERMANENT_REASONS or article_id in self.gone:
            return False
        self.gone[article_id] = reason
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
