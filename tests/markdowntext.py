"""Test helpers: the visible text of HTML and of Markdown, for faithfulness checks."""

from __future__ import annotations

import re

import lxml.html

from newscrawl.convert.text import clean_chars

_INVISIBLE_TAGS = {"script", "style", "noscript", "template", "svg"}
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[((?:[^\]\\]|\\.)*)\]\((?:[^)\\]|\\.)*\)")
_LINE_MARKUP = re.compile(r"^(?:> ?)*(?:#{1,6} |[-*] |\d{1,9}\. |\s+)*")
_ESCAPED = re.compile(r"\\(.)")
_MARKERS = re.compile(r"\*+|`+|\|")
_TABLE_RULE = re.compile(r"^\|(?: --- \|)+$", re.M)
_FENCE = re.compile(r"^```+$", re.M)


def visible_text_nodes(body_html: str) -> list[str]:
    """Text nodes a browser shows (scripts and styles aside), in document order."""
    root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    texts: list[str] = []

    def walk(el) -> None:
        if el.text:
            texts.append(el.text)
        for child in el:
            if isinstance(child.tag, str) and child.tag not in _INVISIBLE_TAGS:
                walk(child)
            if child.tail:
                texts.append(child.tail)

    walk(root)
    return texts


def squeeze(text: str) -> str:
    """Text with invisible characters and all whitespace removed."""
    return "".join(clean_chars(text).split())


def markdown_plain(markdown: str) -> str:
    """What a reader sees of a Markdown body, roughly: markup and escapes removed."""
    text = _IMAGE.sub("", markdown)
    text = _LINK.sub(r"\1", text)
    text = _TABLE_RULE.sub("", text)
    text = _FENCE.sub("", text)
    text = "\n".join(_LINE_MARKUP.sub("", line) for line in text.split("\n"))
    # Escaped characters are text; unescaped markers are markup.
    parts = _ESCAPED.split(text)
    return "".join(part if n % 2 else _MARKERS.sub("", part) for n, part in enumerate(parts))


def in_order_coverage(nodes: list[str], plain: str) -> float:
    """Fraction of the nodes' characters found in ``plain`` in order (whitespace ignored)."""
    haystack = squeeze(plain)
    total = matched = pos = 0
    for node in nodes:
        needle = squeeze(node)
        if not needle:
            continue
        total += len(needle)
        at = haystack.find(needle, pos)
        if at >= 0:
            matched += len(needle)
            pos = at + len(needle)
            continue
        # Not found whole: count characters found in order within a short window.
        for ch in needle:
            at = haystack.find(ch, pos, pos + 40)
            if at >= 0:
                matched += 1
                pos = at + 1
    return matched / total if total else 1.0


def markdown_lines(markdown: str) -> list[str]:
    """Lines of a Markdown body with line-start markup removed, whitespace squeezed."""
    lines = []
    for line in markdown.split("\n"):
        line = _LINE_MARKUP.sub("", line)
        line = _IMAGE.sub("", line)
        line = _LINK.sub(r"\1", line)
        parts = _ESCAPED.split(line)
        line = "".join(part if n % 2 else _MARKERS.sub("", part) for n, part in enumerate(parts))
        lines.append(squeeze(line))
    return lines
