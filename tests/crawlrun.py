"""Run the real ``scrapy crawl qq`` as a subprocess, pointed at a mock Tencent server."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from newscrawl.convert import frontmatter

REPO = Path(__file__).resolve().parent.parent


@dataclass
class CrawlResult:
    returncode: int
    stderr: str
    stats: dict

    def stat(self, key: str) -> int:
        return self.stats.get(key, 0)

    def failed(self) -> dict[str, int]:
        prefix = "newscrawl/failed/"
        return {k[len(prefix) :]: v for k, v in self.stats.items() if k.startswith(prefix)}


def crawl_command(output: Path, mock_url: str, *args: str, work: Path | None = None) -> list[str]:
    """The command line of a crawl writing into ``output``; state and stats go to ``work``."""
    work = work or output.parent
    return [
        sys.executable, "-m", "scrapy", "crawl", "qq",
        "-s", f"OUTPUT_DIR={output}",
        "-s", f"STATE_FILE={work / 'gone.jsonl'}",
        "-s", f"STATS_FILE={work / 'stats.json'}",
        "-s", f"QQ_ARTICLE_URL={mock_url}/rain/a/{{id}}",
        "-s", f"QQ_FEED_URL={mock_url}/web_feed/getPCList",
        "-s", f"QQ_HOT_URL={mock_url}/gw/event/hot_ranking_list?page_size=50",
        "-s", f"QQ_AUTHOR_FEED_URL={mock_url}/getSubNewsMixedList?guestSuid={{suid}}&offset_info={{cursor}}",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=0",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        "-s", "TELNETCONSOLE_ENABLED=0",
        *args,
    ]  # fmt: skip


def run_crawl(output: Path, mock_url: str, *args: str, work: Path | None = None, timeout: float = 240) -> CrawlResult:
    work = work or output.parent
    stats_file = work / "stats.json"
    stats_file.unlink(missing_ok=True)
    proc = subprocess.run(
        crawl_command(output, mock_url, *args, work=work), cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    return CrawlResult(proc.returncode, proc.stderr, stats)


def folder_files(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> bytes), hidden temp files included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def written_ids(root: Path) -> set[str]:
    return {p.name.split(".")[0] for p in root.rglob("*.md")}


def check_complete(path: Path) -> None:
    """A written article file is whole: front matter parses, body ends with the source link."""
    text = path.read_text("utf-8")
    fields = frontmatter.load(text)
    assert fields["title"] and fields["date"], path
    assert text.endswith(")\n") and "\n\n[qq](https://" in text, path
