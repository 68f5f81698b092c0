"""``pipelines.run_steps`` (a part's steps with their ``process_article`` called directly) is each
step's ``process_item`` in turn, for every outcome a step can have; and a rebuild's converter frees an
article's body early only when the writer alone reads the article after the steps."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem
from scrapy.settings import Settings

from newscrawl.archive import rebuild
from newscrawl.archive.rebuild import Converter, Counts, Task
from newscrawl.convert.article import Article
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.crawl.pipelines import ArticlePipeline, run_steps
from newscrawl.crawl.writer import WriterPipeline
from newscrawl.settings import ITEM_PIPELINES


class Step(ArticlePipeline):
    """A step whose outcome is its ``kind``: pass (marks the title), drop, raise, recurse, a non-article."""

    kind = "pass"

    def process_article(self, article: Article) -> Any:
        if self.kind == "pass":
            article.title += type(self).__name__[0]
            return article
        if self.kind == "drop":
            raise ArticleDropped("empty", f"{article.id} has no text")
        if self.kind == "raise":
            raise ValueError(f"bad page {article.id}")
        if self.kind == "recurse":
            raise RecursionError("maximum recursion depth exceeded")
        return {"not": "an article"}


KINDS = ["pass", "drop", "raise", "recurse", "other"]
STEPS = {
    (kind, disk): type(f"{kind.title()}{'Disk' if disk else ''}Step", (Step,), {"kind": kind, "owns_disk": disk})
    for kind in KINDS
    for disk in (False, True)
}


def _outcome(run, classes: tuple[type, ...], caplog) -> tuple[Any, ...]:
    counts = Counts()
    steps = tuple(cls(Settings(), counts) for cls in classes)
    article = Article(id="a1", url="https://x/a1", title="")
    caplog.clear()
    try:
        result = run(steps, article)
        outcome: tuple[Any, ...] = ("returned", result is article, result)
    except DropItem as exc:
        cause = exc.__cause__
        outcome = (
            "raised",
            type(exc).__name__,
            str(exc),
            getattr(exc, "reason", None),
            getattr(exc, "log_level", None),
            type(cause).__name__ if cause else None,
            str(cause) if cause else None,
            exc.__suppress_context__,
            type(exc.__context__).__name__ if exc.__context__ else None,
        )
    logs = [(r.levelname, r.getMessage()) for r in caplog.records]
    return outcome, article.title, dict(counts.values), logs


def _each_process_item(steps: tuple[ArticlePipeline, ...], item: Any) -> Any:
    for step in steps:
        item = step.process_item(item)
    return item


def test_run_steps_is_each_steps_process_item_in_turn(caplog):
    caplog.set_level(logging.DEBUG)
    kinds = list(STEPS)
    checked = set()
    for length in (1, 2, 3):
        for combo in itertools.product(kinds, repeat=length):
            classes = tuple(STEPS[k] for k in combo)
            expected = _outcome(_each_process_item, classes, caplog)
            assert _outcome(run_steps, classes, caplog) == expected, combo
            checked.add(expected[0][0] if expected[0][0] == "returned" else expected[0][1])
    # Every way out was met: a return, a drop, a too_deep drop, an extract and a write failure.
    assert checked == {"returned", "ArticleDropped", "ArticleFailed"}


def test_run_steps_sees_the_project_steps_as_the_crawl_fuses_them():
    """The rebuild's converter runs the project's steps (and the writer) through run_steps: the check that
    picks it is the one the crawl's fusing uses (process_item not overridden)."""
    converter = Converter(Settings({"OUTPUT_DIR": "unused", "ITEM_PIPELINES": ITEM_PIPELINES}), "qq")
    assert converter.run_before.func is run_steps and converter.run_after.func is run_steps
    pipelines = {**ITEM_PIPELINES, f"{__name__}.OwnProcessItemWriter": 900}
    pipelines.pop("newscrawl.crawl.writer.WriterPipeline")
    converter = Converter(Settings({"OUTPUT_DIR": "unused", "ITEM_PIPELINES": pipelines}), "qq")
    assert converter.run_before.func is run_steps and converter.run_after.func is rebuild._each_process_item
    assert not converter.body_unread  # a writer of its own may read the body


class OwnProcessItemWriter(WriterPipeline):
    """A writer with a ``process_item`` of its own: its part runs through each ``process_item``."""

    def process_item(self, item: Any) -> Any:
        return super().process_item(item)


SAMPLE = str(Path(__file__).resolve().parent.parent / "samples" / "qq-sample.warc.gz")


class LaterStep(ArticlePipeline):
    """A step after the writer: records the body each article still has when it gets there."""

    seen: list[int] = []

    def process_article(self, article: Article) -> Article:
        LaterStep.seen.append(len(article.body))
        return article


@pytest.mark.parametrize("later", [False, True])
def test_the_body_is_freed_before_the_writer_only_when_nothing_after_the_steps_reads_it(tmp_path, monkeypatch, later):
    entries = [e for e in rebuild.index_file(SAMPLE).responses if "/rain/a/" in e.uri]
    bodies_at_write: list[int] = []
    real = WriterPipeline.process_article
    monkeypatch.setattr(
        WriterPipeline, "process_article", lambda self, a: bodies_at_write.append(len(a.body)) or real(self, a)
    )
    pipelines = {**ITEM_PIPELINES, f"{__name__}.LaterStep": 950} if later else ITEM_PIPELINES
    LaterStep.seen = []

    def convert(folder: str, free: bool) -> tuple[Any, ...]:
        tasks = [Task(e, e.uri, e.uri.rsplit("/", 1)[1], False, {}) for e in entries]
        out = tmp_path / folder
        converter = Converter(
            Settings({"OUTPUT_DIR": str(out), "OUTPUT_PATH_TEMPLATE": "{id}.md", "ITEM_PIPELINES": pipelines}), "qq"
        )
        assert converter.body_unread is (not later)
        converter.body_unread = free
        marks = converter.convert_all(tasks)
        files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        return marks, dict(converter.counts.values), files

    kept = convert("kept", False)
    assert bodies_at_write and all(bodies_at_write)  # the sample's articles have bodies
    bodies_at_write.clear()
    assert convert("default", not later) == kept  # the same marks, counts and files
    assert len(bodies_at_write) == len(kept[2])
    assert all(bodies_at_write) if later else not any(bodies_at_write)
    if later:
        assert LaterStep.seen and all(LaterStep.seen)
