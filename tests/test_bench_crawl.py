"""bench_crawl's paired CPU ratio: runs of the two sides made one after the other, paired by repeat."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_crawl import Side, paired_cpu_ratios, summarize
from benchmarks.crawlutil import Run


def run(cpu: float | None, elapsed: float = 2.0, returncode: int = 0) -> Run:
    stats = {"elapsed_time_seconds": elapsed}
    if cpu is not None:
        stats["bench/crawl_cpu_s"] = cpu
    return Run(returncode, 0.0, elapsed, 1024, cpu or 0.0, stats, Path("/nonexistent"))


def test_pairs_follow_the_repeats_and_skip_a_failed_run():
    floor = Side([run(2.0), run(2.2), run(2.0, returncode=99), run(3.0)])
    newscrawl = Side([run(2.5), run(4.4), run(2.5), run(None)])
    # Repeat 3: the floor's run failed; repeat 4: newscrawl has no CPU figure. Neither pairs.
    assert paired_cpu_ratios(floor, newscrawl) == [2.0 / 2.5, 2.2 / 4.4]


def test_summary_reports_the_median_of_the_pairs_beside_the_best_of():
    floor = Side([run(2.0, 2.0), run(3.0, 3.0), run(2.0, 2.0)])
    newscrawl = Side([run(2.5, 2.5), run(2.4, 2.4), run(4.0, 4.0)])
    row = summarize({"ids": {"bare, writes files": floor, "newscrawl": newscrawl}}, 2000)["ids"]
    ratio = row["ratios"]["bare, writes files"]
    assert ratio["paired_cpu"] == [0.8, 1.25, 0.5]
    assert ratio["paired_cpu_median"] == 0.8
    # The best-of ratio takes each side's best run, whichever repeat it was: 2.0 / 2.4.
    assert ratio["cpu_value"] == round(2.0 / 2.4, 3)
