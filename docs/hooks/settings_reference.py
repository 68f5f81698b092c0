"""MkDocs hook: the settings reference page, generated from ``newscrawl/settings.py``
and each site's ``newscrawl/sites/<site>/settings.py``.

The comments in ``settings.py`` are the one source of the settings' documentation. This
hook parses the module (``ast`` for the assignments, the source lines for the comments) and
adds ``settings.md`` to the site at build time, so the page is never written by hand and
never stored. ``tests/test_docs.py`` uses :func:`parse_settings` to fail when a setting has
no comment.

Rules: a setting's comment is the block of ``#`` lines directly above its assignment (each
setting has its own: a setting right below another one has none). ``# ---- name ----``
lines start a section.
Comments inside a dict value document its entries and are shown with the default.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "newscrawl" / "settings.py"
PAGE = "settings.md"
SECTION = re.compile(r"#\s*-{2,}\s*(.*?)\s*-*\s*$")


@dataclass
class Setting:
    name: str
    default: str  # the value's source text
    comment: str  # the comment block, "#" removed, lines joined
    section: str
    line: int


def parse_settings(path: Path = SETTINGS) -> list[Setting]:
    """Every top-level ``NAME = value`` of the settings module, in file order."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    sections: list[tuple[int, str]] = [
        (n, m.group(1)) for n, text in enumerate(lines, 1) if (m := SECTION.match(text.strip()))
    ]
    found: list[Setting] = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        start = node.lineno
        block: list[str] = []
        n = start - 1
        while n >= 1 and lines[n - 1].lstrip().startswith("#") and not SECTION.match(lines[n - 1].strip()):
            block.insert(0, lines[n - 1].strip().lstrip("#").strip())
            n -= 1
        comment = " ".join(block)
        section = next((name for line, name in reversed(sections) if line < start), "")
        found.append(
            Setting(
                name=node.targets[0].id,
                default=ast.get_source_segment(source, node.value) or "",
                comment=comment,
                section=section,
                line=start,
            )
        )
    return found


def site_settings_files() -> list[Path]:
    """Each site's settings module (its own settings, applied by its spider)."""
    return sorted(SETTINGS.parent.glob("sites/*/settings.py"))


def all_settings() -> list[Setting]:
    """The project's settings, then each site's under a section of its own."""
    found = parse_settings()
    for path in site_settings_files():
        site = path.parent.name
        section = f"site {site} (newscrawl/sites/{site}/settings.py)"
        found += [Setting(s.name, s.default, s.comment, section, s.line) for s in parse_settings(path)]
    return found


def markdown_text(comment: str) -> str:
    """A comment as Markdown: `code` spans kept, the rest shown literally (no HTML, no emphasis)."""
    parts = comment.split("`")
    for i in range(0, len(parts), 2):  # outside code spans
        text = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts[i] = re.sub(r"([\\*_\[\]])", r"\\\1", text)
    return "`".join(parts)


def render(settings: list[Setting]) -> str:
    """The Markdown of the settings reference page."""
    out = [
        "# Settings reference",
        "",
        "Every setting of `newscrawl/settings.py` and of each site's `newscrawl/sites/<site>/settings.py`, "
        "with its default and its comment there "
        "(this page is generated from those files when the docs are built). Override any of "
        "them per run with `-s NAME=value`, e.g. `scrapy crawl qq -s OUTPUT_DIR=/srv/site/content`.",
        "",
    ]
    section = None
    for s in settings:
        if s.section != section:
            section = s.section
            title = re.sub(r"\s*\(.*?\)$", "", section) or "project"  # "(docs/x.md)" pointers
            out += [f"## {title[0].upper()}{title[1:]}", ""]
        out += [f"### `{s.name}`", "", markdown_text(s.comment) or "(no comment)", ""]
        if "\n" in s.default or len(s.default) > 60:
            out += ["Default:", "", "```python", s.default, "```", ""]
        else:
            out += [f"Default: `{s.default}`", ""]
    return "\n".join(out)


def on_files(files, config):  # noqa: ANN001 - MkDocs hook signature
    """Add the generated page to the site's files."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render(all_settings())))
    return files
