"""Scale benchmark: a crawl's peak memory as the crawl grows, and its start-up time over a big output folder.

    python benchmarks/bench_scale.py [--smoke] [--small N] [--large N] [--files N] [--repeat N]
                                     [--only memory|startup] [--latency S] [--set NAME=VALUE] [--json]

(a) **Memory.** ``scrapy crawl qq`` discovers and writes every article of the mock Tencent server
(``tests.mockserver`` in a subprocess, no latency; ``-a channels=news_news_top -a hot=0
-s QQ_FEED_PAGES=1000 -s QQ_FEED_ITEM_COUNT=100``, concurrency 16, no delay), twice: over ``--small``
articles (default 5,000), then, after the mock adds articles, over ``--large`` (default 20,000), each into a
fresh folder. Peak RSS is the crawl process's own ``ru_maxrss`` (``os.wait4``: the mock, another process, is
not counted); the RSS is also sampled every 0.2 s from ``/proc`` to show when the peak comes. Targets (from the
issue): the large crawl's peak under 250 MB, and within 20% of the small crawl's. ``--latency`` (seconds per mock
request) and ``--set`` (crawl settings, e.g. ``QQ_FEED_BACKLOG=0``) are for experiments.

(b) **Start-up over a big archive.** An output folder holding ``--files`` articles (default 100,000 small valid
files, written directly under ``zh-CN/news/qq/``, ids that the mock also lists in part), then ``scrapy crawl qq``
against a mock of 300 articles (default discovery: channels and hot list). Measured: the time from spawning the
crawl process to the first request reaching the mock (the mock's request log, same clock), beside the same with
an empty folder, ``--repeat`` times each (alternating), best of. Target: under 2 s. The files were just written,
so the OS has their directory entries cached; a cold cache (after a reboot) is slower and not measured.

``--smoke``: 300 / 1,200 articles and 5,000 files, one run each, under a minute: a CI check. The exit status is
0 whatever the numbers (no timing asserts).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from crawlutil import Run, fair_settings, machine, newscrawl_command, run_process  # noqa: E402

from tests.mockserver import MockQQProcess, synthetic_id, synthetic_pubtime  # noqa: E402

CHANNEL = "news_news_top"
ITEM_COUNT = 100
CONCURRENCY = 16
RSS_LIMIT_MB = 250.0
RSS_GROWTH = 1.2  # the large crawl's peak may be at most 20% above the small one's
FIRST_REQUEST_S = 2.0
STARTUP_ARTICLES = 300  # the mock of the start-up runs (a default run lists its newest 100)
ARCHIVED_LISTED = 50  # of those 100, the archive already holds the newest 50
SAMPLE_S = 0.2


def peak_at(rss: list[tuple[float, float]]) -> float:
    """Where in the process's life (0..1) the highest RSS sample came."""
    if not rss:
        return math.nan
    end = rss[-1][0] or 1.0
    return max(rss, key=lambda s: s[1])[0] / end


def discovery_args(extra: list[str]) -> list[str]:
    return [
        *("-a", f"channels={CHANNEL}", "-a", "hot=0"),
        *("-s", "QQ_FEED_PAGES=1000", "-s", f"QQ_FEED_ITEM_COUNT={ITEM_COUNT}"),
        *fair_settings(CONCURRENCY),
        *(arg for pair in extra for arg in ("-s", pair)),
    ]


def crawl(work: Path, name: str, mock_url: str, *args: str, output: Path | None = None) -> Run:
    """One crawl into ``output`` (default a fresh folder), its RSS sampled."""
    state = work / f"state-{name}"
    state.mkdir()
    cmd = newscrawl_command(output or work / f"out-{name}", state, mock_url, *args)
    return run_process(cmd, state / "stats.json", state / "crawl.log", sample_every=SAMPLE_S)


# ---- (a) memory -------------------------------------------------------------------------------


