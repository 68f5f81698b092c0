"""Run a crawl in the test process, as Scrapy's own tests do (``get_crawler`` + ``crawl_async``).

For feature checks that need neither an exit status nor a kill: what was fetched, written,
counted and logged. The crawl runs without a Twisted reactor (``TWISTED_REACTOR_ENABLED =
False``, Scrapy >= 2.15, HTTP through Scrapy's aiohttp handler), each in its own asyncio loop,
so one test process can run many crawls. Exit statuses, signals and the command line stay in
the subprocess crawls (``tests/crawlrun.py``), which run the real ``scrapy crawl``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.reactor import is_reactor_installed
from scrapy.utils.test import get_crawler

import newscrawl.settings as project_settings
from newscrawl.crawl.spider import SiteSpiderLoader
from tests.crawlrun import CrawlResult

# Off in the test process: no reactor (so no LoopingCall progress lines) and no Telnet console.
IN_PROCESS = {"TWISTED_REACTOR_ENABLED": False, "PROGRESS_INTERVAL": 0, "TELNETCONSOLE_ENABLED": False}


def project_settings_dict() -> dict[str, Any]:
    """The project's settings module as a dict (Scrapy's defaults are added by the Crawler)."""
    return {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}


def crawl_in_process(site: str, settings: dict[str, Any], **spider_args: Any) -> Crawler:
    """Crawl ``site`` with the project's settings updated by ``settings``; returns the finished
    crawler (``crawler.stats``)."""
    values = {**project_settings_dict(), **settings, **IN_PROCESS}
    spidercls = SiteSpiderLoader.from_settings(Settings(values)).load(site)
    crawler = get_crawler(spidercls, values)
    # The LogLevelAtSource extension raises these loggers' levels for the run: put them back.
    loggers = [logging.root, logging.getLogger("scrapy")]
    levels = [log.level for log in loggers]
    try:
        asyncio.run(crawler.crawl_async(**spider_args))
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
    # A reactor installed by the crawl (something importing twisted.internet.reactor) would make
    # every later in-process crawl fail: say so here, where it happened.
    assert not is_reactor_installed(), "an in-process crawl installed a Twisted reactor"
    return crawler


class LogLines(logging.Handler):
    """The crawl's log lines, formatted as Scrapy prints them on stderr (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def run_crawl_in_process(output: Path, mock_url: str, settings: dict[str, Any], **spider_args: Any) -> CrawlResult:
    """``tests.crawlrun.run_crawl``'s settings and result, in process: ``returncode`` is the
    verdict the crawl command would exit with, ``stderr`` the log at LOG_LEVEL (INFO)."""
    work = output.parent
    values = {
        "OUTPUT_DIR": str(output),
        "STATE_FILE": str(work / "gone.jsonl"),
        "QQ_ARTICLE_URL": f"{mock_url}/rain/a/{{id}}",
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        **settings,
    }
    handler = LogLines()
    handler.setLevel(logging.getLevelName(str(values.get("LOG_LEVEL", project_settings.LOG_LEVEL))))
    logging.root.addHandler(handler)
    root_level = logging.root.level
    logging.root.setLevel(logging.DEBUG)  # the handler filters, as Scrapy's own handler does
    try:
        crawler = crawl_in_process("qq", values, **spider_args)
    finally:
        logging.root.removeHandler(handler)
        logging.root.setLevel(root_level)
    stats = crawler.stats.get_stats()
    return CrawlResult(int(stats.get("newscrawl/exit_code") or 0), "\n".join(handler.lines), stats)
