"""The typed article that flows from extraction through the pipelines to the writer.

The body is a list of blocks, not HTML and not Markdown: extraction turns the page's
markup into blocks once, each pipeline normalizes one aspect of them (text, images,
dates, summary), and the Markdown renderer is the only code that knows Markdown syntax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Span:
    """A run of inline text with one style. ``href`` is set only for http(s) links."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    href: str | None = None


@dataclass(slots=True)
class Image:
    """A content image. ``src`` is made absolute https by the image pipeline."""

    src: str
    alt: str = ""


Inline = Span | Image


@dataclass(slots=True)
class Paragraph:
    spans: list[Span]


@dataclass(slots=True)
class Heading:
    level: int
    spans: list[Span]


@dataclass(slots=True)
class ImageBlock:
    image: Image


@dataclass(slots=True)
class Video:
    """An embedded video, rendered as a link to ``url`` (its page on the site's video host)."""

    vid: str
    title: str = ""
    url: str = ""


@dataclass(slots=True)
class ListBlock:
    ordered: bool
    items: list[list[Block]]


@dataclass(slots=True)
class Table:
    rows: list[list[list[Inline]]]  # rows -> cells -> inline content


@dataclass(slots=True)
class Code:
    text: str


@dataclass(slots=True)
class Quote:
    blocks: list[Block]


@dataclass(slots=True)
class Rule:
    pass


Block = Paragraph | Heading | ImageBlock | Video | ListBlock | Table | Code | Quote | Rule


@dataclass
class Article:
    """One article, as extracted and then normalized.

    Extraction fills the raw fields (``published_raw`` as the page wrote it); the
    pipelines fill ``published``, ``summary`` and ``markdown``; the writer fills ``path``.
    """

    id: str
    url: str
    source: str = ""
    lang: str = ""
    title: str = ""
    media: str = ""
    published_raw: str = ""
    published: datetime | None = None
    thumbnail: str = ""
    body: list[Block] = field(default_factory=list)
    summary: str = ""
    markdown: str = ""
    path: str = ""
    fetched_url: str = ""
    # The page's <base href> when it names a Tencent host; relative URLs resolve against it,
    # else against ``url`` (never against ``fetched_url``, which may be a mirror's).
    base_url: str = ""
    template: str = ""
    # Metadata a feed listed for this article; fills gaps the page leaves.
    feed: dict[str, str] = field(default_factory=dict)
    # Downloaded images (IMAGES_DOWNLOAD): {"url", "local", "file", "status"[, "error"]} each.
    images: list[dict[str, str]] = field(default_factory=list)
    # Set by the writer for the manifest: SHA-256 of the file, and written/updated/unchanged.
    sha256: str = ""
    status: str = ""
    # Revisits (newscrawl.crawl.revisit): when the page was answered, and the replaced file's SHA-256.
    fetched_at: datetime | None = None
    previous_sha256: str = ""


def iter_blocks(blocks: list[Block]):
    """Yield every block, descending into lists and quotes, in document order."""
    for block in blocks:
        yield block
        if isinstance(block, ListBlock):
            for item in block.items:
                yield from iter_blocks(item)
        elif isinstance(block, Quote):
            yield from iter_blocks(block.blocks)


def iter_images(blocks: list[Block]):
    """Yield every Image of the body (block images and images inside table cells)."""
    for block in iter_blocks(blocks):
        if isinstance(block, ImageBlock):
            yield block.image
        elif isinstance(block, Table):
            for row in block.rows:
                for cell in row:
                    for item in cell:
                        if isinstance(item, Image):
                            yield item