def memory(args, work: Path, log) -> dict:
    results = {}
    with MockQQProcess("--articles", str(args.small), "--channels", CHANNEL, "--latency", str(args.latency)) as mock:
        for size in (args.small, args.large):
            have = len(mock.control.ids("articles"))
            if size > have:
                mock.control.add_articles(size - have)
            log(f"  memory: crawl of {size} articles ...")
            run = crawl(work, f"mem-{size}", mock.url, *discovery_args(args.set))
            written = run.stats.get("newscrawl/articles/written", 0)
            results[size] = {
                "articles": size,
                "written": written,
                "exit": run.returncode,
                "peak_rss_mb": round(run.peak_mb, 1),
                "scrapy_memusage_max_mb": round(run.stats.get("memusage/max", 0) / 2**20, 1),
                "feed_pages_held_back": run.stats.get("newscrawl/feeds/held_back", 0),
                "peak_at": round(peak_at(run.rss), 2),
                "crawl_s": round(run.elapsed, 2),
                "articles_per_s": round(written / run.elapsed, 1) if run.elapsed else None,
                "rss_timeline_mb": timeline(run.rss),
            }
            if run.returncode != 0 or written != size:
                log(f"  memory: crawl of {size}: exit {run.returncode}, {written} written\n{run.tail()}")
    small, large = results[args.small], results[args.large]
    growth = large["peak_rss_mb"] / small["peak_rss_mb"] if small["peak_rss_mb"] else math.nan
    return {
        "runs": [small, large],
        "growth": round(growth, 3),
        "pass_limit": large["peak_rss_mb"] < RSS_LIMIT_MB,
        "pass_growth": growth <= RSS_GROWTH,
    }


def timeline(rss: list[tuple[float, float]], points: int = 6) -> list[float]:
    """RSS at evenly spaced moments of the process's life (MB)."""
    if not rss:
        return []
    end = rss[-1][0]
    return [round(min(rss, key=lambda s: abs(s[0] - end * k / (points - 1)))[1], 1) for k in range(points)]


# ---- (b) start-up over a big folder ----------------------------------------------------------------


def write_archive(root: Path, count: int, first: int) -> float:
    """``count`` small valid article files with the synthetic ids ``first`` .. ``first+count-1``."""
    folder = root / "zh-CN" / "news" / "qq"
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for i in range(first, first + count):
        article_id = synthetic_id(i)
        date = synthetic_pubtime(i).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        text = (
            f'---\ntitle: "Archived article #{i}"\ndate: {date}\n---\n\nArchived body.\n\n'
            f"[qq](https://new.qq.com/rain/a/{article_id})\n"
        )
        with open(folder / f"{article_id}.zh-CN.md", "w", encoding="utf-8") as handle:
            handle.write(text)
    return time.perf_counter() - t0


def first_request(run: Run, log_entries: list[dict]) -> float:
    """Seconds from spawning the crawl to the first request the mock saw."""
    if not log_entries:
        return math.nan
    return min(entry["t"] for entry in log_entries) - run.started


def startup(args, work: Path, log) -> dict:
    # The mock has articles 0..299 and a default run lists the newest 100 (200..299). The archive holds
    # articles 250.. onwards (ids the mock does not serve past 299): the run skips 50 and writes 50.
    archive = work / "archive"
    first = STARTUP_ARTICLES - ARCHIVED_LISTED
    log(f"  start-up: writing {args.files} files ...")
    write_s = write_archive(archive, args.files, first)
    empty_runs: list[float] = []
    full_runs: list[float] = []
    details = {}
    with MockQQProcess("--articles", str(STARTUP_ARTICLES)) as mock:
        for rep in range(args.repeat):
            for kind in ("empty", "archive"):
                mock.control.reset_counters()
                output = work / f"empty-{rep}" if kind == "empty" else archive
                run = crawl(work, f"start-{kind}-{rep}", mock.url, *fair_settings(CONCURRENCY), output=output)
                seconds = first_request(run, mock.control.log())
                if kind == "archive":  # the same archive for every run: remove what this one added
                    for i in range(first):
                        (archive / "zh-CN" / "news" / "qq" / f"{synthetic_id(i)}.zh-CN.md").unlink(missing_ok=True)
                (empty_runs if kind == "empty" else full_runs).append(seconds)
                details.setdefault(kind, []).append(
                    {
                        "first_request_s": round(seconds, 3),
                        "exit": run.returncode,
                        "crawl_s": round(run.elapsed, 2),
                        "process_s": round(run.wall, 2),
                        "written": run.stats.get("newscrawl/articles/written", 0),
                        "skipped_existing": run.stats.get("newscrawl/articles/skipped_existing", 0),
                    }
                )
                log(f"  start-up: {kind} folder #{rep + 1}: first request after {seconds:.3f} s")
                if run.returncode != 0:
                    log(f"  start-up: {kind} run failed (exit {run.returncode})\n{run.tail()}")
    best_empty, best_full = min(empty_runs), min(full_runs)
    return {
        "files": args.files,
        "write_s": round(write_s, 1),
        "first_request_empty_s": round(best_empty, 3),
        "first_request_archive_s": round(best_full, 3),
        "ratio": round(best_full / best_empty, 3) if best_empty else None,
        "pass": best_full < FIRST_REQUEST_S,
        "runs": details,
    }


