"""Revisits: fetch archived articles again on a schedule, and record their edits and deletions.

Off unless ``REVISIT_SCHEDULE`` (or ``-a revisit=7d``) is set; then every run also fetches the
archived articles that are due, oldest-due first, at most ``REVISIT_MAX_PER_RUN`` of them.

The pieces, each site-independent (a site only says a page is deleted, by raising
``Unavailable("deleted")``):

* :class:`RevisitState`: when each archived article was first written, last checked, next due,
  and its file's sha256, in one SQLite file (``REVISIT_STATE``). Why SQLite: a due-time index
  makes "what is due" cost O(due articles), not a scan of the output folder; it survives runs;
  it is one visible file (``sqlite3 FILE 'select * from articles'``) that is reset by deleting
  it (or a row); and its write lock makes a claim atomic, so scale-out workers that share it
  never revisit one article twice in a run (each claim moves the article's due time on
  before another worker can read it). Workers on separate machines each keep their own file,
  which holds only the articles that worker wrote: still one revisit per article.
* :class:`RevisitMiddleware` (spider middleware): adds the due articles' requests to the
  run's start, stamps every fetched article with the time its page was answered, and turns a
  revisit that found the page deleted into an :class:`ArticleDeleted` item.
* :class:`RevisitPipeline` (before the writer): an article whose page renders the same file
  bytes as before (its ``lastmod``/``deleted`` keys aside) stays untouched; a changed one keeps
  its previous file under ``REVISIONS_DIR`` and gains ``lastmod``; a deleted one gains
  ``deleted``.

Times: the schedule reads the clock (``REVISIT_NOW`` fixes it, for tests and backfills);
``lastmod``, ``deleted`` and revision names read the page answer's HTTP ``Date`` (else the
clock), which a WARC capture keeps, so a replay writes the same times.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import BaseSettings

from newscrawl.convert.article import Article
from newscrawl.convert.dates import format_date, parse_datetime
from newscrawl.crawl.pipelines import write_failed
from newscrawl.crawl.writer import UnsafePath, article_path
from newscrawl.osutil import write_atomic

logger = logging.getLogger(__name__)

# The default curve (NewsDiffs-like: often while fresh, then less and less).
DEFAULT_SCHEDULE = "every 30 min while younger than 6 h, every 3 h until 1 day, daily until 7 days"
# Unavailable reasons of a page that mean "deleted": the site recognizes a deleted page and says so.
DELETED_REASONS = frozenset({"deleted"})
# Front matter keys this module adds; a page's own rendering never has them.
REVISIT_KEYS = ("lastmod", "deleted")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# One duration: "30 min", "6h", "1 day", "2.5 hours", or the words "hourly" / "daily" / "weekly".
_DURATION = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s?(s|sec|m|min|h|d|w)[a-z]{0,6}|(hourly|daily|weekly)", re.I)
_WORDS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}


@dataclass(frozen=True, slots=True)
class Step:
    """Revisit every ``every`` seconds while the article is younger than ``until`` seconds."""

    every: float
    until: float


def parse_duration(text: str) -> float | None:
    """Seconds of one duration ("7d", "6 h", "30 min", "daily"), or None."""
    durations = _durations(text)
    return durations[0] if len(durations) == 1 else None


def _durations(text: str) -> list[float]:
    out = []
    for match in _DURATION.finditer(text):
        if match.group(3):
            out.append(_WORDS[match.group(3).lower()])
        else:
            out.append(float(match.group(1)) * _UNITS[match.group(2)[0].lower()])
    return out


def parse_schedule(text: str) -> list[Step]:
    """Steps of a schedule: comma- or semicolon-separated "every X until Y" parts.

    Each part holds two durations, the interval then the age it lasts until (any words
    around them: "every 30 min while younger than 6 h", "3h until 1d", "daily until 7 days").
    Ages must grow from step to step. Raises ValueError on anything else.
    """
    steps: list[Step] = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        durations = _durations(part)
        if len(durations) != 2 or not all(durations):
            raise ValueError(f"revisit step {part.strip()!r}: give an interval and an age, e.g. '30 min until 6 h'")
        every, until = durations
        if steps and until <= steps[-1].until:
            raise ValueError(f"revisit step {part.strip()!r}: ages must grow from step to step")
        steps.append(Step(every, until))
    if not steps:
        raise ValueError("empty revisit schedule")
    return steps


def curve_until(max_age: float) -> list[Step]:
    """The default curve, cut at ``max_age`` (``-a revisit=7d``)."""
    steps = []
    for step in parse_schedule(DEFAULT_SCHEDULE):
        steps.append(Step(step.every, min(step.until, max_age)))
        if step.until >= max_age:
            break
    return steps


def schedule_of(settings: BaseSettings, argument: str | None = None) -> list[Step] | None:
    """The run's schedule: ``-a revisit=AGE`` (the default curve up to AGE), else
    REVISIT_SCHEDULE; None when revisits are off. Raises ValueError on a bad value."""
    if argument:
        if argument.strip().lower() in ("0", "off", "no", "false"):
            return None
        age = parse_duration(argument)
        if not age:
            raise ValueError(f"revisit={argument}: give an age such as 7d or 36h")
        return curve_until(age)
    text = str(settings.get("REVISIT_SCHEDULE") or "").strip()
    if not text:
        return None
    return parse_schedule(DEFAULT_SCHEDULE if text.lower() in ("default", "on", "1", "true") else text)


def next_due(steps: list[Step], first: float, now: float) -> float | None:
    """When to check again after a check at ``now``; None once past the last step."""
    age = now - first
    for step in steps:
        if age < step.until:
            due = now + step.every
            return due if due - first <= steps[-1].until else None
    return None


def clock(settings: BaseSettings) -> float:
    """Now, in epoch seconds: REVISIT_NOW when set (an ISO time or epoch seconds), else the system clock."""
    fixed = str(settings.get("REVISIT_NOW") or "").strip()
    if not fixed:
        return time.time()
    try:
        return float(fixed)
    except ValueError:
        parsed = parse_datetime(fixed) or datetime.fromisoformat(fixed)
        return parsed.timestamp()


def answered_at(response: Any, fallback: float, zone: tzinfo = UTC) -> datetime:
    """When the server answered (its ``Date`` header, kept by WARC captures), else ``fallback``;
    in ``zone`` (the site's: ``lastmod`` is written as the site writes ``date``)."""
    headers = getattr(response, "headers", None)
    raw = headers.get("Date") if headers is not None else None
    if raw:
        try:
            return parsedate_to_datetime(raw.decode("latin-1")).astimezone(zone)
        except (TypeError, ValueError, IndexError):
            pass
    return datetime.fromtimestamp(fallback, zone)


def rfc3339(when: datetime) -> str:
    """``2026-11-29T22:50:00+08:00``: RFC 3339 in the time's own zone (the site's)."""
    return when.replace(microsecond=0).isoformat()


# ---- front matter edits ---------------------------------------------------------------------


def _split(document: str) -> tuple[list[str], str] | None:
    """(front matter lines without the ``---`` fences, the rest), or None."""
    if not document.startswith("---\n"):
        return None
    end = document.find("\n---\n", 3)
    if end < 0:
        return None
    return document[4 : end + 1].splitlines(keepends=True), document[end + 1 :]


def without_revisit_keys(document: str) -> str:
    """The document as rendering gives it: ``lastmod`` and ``deleted`` lines removed."""
    parts = _split(document)
    if parts is None:
        return document
    lines, rest = parts
    kept = [line for line in lines if not line.startswith(tuple(f"{key}: " for key in REVISIT_KEYS))]
    return "---\n" + "".join(kept) + rest


def with_key(document: str, key: str, value: str) -> str:
    """The document with ``key: "value"`` after ``date`` (and after the keys added before it)."""
    parts = _split(document)
    if parts is None:
        raise ValueError("no front matter")
    lines, rest = parts
    lines = [line for line in lines if not line.startswith(f"{key}: ")]
    after = ("date: ", *(f"{k}: " for k in REVISIT_KEYS))
    at = max((i + 1 for i, line in enumerate(lines) if line.startswith(after)), default=0)
    lines.insert(at, f'{key}: "{value}"\n')
    return "---\n" + "".join(lines) + rest


def front_matter_value(document: str, key: str) -> str:
    """A plain string value of a top-level key (our own one-line ``key: "value"``), or ""."""
    parts = _split(document)
    for line in parts[0] if parts else ():
        if line.startswith(f"{key}: "):
            value = line[len(key) + 2 :].strip()
            return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return ""


def body_text(document: str) -> str:
    """The document below its front matter."""
    parts = _split(document)
    return parts[1].lstrip("\n") if parts else document


# ---- state ----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    source  TEXT NOT NULL,
    id      TEXT NOT NULL,
    path    TEXT NOT NULL,   -- the file, relative to OUTPUT_DIR
    first   REAL NOT NULL,   -- first written (epoch s): the age the schedule reads
    checked REAL NOT NULL,   -- last fetched (or claimed for a fetch)
    due     REAL,            -- next revisit; NULL = never again (deleted, or past the last step)
    sha256  TEXT NOT NULL DEFAULT '',
    status  TEXT NOT NULL,   -- written | updated | deleted | done
    PRIMARY KEY (source, id)
);
CREATE INDEX IF NOT EXISTS articles_due ON articles (source, due) WHERE due IS NOT NULL;
"""


@dataclass(slots=True)
class Due:
    """One claimed revisit."""

    id: str
    path: str


class RevisitState:
    """The revisit table in one SQLite file (see the module docstring for why)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit; writes take the file's lock for their transaction only. Workers of one
        # run wait for each other's short transactions rather than fail.
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        # WAL with synchronous=NORMAL: a commit is not an fsync (14 ms each here, one per written
        # article), and a killed run still loses nothing committed; only a power cut may lose the
        # last commits. WAL needs a local disk: keep the file off network shares.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def claim(self, source: str, now: float, limit: int, steps: list[Step]) -> list[Due]:
        """Take up to ``limit`` due articles, oldest-due first, and move their due times on.

        One write transaction: another worker's claim waits for it and then no longer sees
        these articles as due. Articles past the last step are retired, not returned.
        """
        out: list[Due] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            while len(out) < limit:
                rows = self.db.execute(
                    "SELECT id, path, first FROM articles WHERE source = ? AND due IS NOT NULL AND due <= ?"
                    " ORDER BY due LIMIT ?",
                    (source, now, limit - len(out)),
                ).fetchall()
                if not rows:
                    break
                for article_id, path, first in rows:
                    if now - first >= steps[-1].until:
                        self.db.execute(
                            "UPDATE articles SET due = NULL, status = 'done' WHERE source = ? AND id = ?",
                            (source, article_id),
                        )
                        continue
                    self.db.execute(
                        "UPDATE articles SET checked = ?, due = ? WHERE source = ? AND id = ?",
                        (now, next_due(steps, first, now), source, article_id),
                    )
                    out.append(Due(article_id, path))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return out

    def written(self, source: str, article_id: str, path: str, sha256: str, now: float, steps: list[Step]) -> None:
        """A newly archived article: its first revisit is one interval from now."""
        self.db.execute(
            "INSERT INTO articles (source, id, path, first, checked, due, sha256, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'written')"
            " ON CONFLICT (source, id) DO UPDATE SET sha256 = excluded.sha256, path = excluded.path",
            (source, article_id, path, now, now, next_due(steps, now, now), sha256),
        )

    def checked(self, source: str, article_id: str, sha256: str, status: str) -> None:
        """A revisit's result: the file's hash now, and ``updated`` / ``unchanged``."""
        if status == "updated":
            sql = "UPDATE articles SET sha256 = ?, status = 'updated' WHERE source = ? AND id = ?"
        else:
            sql = "UPDATE articles SET sha256 = ? WHERE source = ? AND id = ?"
        self.db.execute(sql, (sha256, source, article_id))

    def deleted(self, source: str, article_id: str, sha256: str) -> None:
        """Deleted at the site: kept, marked, never revisited again."""
        self.db.execute(
            "UPDATE articles SET sha256 = ?, status = 'deleted', due = NULL WHERE source = ? AND id = ?",
            (sha256, source, article_id),
        )

    def row(self, source: str, article_id: str) -> dict[str, Any] | None:
        cursor = self.db.execute("SELECT * FROM articles WHERE source = ? AND id = ?", (source, article_id))
        names = [d[0] for d in cursor.description]
        found = cursor.fetchone()
        return dict(zip(names, found, strict=True)) if found else None


