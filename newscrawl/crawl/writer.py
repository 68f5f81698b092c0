"""The one component that writes article files: safe paths, atomic replace.

A file is written to a temporary name in its final folder and renamed over the target
(``os.replace`` is atomic on POSIX), so a crawl killed at any instant leaves either the
old file or the new one, never a partial ``.md``. Two runs writing the same article at
once are harmless for the same reason: each rename installs a complete file.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from newscrawl.convert.article import Article
from newscrawl.convert.htmlblocks import COMPILED
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.crawl.pipelines import ArticlePipeline
from newscrawl.osutil import DIR_FD, HOST_AND_NAMESPACE, TMP_SUFFIX, Folder, pid_alive, write_atomic

logger = logging.getLogger(__name__)

# What may appear in a path component. Anything else (a "/", "..", a NUL) is refused.
_SAFE_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,79}$")
_SAFE_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[0-9A-Za-z]{2,8})*$")
_SAFE_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
STALE_TMP_SECONDS = 3600


_HOST = HOST_AND_NAMESPACE  # as temp file names carry it (osutil.write_atomic)
_TMP_OWNER = re.compile(r"\.([0-9A-Za-z-]+)@(\d+)\.[^.]*\.tmp$")


def python_utf8(text: str) -> bytes:
    """A file's bytes: ``text.encode("utf-8")`` (``_cwalk.file_utf8``'s reference)."""
    return text.encode("utf-8")


# The file text's UTF-8 written by the compiled module when it runs (``_cwalk.file_utf8``: the same
# bytes at about half CPython's cost on a two-byte str, which a Chinese page's text is).
utf8 = getattr(COMPILED, "file_utf8", None) or python_utf8


class UnsafePath(ValueError):
    pass


def resolved_dir(folder: Path) -> Path:
    """``folder.resolve()``, cached per working directory (see ``_article_folder``)."""
    return _resolved(os.getcwd(), str(folder))


@functools.lru_cache(maxsize=256)
def _resolved(cwd: str, folder: str) -> Path:
    return Path(cwd, folder).resolve()


@functools.lru_cache(maxsize=256)
def _article_folder(cwd: str, output_dir: str, template: str, lang: str, source: str) -> tuple[Path, str]:
    """(resolved output root, template) once the template is known to stay inside the root.

    Ids, languages and sources are single path-safe tokens (checked per article), so a
    template that stays strictly inside the root for one id does so for every id: the
    check runs once per template, not once per article. Folders are resolved here once;
    one replaced by a symlink during a run is noticed by the next run. (A file replaced by
    a symlink is harmless: the writer renames over the link, never writes through it.)
    """
    root = _resolved(cwd, output_dir)
    probe = (root / template.format(id="ID0", lang=lang, source=source)).resolve()
    if probe == root or root not in probe.parents:
        raise UnsafePath(f"{template!r} leaves the output folder")
    return root, template


def is_safe_id(article_id: str) -> bool:
    """An id that is one path-safe token (no separator, no ``..``, no glob character)."""
    return bool(_SAFE_ID.match(article_id))


def article_path(output_dir: Path, template: str, article_id: str, lang: str, source: str) -> Path:
    """Where an article's file goes; raises UnsafePath rather than leave ``output_dir``."""
    if not _SAFE_ID.match(article_id):
        raise UnsafePath(f"unsafe article id {article_id!r}")
    if not _SAFE_LANG.match(lang):
        raise UnsafePath(f"unsafe language {lang!r}")
    if not _SAFE_SOURCE.match(source):
        raise UnsafePath(f"unsafe source {source!r}")
    root, template = _article_folder(os.getcwd(), str(output_dir), template, lang, source)
    return root / template.format(id=article_id, lang=lang, source=source)


def existing_article_file(
    output_dir: str | Path, template: str, ids: Iterable[str], lang: str, source: str
) -> Path | None:
    """The file of an already archived article under any of its id forms, or None.

    One ``stat`` per form, no directory scan: cheap on a folder of 100,000 articles. Only a
    file counts: a folder (or anything else) at an article's path is no archived article, so
    the article is fetched and the writer reports the path it cannot write (``write_error``).

    The spider asks this for every article it considers, so the paths are joined as strings
    where that gives ``article_path``'s path (see ``_plain_prefix``): ``Path`` objects, the
    language, source and template checks and a ``getcwd`` per form cost several times the stat.
    """
    folder = os.fspath(output_dir)
    # An absolute folder resolves the same from any working directory: no getcwd() then.
    prefix = _plain_prefix("" if folder[:1] == "/" else os.getcwd(), folder, template, lang, source)
    if prefix is None:  # the language, source or template is refused: so is every form
        return None
    if prefix:
        for article_id in ids:
            if _SAFE_ID.match(article_id):
                path = prefix + template.format(id=article_id, lang=lang, source=source)
                if os.path.isfile(path):
                    return Path(path)
        return None
    for article_id in ids:
        try:
            path = article_path(Path(output_dir), template, article_id, lang, source)
        except UnsafePath:
            continue
        if os.path.isfile(path):
            return path
    return None


