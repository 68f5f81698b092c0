"""HTML body markup -> typed blocks (site-independent).

One walk over the lxml tree. Every block-level element closes the paragraph being
built, so nested ``<section><div><p>`` wrappers collapse to one paragraph each and two
``<div>`` paragraphs can never be glued together. Images always become blocks of their
own (also when they sit inside a heading, a link or a bold run), except in table cells
where they stay inline. Text is kept raw here; the text pipeline normalizes it.

What is site-specific (bold and subhead classes, video widgets, the video link) comes from
the site's :class:`~newscrawl.sites.base.Markup`, carried by the builder through the walk.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from types import ModuleType

from lxml import etree

from newscrawl.convert.article import (
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
from newscrawl.sites.base import PLAIN_MARKUP, Markup

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
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(?:bold|[6-9]00)", re.I)

# (bold, italic, code, href)
Style = tuple[bool, bool, bool, "str | None"]
_PLAIN: Style = (False, False, False, None)

# What each tag is, decided once per tag name (one dict lookup per element on the hot path).
_SKIP, _BLOCK, _HEADING, _INLINE, _STYLED, _IMG, _BR, _LIST, _TABLE, _QUOTE, _PRE, _HR, _IFRAME = range(13)
_KIND: dict[str, int] = {tag: _SKIP for tag in SKIP_TAGS}
_KIND.update({tag: _BLOCK for tag in BLOCK_TAGS})
_KIND.update({tag: _HEADING for tag in HEADING_LEVELS})
_KIND.update({tag: _STYLED for tag in "strong b em i cite dfn code kbd samp tt a span font".split()})
_KIND.update(img=_IMG, br=_BR, ul=_LIST, ol=_LIST, table=_TABLE, blockquote=_QUOTE, pre=_PRE, hr=_HR)
_KIND["iframe"] = _IFRAME

# HTML parser: comments and processing instructions are never text, so libxml2 drops them.
# huge_tree lifts libxml2's nesting limit from 256 to 2048 levels (300 nested <span>s are
# real-world markup); deeper than that libxml2 stops and drops the rest, see TooDeep.
# collect_ids=False: libxml2 would register every id attribute in a hash table (and free it with
# the tree) for id() lookups nothing here makes (XPaths test @id as an attribute); same tree.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True, collect_ids=False)
# The same parser for the page as UTF-8 bytes (``_cwalk.utf8_for_parser``, see ``_parse``).
_PARSER_UTF8 = etree.HTMLParser(
    remove_comments=True, remove_pis=True, no_network=True, huge_tree=True, collect_ids=False, encoding="utf-8"
)


# The walk's nesting limit, in nested calls of its recursive functions (one or two per element:
# <span>s inside <span>s cost one each, a list item inside a list two). An explicit count,
# so the outcome is the same whatever the caller's stack and whether this module runs as
# Python (where Python's recursion limit, 1000 frames by default, would stop it too) or
# compiled (where compiled calls do not count against that limit).
MAX_DEPTH = 800


class TooDeep(ValueError):
    """The markup nests deeper than the parser or the converter follows: converting it
    would lose text, so the page is reported instead of written truncated."""


def _parse(html: str, start: int = 0) -> etree._Element | None:
    # A str is handed to libxml2 in its own storage (UTF-16 for CJK text), which libxml2 converts
    # to UTF-8 before parsing; the compiled module writes that UTF-8 several times faster, from
    # ``start`` on (no copy of the str's tail), and the parser, told the encoding, reads the same
    # bytes (None: parse the str, as without it).
    data = _utf8(html, start) if _utf8 is not None else None
    if data is None:
        source, parser = (html[start:] if start else html), _PARSER
    else:
        source, parser = data, _PARSER_UTF8
    root = etree.fromstring(source, parser)
    for error in parser.error_log:
        # libxml2 stops at its depth limit and silently returns what it had so far.
        if error.type_name == "ERR_RESOURCE_LIMIT" or "Excessive depth" in error.message:
            raise TooDeep(f"HTML nested deeper than the parser's limit ({error.message.strip()})")
    return root


def image_src(el: etree._Element) -> str:
    """The real image URL of an ``<img>``: lazy-load ``data-src`` wins over ``src``."""
    for attr in ("data-src", "data-original", "src"):
        value = el.get(attr)
        if value and not value.startswith("data:"):
            return value.strip()
    return ""


def text_of(el: etree._Element) -> str:
    """All text below an element (``text_content()`` for plain etree elements)."""
    return "".join(el.itertext())


class _Builder:
    """Collects blocks; ``inline`` holds the paragraph (or heading) being built."""

    __slots__ = ("blocks", "inline", "heading", "in_cell", "markup")

    def __init__(self, markup: Markup, in_cell: bool = False) -> None:
        self.blocks: list[Block] = []
        self.inline: list[Inline] = []
        self.heading = 0
        self.in_cell = in_cell
        self.markup = markup

    def flush(self) -> None:
        """Close the paragraph being built (callers check ``inline`` is non-empty)."""
        inline = self.inline
        if self.in_cell:
            return  # cells keep everything inline; the table builder takes it
        if len(inline) == 1 and inline[0].__class__ is Span:  # the common case, without a call
            if not inline[0].text.isspace():
                self.blocks.append(Heading(self.heading, inline) if self.heading else Paragraph(inline))
            self.inline = []
            return
        spans: list[Span] = []
        for item in inline:
            if item.__class__ is Image:
                self._close(spans)
                spans = []
                self.blocks.append(ImageBlock(item))
            else:
                spans.append(item)
        self._close(spans)
        self.inline = []

    def _close(self, spans: list[Span]) -> None:
        for span in spans:
            if not span.text.isspace():
                break
        else:
            return  # nothing but whitespace
        if self.heading:
            self.blocks.append(Heading(self.heading, spans))
        else:
            self.blocks.append(Paragraph(spans))

    def block(self, block: Block) -> None:
        if self.inline:
            self.flush()
        self.blocks.append(block)


def _has_class(cls: str, names: tuple[str, ...]) -> bool:
    for name in names:
        if name in cls:
            return True
    return False


def _video_iframe_pattern(markup: Markup) -> re.Pattern | None:
    """``[?&]<param>=(id)`` of an embedded player's URL, compiled once per markup."""
    if not markup.iframe_video_param:
        return None
    pattern = _IFRAME_PATTERNS.get(markup.iframe_video_param)
    if pattern is None:
        pattern = re.compile(rf"[?&]{re.escape(markup.iframe_video_param)}=([0-9A-Za-z]+)")
        _IFRAME_PATTERNS[markup.iframe_video_param] = pattern
    return pattern