# ---- items ----------------------------------------------------------------------------------


@dataclass
class ArticleDeleted:
    """A revisit found the page deleted: the file is kept and marked. Its fields are the
    manifest line's, in its order (status ``deleted``); the pipeline fills them from the file."""

    id: str
    url: str
    source: str
    title: str = ""
    media: str = ""  # not in the file's front matter: ""
    published: str = ""
    crawled: str = ""
    path: str = ""
    sha256: str = ""
    status: str = "deleted"
    thumbnail: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    previous_sha256: str = ""
    deleted: str = ""  # RFC 3339 time the deletion was first seen


def revisions_dir(settings: BaseSettings) -> Path:
    """REVISIONS_DIR, or ``revisions/`` beside OUTPUT_DIR (outside Hugo's content)."""
    given = settings.get("REVISIONS_DIR")
    if given:
        return Path(given)
    return Path(settings.get("OUTPUT_DIR", "output")).parent / "revisions"


def revision_name(when: datetime) -> str:
    """A revision's file name: when it was replaced, in the site's zone (sortable)."""
    return when.strftime("%Y%m%dT%H%M%S%z") + ".md"


def archived_fetches(location: str, retry_codes: set[int]) -> dict[str, int]:
    """Article id -> how many times the captured runs fetched it (final answers: retried
    statuses left out, as a replay retries them again on its own)."""
    from newscrawl.warc import ReplayIndex, warc_files  # only replays read archives

    index = ReplayIndex(warc_files(location))
    return {
        article_id: sum(stored.status not in retry_codes for stored in index.by_key[key])
        for article_id, key in index.by_article.items()
    }


