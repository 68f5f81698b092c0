"""Blocks -> CommonMark, as Hugo's goldmark renders it.

The only module that knows Markdown syntax. Text is escaped so nothing in it is read as
markup or raw HTML; emphasis is CJK-safe (edge punctuation moves outside the ``**``,
because CommonMark cannot close ``**`` that follows punctuation and precedes a letter);
only http(s) URLs become links.

When the optional compiled module is built (``htmlblocks.COMPILED``), ``render_blocks``,
``render_inline``, ``escape`` and ``escape_url`` are its versions of the functions below (see the
end of this module); the functions here are the reference and the pure-Python path, and the
tests compare both on the corpus and on random hostile spans.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from urllib.parse import quote

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

IMAGE_ALT = "图片"
VIDEO_LABEL = "视频"

# ASCII characters that CommonMark or goldmark's extensions (tables, strikethrough,
# linkify, footnotes) may read as syntax anywhere in a line.
_ESCAPE = {ord(c): "\\" + c for c in "\\`*_[]<>|~#"}
_NEEDS_ESCAPE = re.compile(r"[\\`*_\[\]<>|~#&]")
# Bounded look-ahead: entity names are at most 32 characters, so a longer run is no entity.
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]{1,32};)")
_DASH_RUN = re.compile(r"(?<=-)-")
_DOT_RUN = re.compile(r"(?<=\.)\.")
# At the start of a paragraph: list markers, setext/thematic lines, quotes, definitions.
_LINE_START = re.compile(r"^(?:[-+=:]|\d{1,9}(?=[.)]))")
_URL_SAFE = "!#$%&'*+,/:;=?@[]~-._"


def escape(text: str) -> str:
    """Escape text so Markdown shows it literally.

    Also breaks ``--`` and ``...`` runs: Hugo's typographer would print them as dashes
    and an ellipsis character, and the text must read as the source wrote it.
    """
    # One character-class scan first (an alternation would be tried at every position).
    if _NEEDS_ESCAPE.search(text):
        text = text.translate(_ESCAPE)
        if "&" in text:
            text = _ENTITY_LIKE.sub(r"\\&", text)
    if "--" in text:
        text = _DASH_RUN.sub(r"\\-", text)
    if ".." in text:
        text = _DOT_RUN.sub(r"\\.", text)
    return text


def escape_url(url: str) -> str:
    """Percent-encode characters that would end or break a Markdown link destination."""
    return quote(url, safe=_URL_SAFE + "%")


def _is_edge(ch: str) -> bool:
    """Whitespace or Unicode punctuation/symbol: cannot sit just inside ``**``."""
    if ch.isspace():
        return True
    if ch.isalnum():
        return False
    return unicodedata.category(ch)[0] in "PS"


def _emphasis(text: str, marker: str, before: str, after: str) -> str:
    """``marker``-wrapped text that CommonMark will read as emphasis.

    ``before``/``after`` are the characters just outside (``""`` at a line edge). An
    opening ``**`` followed by punctuation needs whitespace or punctuation before it; a
    closing one preceded by punctuation needs whitespace or punctuation after it. When
    that does not hold (CJK text: ``**DeepSeek：**传统``), the edge punctuation moves
    outside the delimiters (``**DeepSeek**：传统``); edge spaces always move outside.
    """
    start, end = 0, len(text)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end and start == 0 and before and not _is_edge(before) and _is_edge(text[0]):
        while start < end and _is_edge(text[start]):
            start += 1
    if start < end and end == len(text) and after and not _is_edge(after) and _is_edge(text[end - 1]):
        while end > start and _is_edge(text[end - 1]):
            end -= 1
    if start == end:
        return escape(text)
    return escape(text[:start]) + marker + escape(text[start:end]) + marker + escape(text[end:])


def _code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _styled(span: Span, heading: bool, before: str, after: str) -> str:
    if span.code:
        return _code_span(span.text) if span.text.strip() else escape(span.text)
    if heading or not (span.bold or span.italic):  # headings are bold already
        return escape(span.text)
    marker = "***" if span.bold and span.italic else "**" if span.bold else "*"
    return _emphasis(span.text, marker, before, after)


def _merge(spans: list[Span]) -> list[Span]:
    """Join neighbouring spans of one style, so ``**a****b**`` never appears."""
    merged: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if merged:
            last = merged[-1]
            if (last.bold, last.italic, last.code, last.href) == (
                span.bold,
                span.italic,
                span.code,
                span.href,
            ):
                merged[-1] = Span(last.text + span.text, span.bold, span.italic, span.code, span.href)
                continue
            # A run of spaces carries no style: keep it plain, outside any delimiters.
        merged.append(span)
    return merged


def _first_char(spans: list[Span], i: int) -> str:
    """The first character the output will have after span ``i - 1``."""
    if i >= len(spans):
        return ""
    return "[" if spans[i].href is not None else spans[i].text[:1]


def render_inline(spans: list[Span], heading: bool = False) -> str:
    """Inline Markdown of a list of spans (links grouped, emphasis CJK-safe)."""
    if len(spans) == 1 and spans[0].href is None and not (spans[0].bold or spans[0].italic or spans[0].code):
        return _line_start(escape(spans[0].text))  # the common case: one plain run
    out: list[str] = []
    spans = _merge(spans)
    i = 0
    while i < len(spans):
        span = spans[i]
        href = span.href
        if href is None:
            if span.bold or span.italic or span.code:
                before = out[-1][-1] if out and out[-1] else ""
                out.append(_styled(span, heading, before, _first_char(spans, i + 1)))
            else:
                out.append(escape(span.text))
            i += 1
            continue
        group = []
        while i < len(spans) and spans[i].href == href:
            group.append(spans[i])
            i += 1
        parts: list[str] = []
        for n, member in enumerate(group):
            before = parts[-1][-1] if parts and parts[-1] else ""
            after = member and (group[n + 1].text[:1] if n + 1 < len(group) else "")
            parts.append(_styled(member, heading, before, after))
        label = "".join(parts)
        if not label.strip():
            out.append(label)
            continue
        if out and out[-1].endswith("!") and not out[-1].endswith("\\!"):
            out[-1] = out[-1][:-1] + "\\!"
        url = "https:" + href if href.startswith("//") else href
        out.append(f"[{label}]({escape_url(url)})")
    return _line_start("".join(out))


def _line_start(text: str) -> str:
    """Escape what would make a paragraph a list, a quote, a heading rule or a definition."""
    if not text or not (text[0] in "-+=:" or text[0].isdigit()):  # the pattern's first characters
        return text
    match = _LINE_START.match(text)
    if match:
        end = match.end()
        return text[:end] + "\\" + text[end:] if match.group(0).isdigit() else "\\" + text
    return text


def render_image(image: Image) -> str:
    return f"![{IMAGE_ALT}]({escape_url(image.src)})"


def _render_cell(cell: list[Inline]) -> str:
    parts: list[str] = []
    spans: list[Span] = []
    for item in cell:
        if isinstance(item, Image):
            if spans:
                parts.append(render_inline(spans))
                spans = []
            parts.append(render_image(item))
        else:
            spans.append(item)
    if spans:
        parts.append(render_inline(spans))
    return " ".join(p for p in parts if p).strip()


def render_table(table: Table) -> str:
    rows = [[_render_cell(cell) for cell in row] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    lines = []
    for n, row in enumerate(rows):
        row = row + [""] * (width - len(row))
        lines.append("| " + " | ".join(row) + " |")
        if n == 0:
            lines.append("|" + " --- |" * width)
    return "\n".join(lines)


def render_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return render_inline(block.spans)
    if isinstance(block, ImageBlock):
        return render_image(block.image)
    if isinstance(block, Heading):
        text = render_inline(block.spans, heading=True)
        return "#" * block.level + " " + text if text else ""
    if isinstance(block, Video):
        label = VIDEO_LABEL + ("：" + escape(block.title) if block.title else "")
        return f"[{label}]({escape_url(block.url)})" if block.url else label
    if isinstance(block, ListBlock):
        return _render_list(block)
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Code):
        if not block.text.strip():
            return ""
        longest = max((len(m) for m in re.findall(r"`{3,}", block.text)), default=2)
        fence = "`" * (longest + 1)
        return f"{fence}\n{block.text}\n{fence}"
    if isinstance(block, Quote):
        inner = render_blocks(block.blocks)
        if not inner:
            return ""
        return "\n".join("> " + line if line else ">" for line in inner.split("\n"))
    if isinstance(block, Rule):
        return "---"
    raise TypeError(f"unknown block {block!r}")


def _render_list(block: ListBlock) -> str:
    lines: list[str] = []
    number = 0
    for item in block.items:
        body = render_blocks(item)
        if not body:
            continue
        number += 1
        marker = f"{number}. " if block.ordered else "- "
        pad = " " * len(marker)
        first, *rest = body.split("\n")
        lines.append(marker + first)
        lines.extend(pad + line if line else "" for line in rest)
    return "\n".join(lines)


def render_blocks(blocks: list[Block]) -> str:
    """Markdown of a block list: blocks separated by one blank line."""
    parts = []
    for block in blocks:
        if block.__class__ is Paragraph and len(block.spans) == 1:
            span = block.spans[0]  # the common case, without two calls per paragraph
            if span.href is None and not (span.bold or span.italic or span.code):
                text = _line_start(escape(span.text))
                if text:
                    parts.append(text)
                continue
        text = render_block(block)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


# The compiled paragraph renderer (newscrawl/convert/_cwalk.pyx), when the compiled walker runs:
# the same rules, written over a character buffer. The Python functions stay the reference
# (``python_render_inline``/``python_render_blocks``); the tests compare both on the corpus and
# on hostile span lists.
python_render_inline, python_render_blocks = render_inline, render_blocks
python_escape, python_escape_url = escape, escape_url


def _use_compiled() -> None:
    global render_inline, render_blocks, escape, escape_url
    from newscrawl.convert.htmlblocks import COMPILED

    if COMPILED is not None:
        COMPILED.use_markdown(sys.modules[__name__])
        render_inline, render_blocks = COMPILED.render_inline, COMPILED.render_blocks
        escape, escape_url = COMPILED.escape, COMPILED.escape_url


_use_compiled()
