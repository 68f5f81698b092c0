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
import os
import tempfile
from pathlib import Path
from typing import Any

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
)
BOOLEAN_WORDS = "true, false, 1, 0"


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


def output_dir_problem(settings: Any) -> str | None:
    """Why OUTPUT_DIR cannot take the run's files (created if missing), or None.

    A probe file is created and removed, so a read-only folder is found too, not only
    one that cannot be created.
    """
    folder = Path(settings.get("OUTPUT_DIR") or "output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".newscrawl-probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"OUTPUT_DIR {folder} cannot be created or written: {exc}"
    return None


def problems(settings: Any) -> list[str]:
    """Everything that stops a run before it starts (empty: go ahead)."""
    found = setting_problems(settings)
    output = output_dir_problem(settings)
    if output:
        found.append(output)
    return found
