"""The writer's string paths (``WriterPipeline.target``) are exactly the ``Path`` route's, for any template."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.settings import Settings

from newscrawl.convert.article import Article
from newscrawl.crawl.writer import UnsafePath, WriterPipeline, article_path, existing_article_file
from newscrawl.osutil import write_atomic

TEMPLATES = [
    "{lang}/news/{source}/{id}.{lang}.md",  # the default: the string route
    "{id}.md",
    "a/../{source}/{id}.md",  # kept as written, as Path keeps it
    "./{lang}//{id}.md",  # not normal: Path normalizes it, so the Path route
    "{lang}/{id:_>20}.md",  # a format spec: the Path route
    "{lang}/{id!s}/index.md",
]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("relative_output", [False, True])
def test_string_paths_equal_the_path_route(tmp_path, monkeypatch, template, relative_output):
    monkeypatch.chdir(tmp_path)
    output = "out" if relative_output else str(tmp_path / "out")
    writer = WriterPipeline(Settings({"OUTPUT_DIR": output, "OUTPUT_PATH_TEMPLATE": template}))
    for article_id, lang, source in [("20250101A0000100", "zh-CN", "qq"), ("b_2-x", "en", "qq"), ("c", "zh-CN", "q")]:
        article = Article(id=article_id, url="u", lang=lang, source=source, markdown="x\n")
        path = writer.path_for(article)
        for _ in range(2):  # the first call fills the cache, the second uses it
            assert writer.target(article) == (str(path), str(path.relative_to((tmp_path / "out").resolve())))
        writer.process_article(article)
        assert article.path == str(path.relative_to((tmp_path / "out").resolve())) and path.read_text() == "x\n"


def test_string_paths_keep_every_refusal(tmp_path):
    writer = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{lang}/{id}.md"}))
    writer.target(Article(id="a1", url="u", lang="zh-CN", source="qq"))  # the key is cached now
    for bad in [{"id": "../a"}, {"lang": "../zh"}, {"source": "Q/Q"}, {"id": "a1", "lang": "zh-CN/.."}]:
        fields = {"id": "a1", "lang": "zh-CN", "source": "qq", **bad}
        with pytest.raises(UnsafePath):
            writer.target(Article(url="u", **fields))
    leaving = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "/{id}.md"}))
    with pytest.raises(UnsafePath):
        leaving.target(Article(id="a1", url="u", lang="zh-CN", source="qq"))


def test_write_atomic_takes_strings_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomic("here.md", b"1")
    write_atomic(str(tmp_path / "a" / "b" / "c.md"), b"2")
    write_atomic(tmp_path / "p" / "q.md", b"3")
    write_atomic(tmp_path / "p" / "q.md", b"4")
    files = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {"here.md": b"1", "a/b/c.md": b"2", "p/q.md": b"4"}


@pytest.mark.parametrize("stop", [KeyboardInterrupt, PermissionError])
def test_write_atomic_leaves_no_temp_file_when_stopped_right_after_the_open(tmp_path, monkeypatch, stop):
    """A signal handler that raises (SIGTERM in rebuild, Ctrl-C) runs right after the system call it
    interrupted, often the temp file's open: the file that open made is removed all the same, the
    target is not touched, and the first error is the one raised."""
    import newscrawl.osutil as osutil

    real_open = osutil.os.open

    def open_then_stop(*args, **kwargs):
        real_open(*args, **kwargs)  # the file exists now; its descriptor is never seen by the caller
        raise stop("stopped")

    (tmp_path / "a.md").write_bytes(b"old")
    monkeypatch.setattr(osutil.os, "open", open_then_stop)
    with pytest.raises(stop, match="stopped"):
        write_atomic(tmp_path / "a.md", b"new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
    assert (tmp_path / "a.md").read_bytes() == b"old"


def test_a_writer_told_its_folder_was_empty_reads_only_what_it_wrote(tmp_path):
    """rebuild -j 1 into an empty folder: no read for a path it has not written; its own files are read
    again, so a second write of an article is still unchanged or updated."""
    writer = WriterPipeline(Settings({"OUTPUT_DIR": str(tmp_path), "OUTPUT_PATH_TEMPLATE": "{lang}/{id}.md"}))
    writer.open_spider()
    writer.written_here = set()

    def write(markdown: str) -> str:
        article = Article(id="a1", url="u", lang="zh-CN", source="qq", markdown=markdown)
        return writer.process_article(article).status

    assert [write("x\n"), write("x\n"), write("y\n")] == ["written", "unchanged", "updated"]
    assert (tmp_path / "zh-CN" / "a1.md").read_text() == "y\n"


def _existing_by_path_route(output, template, ids, lang, source):
    """The spider's existing-file check as it was: every form through ``article_path``, then a stat."""
    for article_id in ids:
        try:
            path = article_path(Path(output), template, article_id, lang, source)
        except UnsafePath:
            continue
        if path.is_file():
            return path
    return None


@pytest.mark.parametrize("template", [*TEMPLATES, "../{id}.md", "/{id}.md", "{lang}/./{id}.md"])
def test_existing_file_check_equals_the_path_route(tmp_path, monkeypatch, template):
    """The string-joined check finds the same file (or none) as ``article_path`` for every template,
    output folder spelling, id form, and refused id, language or source."""
    monkeypatch.chdir(tmp_path)
    outputs = [str(tmp_path / "out"), "out", "./out/", tmp_path / "out", f"{tmp_path}/../{tmp_path.name}/out"]
    cases = [(i, "zh-CN", "qq") for i in ("20250101A0000100", "20250101A00001", "c", "../c", "")]
    cases += [("20250101A0000100", "../zh", "qq"), ("20250101A0000100", "zh-CN", "Q/Q")]
    for made, (article_id, lang, source) in enumerate(cases[:3]):  # two forms' files, a folder at a third's path
        try:
            target = article_path(tmp_path / "out", template, article_id, lang, source)
        except UnsafePath:  # a template that leaves the folder: every check finds nothing
            continue
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.mkdir() if made == 2 else target.write_text("x")
    # Where a check that let "../c" through would look: a file there must not count.
    trap = tmp_path / "out" / template.format(id="../c", lang="zh-CN", source="qq")
    if not trap.resolve().exists() and trap.resolve() != tmp_path.resolve():
        trap.resolve().parent.mkdir(parents=True, exist_ok=True)
        trap.resolve().write_text("not an article")
    for output in outputs:
        for forms in (["20250101A0000100", "20250101A00001"], ["zzz", "20250101A00001"], ["c"], ["../c", "c"]):
            for _, lang, source in cases:
                expected = _existing_by_path_route(output, template, forms, lang, source)
                for _ in range(2):  # the first call fills the cache, the second uses it
                    assert existing_article_file(output, template, forms, lang, source) == expected
    assert existing_article_file(tmp_path / "out", template, ["nothing"], "zh-CN", "qq") is None
