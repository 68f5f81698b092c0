"""Revisits end to end (issue 14): the real crawl against the mock, with the clock set per run.

One scenario (module fixture) runs the cron sequence once, capturing it in WARC files:
run 1 archives 20 articles; 3 are edited; run 2 (31 minutes later, past the first step)
revisits; 2 are deleted; run 3 (the next step) revisits; run 4 finds nothing due for them.
The tests below check the "Done when" items of the issue against what each run left.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from newscrawl import frontmatter
from newscrawl.revisit import body_text, without_revisit_keys
from tests.crawlrun import REPO, CrawlResult, folder_files, run_crawl
from tests.mockserver import MockQQServer

T0 = 1767571200.0  # 2026-01-05T08:00:00+08:00: "now" of the first run
MINUTE = 60.0
ADDED = "更正：本文第三段的数据已于发布后更新。"


def revisit_args(work: Path, now: float, *extra: str) -> tuple[str, ...]:
    return (
        "-s", "REVISIT_SCHEDULE=default",
        "-s", f"REVISIT_STATE={work / 'revisits.sqlite'}",
        "-s", f"REVISIT_NOW={now}",
        "-s", f"MANIFEST={work / 'manifest.jsonl'}",
        "-s", "LOG_LEVEL=WARNING",
        *extra,
    )  # fmt: skip


def manifest(work: Path) -> list[dict]:
    return [json.loads(line) for line in (work / "manifest.jsonl").read_text("utf-8").splitlines()]


@dataclass
class Scenario:
    work: Path
    out: Path
    ids: list[str]
    edited: dict[str, str]  # id -> what changed
    deleted: list[str]
    files: list[dict[str, bytes]] = field(default_factory=list)  # output folder after each run
    runs: list[CrawlResult] = field(default_factory=list)
    fetches: list[dict[str, int]] = field(default_factory=list)  # mock article hits per run
    manifests: list[int] = field(default_factory=list)  # manifest lines after each run

    def path(self, article_id: str) -> Path:
        return self.out / f"zh-CN/news/qq/{article_id}.zh-CN.md"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    work = tmp_path_factory.mktemp("revisits")
    out = work / "content"
    with MockQQServer(articles=20) as mock:
        ids = mock.ids()
        new = [i for i in ids if mock.spec(i).template == "new" and mock.spec(i).thumbnail]
        edited = {new[0]: "title", new[1]: "paragraph", new[2]: "image"}
        deleted = [new[3], new[4]]
        s = Scenario(work, out, ids, edited, deleted)
        id_arg = ("-a", "ids=" + ",".join(ids), "-s", f"WARC_DIR={work / 'warc'}")

        def run(now: float) -> None:
            mock.reset_counters()
            result = run_crawl(out, mock.url, *id_arg, *revisit_args(work, now), work=work)
            assert result.returncode == 0, result.stderr[-3000:]
            s.runs.append(result)
            s.files.append(folder_files(out))
            s.fetches.append({i: mock.article_fetches(i) for i in ids})
            s.manifests.append(len(manifest(work)))

        run(T0)
        mock.edit(new[0], title="标题已更正")
        mock.edit(new[1], paragraph=ADDED)
        mock.edit(new[2], thumbnail="https://inews.gtimg.com/om_ls/OCHANGEDIMAGE_640360/0")
        run(T0 + 31 * MINUTE)  # past the first step (every 30 min)
        mock.delete(deleted)
        run(T0 + 62 * MINUTE)  # the next step
        run(T0 + 4 * 60 * MINUTE)  # later: every article due again but the deleted
    return s


def test_edits_rewrite_exactly_the_edited_files_with_lastmod_and_keep_revisions(scenario):
    """Done when 1: 20 archived, 3 edited, time past the first step: 3 rewritten, 17 fetched, not written."""
    s = scenario
    first, second = s.files[0], s.files[1]
    assert len([name for name in first if name.endswith(".md")]) == 20
    assert all(s.fetches[1][i] == 1 for i in s.ids), "every article was due and fetched once"
    changed = {name for name in second if name.startswith("zh-CN/") and second[name] != first.get(name)}
    assert changed == {f"zh-CN/news/qq/{i}.zh-CN.md" for i in s.edited}
    for article_id, what in s.edited.items():
        name = f"zh-CN/news/qq/{article_id}.zh-CN.md"
        new = second[name].decode("utf-8")
        fields = frontmatter.load(new)
        assert fields["lastmod"].endswith("+08:00") and "T" in fields["lastmod"]
        keys = list(fields)
        assert keys[keys.index("date") + 1] == "lastmod"
        revisions = [p for p in folder_files(s.work / "revisions") if p.startswith(f"qq/{article_id}/")]
        assert len(revisions) == 1, revisions
        revision = (s.work / "revisions" / revisions[0]).read_bytes()
        assert revision == first[name], "the revision holds the old version byte for byte"
        old = frontmatter.load(first[name].decode("utf-8"))
        if what == "title":
            assert fields["title"] == "标题已更正" != old["title"]
        elif what == "paragraph":
            assert ADDED in new and ADDED not in first[name].decode("utf-8")
        else:
            assert "OCHANGEDIMAGE" in fields["thumbnail"] != old["thumbnail"]
    assert len(list((s.work / "revisions").rglob("*.md"))) == 3
    lines = manifest(s.work)[s.manifests[0] : s.manifests[1]]
    updated = [line for line in lines if line["status"] == "updated"]
    assert {line["id"] for line in updated} == set(s.edited)
    for line in updated:
        assert line["previous_sha256"] == hashlib.sha256(first[line["path"]]).hexdigest()
        assert line["sha256"] == hashlib.sha256(second[line["path"]]).hexdigest()
    assert s.runs[1].stat("newscrawl/revisits/updated") == 3
    assert s.runs[1].stat("newscrawl/revisits/unchanged") == 17
    assert s.runs[1].stat("newscrawl/articles/written") == 0


def test_deleted_articles_keep_their_files_marked_and_are_not_requested_again(scenario):
    """Done when 2: deleted at the site: files remain with ``deleted:``; never requested again."""
    s = scenario
    after = s.files[2]
    for article_id in s.deleted:
        name = f"zh-CN/news/qq/{article_id}.zh-CN.md"
        text = after[name].decode("utf-8")
        fields = frontmatter.load(text)
        assert fields["deleted"].endswith("+08:00")
        assert without_revisit_keys(text) == s.files[1][name].decode("utf-8"), "only the mark was added"
        assert s.fetches[2][article_id] == 1  # the revisit that found it deleted
        assert s.fetches[3][article_id] == 0, "a deleted article was requested again"
        assert s.files[3][name] == after[name]
    lines = manifest(s.work)[s.manifests[1] : s.manifests[2]]
    assert sorted(line["id"] for line in lines if line["status"] == "deleted") == sorted(s.deleted)
    others = [i for i in s.ids if i not in s.deleted]
    assert all(s.fetches[3][i] == 1 for i in others), "the others are still revisited"
    with sqlite3.connect(s.work / "revisits.sqlite") as db:
        rows = db.execute("SELECT id, status, due FROM articles WHERE status = 'deleted'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(s.deleted) and all(r[2] is None for r in rows)


def test_history_shows_the_added_paragraph_as_a_diff(scenario):
    """Done when 7: ``newscrawl history ID`` lists the versions and diffs the body text."""
    s = scenario
    article_id = next(i for i, what in s.edited.items() if what == "paragraph")
    proc = subprocess.run(
        [sys.executable, "-m", "newscrawl", "history", article_id,
         "--output", str(s.out), "--revisions", str(s.work / "revisions")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    current = s.path(article_id).read_bytes()
    assert any(hashlib.sha256(current).hexdigest() in line and "updated" in line for line in lines)
    old = s.files[0][f"zh-CN/news/qq/{article_id}.zh-CN.md"]
    assert any(hashlib.sha256(old).hexdigest() in line for line in lines)
    assert f"+{ADDED}" in lines
    assert not any(line.startswith("-") and not line.startswith("---") for line in lines), "nothing was removed"
    assert body_text(current.decode()).count(ADDED) == 1