_IFRAME_PATTERNS: dict[str, re.Pattern] = {}


def _video(markup: Markup, vid: str, title: str = "") -> Video:
    return Video(vid, title, markup.video_url.format(vid=vid) if markup.video_url else "")


def _style_for(tag: str, el: etree._Element, style: Style, markup: Markup) -> Style:
    if tag == "span" or tag == "font":
        cls = el.get("class")
        if cls and _has_class(cls, markup.bold_classes):
            return (True, style[1], style[2], style[3])
        css = el.get("style")
        if css and "font-weight" in css and _BOLD_STYLE.search(css):
            return (True, style[1], style[2], style[3])
        return style
    if tag == "strong" or tag == "b":
        return (True, style[1], style[2], style[3])
    if tag == "a":
        link = (el.get("href") or "").strip()
        href = link if link.startswith(("http://", "https://", "//")) else None
        return (style[0], style[1], style[2], href)
    if tag == "code" or tag == "kbd" or tag == "samp" or tag == "tt":
        return (style[0], style[1], True, style[3])
    return (style[0], True, style[2], style[3])  # em i cite dfn


def _walk(el: etree._Element, b: _Builder, style: Style, depth: int) -> None:
    """Add the content of ``el`` (its text, children and their tails) to ``b``.

    The hot loop of the conversion: lxml attribute reads build new strings, so each is
    read once; plain inline elements and leaf blocks are handled here without a call.
    ``depth`` counts the walk's nested calls (see ``MAX_DEPTH``).
    """
    if depth > MAX_DEPTH:
        raise TooDeep("HTML nested deeper than the converter follows")
    inline = b.inline
    bold, italic, code, href = style
    for child in el:
        tag = child.tag
        kind = _KIND.get(tag, _INLINE) if tag.__class__ is str else _SKIP
        if kind == _STYLED or kind == _INLINE:
            inner = _style_for(tag, child, style, b.markup) if kind == _STYLED else style
            text = child.text
            if text:
                inline.append(Span(text, inner[0], inner[1], inner[2], inner[3]))
            if len(child):
                _walk(child, b, inner, depth + 1)
                inline = b.inline  # a nested block may have flushed
        elif kind == _BLOCK and not b.in_cell and (tag != "div" or not _special_div(child, b.markup)):
            # The common case (<p>, <section>, plain <div>), inlined: close the paragraph
            # before, add the block's content, close it after.
            if inline:
                b.flush()
            text = child.text
            if not len(child):  # a leaf block: its text is the whole paragraph
                if text and not text.isspace():
                    span = Span(text, bold, italic, code, href)
                    b.blocks.append(Heading(b.heading, [span]) if b.heading else Paragraph([span]))
            else:
                if text:
                    b.inline.append(Span(text, bold, italic, code, href))
                _walk(child, b, style, depth + 1)
                if b.inline:
                    b.flush()
            inline = b.inline
        elif kind != _SKIP:
            _element(child, kind, tag, b, style, depth + 1)
            inline = b.inline
        tail = child.tail
        if tail:
            inline.append(Span(tail, bold, italic, code, href))


