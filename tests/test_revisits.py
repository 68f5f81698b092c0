"""Revisits end to end (issue 14): the real crawl against the mock, with the clock set per run.

One scenario (module fixture) runs the cron sequence once, capturing it in WARC files:
run 1 archives 20 articles; 3 are edited; run 2 (31 minutes later, past the first step)
revisits; 2 are deleted; run 3 (the next step) revisits; run 4 finds nothing due for them.
The tests below check the "Done when" items of the issue against what each run left.
All but the schedule parser's run crawls in subprocesses (``e2e``).
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

from newscrawl.convert import frontmatter
from newscrawl.crawl.revisit import body_text, without_revisit_keys
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
            mock.configure(clock=now)  # the server's Date header: the time revisits record
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


@pytest.mark.e2e
def test_capture_of_the_sequence_replays_into_the_same_files_and_revisions(scenario, tmp_path):
    """Done when 5: the WARC capture of the four runs replays into a new folder identically."""
    s = scenario
    out = tmp_path / "content"
    replay = run_crawl(
        out, "http://127.0.0.1:9", "-a", f"warc={s.work / 'warc'}",
        "-s", "REVISIT_SCHEDULE=default", "-s", f"REVISIT_STATE={tmp_path / 'revisits.sqlite'}",
        "-s", f"REVISIT_NOW={T0}", "-s", "LOG_LEVEL=WARNING", work=tmp_path,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert folder_files(out) == s.files[3]
    assert folder_files(tmp_path / "revisions") == folder_files(s.work / "revisions")
    assert len(folder_files(tmp_path / "revisions")) == 3
    assert replay.stat("newscrawl/replay/missing") == 0
    assert replay.stat("newscrawl/revisits/replayed") == 20 + 20 + 18  # the runs' revisits, in order


@pytest.mark.e2e
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
    assert "revisits=due:20,unchanged:17,updated:3 status=ok" in s.runs[1].stderr


@pytest.mark.e2e
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
    marked = [line for line in lines if line["status"] == "deleted"]
    assert sorted(line["id"] for line in marked) == sorted(s.deleted)
    for line in marked:  # the manifest line of the kept file
        assert line["url"] == f"https://new.qq.com/rain/a/{line['id']}"
        assert line["sha256"] == hashlib.sha256(after[line["path"]]).hexdigest()
        assert line["previous_sha256"] == hashlib.sha256(s.files[1][line["path"]]).hexdigest()
    others = [i for i in s.ids if i not in s.deleted]
    assert all(s.fetches[3][i] == 1 for i in others), "the others are still revisited"
    with sqlite3.connect(s.work / "revisits.sqlite") as db:
        rows = db.execute("SELECT id, status, due FROM articles WHERE status = 'deleted'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(s.deleted) and all(r[2] is None for r in rows)


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_schedule_limits_age_and_per_run_cap_and_off_means_today(tmp_path):
    """Done when 3: past the last step never requested; REVISIT_MAX_PER_RUN caps; off = today's."""
    on, off = tmp_path / "on", tmp_path / "off"
    on.mkdir(), off.mkdir()
    schedule = ("-s", "REVISIT_SCHEDULE=every 10 min until 1 h", "-s", "REVISIT_MAX_PER_RUN=2")
    with MockQQServer(articles=3, old_every=0) as mock:
        ids = ("-a", "ids=" + ",".join(mock.ids()))

        def run(work: Path, *args: str) -> dict[str, int]:
            mock.reset_counters()
            result = run_crawl(work / "content", mock.url, *ids, *args, work=work)
            assert result.returncode == 0, result.stderr[-3000:]
            return {i: mock.article_fetches(i) for i in mock.ids()}

        # Revisits off: today's behaviour, and the first run of revisits writes the same files.
        run(off, "-s", "LOG_LEVEL=WARNING")
        run(on, *revisit_args(on, T0), *schedule)
        assert folder_files(on / "content") == folder_files(off / "content")
        before = folder_files(off)
        assert sum(run(off, "-s", "LOG_LEVEL=WARNING").values()) == 0, "revisits off: nothing fetched again"
        assert folder_files(off) == {**before, "stats.json": (off / "stats.json").read_bytes()}
        assert not (off / "revisions").exists() and not list(off.glob("*.sqlite"))

        # Due at T0+10min, at most 2 per run, oldest-due first; the next run takes the third.
        first = run(on, *revisit_args(on, T0 + 11 * MINUTE), *schedule)
        assert sorted(first.values()) == [0, 1, 1]
        second = run(on, *revisit_args(on, T0 + 12 * MINUTE), *schedule)
        assert sorted(second.values()) == [0, 0, 1] and [i for i, n in second.items() if n] == [
            i for i, n in first.items() if not n
        ]
        # Past the last step (1 h): never requested again, and retired from the due index.
        assert sum(run(on, *revisit_args(on, T0 + 2 * 60 * MINUTE), *schedule).values()) == 0
        with sqlite3.connect(on / "revisits.sqlite") as db:
            assert db.execute("SELECT count(*) FROM articles WHERE due IS NOT NULL").fetchone()[0] == 0
        assert sum(run(on, *revisit_args(on, T0 + 3 * 60 * MINUTE), *schedule).values()) == 0