@functools.lru_cache(maxsize=256)
def _plain_prefix(cwd: str, output_dir: str, template: str, lang: str, source: str) -> str | None:
    """The resolved output root as a path prefix (``"/out/"``) when ``prefix + template.format(...)``
    is ``article_path``'s path for every safe id; ``""`` when it may not be (then each path goes
    through ``article_path``); None when ``article_path`` refuses every id (an unsafe language,
    source or template). ``cwd`` is ``""`` for an absolute ``output_dir``. Used by the writer
    (``WriterPipeline._prefix``) and the existing-file check alike.

    A template of bare ``{id}``/``{lang}``/``{source}`` fields whose probe path is already normal
    gives normal paths for every id, because ids, languages and sources are single tokens of
    ``[0-9A-Za-z_-]`` (plus ``-`` joined parts for a language).
    """
    try:
        probe = article_path(Path(cwd or "/", output_dir), template, "ID0", lang, source)
    except UnsafePath:
        return None
    relative = template.format(id="ID0", lang=lang, source=source)
    if not (_plain_template(template) and str(Path(relative)) == relative and relative[:1] != "/"):
        return ""
    prefix = os.path.join(str(_resolved(cwd or "/", output_dir)), "")
    return prefix if prefix + relative == str(probe) else ""


def _stale(tmp: Path, limit: float) -> bool:
    """A temp file whose writer is dead: its process is gone (same host) or it is old."""
    match = _TMP_OWNER.search(tmp.name)
    if match and match.group(1) == _HOST and not pid_alive(int(match.group(2))):
        return True
    return tmp.stat().st_mtime < limit


def remove_stale_temp_files(root: Path, older_than: float = STALE_TMP_SECONDS) -> int:
    """Delete temp files a killed run left behind, never those of a run still writing.

    Temp names carry the writer's host and pid: on this host a dead pid means the file is
    an orphan; files of other hosts (a shared disk) are removed once ``older_than`` old.
    """
    removed = 0
    if not root.is_dir():
        return 0
    limit = time.time() - older_than
    for tmp in root.rglob(f".*{TMP_SUFFIX}"):
        try:
            if _stale(tmp, limit):
                tmp.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


