"""Checks a run makes before it starts: a wrong setting stops it with one line, exit 2.

A misspelt value of an enumerated setting (``-s DATE_STYLE=bogus``) used to be accepted
and the run to end ``ok``; an ``OUTPUT_DIR`` that cannot be written used to fail after
the first article, buried under a stats traceback. Both are now found before Scrapy
starts, by the project's ``crawl`` command: nothing is fetched, nothing written, and each
problem is one line naming the setting, its value and what is allowed (or the OS error).
Spider arguments (``-a``) are checked by the spider itself (``ArticleSpider.argument_names``).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.settings import default_settings as scrapy_defaults

from newscrawl.crawl.revisit import schedule_of

# Settings that take one of a few words (case-sensitive, as the code compares them).
ENUMERATED: dict[str, tuple[str, ...]] = {
    "DATE_STYLE": ("rfc3339", "legacy"),
    "LOG_LEVEL": ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"),
}
# The project's on/off settings (Scrapy's own getbool raises on anything else, mid-crawl).
BOOLEAN = (
    "WRITE_FSYNC",
    "IMAGES_DOWNLOAD",
    "WARC_REPLAY_ALL",
    "ROBOTSTXT_OBEY",
    "TELNETCONSOLE_ENABLED",
    "REMOTE_CONTROL_ENABLED",
    "FAIL_ON_REQUESTED",
)
BOOLEAN_WORDS = "true, false, 1, 0"
# Numbers that read fine but mean nothing out of their range, as (lowest, highest or None), both
# allowed: an int bound asks for a whole number (the code reads it with getint, which refuses
# "2.5"), a float bound for any finite number. Out of range they ran silently wrong: FAIL_RATIO=2
# never failed a run, SUMMARY_LENGTH=-5 cut summaries from the end, CONCURRENT_REQUESTS=0 fetched
# nothing. Sites add their own (``Site.setting_ranges``).
RANGES: dict[str, tuple[float, float | None]] = {
    "FAIL_RATIO": (0.0, 1.0),
    "FAIL_MIN_ARTICLES": (0, None),
    "SUMMARY_WHOLE_UNDER": (0, None),
    "SUMMARY_LENGTH": (0, None),
    "EMPTY_RETRY_HOURS": (0.0, None),
    "REVISIT_MAX_PER_RUN": (0, None),
    "WARC_MAX_SIZE": (1, None),
    "REBUILD_KEEP_MB": (0, None),
    "PROGRESS_INTERVAL": (0.0, None),
    "REDIS_IDLE_CLOSE_SECONDS": (0.0, None),
    "REDIS_WORKER_TIMEOUT": (0.0, None),
    "ROBOTSTXT_TIMEOUT": (0.0, None),
    "ROBOTSTXT_RETRY_TIMES": (0, None),
    # Scrapy's, as this project uses them.
    "CONCURRENT_REQUESTS": (1, None),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (1, None),
    "CONCURRENT_ITEMS": (1, None),
    "DOWNLOAD_DELAY": (0.0, None),
    "DOWNLOAD_TIMEOUT": (0.0, None),
    "RETRY_TIMES": (0, None),
    "REDIRECT_MAX_TIMES": (0, None),
    "AUTOTHROTTLE_START_DELAY": (0.0, None),
    "AUTOTHROTTLE_MAX_DELAY": (0.0, None),
    "CLOSESPIDER_TIMEOUT": (0.0, None),
    "CLOSESPIDER_ITEMCOUNT": (0, None),
    "CLOSESPIDER_PAGECOUNT": (0, None),
    "CLOSESPIDER_ERRORCOUNT": (0, None),
}


def setting_problems(settings: Any) -> list[str]:
    """One message per setting whose value is not one of its allowed values."""
    problems = []
    for name, allowed in ENUMERATED.items():
        value = settings.get(name)
        if name == "LOG_LEVEL" and isinstance(value, int) and logging.getLevelName(value) in allowed:
            continue  # a numeric level (logging.WARNING) set from Python
        if value not in allowed:
            problems.append(f"{name}={value!r} is not allowed; use one of: {', '.join(allowed)}")
    for name in BOOLEAN:
        try:
            settings.getbool(name)
        except ValueError:
            problems.append(f"{name}={settings.get(name)!r} is not allowed; use one of: {BOOLEAN_WORDS}")
    try:
        schedule_of(settings)
    except ValueError as exc:
        problems.append(f"REVISIT_SCHEDULE={settings.get('REVISIT_SCHEDULE')!r}: {exc}")
    return problems


def range_problems(settings: Any, defaults: dict[str, Any] | None = None) -> list[str]:
    """One message per number out of its range (RANGES and each site's ``setting_ranges``),
    wherever it was set. A value that is no number at all is ``typed_problems``' to say."""
    ranges = dict(RANGES)
    for site in _sites(settings):
        ranges.update(site.setting_ranges)
    found = []
    for name, (low, high) in ranges.items():
        value = settings.get(name)
        if value is None or isinstance(value, bool):
            continue
        whole = isinstance(low, int)
        try:
            number = int(value) if whole and isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            if not (whole and isinstance(value, str) and _is_number(value)):
                continue
            number = math.nan  # "2.5" where a whole number is read: getint would raise mid-run
        if math.isfinite(number) and number >= low and (high is None or number <= high):
            continue
        kind = "a whole number" if whole else "a number"
        span = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        if not defaults:
            defaults = _defaults(settings)
        default = defaults.get(name)
        found.append(f"{name}={value!r} is not allowed; use {kind} {span} (default: {default!r})")
    return found


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def sites_problem(settings: Any) -> str | None:
    """Why a SITES (or SITES_BASE) entry cannot be loaded, or None: Scrapy's spider loader would
    stop the run with a traceback (exit 1)."""
    from newscrawl.sites import registry

    try:
        registry(settings)
    except (ImportError, AttributeError, NameError, TypeError, ValueError) as exc:
        return f"SITES cannot be loaded: {type(exc).__name__}: {exc}"
    return None


def _sites(settings: Any) -> list[Any]:
    """The registered sites, or none when SITES is broken (the spider reports that when it loads)."""
    from newscrawl.sites import registry

    try:
        return list(registry(settings).values())
    except (ImportError, TypeError, ValueError):
        return []


def _defaults(settings: Any) -> dict[str, Any]:
    """Every known setting's default: Scrapy's, the project's, each registered site's."""
    import newscrawl.settings as project

    values = {name: getattr(scrapy_defaults, name) for name in dir(scrapy_defaults) if name.isupper()}
    values.update({name: getattr(project, name) for name in dir(project) if name.isupper()})
    for site in _sites(settings):
        values.update(site.default_settings)
    return values


# Settings the code reads that are set by the project itself, not in a settings module.
INTERNAL = frozenset({"WARC_REPLAY", "REVISIT_NOW", "SCHEDULER_SERIALIZER"})


def _redis_names() -> set[str]:
    """The scale-out extra's own settings, when it is installed (importing it imports redis:
    ~0.1 s, so only asked about names nothing else knows)."""
    try:
        import scrapy_redis.defaults as redis_defaults
    except ImportError:
        return set()
    return {name for name in dir(redis_defaults) if name.isupper()}


def _given(settings: Any) -> list[str]:
    """The names set with ``-s`` (only those are checked: the project's own values are known good)."""
    cmdline = SETTINGS_PRIORITIES["cmdline"]
    return [name for name in list(settings) if settings.getpriority(name) == cmdline]


def unknown_names(
    settings: Any, given: list[str] | None = None, defaults: dict[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """(problems, notes) of ``-s`` names no component knows. A name close to a known one
    (``OUTPT_DIR``) is a typo that would silently fall back to the default: exit 2 with the
    name meant. Any other unknown name (your own component's setting) gets a note line."""
    import difflib

    given = _given(settings) if given is None else given
    problems: list[str] = []
    notes: list[str] = []
    if not given:
        return problems, notes
    known = set(_defaults(settings) if defaults is None else defaults) | INTERNAL
    unknown = [name for name in given if name not in known]
    if unknown:
        known |= _redis_names()
    for name in unknown:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
        if close:
            problems.append(f"unknown setting {name!r}; did you mean {close[0]}?")
        else:
            notes.append(f"note: {name} is not a setting of Scrapy, newscrawl or its sites; passed on as given")
    return problems, notes


def typed_problems(settings: Any, given: list[str] | None = None, defaults: dict[str, Any] | None = None) -> list[str]:
    """Values given with ``-s`` that do not read as their setting's type (a number, on/off,
    a JSON object): Scrapy would raise mid-crawl, with a traceback, on the first use."""
    given = _given(settings) if given is None else given
    if given and defaults is None:
        defaults = _defaults(settings)
    found = []
    for name in given:
        if name in BOOLEAN:  # setting_problems says these, with the project's words
            continue
        value = settings.get(name)
        if not isinstance(value, str):
            continue
        default = defaults.get(name)
        try:
            if isinstance(default, bool):
                settings.getbool(name)
            elif isinstance(default, (int, float)):
                float(value)  # Scrapy reads some int defaults with getfloat (DOWNLOAD_DELAY=0.5)
            elif isinstance(default, dict):
                settings.getdict(name)
            else:
                continue
        except ValueError:
            kind = (
                "true, false, 1 or 0"
                if isinstance(default, bool)
                else ("a number" if isinstance(default, (int, float)) else "a JSON object")
            )
            found.append(f"{name}={value!r} is not allowed; use {kind} (default: {default!r})")
    return found


def output_template_problem(settings: Any) -> str | None:
    """Why OUTPUT_PATH_TEMPLATE cannot place articles inside OUTPUT_DIR, or None: a template
    that leaves the folder, or names a field other than ``{id}``, ``{lang}``, ``{source}``,
    would otherwise refuse every article, one by one, mid-run."""
    from newscrawl.crawl.writer import UnsafePath, article_path

    template = settings.get("OUTPUT_PATH_TEMPLATE")
    folder = Path(settings.get("OUTPUT_DIR") or "output")
    for site in _sites(settings):
        try:
            article_path(folder, template, "ID0", site.lang, site.name)
        except UnsafePath as exc:
            return f"OUTPUT_PATH_TEMPLATE={template!r}: {exc}"
        except (KeyError, IndexError, ValueError) as exc:
            fields = "{id}, {lang}, {source}"
            return f"OUTPUT_PATH_TEMPLATE={template!r} is not allowed ({type(exc).__name__}: {exc}); use {fields}"
    return None


def _probe(folder: Path) -> None:
    """Create ``folder`` if missing, then create and remove a file in it (raises OSError)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".newscrawl-probe-", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(probe)


def output_dir_problem(settings: Any) -> str | None:
    """Why OUTPUT_DIR cannot take the run's files (created if missing), or None.

    A probe file is created and removed, so a read-only folder is found too, not only
    one that cannot be created.
    """
    return _writable_problem("OUTPUT_DIR", settings.get("OUTPUT_DIR") or "output", folder=True)


# Files a run writes besides the articles, each named by a setting ("" = off): a path that cannot
# be written would otherwise fail at its first use, mid-run or at the very end, after the summary
# (a STATS_FILE cron reads, the STATE_FILE of gone articles) or as a traceback (LOG_FILE).
FILE_SETTINGS = ("STATS_FILE", "STATE_FILE", "LOG_FILE", "MANIFEST")
# Folders a run writes into ("" = off, or a folder beside OUTPUT_DIR); IMAGES_STORE only with
# IMAGES_DOWNLOAD on. One that cannot be written was a traceback (IMAGES_STORE: exit 1 before
# the first request) or a write error on the first revised article (REVISIONS_DIR).
FOLDER_SETTINGS = ("WARC_DIR", "REVISIONS_DIR", "IMAGES_STORE")


def file_problems(settings: Any) -> list[str]:
    """Why a file or folder the run writes (FILE_SETTINGS, FOLDER_SETTINGS) cannot be written."""
    found = []
    for name in FILE_SETTINGS + FOLDER_SETTINGS:
        value = settings.get(name)
        if not value or not isinstance(value, (str, os.PathLike)):
            continue
        if name == "MANIFEST" and ("://" in str(value) or "%(" in str(value)):
            continue  # a feed URI or a URI template: Scrapy's feed storage checks those itself
        if name == "IMAGES_STORE" and not _flag(settings, "IMAGES_DOWNLOAD"):
            continue
        problem = _writable_problem(name, value, folder=name in FOLDER_SETTINGS)
        if problem:
            found.append(problem)
    return found


def _flag(settings: Any, name: str) -> bool:
    try:
        return settings.getbool(name)
    except ValueError:
        return False  # setting_problems says so


def _writable_problem(name: str, value: str | os.PathLike, folder: bool) -> str | None:
    """Why the folder (or the file) a setting names cannot be written, or None."""
    path = Path(value)
    try:
        if folder:
            _probe(path)
            return None
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path} is not writable")
        _probe(path.parent)
    except OSError as exc:
        return f"{name} {value} cannot be created or written: {exc}"
    return None


def _jobdir_problem(settings: Any) -> str | None:
    from newscrawl.crawl.jobdir import resume_problem

    jobdir = settings.get("JOBDIR")
    # A scale-out run ignores JOBDIR (its queue is in Redis).
    return resume_problem(jobdir) if jobdir and not settings.get("REDIS_URL") else None


def check(settings: Any) -> tuple[list[str], list[str]]:
    """(problems, notes): everything that stops a run before it starts (empty: go ahead),
    and the note lines of unknown setting names that do not."""
    given = _given(settings)
    defaults = _defaults(settings) if given else {}
    unknown, notes = unknown_names(settings, given, defaults)
    found = unknown + setting_problems(settings) + typed_problems(settings, given, defaults)
    found += range_problems(settings, defaults) + file_problems(settings)
    if "OUTPUT_DIR" in given and not settings.get("OUTPUT_DIR"):
        # ``-s OUTPUT_DIR=$DIR`` with DIR unset in cron: not the default folder, silently.
        found.append("OUTPUT_DIR is empty; give the folder articles are written to (default: output)")
    for problem in (
        sites_problem(settings),
        output_dir_problem(settings),
        output_template_problem(settings),
        _jobdir_problem(settings),
    ):
        if problem:
            found.append(problem)
    return found, notes


def problems(settings: Any) -> list[str]:
    """What stops a run before it starts (``check`` without the notes)."""
    return check(settings)[0]
