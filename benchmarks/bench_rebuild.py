"""Bulk rebuild benchmark: ``newscrawl rebuild`` beside replay, conversion alone and warcio reading.

    python benchmarks/bench_rebuild.py [--smoke] [--articles N] [--archive DIR] [--jobs 1,2] [--repeat N] [--json]
                                       [--output-root DIR]

A real capture first: the mock Tencent server (``tests.mockserver``, a subprocess) serves N synthetic articles
(default 10,000; ``--smoke`` 300) in one channel, and ``scrapy crawl qq -s WARC_DIR=…`` lists and fetches them
all (``-a channels=news_news_top -a hot=0``, 100 items a feed page), so the archive holds the feed pages,
robots.txt and every article as a crawl archives them. ``--archive DIR`` keeps the capture there and reuses it
on the next run. Then, on the same archive, in this order, each measured ``--repeat`` times (best kept):

- ``warcio``: ``ArchiveIterator`` over every file, each response's decoded payload read (records/s): the floor
  of reading the archive in Python;
- ``convert``: the archived article pages, already in memory, through ``decode_html`` + ``Converter.convert``
  (the file text a crawl writes), one core, no disk: the conversion-only rate of the same pages;
- ``replay``: ``scrapy crawl qq -a warc=ARCHIVE`` into a new folder (articles/s over Scrapy's elapsed time);
- ``rebuild -j N``: ``python -m newscrawl.archive.rebuild ARCHIVE --output DIR --jobs N`` (articles/s over its own
  elapsed time: index, plan, convert and write; interpreter start and imports count on no side).

The replayed and rebuilt folders go under ``--output-root`` (default the temp dir; ``/dev/shm`` takes the
disk out: file creation on this VM costs from 0.02 to 0.9 ms). Every rebuilt folder is compared with the
replay's, byte for byte. Ratios are taken in the same run; targets
(from the issue): ``rebuild -j 1`` >= 0.7x convert, ``rebuild -j 2`` >= 1.7x ``rebuild -j 1`` (on 2 cores).
The conversion pass runs once per round, beside the runs, and ``… in CPU time`` is the same -j 1 ratio
over CPU seconds (the rebuild's own, from its stats), which a shared machine's load moves less.
Exit status 0 whatever the numbers, 1 if a rebuilt folder differs from the replay's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from crawlutil import Run, fair_settings, machine, newscrawl_command, run_process  # noqa: E402

from tests.mockserver import MockQQProcess  # noqa: E402

CHANNEL = "news_news_top"
ITEM_COUNT = 100
TARGET_SERIAL = 0.7
TARGET_PARALLEL = 1.7


def capture(archive: Path, work: Path, articles: int) -> float:
    """A real crawl of ``articles`` mock articles with WARC on; returns its wall time."""
    with MockQQProcess("--articles", str(articles), "--hot-count", "0", "--channels", CHANNEL) as mock:
        command = newscrawl_command(
            work / "capture-out",
            work,
            mock.url,
            "-a", f"channels={CHANNEL}", "-a", "hot=0",
            "-s", "QQ_FEED_PAGES=100000", "-s", f"QQ_FEED_ITEM_COUNT={ITEM_COUNT}",
            "-s", f"WARC_DIR={archive}",
            *fair_settings(16),
        )  # fmt: skip
        run = run_process(command, work / "stats.json", work / "capture.log", timeout=3600)
    if run.returncode != 0:
        raise SystemExit(f"capture failed ({run.returncode}):\n{run.tail()}")
    return run.wall


def warcio_pass(files: list[Path]) -> tuple[int, float, list[tuple[str, bytes, str | None]]]:
    """(responses, seconds, article pages) of reading every response record's payload with warcio."""
    from warcio.archiveiterator import ArchiveIterator

    pages = []
    count = 0
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type != "response":
                    continue
                body = record.content_stream().read()
                count += 1
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if "/rain/a/" in uri and record.http_headers.get_statuscode() == "200":
                    pages.append((uri, body, record.http_headers.get_header("Content-Type")))
    return count, time.perf_counter() - start, pages


def convert_pass(pages: list[tuple[str, bytes, str | None]]) -> tuple[float, float]:
    """(wall, CPU) seconds to turn every page into its file text (extraction, pipelines, rendering), one core."""
    from newscrawl.convert.converter import Converter
    from newscrawl.sites.qq.ids import id_from_url
    from newscrawl.sites.qq.page import decode_html

    converter = Converter()
    jobs = [(url, body, content_type, id_from_url(url)) for url, body, content_type in pages]
    start, cpu = time.perf_counter(), time.process_time()
    for url, body, content_type, article_id in jobs:
        try:
            converter.convert(decode_html(body, content_type), url, article_id)
        except Exception:  # noqa: BLE001, S112 - a dropped page costs what it costs
            continue
    return time.perf_counter() - start, time.process_time() - cpu


def digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def replay(archive: Path, work: Path, name: str, root: Path) -> Run:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "scrapy", "crawl", "qq", "-a", f"warc={archive}",
        "-s", f"OUTPUT_DIR={out}", "-s", f"STATE_FILE={work / (name + '-gone.jsonl')}",
        "-s", f"STATS_FILE={work / (name + '.json')}", *fair_settings(16),
    ]  # fmt: skip
    return run_process(command, work / (name + ".json"), work / (name + ".log"), timeout=3600)