class WriterPipeline(ArticlePipeline):
    """Writes ``article.markdown`` to its path under OUTPUT_DIR; skips unchanged files."""

    owns_disk = True

    def __init__(self, settings: BaseSettings, stats: Any = None) -> None:
        super().__init__(settings, stats)
        self.output_dir = Path(settings.get("OUTPUT_DIR", "output"))
        self.template = settings.get("OUTPUT_PATH_TEMPLATE")
        self.fsync = settings.getbool("WRITE_FSYNC")
        # (working directory, lang, source) -> how its articles' paths are made (``_Where``), or None
        # when the template's paths are not plain strings (then each one goes through Path).
        self._wheres: dict[tuple[str, str, str], _Where | None] = {}
        self._cwd_free = "/" if self.output_dir.is_absolute() else ""  # no getcwd() per article then
        # Set (to an empty set) by a single-process rebuild into a folder that held no file:
        # the hashes of the paths this writer wrote; any other path needs no read of an old file.
        self.written_here: set[int] | None = None
        # Whether ``article.sha256`` is set: the manifest, revisits and any later pipeline read it.
        # A rebuild whose writer is its last step (nothing reads the item after it) turns it off.
        self.digest = True

    def open_spider(self, spider=None) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        removed = remove_stale_temp_files(self.output_dir)
        if removed:
            logger.info("Removed %d stale temporary files from %s", removed, self.output_dir)

    def path_for(self, article: Article) -> Path:
        return article_path(self.output_dir, self.template, article.id, article.lang, article.source)

    def close_spider(self, spider=None) -> None:
        for where in self._wheres.values():
            if where is not None and where.folder is not None:
                where.folder.close()

    def target(self, article: Article) -> tuple[str, str]:
        """(path, path relative to the output folder) of an article's file, as strings: what
        ``path_for`` and ``relative_to`` give, without building ``Path`` objects per article."""
        path, relative, _, _ = self._place(article)
        return path, relative

    def _place(self, article: Article) -> tuple[str, str, Folder | None, str]:
        """(path, relative path, the file's folder when it is the same for every id, file name).

        The checks are ``article_path``'s: the id per article, the language, source and template
        once per (working directory, language, source). A template whose fields are plain
        ``{id}``/``{lang}``/``{source}`` and whose probe path is already normal (no ``//``, ``.``
        part or trailing ``/``) gives normal paths for every id (ids, languages and sources are
        single tokens of ``[0-9A-Za-z_-]``), so the string join equals ``root / relative``.
        """
        article_id, lang, source = article.id, article.lang, article.source
        if not _SAFE_ID.match(article_id):
            raise UnsafePath(f"unsafe article id {article_id!r}")
        key = (self._cwd_free or os.getcwd(), lang, source)
        try:
            where = self._wheres[key]
        except KeyError:
            where = self._wheres[key] = self._where(article)
        if where is None:  # a template whose paths are not plain strings: through Path
            path = self.path_for(article)
            return str(path), str(path.relative_to(resolved_dir(self.output_dir))), None, ""
        if where.parts is None:
            relative = self.template.format(id=article_id, lang=lang, source=source)
        else:
            relative = article_id.join(where.parts)
        return where.prefix + relative, relative, where.folder, relative[where.cut :]

    def _where(self, article: Article) -> _Where | None:
        """How paths are made for the article's (language, source), or None when the template's
        paths are not plain strings. Runs every check of ``article_path`` (raises UnsafePath)."""
        self.path_for(article)
        cwd = "" if self._cwd_free else os.getcwd()
        lang, source = article.lang, article.source
        prefix = _plain_prefix(cwd, str(self.output_dir), self.template, lang, source)
        if not prefix:
            return None
        # The template with the language and source filled in, cut where the id goes: the id
        # joins the parts (a NUL is in no language, source or safe id: only a template's own
        # NUL would be ambiguous, and such a template is formatted per article).
        parts = None if "\0" in self.template else self.template.format(id="\0", lang=lang, source=source).split("\0")
        folder, cut = None, 0
        if parts is not None and DIR_FD and not any("/" in part for part in parts[1:]):
            # The id only in the file name: every article of this key goes into one folder.
            cut = parts[0].rfind("/") + 1
            folder = Folder((prefix + parts[0][:cut]).rstrip("/") or "/")
        return _Where(prefix, parts, folder, cut)

    def process_article(self, article: Article) -> Article:
        try:
            path, relative, folder, name = self._place(article)
        except UnsafePath as exc:
            logger.error("Refusing to write %s: %s", article.url, exc)
            raise ArticleDropped("unsafe_path", str(exc)) from exc
        data = utf8(article.markdown)
        if self.digest:
            article.sha256 = hashlib.sha256(data).hexdigest()
        written_here = self.written_here
        if written_here is not None and hash(path) not in written_here:
            old = None  # a folder that was empty, and no file of ours there yet
        elif folder is not None:
            old = folder.read(name)
        else:
            try:  # os.open first: a missing file (the common case) costs one failed system call
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                old = None
            else:
                with open(fd, "rb") as handle:
                    old = handle.read()
        article.path = relative
        if old == data:
            article.status = "unchanged"
            self.inc("articles/unchanged")
            return article
        if folder is not None:
            folder.write(name, data, self.fsync)
        else:
            write_atomic(path, data, self.fsync)
        if written_here is not None:
            written_here.add(hash(path))
        article.status = "written" if old is None else "updated"
        self.inc(f"articles/{article.status}")
        logger.debug("Wrote %s", path)
        return article


@dataclass(slots=True)
class _Where:
    """How the writer makes the paths of one (working directory, language, source)."""

    prefix: str  # the resolved output root as a path prefix ("/out/")
    parts: list[str] | None  # the relative path around the id ("en/news/site/", ".en.md"), or None: format it
    folder: Folder | None  # the files' one folder, when the id is only in the file name
    cut: int  # where the file name starts in the relative path (with a folder)


@functools.lru_cache(maxsize=64)
def _plain_template(template: str) -> bool:
    """Whether the template's fields are all bare ``{id}``, ``{lang}`` or ``{source}`` (no
    conversion, format spec, index or attribute that could put a ``/`` or ``.`` in a path)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False
    return all(
        name is None or (name in ("id", "lang", "source") and not spec and conversion is None)
        for _, name, spec, conversion in fields
    )
