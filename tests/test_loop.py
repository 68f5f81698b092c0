"""The crawl's asyncio event loop: uvloop's where installed, else asyncio's (newscrawl.crawl.loop)."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys

import pytest
from scrapy.settings import Settings
from scrapy.utils.misc import load_object

import newscrawl.crawl.loop as loop_module
import newscrawl.settings as project_settings
from tests.crawlrun import run_crawl, written_ids
from tests.mockserver import MockQQProcess


def project() -> Settings:
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    return settings


@pytest.mark.skipif(sys.platform == "win32", reason="no uvloop for Windows")
def test_the_project_runs_uvloop_under_the_asyncio_reactor():
    import uvloop  # a core dependency off Windows (pyproject.toml)

    settings = project()
    assert settings["TWISTED_REACTOR"] == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    assert load_object(settings["ASYNCIO_EVENT_LOOP"]) is uvloop.Loop


def test_without_uvloop_the_loop_is_asyncios_own(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    try:
        fallback = importlib.reload(loop_module)
        assert fallback.EventLoop is asyncio.SelectorEventLoop
        loop = fallback.EventLoop()
        try:
            assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
        finally:
            loop.close()
    finally:
        monkeypatch.undo()
        importlib.reload(loop_module)
    assert loop_module.EventLoop is load_object(project()["ASYNCIO_EVENT_LOOP"])


@pytest.mark.e2e
def test_a_crawl_runs_on_the_project_loop_and_asyncio_code_works_in_it(tmp_path):
    extensions = {**project().getdict("EXTENSIONS"), "tests.loopprobe.LoopProbe": 0}
    with MockQQProcess("--articles", "6") as mock:
        ids = mock.control.ids("writable")[:3]
        result = run_crawl(
            tmp_path / "out", mock.url, "-a", "ids=" + ",".join(ids), "-s", "EXTENSIONS=" + json.dumps(extensions)
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert written_ids(tmp_path / "out") == set(ids)
    expected = loop_module.EventLoop
    assert result.stats["test/loop"] == f"{expected.__module__}.{expected.__qualname__}"
    assert result.stats["test/asyncio_answer"] == 6