def test_schedule_parsing_and_next_due():
    from newscrawl.crawl.revisit import DEFAULT_SCHEDULE, Step, curve_until, next_due, parse_schedule

    steps = parse_schedule(DEFAULT_SCHEDULE)
    assert steps == [Step(1800, 6 * 3600), Step(3 * 3600, 86400), Step(86400, 7 * 86400)]
    assert parse_schedule("30m until 6h; 3h until 1d") == steps[:2]
    assert curve_until(2 * 86400) == [Step(1800, 6 * 3600), Step(3 * 3600, 86400), Step(86400, 2 * 86400)]
    assert curve_until(3600) == [Step(1800, 3600)]
    assert next_due(steps, 0, 0) == 1800
    assert next_due(steps, 0, 7 * 3600) == 10 * 3600  # second step
    assert next_due(steps, 0, 6.5 * 86400) is None  # the next check would be past 7 days
    for bad in ("", "every 30 min", "1h until 2h, 1h until 1h", "soon"):
        with pytest.raises(ValueError):
            parse_schedule(bad)


@pytest.mark.e2e
def test_bad_schedule_or_revisit_argument_stops_the_run(tmp_path):
    """A bad REVISIT_SCHEDULE is a bad setting, a bad -a revisit= a bad argument: exit 2, nothing fetched."""
    with MockQQServer(articles=1) as mock:
        bad_setting = run_crawl(tmp_path / "a", mock.url, "-s", "REVISIT_SCHEDULE=sometimes", work=tmp_path)
        assert bad_setting.returncode == 2 and "REVISIT_SCHEDULE" in bad_setting.stderr
        bad_argument = run_crawl(tmp_path / "b", mock.url, "-a", "revisit=soon", work=tmp_path)
        assert bad_argument.returncode == 2 and "revisit=soon" in bad_argument.stderr
        # A REVISIT_STATE that is no SQLite database was a traceback and exit 1.
        state = tmp_path / "revisits.sqlite"
        state.write_bytes(b"not a database, just bytes" * 10)
        damaged = run_crawl(tmp_path / "c", mock.url, "-a", "revisit=7d", "-s", f"REVISIT_STATE={state}", work=tmp_path)
        assert damaged.returncode == 2, damaged.stderr[-3000:]
        assert f"Bad argument: REVISIT_STATE {state} cannot be used (file is not a database)" in damaged.stderr
        assert "Traceback" not in damaged.stderr
        assert mock.article_fetches(mock.ids()[0]) == 0


@pytest.mark.e2e
def test_hugo_renders_updated_pages_with_lastmod_and_still_builds_deleted_ones(scenario, tmp_path):
    """Done when 6: the real Hugo build shows each updated page's lastmod; deleted pages are built."""
    from tests.hugosite import build_site

    s = scenario
    build = build_site(s.out, tmp_path / "site")
    assert build.returncode == 0 and not build.error_lines(), build.output
    pages = build.pages()
    assert len(pages) == 20
    for article_id in s.ids:
        page = pages[f"zh-CN/news/qq/{article_id}.zh-CN.md"]
        fields = frontmatter.load(s.path(article_id).read_text("utf-8"))
        if article_id in s.edited:
            assert page.lastmod == fields["lastmod"] != page.date
        else:
            assert page.lastmod == page.date == fields["date"]
        assert page.deleted == fields.get("deleted", "")
        assert page.content_html, article_id
    assert sum(bool(page.deleted) for page in pages.values()) == len(s.deleted)