def _special_div(el: etree._Element, markup: Markup) -> bool:
    """A video widget or a subhead of the site's markup: handled by ``_element``."""
    if markup.video_attribute and el.get(markup.video_attribute) == markup.video_value:
        return True
    cls = el.get("class")
    return bool(cls and _has_class(cls, markup.subhead_classes))


def _element(el: etree._Element, kind: int, tag: str, b: _Builder, style: Style, depth: int) -> None:
    if kind == _IMG:
        src = image_src(el)
        if src:
            b.inline.append(Image(src, el.get("alt") or ""))
        return
    if kind == _BR:
        if b.in_cell:
            b.inline.append(Span(" "))
        elif b.inline:
            b.flush()
        return
    if b.in_cell:
        if kind == _IFRAME:
            return
        # Inside a table cell everything is inline: block boundaries become spaces.
        if kind != _INLINE:
            b.inline.append(Span(" "))
        if el.text:
            b.inline.append(Span(el.text, style[0], style[1], style[2], style[3]))
        _walk(el, b, style, depth + 1)
        return
    if kind == _BLOCK:
        if tag == "div":
            markup = b.markup
            if (
                markup.video_attribute
                and el.get(markup.video_attribute) == markup.video_value
                and el.get(markup.video_id_attribute)
            ):
                title = (el.get(markup.video_title_attribute) or "").strip() if markup.video_title_attribute else ""
                b.block(_video(markup, el.get(markup.video_id_attribute), title))
                return
            cls = el.get("class")
            if cls and _has_class(cls, markup.subhead_classes):
                _heading(el, 2, b, style, depth + 1)
                return
        if b.inline:
            b.flush()
        if el.text:
            b.inline.append(Span(el.text, style[0], style[1], style[2], style[3]))
        _walk(el, b, style, depth + 1)
        if b.inline:
            b.flush()
    elif kind == _HEADING:
        _heading(el, HEADING_LEVELS[tag], b, style, depth + 1)
    elif kind == _LIST:
        b.block(_list(el, b.markup, tag == "ol", depth + 1))
    elif kind == _TABLE:
        table = _table(el, b.markup, depth + 1)
        if table is not None:
            b.block(table)
    elif kind == _QUOTE:
        b.block(Quote(convert_element(el, b.markup, depth + 1)))
    elif kind == _PRE:
        b.block(Code(text_of(el)))
    elif kind == _HR:
        b.block(Rule())
    elif kind == _IFRAME:
        pattern = _video_iframe_pattern(b.markup)
        match = pattern.search(el.get("src") or "") if pattern else None
        if match:
            b.block(_video(b.markup, match.group(1)))


def _heading(el: etree._Element, level: int, b: _Builder, style: Style, depth: int) -> None:
    if b.inline:
        b.flush()
    b.heading = level
    if el.text:
        b.inline.append(Span(el.text, style[0], style[1], style[2], style[3]))
    _walk(el, b, style, depth + 1)
    if b.inline:
        b.flush()
    b.heading = 0


def _list(el: etree._Element, markup: Markup, ordered: bool, depth: int) -> ListBlock:
    items: list[list[Block]] = []
    loose = _Builder(markup)
    for child in el:
        tag = child.tag
        if tag == "li":
            if loose.inline or loose.blocks:
                items.append(_finish(loose))
                loose = _Builder(markup)
            items.append(convert_element(child, markup, depth + 1))
        elif tag.__class__ is str:
            kind = _KIND.get(tag, _INLINE)
            if kind == _STYLED or kind == _INLINE:
                inner = _style_for(tag, child, _PLAIN, markup) if kind == _STYLED else _PLAIN
                if child.text:
                    loose.inline.append(Span(child.text, inner[0], inner[1], inner[2], inner[3]))
                _walk(child, loose, inner, depth + 1)
            elif kind != _SKIP:
                _element(child, kind, tag, loose, _PLAIN, depth + 1)
        if child.tail and child.tail.strip():
            loose.inline.append(Span(child.tail))
    if loose.inline or loose.blocks:
        items.append(_finish(loose))
    return ListBlock(ordered, [item for item in items if item])


