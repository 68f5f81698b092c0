"""Plain-text normalization: one place that decides what a character of text becomes."""

from __future__ import annotations

import html
import re

# Characters that look like spaces: NBSP, U+3000 ideographic space, the U+2000 range,
# line/paragraph separators. They become an ordinary space (then runs collapse).
_SPACES = "\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\t\n\r\f\v" + "".join(map(chr, range(0x2000, 0x200B)))
# Invisible characters: zero-width, BOM, soft hyphen, bidi controls (a hostile title can
# reorder what a reader sees with them), C0 and C1 controls.
_INVISIBLE = (
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    + "".join(chr(c) for c in range(0x00, 0x20) if chr(c) not in "\t\n\r\f\v")
    + "\x7f"
    + "".join(chr(c) for c in range(0x80, 0xA0))
)

_TABLE = {ord(c): " " for c in _SPACES}
_TABLE.update({ord(c): None for c in _INVISIBLE})
_CODE_TABLE = {ord(c): None for c in _INVISIBLE}
_CODE_TABLE[0xA0] = " "
_CODE_TABLE[0x3000] = " "
_WS_RUN = re.compile(r" {2,}")
# Most text needs no change: one regex scan decides, the translate runs only when needed.
_NEEDS_CLEANING = re.compile("[" + re.escape(_SPACES.replace(" ", "") + _INVISIBLE) + "&]")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")


needs_cleaning = _NEEDS_CLEANING.search


def clean_chars(text: str) -> str:
    """Map space-like characters to a space and drop invisible ones; keeps runs."""
    if not _NEEDS_CLEANING.search(text):
        return text
    text = text.translate(_TABLE)
    # Entities left in the text by double-escaping upstream (``&amp;nbsp;``).
    if "&" in text and _ENTITY.search(text):
        text = html.unescape(text).translate(_TABLE)
    return text


def normalize(text: str) -> str:
    """Normalize one text value: clean characters, collapse whitespace runs, strip."""
    if not text:
        return ""
    text = clean_chars(text)
    if "  " in text:
        text = _WS_RUN.sub(" ", text)
    return text.strip()


def normalize_code(text: str) -> str:
    """Normalize preformatted text: drop invisible characters, keep line structure."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CODE_TABLE)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def collapse(text: str) -> str:
    """Collapse whitespace runs of already-clean text (for summaries)."""
    return " ".join(text.split())
