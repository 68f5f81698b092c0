"""``scrapy crawl`` whose exit status tells cron whether the run failed.

Scrapy's own command exits 0 whenever the crawl ran at all. This one takes the verdict
the RunSummary extension left in the stats (``newscrawl/exit_code``) and exits with it.
Before anything starts (even logging) it checks the settings (:mod:`newscrawl.crawl.preflight`):
a bad value or an unwritable OUTPUT_DIR is one line on stderr each, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from newscrawl.crawl import preflight
from newscrawl.scaleout import missing_extra, redis_problem

BAD_SETTINGS_EXIT = 2  # the same status as invalid spider arguments


class Command(ScrapyCrawl):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # applies -s, so -s REDIS_URL=... counts
        # Here, not in run(): Scrapy configures logging (and fails on a bad LOG_LEVEL with a
        # traceback) between the two, and would log its start before the one line.
        problem = missing_extra(self.settings)
        if problem:  # an install problem, not a bad value: exit 1, as Scrapy's "could not start"
            print(f"newscrawl: {problem}", file=sys.stderr)
            raise SystemExit(1)
        problems, notes = preflight.check(self.settings)
        unusable = None if problems else redis_problem(self.settings)
        if unusable:  # after the settings' check: a bad REDIS_* value is said there first
            print(f"newscrawl: {unusable[1]}", file=sys.stderr)
            raise SystemExit(unusable[0])
        for note in notes:
            print(f"newscrawl: {note}", file=sys.stderr)
        if problems:
            for problem in problems:
                print(f"newscrawl: {problem}", file=sys.stderr)
            raise SystemExit(BAD_SETTINGS_EXIT)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one spider name")
        assert self.crawler_process
        try:
            crawler = self._create_crawler(args[0])
        except KeyError:  # Scrapy's loader: a traceback ending in "Spider not found"
            names = ", ".join(sorted(self.crawler_process.spider_loader.list()))
            print(f"newscrawl: unknown spider {args[0]!r} (spiders: {names})", file=sys.stderr)
            self.exitcode = 1
            return
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        code = crawler.stats.get_value("newscrawl/exit_code") if crawler.stats else None
        if code:
            self.exitcode = int(code)