def _cell(el: etree._Element, markup: Markup, depth: int) -> list[Inline]:
    b = _Builder(markup, in_cell=True)
    if el.text:
        b.inline.append(Span(el.text))
    _walk(el, b, _PLAIN, depth + 1)
    return b.inline


def _table(el: etree._Element, markup: Markup, depth: int) -> Table | None:
    rows: list[list[list[Inline]]] = []
    for tr in el.iter("tr"):
        # Rows of a nested table are flattened into their outer cell, not repeated here.
        parent = tr.getparent()
        while parent is not None and parent.tag != "table":
            parent = parent.getparent()
        if parent is not el:
            continue
        cells = [_cell(td, markup, depth + 1) for td in tr if td.tag in ("td", "th")]
        if cells:
            rows.append(cells)
    return Table(rows) if rows else None


def _finish(b: _Builder) -> list[Block]:
    if b.inline:
        b.flush()
    return b.blocks


def convert_element(el: etree._Element, markup: Markup = PLAIN_MARKUP, depth: int = 0) -> list[Block]:
    """Blocks of an element's content (the element's own tag is not a block).

    Raises TooDeep when the nesting is deeper than the (recursive) walk follows: ``MAX_DEPTH``
    nested calls (``depth``: those already made by the caller), or Python's recursion limit.
    """
    b = _Builder(markup)
    if el.text:
        b.inline.append(Span(el.text))
    try:
        _walk(el, b, _PLAIN, depth + 1)
    except RecursionError:
        raise TooDeep("HTML nested deeper than the converter follows") from None
    return _finish(b)


def parse_fragment(html: str) -> etree._Element | None:
    """Parse a body fragment; returns the element holding it (``<body>``), or None."""
    root = _parse(html)
    if root is None:
        return None
    body = root.find("body")
    return body if body is not None else root


def parse_document(html: str, start: int = 0) -> etree._Element | None:
    """Parse a whole page, or ``html[start:]`` (plain etree elements: faster than ``lxml.html``'s
    classes).

    Raises TooDeep when libxml2 gave up part of the page at its nesting limit.
    """
    return _parse(html, start)


def html_to_blocks(html: str, markup: Markup = PLAIN_MARKUP) -> list[Block]:
    """Blocks of an HTML fragment (the content of a body container)."""
    if not html or html.isspace():
        return []
    root = parse_fragment(html)
    return convert_element(root, markup) if root is not None else []


# The Python walk, kept as the reference when the compiled one replaces ``_walk`` below (the tests
# compare them in one process by setting ``_walk`` back to it).
python_walk = _walk

# Which walk runs: "cython", the optional compiled walker (newscrawl/convert/_cwalk.pyx: the same
# walk over libxml2's nodes, without a Python object per element), or "python" (``_walk`` above).
# Plain Python when NEWSCRAWL_PURE_PYTHON is set (the tests convert the corpus both ways and
# compare), when the extension is not built (no C compiler: the install skips it), or when it is
# stale. Chosen once, here; bench_convert prints it.
PURE_ENV = "NEWSCRAWL_PURE_PYTHON"
WALKER = "python"


def _stale(source: Path, built: Path) -> bool:
    """In a source checkout (an editable install), is the built walker older than its ``.pyx``?

    The ``.pyx`` may be edited or checked out after the last build, and stale compiled code must
    not run. Never for an installed package: pip writes its files in any order, so their times
    say nothing.
    """
    checkout = (source.parents[2] / "pyproject.toml").is_file()
    return checkout and source.is_file() and source.stat().st_mtime > built.stat().st_mtime


def _compiled_module() -> ModuleType | None:
    """The ``_cwalk`` extension when it may run, else None."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        from newscrawl.convert import _cwalk
    except ImportError:
        return None
    if _stale(Path(__file__).with_name("_cwalk.pyx"), Path(_cwalk.__file__)):
        warnings.warn(
            f"newscrawl: {_cwalk.__file__} is older than _cwalk.pyx; running the Python walk "
            "(rebuild with `pip install -e .` or scripts/setup)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _cwalk


# The compiled module, or None: markdown.py and normalize.py take their compiled paragraph
# rendering and text normalization from it too, so one choice covers the whole conversion.
COMPILED = _compiled_module()
# ``_cwalk.utf8_for_parser`` (``_parse``), None on the pure path.
_utf8 = getattr(COMPILED, "utf8_for_parser", None)
if COMPILED is not None:
    _walk = COMPILED.walk  # the other functions look ``_walk`` up at call time
    WALKER = "cython"
