"""Scale-out benchmark: articles per second of 3 workers sharing one crawl vs 1 worker, same run.

    python benchmarks/bench_scale_out.py            # 1200 articles, about 1 minute
    python benchmarks/bench_scale_out.py --smoke    # 120 articles, the CI check (< 30 s)
    python benchmarks/bench_scale_out.py --articles 900 --workers 4 --json

Everything is local: a throwaway redis-server on a free 127.0.0.1 port and the mock Tencent
server (``tests/mockserver.py``, a subprocess) adding ``--latency`` seconds (default 50 ms) to
every response. Each worker is a real ``scrapy crawl qq`` process with ``REDIS_URL`` set and a
fixed concurrency (``--concurrency``, default 4, both ``CONCURRENT_REQUESTS`` and
``CONCURRENT_REQUESTS_PER_DOMAIN``), no download delay, no AutoThrottle, writing into one
shared output folder. With the latency, one worker waits on the network most of the time,
which is the case more workers help with (on the real site, politeness makes it the only case).

**Rate** = articles written / (time of the last file written - time of the mock's first
request of that run): crawl time from the first feed request to the last article file, without
the processes' interpreter start and without the idle wait before they close. The wall time
from spawn to the last exit is printed too, and, since processes starting at once on a small
machine share its CPUs, when the last worker made its first request ("all up at", from the
first request) and the rate from then on. Each configuration runs against the same mock (its
pages built beforehand, counters reset) into a fresh folder; the 1-worker and N-worker runs
both use Redis, so the ratio measures the scale-out alone, and a plain run (no ``REDIS_URL``)
shows Redis's overhead. Every run must write every article with each page fetched once, or
the benchmark fails. No timing is asserted: the exit status is 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the repo
    sys.path.insert(0, str(ROOT))

from tests.crawlrun import written_ids  # noqa: E402
from tests.mockserver import MockQQProcess  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402
from tests.scaleoutrun import CHANNELS, start_worker, start_workers, wait_all  # noqa: E402


def warm_up(mock: MockQQProcess) -> None:
    """Have the mock build (and cache) every page before timing: the first run would pay for it."""
    latency = mock.control.config()["latency"]
    mock.control.configure(latency=0)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: urllib.request.urlopen(f"{mock.url}/rain/a/{i}").read(), mock.control.ids()))
    mock.control.configure(latency=latency)


def run_config(mock: MockQQProcess, redis_url: str, workers: int, articles: int, concurrency: int, base: Path) -> dict:
    """Crawl every article with ``workers`` processes (0 = one plain process without Redis)."""
    control = mock.control
    control.reset_counters()
    output = base / "out"
    settings = [
        "-s", f"CONCURRENT_REQUESTS={concurrency}",
        "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
        # Enough feed pages to list every article (4 channels, 50 items a page).
        "-s", "QQ_FEED_ITEM_COUNT=50",
        "-s", f"QQ_FEED_PAGES={articles // 200 + 2}",
        "-s", "PROGRESS_INTERVAL=0",
    ]  # fmt: skip
    spawned = time.time()
    if workers == 0:
        procs = [start_worker(output, mock.url, "", base / "w1", *settings)]
    else:
        procs = start_workers(workers, output, mock.url, redis_url, base, *settings)
    codes = wait_all(procs, timeout=300)
    wall = time.time() - spawned
    files = list(output.rglob("*.md"))
    log = control.log(limit=0)
    first = min(entry["t"] for entry in log)
    last = max(path.stat().st_mtime for path in files)
    # Every worker asks for /robots.txt once, first: the last of those is "all workers crawling".
    all_up = sorted(entry["t"] for entry in log if entry["path"] == "/robots.txt")[-1]
    after = sum(1 for path in files if path.stat().st_mtime > all_up)
    fetched = [control.article_fetches(i) for i in control.ids()]
    if codes != [0] * len(procs) or len(written_ids(output)) != articles or set(fetched) != {1}:
        for worker in procs:
            sys.stderr.write(worker.stderr()[-3000:])
        raise SystemExit(
            f"{workers} workers: exit {codes}, {len(files)} of {articles} files, fetch counts {set(fetched)}"
        )
    return {
        "workers": workers,
        "articles": len(files),
        "crawl_s": round(last - first, 3),
        "rate": round(len(files) / (last - first), 1),
        "wall_s": round(wall, 2),
        "startup_lag_s": round(all_up - first, 3),
        "rate_all_up": round(after / (last - all_up), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick, for CI")
    parser.add_argument("--articles", type=int, help="articles the mock lists (default 1200, smoke 120)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="per worker")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the mock adds to each response")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers: at least 2 (compared with 1)")
    articles = args.articles or (120 if args.smoke else 1200)

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    try:
        with (
            RedisServer(tmp / "redis") as redis,
            MockQQProcess(
                "--articles", str(articles), "--channels", CHANNELS, "--latency", str(args.latency),
                "--cache-size", str(articles + 100),
            ) as mock,
        ):  # fmt: skip
            warm_up(mock)
            results = [
                run_config(mock, redis.url, n, articles, args.concurrency, tmp / f"run{n}")
                for n in (0, 1, args.workers)
            ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    plain, one, many = results
    ratio = many["rate"] / one["rate"]
    print(
        f"scale-out: {articles} articles, mock latency {args.latency * 1000:.0f} ms, "
        f"concurrency {args.concurrency} per worker, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{'configuration':<24} {'articles/s':>10} {'crawl s':>8} {'wall s':>7} {'all up at s':>11} {'then /s':>8}")
    labels = {0: "1 process, no Redis", 1: "1 worker (Redis)", args.workers: f"{args.workers} workers (Redis)"}
    for result in results:
        print(
            f"{labels[result['workers']]:<24} {result['rate']:>10.1f} {result['crawl_s']:>8.2f}"
            f" {result['wall_s']:>7.2f} {result['startup_lag_s']:>11.2f} {result['rate_all_up']:>8.1f}"
        )
    target = "target >= 2x" + ("; a smoke run is too short for start-up not to weigh" if args.smoke else "")
    print(f"ratio {args.workers} workers / 1 worker: {ratio:.2f}x ({target})")
    print(f"ratio once all {args.workers} workers are crawling: {many['rate_all_up'] / one['rate_all_up']:.2f}x")
    print(f"ratio 1 worker (Redis) / no Redis: {one['rate'] / plain['rate']:.2f}x")
    if args.json:
        print(json.dumps({"articles": articles, "latency": args.latency, "results": results, "ratio": round(ratio, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
