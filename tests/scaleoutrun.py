"""Scale-out workers as real ``scrapy crawl qq`` subprocesses sharing one Redis and one output folder.

Each worker gets its own work folder (``STATE_FILE``, ``STATS_FILE``, its log) and the same
``OUTPUT_DIR`` and ``REDIS_URL``: the layout docs/scale-out.md describes.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.crawlrun import REPO, crawl_command

# The mock's channels: the spider's default QQ_CHANNELS, so a plain run lists every article.
CHANNELS = "news_news_top,news_news_finance,news_news_tech,news_news_world"


@dataclass
class Worker:
    proc: subprocess.Popen
    work: Path

    @property
    def log(self) -> Path:
        return self.work / "log"

    def stats(self) -> dict:
        path = self.work / "stats.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def stderr(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


def start_worker(output: Path, mock_url: str, redis_url: str, work: Path, *args: str) -> Worker:
    work.mkdir(parents=True, exist_ok=True)
    (work / "stats.json").unlink(missing_ok=True)
    command = crawl_command(output, mock_url, "-s", f"REDIS_URL={redis_url}", *args, work=work)
    with (work / "log").open("w") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    return Worker(proc, work)


def start_workers(n: int, output: Path, mock_url: str, redis_url: str, works: Path, *args: str) -> list[Worker]:
    """``n`` workers started at once, work folders ``works/w1`` ... ``works/wN``."""
    return [start_worker(output, mock_url, redis_url, works / f"w{i + 1}", *args) for i in range(n)]


def wait_all(workers: list[Worker], timeout: float = 120) -> list[int]:
    """Exit statuses; kills every worker still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    codes = []
    for worker in workers:
        try:
            codes.append(worker.proc.wait(max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for other in workers:
                if other.proc.poll() is None:
                    other.proc.kill()
                    other.proc.wait()
            raise
    return codes
