"""The ``newscrawl`` command: the project's Scrapy commands from any folder, and ``render``.

``scrapy crawl <site>`` finds the project through ``scrapy.cfg`` in the current folder (or a
parent), so a pip-installed newscrawl run elsewhere says "The crawl command is not available
from this location". ``newscrawl crawl <site> ...`` names the settings module instead
(``SCRAPY_SETTINGS_MODULE=newscrawl.settings`` unless already set) and hands the command
line to ``scrapy.cmdline.execute``, so the project's own ``crawl`` command runs: same
arguments, settings, summary line and exit statuses as ``scrapy crawl <site>`` in the project.

Relative paths in settings (``OUTPUT_DIR=output``, ``STATE_FILE=newscrawl-gone.jsonl``)
resolve against the current folder, exactly as they do for ``scrapy crawl`` in the project
folder: the command never changes folder, so ``-s OUTPUT_DIR=site/content`` means the
folder the user sees from where they typed it.

``newscrawl render PAGE.html [--url URL]`` is ``python -m newscrawl render``;
``newscrawl history ID`` lists a revisited article's versions (:mod:`newscrawl.archive.history`).
"""

from __future__ import annotations

import os
import sys

SETTINGS_MODULE = "newscrawl.settings"

USAGE = """\
usage: newscrawl crawl SITE [-a NAME=VALUE ...] [-s NAME=VALUE ...]   (SITE: see `newscrawl list`)
       newscrawl render PAGE.html [--url URL] [--site SITE]
       newscrawl history ID [--output DIR] [--revisions DIR]
       newscrawl rebuild ARCHIVE... --output DIR [--jobs N]   (a WARC archive's articles, in N processes)
       newscrawl COMMAND ...   (any Scrapy command, with the project's settings)

Runs from any folder; relative paths in settings (OUTPUT_DIR, STATE_FILE) are relative to
the current folder. Exit statuses of crawl: 0 ok, 1 could not start, 2 bad arguments or settings,
3 did not finish, 4 no feed answered, 5 article fetches failed (most, or a named one), 6 unknown page layout,
7 damaged WARC records in a replay or rebuild, 8 files could not be written (disk),
9 unexpected errors (a traceback in the log).
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``newscrawl`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    if args[0] == "rebuild":
        from newscrawl.archive.rebuild import run

        return run(args[1:])
    if args[0] == "render":
        from newscrawl.__main__ import main as render_main

        return render_main(args)
    if args[0] == "history":  # an archived article's versions and diffs (newscrawl.archive.history)
        from newscrawl.archive.history import main as history_main

        return history_main(args[1:])
    # Scrapy's own lookup reads this variable before any scrapy.cfg.
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", SETTINGS_MODULE)
    from scrapy.cmdline import execute

    unknown = _unknown_command(args)
    if unknown:
        # Scrapy's own answer is a banner, "Unknown command" and a pointer to `scrapy`: one line
        # that names this command's help instead.
        sys.stderr.write(f"newscrawl: unknown command {unknown!r} (see `newscrawl --help`)\n")
        return 2
    try:
        execute(["scrapy", *args])
    except SystemExit as done:  # execute() always ends with sys.exit(status)
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _unknown_command(args: list[str]) -> str | None:
    """The command name in ``args`` when neither newscrawl nor Scrapy has it, else None.

    The name is found as Scrapy finds it (the first argument not starting with ``-``); when
    Scrapy's command table cannot be read (a private function that may move), Scrapy decides.
    """
    name = next((arg for arg in args if not arg.startswith("-")), None)
    if name is None:
        return None
    try:
        from scrapy.cmdline import _get_commands_dict
        from scrapy.utils.project import get_project_settings

        known = _get_commands_dict(get_project_settings(), inproject=True)
    except Exception:  # noqa: BLE001 - a changed Scrapy internal: let Scrapy answer as before
        return None
    return None if name in known else name


if __name__ == "__main__":
    sys.exit(main())
