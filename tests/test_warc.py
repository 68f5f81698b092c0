"""WARC capture and offline replay, end to end: the real ``scrapy crawl qq`` against the mock."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from newscrawl.convert.converter import Converter
from newscrawl.sites.qq.ids import canonical_url, id_from_url
from newscrawl.sites.qq.page import decode_html
from newscrawl.warc import complete_length, finish_orphans
from tests.crawlrun import REPO, CrawlResult, check_complete, crawl_command, folder_files, run_crawl, written_ids
from tests.mockserver import SPECIALS, MockQQServer
from tests.qqpages import EXPECTED, RECONSTRUCTED, RECONSTRUCTED_ID

SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
WARC_NAME = re.compile(r"^newscrawl-\d{17}-\d{5}\.warc\.gz$")


# ---- helpers ------------------------------------------------------------------------------


def warcio_cli(*args: str) -> subprocess.CompletedProcess:
    """The ``warcio`` command-line tool of this environment."""
    script = Path(sys.executable).with_name("warcio")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())"]
    )
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


def assert_digests_pass(path: Path) -> None:
    """``warcio check`` passes and has checked the digests of every record."""
    check = warcio_cli("check", "-v", str(path))
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    kinds = re.findall(r"WARC-Record-ID <[^>]+> (\w+)", check.stdout)
    assert kinds and check.stdout.count("digest pass") == len(kinds), check.stdout[-2000:]


def records(path: Path) -> list[dict]:
    """Every record of a WARC file: type, headers, HTTP head and payload (as stored)."""
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            http = record.http_headers
            out.append(
                {
                    "type": record.rec_type,
                    "warc": dict(record.rec_headers.headers),
                    "http": http,
                    "payload": record.raw_stream.read(),
                }
            )
    return out


def offline_env(port: int) -> dict[str, str]:
    """An environment whose proxies point at ``port``: a request that leaked out lands there too."""
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[name] = f"http://127.0.0.1:{port}"
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    return env


def run_replay(output: Path, warc: Path, work: Path, *args: str, env: dict | None = None) -> CrawlResult:
    stats_file = work / "replay-stats.json"
    stats_file.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "scrapy", "crawl", "qq",
        "-a", f"warc={warc}",
        "-s", f"OUTPUT_DIR={output}",
        "-s", f"STATE_FILE={work / 'replay-gone.jsonl'}",
        "-s", f"STATS_FILE={stats_file}",
        "-s", "DOWNLOAD_DELAY=0",
        "-s", "AUTOTHROTTLE_ENABLED=0",
        "-s", "TELNETCONSOLE_ENABLED=0",
        *args,
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    return CrawlResult(proc.returncode, proc.stderr, stats)


class ConnectionCounter:
    """A listening socket on ``port`` that counts the connections it accepts."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def __enter__(self) -> ConnectionCounter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def gone_ids(path: Path) -> set[str]:
    return {json.loads(line)["id"] for line in path.read_text().splitlines()} if path.exists() else set()


