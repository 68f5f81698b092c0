"""Helpers shared by the crawl benchmarks: run a process and keep its own resource usage.

``os.wait4`` gives the rusage of exactly one child (peak RSS, CPU seconds), unlike
``RUSAGE_CHILDREN``, which mixes in every child waited for (the mock server, earlier crawls).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the repo
    sys.path.insert(0, str(ROOT))

# What both sides of a comparison run with: no politeness delay (the mock answers at once), fixed
# concurrency, robots.txt obeyed (one request), INFO logging (Scrapy's DEBUG logs every response).
FAIR_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "0",
    "ROBOTSTXT_OBEY": "1",
    "TELNETCONSOLE_ENABLED": "0",
    "LOG_LEVEL": "INFO",
}


def fair_settings(concurrency: int) -> list[str]:
    """``-s NAME=VALUE`` arguments of FAIR_SETTINGS with ``concurrency`` requests (all to one host)."""
    values = {**FAIR_SETTINGS, "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency}
    return [arg for name, value in values.items() for arg in ("-s", f"{name}={value}")]


@dataclass
class Run:
    """One finished process: exit status, wall time from spawn to exit, its own rusage, its stats file."""

    returncode: int
    started: float  # time.time() just before spawning
    wall: float
    maxrss_kb: int
    cpu: float  # user + system seconds
    stats: dict = field(default_factory=dict)
    stderr_path: Path | None = None
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since spawn, MB), when sampled
    # Involuntary context switches: how often another process took the CPU from it. On a loaded machine a
    # crawl is interrupted about once per article, and each time its caches are refilled: such a run's CPU
    # time is 20-40% (several times, under heavy load) above the same crawl uninterrupted (docs/performance.md).
    preempted: int = 0

    @property
    def elapsed(self) -> float:
        """Scrapy's own crawl time (CoreStats: spider opened -> closed, monotonic): no interpreter start."""
        return float(self.stats.get("elapsed_time_seconds") or "nan")

    @property
    def peak_mb(self) -> float:
        return self.maxrss_kb / 1024

    def tail(self, chars: int = 2000) -> str:
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text("utf-8", "replace")[-chars:]


def read_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


REALTIME_PRIORITY = 1  # the lowest SCHED_FIFO priority: above every ordinary process, below the kernel's own


def realtime_problem() -> str:
    """Empty when this process may start children under SCHED_FIFO (Linux, root or CAP_SYS_NICE), else why not."""
    if not hasattr(os, "sched_setscheduler"):
        return "SCHED_FIFO needs Linux"
    try:
        previous, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        os.sched_setscheduler(0, previous, param)
    except OSError as exc:  # EPERM: neither root nor CAP_SYS_NICE (or an RT budget of 0, e.g. in a container)
        return f"SCHED_FIFO refused ({exc.strerror}): run as root or with CAP_SYS_NICE"
    return ""


def _realtime() -> None:
    # In the child between fork and exec: no other process of ordinary priority preempts it.
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))


def run_process(
    cmd: list[str],
    stats_file: Path | None,
    stderr_path: Path,
    timeout: float = 900,
    cwd: Path = ROOT,
    sample_every: float = 0.0,
    realtime: bool = False,
) -> Run:
    """Run ``cmd`` to completion; stderr goes to a file (a crawl's log can fill a pipe). With ``sample_every``
    (seconds), the RSS is read from /proc that often (Linux) into ``Run.rss``. With ``realtime``, the process
    runs under SCHED_FIFO (see ``realtime_problem``): other jobs on the machine no longer interrupt it."""
    if stats_file is not None:
        stats_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with stderr_path.open("wb") as err:
        started = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_realtime if realtime else None
        )
        rss: list[tuple[float, float]] = []
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - t0
            if sample_every and now >= next_sample:
                mb = read_rss_mb(proc.pid)
                if mb is not None:
                    rss.append((now, mb))
                next_sample = now + sample_every
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    stats = {}
    if stats_file is not None and stats_file.exists():
        stats = json.loads(stats_file.read_text("utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(proc.returncode, started, wall, usage.ru_maxrss, cpu, stats, stderr_path, rss, usage.ru_nivcsw)


def newscrawl_command(output: Path, work: Path, mock_url: str, *args: str) -> list[str]:
    """``scrapy crawl qq`` into ``output`` against the mock (tests.crawlrun's command line), state and stats in
    ``work``."""
    from tests.crawlrun import crawl_command

    return crawl_command(output, mock_url, *args, work=work)


def machine() -> str:
    import platform

    import scrapy

    python = platform.python_version()
    return f"python {python}, {platform.machine()}, {os.cpu_count()} CPUs, Scrapy {scrapy.__version__}"