def rebuild(archive: Path, work: Path, name: str, jobs: int, root: Path) -> Run:
    out = root / name
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "newscrawl.archive.rebuild", str(archive), "--output", str(out), "--jobs", str(jobs),
        "-s", f"STATE_FILE={work / (name + '-gone.jsonl')}", "-s", f"STATS_FILE={work / (name + '.json')}",
        "-s", "LOG_LEVEL=INFO",
    ]  # fmt: skip
    return run_process(command, work / (name + ".json"), work / (name + ".log"), timeout=3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="300 articles, one pass: the CI check")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--archive", type=Path, help="keep the capture here (reused when it holds WARC files)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values of rebuild")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output-root", type=Path, help="where the rebuilt folders go (/dev/shm: no disk)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.articles, args.repeat = 300, 1
    work = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
    archive = args.archive or work / "warc"
    root = Path(tempfile.mkdtemp(prefix="bench-rebuild-out-", dir=args.output_root)) if args.output_root else work
    from newscrawl.archive.gzipview import INFLATER

    print(f"# bench_rebuild: {machine()}; WARC members inflated with {INFLATER}")
    if not (archive.is_dir() and any(archive.glob("*.warc.gz"))):
        seconds = capture(archive, work, args.articles)
        print(f"capture: {args.articles} articles in {seconds:.1f} s (scrapy crawl qq -s WARC_DIR=…)")
    files = sorted(archive.rglob("*.warc.gz"))
    size = sum(p.stat().st_size for p in files)
    responses, read_s, pages = warcio_pass(files)
    print(f"archive: {len(files)} files, {size / 1e6:.1f} MB, {responses} responses, {len(pages)} article pages")
    best: dict[str, float] = {}
    read_s = min([read_s] + [warcio_pass(files)[1] for _ in range(args.repeat - 1)])
    best["warcio records/s"] = responses / read_s
    reference = ""
    failed = False
    jobs_list = [int(j) for j in args.jobs.split(",") if j]
    for _ in range(args.repeat):
        # Conversion alone, measured beside each round of runs (not all up front): on a shared machine
        # the best of each then comes from the same stretches of load.
        wall, cpu = convert_pass(pages)
        best["convert articles/s"] = max(best.get("convert articles/s", 0), len(pages) / wall)
        best["convert articles/CPU s"] = max(best.get("convert articles/CPU s", 0), len(pages) / cpu)
        run = replay(archive, work, "replay", root)
        written = run.stats.get("newscrawl/articles/written", 0)
        if run.returncode != 0 or not written:
            raise SystemExit(f"replay failed ({run.returncode}):\n{run.tail()}")
        best["replay articles/s"] = max(best.get("replay articles/s", 0), written / run.elapsed)
        reference = digest(root / "replay")
        for jobs in jobs_list:
            name = f"rebuild-j{jobs}"
            run = rebuild(archive, work, name, jobs, root)
            written = run.stats.get("newscrawl/articles/written", 0)
            if run.returncode != 0 or digest(root / name) != reference:
                print(f"{name}: FAILED (exit {run.returncode}) or differs from the replay\n{run.tail()}")
                failed = True
                continue
            key = f"rebuild -j {jobs} articles/s"
            best[key] = max(best.get(key, 0), written / run.elapsed)
            cpu = run.stats.get("newscrawl/rebuild/cpu_seconds")
            if jobs == 1 and cpu:  # one process: its CPU time is all of the rebuild's
                best["rebuild -j 1 articles/CPU s"] = max(best.get("rebuild -j 1 articles/CPU s", 0), written / cpu)
    for name, value in best.items():
        print(f"{name:>26}: {value:8.0f}")
    ratios: dict[str, float] = {}
    one = best.get("rebuild -j 1 articles/s")
    if one:
        ratios["rebuild -j 1 / convert"] = one / best["convert articles/s"]
        if best.get("rebuild -j 1 articles/CPU s"):
            ratios["… in CPU time"] = best["rebuild -j 1 articles/CPU s"] / best["convert articles/CPU s"]
        ratios["rebuild -j 1 / replay"] = one / best["replay articles/s"]
        ratios["rebuild -j 1 / warcio records"] = one / best["warcio records/s"]
    for jobs in jobs_list:
        other = best.get(f"rebuild -j {jobs} articles/s")
        if jobs > 1 and other and one:
            ratios[f"rebuild -j {jobs} / -j 1"] = other / one
            ratios[f"rebuild -j {jobs} / replay"] = other / best["replay articles/s"]
    targets = {"rebuild -j 1 / convert": TARGET_SERIAL, "rebuild -j 2 / -j 1": TARGET_PARALLEL}
    for name, value in ratios.items():
        target = f"  (target >= {targets[name]})" if name in targets else ""
        print(f"{name:>26}: {value:6.2f}x{target}")
    print(f"identical to replay: {'no' if failed else 'yes'} (sha256 {reference[:16]}…)")
    if args.json:
        print(json.dumps({"articles": len(pages), "rates": best, "ratios": ratios, "identical": not failed}))
    if root is not work:
        shutil.rmtree(root, ignore_errors=True)
    if not args.archive:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