# ---- one capture, shared by the tests that read it -----------------------------------------


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A crawl of the mock (specials, 503s and truncated answers) with WARC on; the mock is stopped after."""
    root = tmp_path_factory.mktemp("capture")
    with MockQQServer(
        articles=24, specials=True, fault_rate=0.3, fault_max_attempts=1, fault_kinds=("503", "truncate")
    ) as mock:
        result = run_crawl(root / "out", mock.url, "-s", f"WARC_DIR={root / 'warc'}", "-s", "WARC_MAX_SIZE=60000")
        assert result.returncode == 0, result.stderr[-3000:]
        info = {
            "root": root,
            "result": result,
            "port": mock.port,
            "log": mock.log(),
            "ids": mock.ids(),
            "writable": set(mock.ids("writable")),
            "faults": mock.counters()["faults"],
        }
    return info


@pytest.mark.e2e
def test_replay_rebuilds_the_folder_byte_for_byte_without_a_socket(capture, tmp_path):
    root = capture["root"]
    assert written_ids(root / "out") == capture["writable"]
    assert capture["faults"], "the capture should have met 503s and truncated answers"
    # The mock is gone; whatever connects to its port (directly or as a proxy) is counted.
    with ConnectionCounter(capture["port"]) as counter:
        replay = run_replay(tmp_path / "out", root / "warc", tmp_path, env=offline_env(capture["port"]))
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert counter.accepted == 0
    assert folder_files(tmp_path / "out") == folder_files(root / "out")
    assert replay.stat("newscrawl/replay/missing") == 0
    assert replay.stat("newscrawl/replay/served") == replay.stat("downloader/request_count") > 0
    assert gone_ids(tmp_path / "replay-gone.jsonl") == gone_ids(root / "gone.jsonl") != set()
    assert "status=ok" in replay.stderr
    # Same run, same counts: the 503 was replayed, then its retry's answer.
    for key in ("newscrawl/articles/written", "newscrawl/skipped/deleted", "newscrawl/feeds/ok"):
        assert replay.stat(key) == capture["result"].stat(key), key
    assert replay.stat("retry/reason_count/503 Service Unavailable") == capture["result"].stat(
        "retry/reason_count/503 Service Unavailable"
    )


@pytest.mark.e2e
def test_warc_files_are_standard_and_hold_every_exchange(capture):
    folder = capture["root"] / "warc"
    files = sorted(folder.iterdir())
    assert len(files) >= 2, "WARC_MAX_SIZE=60000 should have rolled over"
    assert all(WARC_NAME.match(p.name) for p in files), [p.name for p in files]  # no .open left
    for path in files:
        assert_digests_pass(path)
        index = warcio_cli("index", "-f", "warc-type,warc-target-uri,http:status", str(path))
        assert index.returncode == 0, index.stderr[-2000:]
        assert json.loads(index.stdout.splitlines()[0]) == {"warc-type": "warcinfo"}

    all_records = [r for path in files for r in records(path)]
    responses = {r["warc"]["WARC-Record-ID"]: r for r in all_records if r["type"] == "response"}
    requests = [r for r in all_records if r["type"] == "request"]
    infos = [r for r in all_records if r["type"] == "warcinfo"]
    assert len(infos) == len(files)
    fields = dict(line.split(": ", 1) for line in infos[0]["payload"].decode().splitlines())
    assert fields["software"].startswith("newscrawl/") and "warcio" in fields["software"]
    settings = json.loads(fields["newscrawl-settings"])
    assert settings["QQ_ARTICLE_URL"] == f"http://127.0.0.1:{capture['port']}/rain/a/{{id}}"

    # One request record per response, concurrent to it, same URI and date.
    assert len(requests) == len(responses)
    for request in requests:
        response = responses[request["warc"]["WARC-Concurrent-To"]]
        assert request["warc"]["WARC-Target-URI"] == response["warc"]["WARC-Target-URI"]
        assert request["warc"]["WARC-Date"] == response["warc"]["WARC-Date"]
        if request["http"].protocol == "POST":
            assert json.loads(request["payload"])["channel_id"]
    # Headers agree with the stored bodies.
    for response in responses.values():
        http = response["http"]
        assert int(http.get_header("Content-Length")) == len(response["payload"])
        assert http.get_header("Transfer-Encoding") is None
        assert response["warc"]["WARC-Payload-Digest"].startswith("sha1:")

    # Every answer the mock gave is archived once, truncated ones excepted (no response came).
    def key(url_or_path: str, query: str, status: int) -> tuple[str, int]:
        return (url_or_path + ("?" + query if query else ""), status)

    served = Counter(
        key(e["path"], e["query"], e["status"]) for e in capture["log"] if e["status"] and e["fault"] != "truncate"
    )
    archived = Counter()
    for response in responses.values():
        parts = urlsplit(response["warc"]["WARC-Target-URI"])
        archived[key(parts.path, parts.query, int(response["http"].get_statuscode()))] += 1
    assert archived == served
    pages = {id_from_url(path) for (path, status) in archived if "/rain/a/" in path}
    assert pages == set(capture["ids"]) | SPECIALS.keys()  # every article page, the deleted one's 302 included
    assert ("/rain/a/20240101ADELET00", 302) in archived
    assert any(path == "/web_feed/getPCList" for path, _ in archived)
    assert any(path.startswith("/gw/event/hot_ranking_list") for path, _ in archived)
    assert any(status == 503 for _, status in archived)


class GzipChunked(BaseHTTPRequestHandler):
    """Answers the reconstructed page gzip-encoded and chunked, as CDNs do."""

    protocol_version = "HTTP/1.1"
    page = gzip.compress(RECONSTRUCTED.read_bytes())

    def do_GET(self) -> None:  # noqa: N802
        if not self.path.startswith("/rain/a/"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Note", "café".encode().decode("latin-1"))  # raw UTF-8 bytes in a header
        self.end_headers()
        for i in range(0, len(self.page), 1000):
            chunk = self.page[i : i + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.e2e
def test_compressed_chunked_response_is_stored_as_sent_and_replays(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), GzipChunked)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        result = run_crawl(
            tmp_path / "out", url, "-a", f"ids={RECONSTRUCTED_ID}", "-s", f"WARC_DIR={tmp_path / 'warc'}"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "warc").iterdir()
    assert warcio_cli("check", str(path)).returncode == 0
    (page,) = [r for r in records(path) if r["type"] == "response" and "/rain/a/" in r["warc"]["WARC-Target-URI"]]
    http = page["http"]
    # The body as it came (gzip, de-chunked by the HTTP client); the headers say so.
    assert page["payload"] == GzipChunked.page
    assert http.get_header("Content-Encoding") == "gzip"
    assert http.get_header("Transfer-Encoding") is None
    assert int(http.get_header("Content-Length")) == len(GzipChunked.page)
    assert http.get_header("X-Note") == "café"
    with path.open("rb") as handle:  # standard readers decode it
        (decoded,) = [
            r.content_stream().read()
            for r in ArchiveIterator(handle)
            if r.rec_headers.get_header("WARC-Type") == "response"
            and "/rain/a/" in r.rec_headers.get_header("WARC-Target-URI")
        ]
    assert decoded == RECONSTRUCTED.read_bytes()

    replay = run_replay(tmp_path / "replayed", tmp_path / "warc", tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert (tmp_path / "replayed" / f"zh-CN/news/qq/{RECONSTRUCTED_ID}.zh-CN.md").read_bytes() == EXPECTED.read_bytes()
    assert replay.stat("httpcompression/response_count") == 1  # decompressed by Scrapy, as from the network


@pytest.mark.e2e
def test_killed_capture_leaves_complete_files_and_a_readable_open_file(tmp_path):
    warc = tmp_path / "warc"
    with MockQQServer(articles=40, latency=0.15) as mock:
        command = crawl_command(
            tmp_path / "out",
            mock.url,
            "-s",
            f"WARC_DIR={warc}",
            "-s",
            "WARC_MAX_SIZE=30000",
            "-s",
            "CONCURRENT_REQUESTS=2",
        )
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        # Kill mid-run, while a file is open (after a rollover the next one opens with the next exchange).
        while time.time() < deadline and (
            sum(mock.article_fetches(i) for i in mock.ids()) < 12 or not list(warc.glob("*.open"))
        ):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        names = sorted(p.name for p in warc.iterdir())
        finished = [n for n in names if WARC_NAME.match(n)]
        opened = [n for n in names if n.endswith(".warc.gz.open")]
        assert finished and len(opened) == 1 and len(finished) + 1 == len(names), names
        open_file = warc / opened[0]
        # Exchanges go in whole: even the open file ends at a record boundary and checks clean.
        with open_file.open("rb") as handle:
            assert complete_length(handle) == open_file.stat().st_size
        for name in names:
            assert_digests_pass(warc / name)

        # Replay reads the open file too: every article the killed crawl wrote comes back the same.
        replay = run_replay(tmp_path / "replayed", warc, tmp_path)
        assert replay.stat("newscrawl/replay/served") > 0, replay.stderr[-3000:]
        before, after = folder_files(tmp_path / "out"), folder_files(tmp_path / "replayed")
        assert before and all(after.get(name) == data for name, data in before.items() if name.endswith(".md"))

        # The next capture into the folder finishes the orphan: renamed, nothing lost.
        size = open_file.stat().st_size
        again = run_crawl(tmp_path / "out", mock.url, "-s", f"WARC_DIR={warc}")
        assert again.returncode == 0, again.stderr[-3000:]
    final = warc / opened[0].removesuffix(".open")
    assert not open_file.exists() and final.stat().st_size == size
    assert "left open by a killed capture" in again.stderr
    assert all(WARC_NAME.match(p.name) for p in warc.iterdir())


@pytest.mark.e2e
def test_a_file_cut_inside_a_record_is_trimmed_to_its_last_whole_exchange(tmp_path):
    whole = SAMPLE.read_bytes()
    folder = tmp_path / "warc"
    folder.mkdir()
    cut = folder / "newscrawl-20250101000000000-00000.warc.gz.open"
    cut.write_bytes(whole[: len(whole) - 700])  # the last exchange loses its end
    # warcio reads the torn record without complaint ("digest present but not checked"):
    # whole gzip members (CRC and length checked) are what tells a complete record.
    with cut.open("rb") as handle:
        keep = complete_length(handle)
    assert 0 < keep < len(whole) - 700
    (final,) = finish_orphans(folder)
    assert final.name == "newscrawl-20250101000000000-00000.warc.gz" and not cut.exists()
    assert final.read_bytes() == whole[:keep]
    assert_digests_pass(final)
    kinds = [r["type"] for r in records(final)]
    assert kinds[0] == "warcinfo" and kinds[1:] == ["response", "request"] * ((len(kinds) - 1) // 2)


@pytest.mark.e2e
def test_missing_requests_fail_clearly_and_selection_arguments_limit_the_replay(tmp_path):
    archived = sorted(sample_article_ids())[0]
    absent = "20250101A0ZZZZ00"
    replay = run_replay(tmp_path / "out", SAMPLE, tmp_path, "-a", f"ids={archived},{absent}")
    # The user named both: one of them not in the archive fails the run (FAIL_ON_REQUESTED).
    assert replay.returncode == 5, replay.stderr[-3000:]
    assert "status=FAILED: requested article fetches failed (1 of 2)" in replay.stderr
    assert written_ids(tmp_path / "out") == {archived}  # the user's ids replace the capture's discovery
    assert replay.stat("newscrawl/replay/missing") == 1
    assert replay.stat("newscrawl/failed/NotArchived") == 1
    assert "Not in the WARC archive: GET http://127.0.0.1:" in replay.stderr and absent in replay.stderr
    assert re.search(r"newscrawl summary: .* failed=NotArchived:1 ", replay.stderr)
    assert gone_ids(tmp_path / "replay-gone.jsonl") == set()  # missing is not "gone"


@pytest.mark.e2e
def test_a_folder_of_several_runs_replays_as_those_runs_did(tmp_path):
    """Three cron-like runs into one WARC_DIR: a flaky article, new articles, an ``-a ids`` run."""
    out, warc = tmp_path / "out", tmp_path / "warc"
    # Articles alternate between a default channel and "other", which no default run lists.
    with MockQQServer(articles=8, hot_count=3, channels=("news_news_top", "other")) as mock:
        flaky = mock.ids()[0]  # answers 503 through the first run, fine in the second
        mock.fail_always([flaky], "503")
        first = run_crawl(out, mock.url, "-s", f"WARC_DIR={warc}")
        assert first.failed() == {"http_503": 1}
        mock.fail_always([flaky], None)
        mock.add_articles(5)
        second = run_crawl(out, mock.url, "-s", f"WARC_DIR={warc}")
        assert flaky in written_ids(out) and second.stat("newscrawl/articles/written") > 1
        unlisted = sorted(set(mock.ids("writable")) - written_ids(out))[0]
        third = run_crawl(out, mock.url, "-s", f"WARC_DIR={warc}", "-a", f"ids={unlisted}")
        assert first.returncode == second.returncode == third.returncode == 0, third.stderr[-3000:]
        assert third.stat("newscrawl/articles/written") == 1
    assert len(list(warc.iterdir())) == 3
    replay = run_replay(tmp_path / "replayed", warc, tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert folder_files(tmp_path / "replayed") == folder_files(out)
    assert replay.stat("newscrawl/replay/swept_feeds") > 0  # the second run's feeds
    assert replay.stat("newscrawl/replay/swept_articles") == 1  # the third run's article
    # The flaky article failed again as in the first run, then came whole from the second.
    assert replay.failed() == {"http_503": 1}
    assert replay.stat("newscrawl/replay/missing") == 0


# ---- the committed sample ------------------------------------------------------------------


def sample_article_ids() -> set[str]:
    return {
        id_from_url(r["warc"]["WARC-Target-URI"])
        for r in records(SAMPLE)
        if r["type"] == "response"
        and "/rain/a/" in r["warc"]["WARC-Target-URI"]
        and r["http"].get_statuscode() == "200"
    }


@pytest.mark.e2e
def test_readme_offline_command_rebuilds_the_sample_articles(tmp_path):
    ignored = subprocess.run(["git", "check-ignore", "-q", str(SAMPLE)], cwd=REPO, capture_output=True)
    assert ignored.returncode == 1 or not (REPO / ".git").exists(), "the sample must be committed, not ignored"
    assert SAMPLE.stat().st_size < 300_000
    ids = sample_article_ids()
    assert len(ids) >= 4
    # As in the README (plus a private state file); proxies point at a dead port: no network.
    with ConnectionCounter(0) as counter:
        port = counter.sock.getsockname()[1]
        command = [sys.executable, "-m", "scrapy", "crawl", "qq", "-a", f"warc={SAMPLE.relative_to(REPO)}",
                   "-s", f"OUTPUT_DIR={tmp_path / 'x'}", "-s", f"STATE_FILE={tmp_path / 'gone.jsonl'}"]  # fmt: skip
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=offline_env(port))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert counter.accepted == 0
    assert written_ids(tmp_path / "x") == ids
    pages = {
        id_from_url(r["warc"]["WARC-Target-URI"]): r["payload"]
        for r in records(SAMPLE)
        if r["type"] == "response" and "/rain/a/" in r["warc"]["WARC-Target-URI"]
    }
    templates = Counter()
    for article_id in ids:
        path = tmp_path / "x" / f"zh-CN/news/qq/{article_id}.zh-CN.md"
        check_complete(path)
        article = Converter().convert(decode_html(pages[article_id]), canonical_url(article_id), article_id)
        templates[article.template] += 1
        # The body is the page's; the front matter may also use the feed's data (the old
        # template has no thumbnail of its own), which the capture-vs-replay tests cover.
        assert path.read_text("utf-8").split("\n---\n", 1)[1] == article.markdown.split("\n---\n", 1)[1]
    assert len(templates) >= 2, templates  # both templates: today's and the old one


@pytest.mark.e2e
def test_sample_script_builds_a_small_checked_archive(tmp_path):
    out = tmp_path / "sample.warc.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/make_sample_archive.py",
            "--ids",
            "20250204A01USZ00,20250204A03LJN00,20250204A0663600,20201130A0G1JJ00",
            "--out",
            str(out),
            "--keep-output",
            str(tmp_path / "captured"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "new template" in proc.stdout and "old template" in proc.stdout
    assert 0 < out.stat().st_size < 300_000
    assert warcio_cli("check", str(out)).returncode == 0
    replay = run_replay(tmp_path / "out", out, tmp_path)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert len(written_ids(tmp_path / "out")) == 4
    assert folder_files(tmp_path / "out") == folder_files(tmp_path / "captured")