# ---- report --------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def report(mem: dict | None, start: dict | None, args, wall: float) -> None:
    print()
    print(f"Scale benchmark ({'smoke' if args.smoke else 'full'}), {time.strftime('%Y-%m-%d')}")
    print(f"{machine()}; mock server in a subprocess on the same CPUs; wall {wall:.1f} s")
    if mem is not None:
        report_memory(mem, args)
    if start is not None:
        report_startup(start, args)


def report_memory(mem: dict, args) -> None:
    print()
    if args.latency or args.set:
        print(f"mock latency {args.latency:g} s, extra settings {args.set}")
    print(f"(a) peak RSS of one discovery crawl (concurrency {CONCURRENCY}, no delay), ru_maxrss of the crawl process")
    head = f"{'articles':>9} {'written':>8} {'peak MB':>8} {'peak at':>8} {'crawl s':>8} {'art/s':>7}"
    print(head + "  RSS over the run (MB)")
    for row in mem["runs"]:
        print(
            f"{row['articles']:>9} {row['written']:>8} {row['peak_rss_mb']:>8.1f} {row['peak_at']:>8.0%} "
            f"{row['crawl_s']:>8.2f} {row['articles_per_s'] or math.nan:>7.1f}  {row['rss_timeline_mb']}"
        )
    large = mem["runs"][1]
    print(f"  peak at {large['articles']}: {large['peak_rss_mb']:.1f} MB   target < {RSS_LIMIT_MB:g} MB  "
          f"{verdict(mem['pass_limit'])}")  # fmt: skip
    print(f"  growth {mem['runs'][0]['articles']} -> {large['articles']}: {mem['growth']:.2f}x   target <= "
          f"{RSS_GROWTH:g}x  {verdict(mem['pass_growth'])}")  # fmt: skip
    held = ", ".join(str(row["feed_pages_held_back"]) for row in mem["runs"])
    print(f"  feed pages held back by QQ_FEED_BACKLOG: {held}")


def report_startup(start: dict, args) -> None:
    print()
    print(f"(b) spawn -> first request at the mock, output folder with {start['files']:,} articles "
          f"(written in {start['write_s']} s) vs empty; best of {args.repeat}")  # fmt: skip
    for kind in ("empty", "archive"):
        runs = start["runs"][kind]
        firsts = ", ".join(f"{r['first_request_s']:.3f}" for r in runs)
        last = runs[-1]
        best = min(r["first_request_s"] for r in runs)
        print(f"  {kind:8} first request {best:.3f} s  (runs: {firsts}); crawl {last['crawl_s']} s, "
              f"written {last['written']}, skipped existing {last['skipped_existing']}")  # fmt: skip
    print(f"  ratio archive / empty: {start['ratio']:.2f}x")
    print(f"  first request with {start['files']:,} files: {start['first_request_archive_s']:.3f} s   target < "
          f"{FIRST_REQUEST_S:g} s  {verdict(start['pass'])}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="300 / 1,200 articles, 5,000 files: a CI check")
    parser.add_argument("--small", type=int, default=None, help="articles of the first crawl (default 5000)")
    parser.add_argument("--large", type=int, default=None, help="articles of the second crawl (default 20000)")
    parser.add_argument("--files", type=int, default=None, help="articles in the big folder (default 100000)")
    parser.add_argument("--repeat", type=int, default=None, help="start-up runs per folder, best kept (default 3)")
    parser.add_argument("--only", choices=("memory", "startup"), help="run only (a) or only (b)")
    parser.add_argument("--latency", type=float, default=0.0, help="mock latency per request in (a) (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a crawl setting in (a)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every number")
    args = parser.parse_args(argv)
    args.small = args.small or (300 if args.smoke else 5000)
    args.large = args.large or (1200 if args.smoke else 20000)
    args.files = args.files or (5000 if args.smoke else 100_000)
    args.repeat = max(1, args.repeat or (1 if args.smoke else 3))
    if args.large <= args.small:
        parser.error("--large must be above --small")
    progress = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log = (lambda msg: progress(msg) if "\n" in msg else None) if args.smoke else progress  # smoke: problems only
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        mem = memory(args, work, log) if args.only != "startup" else None
        start = startup(args, work, log) if args.only != "memory" else None
    wall = time.perf_counter() - t0
    report(mem, start, args, wall)
    if args.json:
        data = {"benchmark": "scale", "date": time.strftime("%Y-%m-%d"), "smoke": args.smoke, "machine": machine(),
                "wall_s": round(wall, 1), "memory": mem, "startup": start}  # fmt: skip
        print(json.dumps(data, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
