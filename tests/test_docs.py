"""The docs site builds with ``mkdocs build --strict``, and the settings page is complete.

The settings reference is generated from ``newscrawl/settings.py`` by the MkDocs hook in
``docs/hooks/settings_reference.py``; a setting without a comment fails here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

from tests.crawlrun import REPO

HOOK = REPO / "docs" / "hooks" / "settings_reference.py"


def load_hook():
    spec = importlib.util.spec_from_file_location("settings_reference", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_every_setting_has_a_comment():
    hook = load_hook()
    settings = hook.parse_settings()
    import newscrawl.settings as module

    names = {name for name in vars(module) if name.isupper()}
    assert {s.name for s in settings} == names  # the parser sees every setting
    missing = [f"{s.name} (settings.py line {s.line})" for s in settings if not s.comment]
    assert not missing, f"settings without a comment line directly above them: {missing}"
    # Each site's own settings module too (they are on the same page).
    for path in hook.site_settings_files():
        site = hook.parse_settings(path)
        assert site and all(s.comment for s in site), [s.name for s in site if not s.comment]


def test_a_setting_without_comment_is_caught(tmp_path):
    hook = load_hook()
    fake = tmp_path / "settings.py"
    fake.write_text('# ---- output ----\n# Where files go.\nOUTPUT_DIR = "output"\n\nNEW_THING = 1\n', "utf-8")
    found = {s.name: s for s in hook.parse_settings(fake)}
    assert found["OUTPUT_DIR"].comment == "Where files go." and found["OUTPUT_DIR"].section == "output"
    assert found["NEW_THING"].comment == ""


@pytest.mark.e2e
def test_mkdocs_build_strict_lists_every_setting(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (site / "settings" / "index.html").read_text("utf-8")
    for setting in load_hook().all_settings():
        start = page.find(f'id="{setting.name.lower()}"')
        assert start >= 0, f"{setting.name} is not on the settings page"
        end = page.find("<h", start + 1)
        text = " ".join(lxml.html.fragment_fromstring(page[page.rfind("<h3", 0, start) : end], create_parent="div")
                        .text_content().split())  # fmt: skip
        assert " ".join(setting.comment.replace("`", "").split()) in text, (setting.name, text)
        assert " ".join(setting.default.split()) in text, (setting.name, text)
    for name in ("usage", "output", "archival", "images", "scale-out", "performance", "development"):
        assert (site / name / "index.html").is_file(), name
    assert Path(site / "index.html").is_file()


def test_ci_builds_the_docs_and_checks_the_core_install():
    ci = (REPO / ".ci" / "run").read_text("utf-8")
    assert ".venv/bin/mkdocs build --strict" in ci
    assert ".venv/bin/python scripts/check_core_install.py" in ci
