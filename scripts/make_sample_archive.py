#!/usr/bin/env python
"""Build ``samples/qq-sample.warc.gz``: a real WARC capture of a small crawl, for offline replay.

Starts the mock Tencent news server (``tests/mockserver.py``) on 127.0.0.1 with
``real_articles=True``, runs the real ``scrapy crawl qq`` against it with WARC capture on,
and keeps the single WARC file. Each article is served as it really was: five real bodies
of February 2025 (``tests/fixtures/bodies.jsonl.gz``) in today's template, each under its own
id, title, media, publish time and share image, and the real old-template page
``20201130A0G1JJ`` as itself. The feeds list exactly these articles. No internet is used.

The archived URLs are the mock's (``http://127.0.0.1:<port>/...``); the capture's
``warcinfo`` record holds its QQ_* settings, and a replay applies them, so::

    scrapy crawl qq -a warc=samples/qq-sample.warc.gz -s OUTPUT_DIR=/tmp/x

rebuilds the articles offline whatever QQ_ARTICLE_URL the replaying user has.

Usage: ``python scripts/make_sample_archive.py [--ids ID,ID,...] [--out PATH]
[--keep-output DIR]`` (DIR receives the Markdown files the capture crawl wrote, to compare a replay with).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.crawlrun import crawl_command, written_ids  # noqa: E402
from tests.mockserver import MockQQServer  # noqa: E402

DEFAULT_OUT = REPO / "samples" / "qq-sample.warc.gz"
# Short real articles with images, from several outlets; the last is the real 2020 page.
SAMPLE_IDS = (
    "20250204A01USZ00",  # IT之家, a Windows update
    "20250204A03LJN00",  # 芯智讯
    "20250204A04UCG00",  # 财联社
    "20250204A0544Z00",  # IT之家, a guide-dog story
    "20250204A0663600",  # 第一财经
    "20201130A0G1JJ00",  # 较真, the old template (an image article)
)


def make_sample(out: Path, ids: tuple[str, ...] = SAMPLE_IDS, keep_output: Path | None = None) -> dict:
    """Capture a crawl of the mock into ``out``; returns what was captured."""
    with tempfile.TemporaryDirectory(prefix="newscrawl-sample-") as tmp:
        work = Path(tmp)
        with MockQQServer(real_articles=True, feed_extras=False, hot_count=len(ids)) as mock:
            mock.set_articles(list(ids))
            missing = [i for i in ids if mock.spec(i) is None or mock.spec(i).template not in ("new", "old")]
            if missing:
                raise RuntimeError(f"not real captures: {missing}")
            command = crawl_command(
                work / "out",
                mock.url,
                "-s", f"WARC_DIR={work / 'warc'}",
                "-s", "QQ_CHANNELS=news_news_top",  # the mock's one channel: no empty feeds in the sample
                "-s", "CONCURRENT_REQUESTS=1",  # records in a stable order
                "-s", "LOG_LEVEL=WARNING",
                work=work,
            )  # fmt: skip
            proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"capture crawl failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
            templates = {i: mock.spec(i).template for i in mock.ids("writable")}
        files = sorted((work / "warc").glob("*.warc.gz"))
        if len(files) != 1:
            raise RuntimeError(f"expected one WARC file, got {files}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(files[0].read_bytes())
        if keep_output:
            shutil.copytree(work / "out", keep_output, dirs_exist_ok=True)
        return {"ids": sorted(written_ids(work / "out")), "templates": templates, "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ids", default=",".join(SAMPLE_IDS), help="real article ids (body rows, 20201130A0G1JJ00)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"WARC file to write ({DEFAULT_OUT})")
    parser.add_argument("--keep-output", type=Path, help="copy the capture crawl's Markdown files here")
    args = parser.parse_args(argv)
    result = make_sample(args.out, tuple(filter(None, args.ids.split(","))), args.keep_output)
    print(f"wrote {args.out} ({result['bytes']} bytes), articles:")
    for article_id in result["ids"]:
        print(f"  {article_id}  {result['templates'].get(article_id, '?')} template")
    return 0


if __name__ == "__main__":
    sys.exit(main())
