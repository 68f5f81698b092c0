"""``newscrawl history ID``: an article's versions, and what changed between them.

Read from the files alone (the archive is the record; the revisit state is not needed):
the previous versions in ``REVISIONS_DIR/<source>/<id>/`` (named by when they were replaced)
and the current file under ``OUTPUT_DIR``. Each version is listed with its time (its
``lastmod``, for the first one its ``date``), sha256 and status (``archived`` for the first,
``updated`` for later ones, ``deleted`` when the file carries the deletion mark); then a
unified diff of the body text between consecutive versions.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from newscrawl.crawl.revisit import body_text, front_matter_value


@dataclass(slots=True)
class Version:
    path: Path
    text: str
    sha256: str
    time: str
    status: str


def _version(path: Path, first: bool) -> Version:
    data = path.read_bytes()
    text = data.decode("utf-8", "replace")
    status = "archived" if first else "updated"
    if front_matter_value(text, "deleted"):
        status = "deleted"
    when = front_matter_value(text, "lastmod") or front_matter_value(text, "date")
    return Version(path, text, hashlib.sha256(data).hexdigest(), when, status)


def find_versions(article_id: str, output_dir: Path, revisions: Path) -> list[Version]:
    """The article's versions, oldest first (empty when it has no file)."""
    older = sorted(p for p in revisions.glob(f"*/{article_id}/*.md") if p.is_file())
    current = sorted(p for p in output_dir.rglob(f"{article_id}.*md") if p.is_file())
    paths = [*older, *current[:1]]
    return [_version(path, index == 0) for index, path in enumerate(paths)]


def history(article_id: str, output_dir: Path, revisions: Path) -> str:
    """The listing and the diffs, as printed."""
    versions = find_versions(article_id, output_dir, revisions)
    lines = [f"{v.time or '-':25}  {v.sha256}  {v.status:8}  {v.path}" for v in versions]
    for before, after in zip(versions, versions[1:], strict=False):
        diff = difflib.unified_diff(
            body_text(before.text).splitlines(),
            body_text(after.text).splitlines(),
            fromfile=f"{before.time or before.path.name}",
            tofile=f"{after.time or after.path.name}",
            lineterm="",
        )
        lines.extend(diff)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """``newscrawl history ID [--output DIR] [--revisions DIR]``; exit 1 when the id has no file,
    2 when it is no article id."""
    from scrapy.settings import Settings

    from newscrawl.crawl.revisit import revisions_dir
    from newscrawl.crawl.writer import is_safe_id

    settings = Settings()
    settings.setmodule("newscrawl.settings", priority="project")
    parser = argparse.ArgumentParser(prog="newscrawl history", description=__doc__.split("\n\n")[0])
    parser.add_argument("id", help="the article id (as in its file name)")
    parser.add_argument("--output", type=Path, help="the output folder (default: OUTPUT_DIR)")
    parser.add_argument("--revisions", type=Path, help="the revisions folder (default: REVISIONS_DIR)")
    args = parser.parse_args(argv)
    output = args.output or Path(settings.get("OUTPUT_DIR"))
    if args.output is not None and args.revisions is None:
        settings.set("OUTPUT_DIR", str(output))
    revisions = args.revisions or revisions_dir(settings)
    if not is_safe_id(args.id):
        # Not an id any article file can have; as a glob pattern it could also read outside
        # the folders ("../..") or match other articles ("*").
        print(f"newscrawl: {args.id!r} is not an article id (letters, digits, - and _)", file=sys.stderr)
        return 2
    if not find_versions(args.id, output, revisions):
        print(f"newscrawl: no file of article {args.id} under {output}", file=sys.stderr)
        return 1
    sys.stdout.write(history(args.id, output, revisions))
    return 0
