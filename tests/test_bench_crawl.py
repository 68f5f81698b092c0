"""bench_crawl's paired CPU ratio (runs of the two sides made one after the other, paired by repeat), each run's
preemptions, and ``--sched-fifo`` reaching every timed run of every side."""

from __future__ import annotations

import os
import sys
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import bench_crawl
from benchmarks.bench_crawl import Side, paired_cpu_ratios, summarize
from benchmarks.crawlutil import Run, realtime_problem, run_process


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


def test_summary_lists_each_runs_preemptions():
    floor = Side([run(2.0), run(2.1)])
    floor.runs[0].preempted, floor.runs[1].preempted = 12, 1800
    row = summarize({"ids": {"bare, writes files": floor, "newscrawl": Side([run(2.5), run(2.6)])}}, 2000)["ids"]
    assert row["sides"]["bare, writes files"]["preempted"] == [12, 1800]
    assert row["sides"]["newscrawl"]["preempted"] == [0, 0]


def test_run_process_counts_preemptions_and_starts_the_child_as_asked(tmp_path):
    probe = [sys.executable, "-c", "import os, sys; sys.stderr.write(str(os.sched_getscheduler(0)))"]
    plain = run_process(probe, None, tmp_path / "plain.log")
    assert plain.returncode == 0 and plain.preempted >= 0
    assert (tmp_path / "plain.log").read_text() == str(os.sched_getscheduler(0))
    if problem := realtime_problem():
        pytest.skip(problem)
    fifo = run_process(probe, None, tmp_path / "fifo.log", realtime=True)
    assert fifo.returncode == 0
    assert (tmp_path / "fifo.log").read_text() == str(os.SCHED_FIFO)
    assert os.sched_getscheduler(0) != os.SCHED_FIFO  # the check left the benchmark itself as it was


def test_sched_fifo_applies_to_every_timed_run_of_every_side(monkeypatch, tmp_path):
    calls = []

    def fake_run(cmd, stats, stderr_path, **kwargs):
        calls.append((cmd, kwargs.get("realtime", False)))
        return Run(0, 0.0, 1.0, 1024, 1.0, {"elapsed_time_seconds": 1.0}, stderr_path)

    monkeypatch.setattr(bench_crawl, "run_process", fake_run)
    work, outputs = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    outputs.mkdir()
    for fifo in (True, False):
        calls.clear()
        args = Namespace(concurrency=16, set=[], nc_set=[], repeat=2, sched_fifo=fifo)
        results = bench_crawl.measure(args, SimpleNamespace(url="http://127.0.0.1:9"), ["1" * 16], work, outputs,
                                      lambda msg: None)  # fmt: skip
        timed = calls[1:]  # the first is the warm-up
        assert len(timed) == 2 * sum(len(sides) for sides in results.values())
        assert {realtime for _, realtime in timed} == {fifo}
        assert any("bare_spider.py" in " ".join(cmd) for cmd, _ in timed)
        assert any("crawl" in cmd and "qq" in cmd for cmd, _ in timed)
        for mode in results:
            for state in work.glob(f"state-{mode}-*"):
                state.rmdir()