def run_schedule(crawler: Any) -> list[Step] | None:
    """The schedule of this crawl (setting or the spider's ``revisit`` argument), or None.

    A bad ``-a revisit=`` is a bad argument of the spider: the run fetches nothing, exit 2.
    (A bad REVISIT_SCHEDULE stops the run before it starts: ``newscrawl.crawl.preflight``.)
    """
    spider = getattr(crawler, "spider", None)
    try:
        return schedule_of(crawler.settings, getattr(spider, "revisit", None))
    except ValueError as exc:
        bad = getattr(spider, "bad_args", None)
        if bad is None:
            raise
        if str(exc) not in bad:
            bad.append(str(exc))
        return None


# ---- crawl components -----------------------------------------------------------------------


class RevisitMiddleware:
    """Spider middleware: due revisits at the start, answer times, deletions, and the state."""

    def __init__(self, crawler: Any, steps: list[Step]) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.steps = steps
        self.state = RevisitState(self.settings.get("REVISIT_STATE"))
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        # Replay: each archived article answered more often than once is asked again that often.
        self.replay_rounds: dict[str, int] = {}
        location = self.settings.get("WARC_REPLAY")
        if location:
            retry_codes = {int(code) for code in self.settings.getlist("RETRY_HTTP_CODES")}
            self.replay_rounds = {
                article_id: count - 1
                for article_id, count in archived_fetches(location, retry_codes).items()
                if count > 1
            }
            crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RevisitMiddleware:
        steps = run_schedule(crawler)
        if not steps:
            raise NotConfigured("revisits are off")
        try:
            return cls(crawler, steps)
        except (sqlite3.Error, OSError) as exc:
            # A file that is no SQLite database, or a folder that cannot hold one: was a traceback
            # and exit 1. Now the spider's bad-argument line: nothing is fetched, exit 2.
            problem = f"REVISIT_STATE {crawler.settings.get('REVISIT_STATE')} cannot be used ({exc})"
            bad = getattr(getattr(crawler, "spider", None), "bad_args", None)
            if bad is None:
                raise
            bad.append(problem)
            raise NotConfigured(problem) from exc

    def spider_closed(self, spider: Any = None) -> None:
        self.state.close()

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in start:
            yield item
        spider = self.crawler.spider
        if getattr(spider, "bad_args", None):
            return  # a run with bad arguments fetches nothing, revisits included
        for request in self.due_requests(spider):
            yield request

    def due_requests(self, spider: Any) -> list[Any]:
        limit = self.settings.getint("REVISIT_MAX_PER_RUN")
        due = self.state.claim(spider.source, clock(self.settings), limit, self.steps) if limit > 0 else []
        stats = self.crawler.stats
        stats.set_value("newscrawl/revisits/due", len(due))
        requests = []
        for entry in due:
            request = spider.article_request(entry.id)
            request.meta["revisit"] = entry.path
            spider.backlog += 1  # its callback counts it as ended, as any article request
            requests.append(request)
        if due:
            logger.info("Revisiting %d archived articles that are due", len(due))
        return requests

    def spider_idle(self, spider: Any = None) -> None:
        """Replay of revisits: once the run has nothing else to do, one more archived answer
        per archived article, round after round, in archive order (as the cron runs asked)."""
        if not self.replay_rounds:
            return
        engine = self.crawler.engine
        if not engine.spider_is_idle():
            raise DontCloseSpider  # another idle handler (the replay's sweep) queued work: after it
        spider = self.crawler.spider
        scheduled = 0
        for article_id, left in list(self.replay_rounds.items()):
            row = self.state.row(spider.source, article_id)
            if left <= 0 or row is None or row["status"] == "deleted":
                del self.replay_rounds[article_id]
                continue
            self.replay_rounds[article_id] = left - 1
            request = spider.article_request(article_id).replace(dont_filter=True)
            request.meta["revisit"] = row["path"]
            spider.backlog += 1
            engine.crawl(request)
            scheduled += 1
        if scheduled:
            self.crawler.stats.inc_value("newscrawl/revisits/replayed", scheduled)
            raise DontCloseSpider

    def _stamped(self, response: Any, item: Any) -> Any:
        if isinstance(item, Article):
            item.fetched_at = answered_at(response, clock(self.settings), self.crawler.spider.site.timezone)
        return item

    def _deletion(self, response: Any) -> ArticleDeleted | None:
        meta = response.meta
        if meta.get("revisit") is None or meta.get("unavailable") not in DELETED_REASONS:
            return None
        spider = self.crawler.spider
        article_id = meta["article_id"]
        when = answered_at(response, clock(self.settings), spider.site.timezone)
        url = spider.site.canonical_url(article_id)
        return ArticleDeleted(article_id, url, spider.source, path=meta["revisit"], deleted=rfc3339(when))

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterator[Any]:
        for item in result:
            yield self._stamped(response, item)
        deleted = self._deletion(response)
        if deleted is not None:
            yield deleted

    async def process_spider_output_async(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in result:
            yield self._stamped(response, item)
        deleted = self._deletion(response)
        if deleted is not None:
            yield deleted

    def item_scraped(self, item: Any, response: Any = None, spider: Any = None) -> None:
        if isinstance(item, ArticleDeleted):
            self.state.deleted(item.source, item.id, item.sha256)
            self.crawler.stats.inc_value("newscrawl/revisits/deleted")
            return
        if not isinstance(item, Article) or not item.path:
            return
        if (getattr(response, "meta", None) or {}).get("revisit") is not None:
            self.state.checked(item.source, item.id, item.sha256, item.status)
            self.crawler.stats.inc_value(f"newscrawl/revisits/{item.status}")
        elif item.status in ("written", "updated", "unchanged"):
            # New (or refetched with force=1: the row keeps its first and due times).
            now = clock(self.settings)
            self.state.written(item.source, item.id, item.path, item.sha256, now, self.steps)


class RevisitPipeline:
    """Before the writer: unchanged pages stay untouched, changed ones keep a revision and gain
    ``lastmod``, deleted ones gain ``deleted``. Off (NotConfigured) when revisits are."""

    def __init__(self, settings: BaseSettings, stats: Any = None) -> None:
        self.settings = settings
        self.stats = stats
        self.output_dir = Path(settings.get("OUTPUT_DIR", "output"))
        self.template = settings.get("OUTPUT_PATH_TEMPLATE")
        self.revisions = revisions_dir(settings)
        self.fsync = settings.getbool("WRITE_FSYNC")

    @classmethod
    def from_crawler(cls, crawler: Any) -> RevisitPipeline:
        if not run_schedule(crawler):
            raise NotConfigured("revisits are off")
        return cls(crawler.settings, crawler.stats)

    def process_item(self, item: Any) -> Any:
        try:
            if isinstance(item, ArticleDeleted):
                return self.mark_deleted(item)
            if isinstance(item, Article) and item.markdown:
                return self.compare(item)
        except OSError as exc:  # a revision or a deletion mark the disk refused: the writer's rule
            raise write_failed(self.stats, logger, item.id, exc) from exc
        return item

    def _keep_revision(self, source: str, article_id: str, when: datetime, old: bytes) -> Path:
        folder = self.revisions / source / article_id
        path = folder / revision_name(when)
        serial = 1
        while path.exists() and path.read_bytes() != old:  # two versions within one second
            serial += 1
            path = folder / revision_name(when).replace(".md", f"-{serial}.md")
        write_atomic(path, old, self.fsync)
        return path

    def compare(self, article: Article) -> Article:
        try:
            path = article_path(self.output_dir, self.template, article.id, article.lang, article.source)
            old = path.read_bytes()
        except (UnsafePath, FileNotFoundError):
            return article  # a new article (or one the writer refuses): the writer decides
        old_text = old.decode("utf-8", "replace")
        if without_revisit_keys(old_text) == article.markdown:
            article.markdown = old_text  # the same page: the writer finds the same bytes
            return article
        # Stamped by the middleware in the site's zone (UTC only for an article it did not see).
        when = article.fetched_at or datetime.fromtimestamp(clock(self.settings), UTC)
        kept = self._keep_revision(article.source, article.id, when, old)
        logger.info("Article %s changed; previous version kept as %s", article.id, kept)
        article.previous_sha256 = hashlib.sha256(old).hexdigest()
        article.markdown = with_key(article.markdown, "lastmod", rfc3339(when))
        return article

    def mark_deleted(self, item: ArticleDeleted) -> ArticleDeleted:
        path = self.output_dir / item.path
        try:
            old = path.read_bytes()
        except FileNotFoundError:
            item.status = "deleted"
            return item
        text = old.decode("utf-8", "replace")
        new = with_key(text, "deleted", item.deleted).encode("utf-8")
        write_atomic(path, new, self.fsync)
        logger.warning("Article %s was deleted at the site; its file is kept, marked deleted", item.id)
        item.previous_sha256 = hashlib.sha256(old).hexdigest()
        item.sha256 = hashlib.sha256(new).hexdigest()
        item.title = front_matter_value(text, "title")
        item.published = front_matter_value(text, "date")
        item.thumbnail = front_matter_value(text, "thumbnail")
        item.crawled = format_date(datetime.fromisoformat(item.deleted).astimezone(UTC))
        return item