@pytest.mark.e2e
def test_two_scale_out_workers_fetch_each_due_article_once(tmp_path):
    """Done when 4: two workers (one Redis, one output folder, one state file): each due article
    is claimed by one worker and fetched once in the run."""
    from tests.redisserver import RedisServer
    from tests.scaleoutrun import start_workers, wait_all

    out, state = tmp_path / "content", tmp_path / "revisits.sqlite"
    # The spider argument: the default curve up to 7 days.
    settings = ("-a", "revisit=7d", "-s", f"REVISIT_STATE={state}", "-s", "REVISIT_MAX_PER_RUN=8")
    with MockQQServer(articles=12, latency=0.05) as mock, RedisServer(tmp_path / "redis") as redis:
        ids = ("-a", "ids=" + ",".join(mock.ids()))
        first = run_crawl(out, mock.url, *ids, *settings, "-s", f"REVISIT_NOW={T0}", work=tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        mock.reset_counters()
        later = ("-s", f"REVISIT_NOW={T0 + 31 * MINUTE}", "-s", "PROGRESS_INTERVAL=0")
        workers = start_workers(2, out, mock.url, redis.url, tmp_path / "workers", *ids, *settings, *later)
        codes = wait_all(workers, timeout=90)
        assert codes == [0, 0], [w.stderr()[-2000:] for w in workers]
        fetches = {i: mock.article_fetches(i) for i in mock.ids()}
        assert set(fetches.values()) == {1}, fetches
        due = sorted(w.stats().get("newscrawl/revisits/due", 0) for w in workers)
        assert due == [4, 8], "the claims are disjoint: 8 (the cap) and the other 4"
        assert sum(w.stats().get("newscrawl/revisits/unchanged", 0) for w in workers) == 12


@pytest.mark.e2e
def test_history_of_a_deleted_article_ends_deleted(scenario):
    from newscrawl.archive.history import find_versions

    s = scenario
    versions = find_versions(s.deleted[0], s.out, s.work / "revisions")
    assert [v.status for v in versions] == ["deleted"]  # one version, marked: never edited, then deleted
    assert versions[0].sha256 == hashlib.sha256(s.path(s.deleted[0]).read_bytes()).hexdigest()


@pytest.mark.e2e
def test_revisits_are_site_independent_the_example_site_gets_them_too(tmp_path):
    """The core's revisits on a site it does not know: an edited example page gains lastmod
    in that site's zone (UTC) and keeps its revision."""
    from tests.examplesite.server import PAGES, ExampleServer
    from tests.examplesite.test_example_site import crawl

    out = tmp_path / "out"
    args = ("-a", "ids=100201", "-a", "revisit=1d", "-s", f"REVISIT_STATE={tmp_path / 'revisits.sqlite'}")
    with ExampleServer() as server:
        first = crawl(tmp_path / "w", out, *args, "-s", f"REVISIT_NOW={T0}", url=server.url)
        assert first.returncode == 0, first.stderr[-3000:]
        (path,) = out.rglob("100201.*.md")
        original = path.read_bytes()
        page = (PAGES / "100201.html").read_text("utf-8")
        server.replaced["/story/100201.html"] = page.replace(
            "</div>\n</article>", "<p>Updated at noon.</p></div>\n</article>"
        ).encode()
        second = crawl(tmp_path / "w", out, *args, "-s", f"REVISIT_NOW={T0 + 31 * MINUTE}", url=server.url)
        assert second.returncode == 0, second.stderr[-3000:]
    assert server.hits["/story/100201.html"] == 2
    text = path.read_text("utf-8")
    assert "Updated at noon." in text and frontmatter.load(text)["lastmod"].endswith("+00:00")
    (revision,) = (tmp_path / "revisions" / "example" / "100201").iterdir()
    assert revision.read_bytes() == original and revision.name.endswith("+0000.md")
