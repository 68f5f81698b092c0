"""The writer's folder route (``osutil.Folder``: open, rename and cleanup relative to the folder's
descriptor) keeps every guarantee of ``write_atomic``: the same bytes and mode, temp names a later run
recognizes, short writes, fsync, cleanup when stopped, a name clash, a folder removed during the run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from scrapy.settings import Settings

import newscrawl.osutil as osutil
from newscrawl.convert.article import Article
from newscrawl.crawl.writer import _TMP_OWNER, WriterPipeline, remove_stale_temp_files
from newscrawl.osutil import HOST_AND_NAMESPACE, Folder, write_atomic

pytestmark = pytest.mark.skipif(not osutil.DIR_FD, reason="no *at system calls here: the writer uses write_atomic")

SIZES = [0, 1, 4095, 4096, 70_001]


def _data(size: int) -> bytes:
    return bytes((i * 7 + size) % 251 for i in range(size))


def _temp_names(monkeypatch) -> list[str]:
    """Every temp name the write routes open (by path or relative to a folder)."""
    names: list[str] = []
    real = os.open

    def spy(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp"):
            names.append(os.path.basename(path))
        return real(path, flags, mode, **kwargs)

    monkeypatch.setattr(osutil.os, "open", spy)
    return names


@pytest.mark.parametrize("fsync", [False, True])
def test_a_folder_write_gives_what_write_atomic_gives(tmp_path, monkeypatch, fsync):
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(osutil.os, "fsync", lambda fd: fsyncs.append(fd) or real_fsync(fd))
    names = _temp_names(monkeypatch)
    by_path, by_folder = tmp_path / "path", tmp_path / "folder" / "a"
    folder = Folder(str(by_folder))
    for size in SIZES:
        write_atomic(str(by_path / f"{size}.md"), _data(size), fsync)
        folder.write(f"{size}.md", _data(size), fsync)
        folder.write(f"{size}.md", _data(size + 1), fsync)  # over an existing file
    assert len(fsyncs) == (3 * len(SIZES) if fsync else 0)
    for size in SIZES:
        a, b = by_path / f"{size}.md", by_folder / f"{size}.md"
        assert a.read_bytes() == _data(size) and b.read_bytes() == _data(size + 1)
        assert a.stat().st_mode == b.stat().st_mode
    assert sorted(p.name for p in by_folder.iterdir()) == sorted(p.name for p in by_path.iterdir())
    # Every temp name carries this host and pid (what the sweep reads), and no two are the same.
    assert len(names) == len(set(names)) == 3 * len(SIZES)
    for name in names:
        match = _TMP_OWNER.search(name)
        assert match and match.group(1) == HOST_AND_NAMESPACE and int(match.group(2)) == os.getpid()
    folder.close()


def test_a_short_write_is_finished_piece_by_piece(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(osutil.os, "write", lambda fd, data: real_write(fd, bytes(data[:1000])))
    Folder(str(tmp_path)).write("a.md", _data(70_001))
    assert (tmp_path / "a.md").read_bytes() == _data(70_001)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, PermissionError])
@pytest.mark.parametrize("at", ["open", "write", "replace"])
def test_a_folder_write_stopped_leaves_no_temp_file_and_the_old_file(tmp_path, monkeypatch, stop, at):
    """A signal handler that raises (SIGTERM, Ctrl-C) runs right after the system call it interrupted:
    the temp file is removed whatever call that was, the target is untouched, the first error raised."""
    (tmp_path / "a.md").write_bytes(b"old")
    folder = Folder(str(tmp_path))
    folder.open()
    real = getattr(os, at)

    def then_stop(*args, **kwargs):
        if at != "replace":  # a rename is stopped before it happens
            real(*args, **kwargs)
        raise stop("stopped")

    monkeypatch.setattr(osutil.os, at, then_stop)
    with pytest.raises(stop, match="stopped"):
        folder.write("a.md", b"new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    assert (tmp_path / "a.md").read_bytes() == b"old"


def test_a_folder_removed_during_the_run_is_made_again(tmp_path):
    folder = Folder(str(tmp_path / "out" / "zh-CN"))
    folder.write("a.md", b"1")
    shutil.rmtree(tmp_path / "out")
    assert folder.read("a.md") is None  # the removed folder's descriptor finds nothing
    folder.write("b.md", b"2")
    assert [p.name for p in (tmp_path / "out" / "zh-CN").iterdir()] == ["b.md"]
    assert folder.read("b.md") == b"2"


def test_a_dead_writers_leftover_of_the_same_name_gets_another_random_part(tmp_path, monkeypatch):
    folder = Folder(str(tmp_path))
    names = _temp_names(monkeypatch)
    folder.write("a.md", b"1")
    # The next name this process would use, left by a dead process of the same pid.
    count, random = osutil._TempNames.count + 1, osutil._TempNames.random
    clash = f".a.md.{HOST_AND_NAMESPACE}@{osutil._TempNames.pid}.{random}{count:x}.tmp"
    (tmp_path / clash).write_bytes(b"half")
    folder.write("a.md", b"2")
    assert (tmp_path / "a.md").read_bytes() == b"2" and (tmp_path / clash).read_bytes() == b"half"
    assert names[-2] == clash and not names[-1].split("@")[1].split(".")[1].startswith(random)  # a new random part
    os.utime(tmp_path / clash, (0, 0))  # and the sweep of a later run removes the leftover
    assert remove_stale_temp_files(tmp_path) == 1


def test_a_folder_write_into_a_file_fails_as_write_atomic_does(tmp_path):
    (tmp_path / "zh-CN").write_text("not a folder")
    with pytest.raises(FileExistsError):
        write_atomic(str(tmp_path / "zh-CN" / "a.md"), b"x")
    with pytest.raises(FileExistsError):
        Folder(str(tmp_path / "zh-CN")).write("a.md", b"x")


@pytest.mark.parametrize(
    "template, folder_route",
    [
        ("{lang}/news/{source}/{id}.{lang}.md", True),  # the default: one folder per language and source
        ("{id}.md", True),
        ("{lang}/{id}-{id}.md", True),
        ("{lang}/{id}/index.md", False),  # a folder per article: write_atomic and the path
        ("./{lang}//{id}.md", False),  # not a plain string path: through Path and write_atomic
    ],
)
def test_the_writer_writes_the_same_files_by_either_route(tmp_path, monkeypatch, template, folder_route):
    """Written, unchanged, updated, as the path route says; every file where ``target`` says."""
    folder_writes: list[str] = []
    real = Folder.write
    monkeypatch.setattr(Folder, "write", lambda self, name, *a: folder_writes.append(name) or real(self, name, *a))
    writer = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": template}))
    writer.open_spider()
    statuses, paths = [], set()
    for article_id, markdown in [("a1", "x\n"), ("b_2-x", "y\n"), ("a1", "x\n"), ("a1", "z\n"), ("b_2-x", "中\n")]:
        article = Article(id=article_id, url="u", lang="zh-CN", source="qq", markdown=markdown)
        path, relative = writer.target(article)
        writer.process_article(article)
        statuses.append(article.status)
        assert article.path == relative and Path(path).read_text("utf-8") == markdown
        paths.add(relative)
    assert statuses == ["written", "written", "unchanged", "updated", "updated"]
    files = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert files == paths
    assert len(folder_writes) == (4 if folder_route else 0)
    writer.close_spider()
