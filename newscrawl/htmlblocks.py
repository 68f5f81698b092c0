"""HTML body markup -> typed blocks (site-independent).

One walk over the lxml tree. Every block-level element closes the paragraph being
built, so nested ``<section><div><p>`` wrappers collapse to one paragraph each and two
``<div>`` paragraphs can never be glued together. Images always become blocks of their
own (also when they sit inside a heading, a link or a bold run), except in table cells
where they stay inline. Text is kept raw here; the text pipeline normalizes it.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from newscrawl.article import (
    Block,
    Code,
    Heading,
    Image,
    ImageBlock,
    Inline,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Span,
    Table,
    Video,
)

# Elements whose content is never article text.
SKIP_TAGS = frozenset(
    "script style noscript template svg math button input select textarea head "
    "object embed canvas audio video map area source track link meta title".split()
)
BLOCK_TAGS = frozenset(
    "p div section article header footer main aside center figure figcaption address "
    "dl dt dd form fieldset details summary nav hgroup li tr caption".split()
)
HEADING_LEVELS = {"h1": 2, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BOLD_TAGS = frozenset(("strong", "b"))
ITALIC_TAGS = frozenset(("em", "i", "cite", "dfn"))
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(?:bold|[6-9]00)", re.I)
_VID_IN_URL = re.compile(r"[?&]vid=([0-9A-Za-z]+)")

# (bold, italic, code, href)
Style = tuple[bool, bool, bool, "str | None"]
_PLAIN: Style = (False, False, False, None)


def image_src(el: etree._Element) -> str:
    """The real image URL of an ``<img>``: lazy-load ``data-src`` wins over ``src``."""
    for attr in ("data-src", "data-original", "src"):
        value = el.get(attr)
        if value and not value.startswith("data:"):
            return value.strip()
    return ""


class _Builder:
    """Collects blocks; ``inline`` holds the paragraph (or heading) being built."""

    __slots__ = ("blocks", "inline", "heading", "in_cell")

    def __init__(self, in_cell: bool = False) -> None:
        self.blocks: list[Block] = []
        self.inline: list[Inline] = []
        self.heading = 0
        self.in_cell = in_cell

    def text(self, text: str, style: Style) -> None:
        bold, italic, code, href = style
        self.inline.append(Span(text, bold, italic, code, href))

    def flush(self) -> None:
        if not self.inline:
            return
        if self.in_cell:
            return  # cells keep everything inline; the table builder takes it
        spans: list[Span] = []
        for item in self.inline:
            if isinstance(item, Image):
                self._close(spans)
                spans = []
                self.blocks.append(ImageBlock(item))
            else:
                spans.append(item)
        self._close(spans)
        self.inline = []

    def _close(self, spans: list[Span]) -> None:
        if not spans or all(not s.text.strip() for s in spans):
            return
        if self.heading:
            self.blocks.append(Heading(self.heading, spans))
        else:
            self.blocks.append(Paragraph(spans))

    def block(self, block: Block) -> None:
        self.flush()
        self.blocks.append(block)


def _style_for(tag: str, el: etree._Element, style: Style) -> Style:
    bold, italic, code, href = style
    if tag in BOLD_TAGS:
        bold = True
    elif tag in ITALIC_TAGS:
        italic = True
    elif tag == "code" or tag == "kbd" or tag == "samp" or tag == "tt":
        code = True
    elif tag == "a":
        link = (el.get("href") or "").strip()
        href = link if link.startswith(("http://", "https://", "//")) else None
    elif tag == "span" or tag == "font":
        cls = el.get("class")
        if cls and "qnt-strong" in cls:
            bold = True
        else:
            css = el.get("style")
            if css and "bold" in css or css and "font-weight" in css and _BOLD_STYLE.search(css):
                bold = True
    return (bold, italic, code, href)


def _walk(el: etree._Element, b: _Builder, style: Style) -> None:
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):  # comment or processing instruction
            if child.tail:
                b.text(child.tail, style)
            continue
        if tag not in SKIP_TAGS:
            _element(child, tag, b, style)
        if child.tail:
            b.text(child.tail, style)


def _element(el: etree._Element, tag: str, b: _Builder, style: Style) -> None:
    if tag == "img":
        src = image_src(el)
        if src:
            b.inline.append(Image(src, el.get("alt") or ""))
        return
    if tag == "br":
        if b.in_cell:
            b.text(" ", style)
        else:
            b.flush()
        return
    if tag == "div" and el.get("data-widget") == "video":
        vid = el.get("data-vid")
        if vid and not b.in_cell:
            b.block(Video(vid, (el.get("data-title") or "").strip()))
            return
    if tag == "iframe":
        match = _VID_IN_URL.search(el.get("src") or "")
        if match and not b.in_cell:
            b.block(Video(match.group(1)))
        return
    if b.in_cell:
        # Inside a table cell everything is inline: block boundaries become spaces.
        if tag in BLOCK_TAGS or tag in HEADING_LEVELS or tag == "table":
            b.text(" ", style)
        if el.text:
            b.text(el.text, _style_for(tag, el, style))
        _walk(el, b, _style_for(tag, el, style))
        return
    level = HEADING_LEVELS.get(tag)
    if level:
        b.flush()
        b.heading = level
        if el.text:
            b.text(el.text, style)
        _walk(el, b, style)
        b.flush()
        b.heading = 0
        return
    if tag in BLOCK_TAGS:
        cls = el.get("class")
        if tag == "div" and cls and "qnt-h2" in cls:
            b.flush()
            b.heading = 2
            if el.text:
                b.text(el.text, style)
            _walk(el, b, style)
            b.flush()
            b.heading = 0
            return
        b.flush()
        if el.text:
            b.text(el.text, style)
        _walk(el, b, style)
        b.flush()
        return
    if tag == "ul" or tag == "ol":
        b.block(_list(el, ordered=tag == "ol"))
        return
    if tag == "table":
        table = _table(el)
        if table is not None:
            b.block(table)
        return
    if tag == "blockquote":
        b.block(Quote(convert_element(el)))
        return
    if tag == "pre":
        b.block(Code(el.text_content()))
        return
    if tag == "hr":
        b.block(Rule())
        return
    # Inline element (span, strong, a, em, font, u, ...).
    inner = _style_for(tag, el, style)
    if el.text:
        b.text(el.text, inner)
    _walk(el, b, inner)


def _list(el: etree._Element, ordered: bool) -> ListBlock:
    items: list[list[Block]] = []
    loose = _Builder()
    for child in el:
        tag = child.tag
        if tag == "li":
            if loose.inline or loose.blocks:
                items.append(_finish(loose))
                loose = _Builder()
            items.append(convert_element(child))
        elif isinstance(tag, str) and tag not in SKIP_TAGS:
            _element(child, tag, loose, _PLAIN)
        if child.tail and child.tail.strip():
            loose.text(child.tail, _PLAIN)
    if loose.inline or loose.blocks:
        items.append(_finish(loose))
    return ListBlock(ordered, [item for item in items if item])


def _cell(el: etree._Element) -> list[Inline]:
    b = _Builder(in_cell=True)
    if el.text:
        b.text(el.text, _PLAIN)
    _walk(el, b, _PLAIN)
    return b.inline


def _table(el: etree._Element) -> Table | None:
    rows: list[list[list[Inline]]] = []
    for tr in el.iter("tr"):
        # Rows of a nested table are flattened into their outer cell, not repeated here.
        parent = tr.getparent()
        while parent is not None and parent.tag != "table":
            parent = parent.getparent()
        if parent is not el:
            continue
        cells = [_cell(td) for td in tr if td.tag in ("td", "th")]
        if cells:
            rows.append(cells)
    return Table(rows) if rows else None


def _finish(b: _Builder) -> list[Block]:
    b.flush()
    return b.blocks


def convert_element(el: etree._Element) -> list[Block]:
    """Blocks of an element's content (the element's own tag is not a block)."""
    b = _Builder()
    if el.text:
        b.text(el.text, _PLAIN)
    _walk(el, b, _PLAIN)
    return _finish(b)


def parse_fragment(html: str) -> etree._Element:
    """Parse a body fragment into a ``<div>`` wrapper element."""
    return lxml.html.fragment_fromstring(html, create_parent="div")


def html_to_blocks(html: str) -> list[Block]:
    """Blocks of an HTML fragment (the content of a body container)."""
    if not html or not html.strip():
        return []
    return convert_element(parse_fragment(html))
