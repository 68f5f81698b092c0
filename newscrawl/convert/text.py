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
# U+200D (zero-width joiner) is invisible, except between two emoji, where it joins them
# into one (👨‍👩‍👧‍👦, 🏳️‍🌈). Such a joiner becomes a private-use stand-in the tables leave
# alone, and is restored after them. The look-arounds are one character each.
_ZWJ = "\u200d"
_ZWJ_KEEP = "\U0010fffd"
_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\ufe0f\U0001f000-\U0001faff\U000e0020-\U000e007f"
)
_EMOJI_ZWJ = re.compile(f"(?<=[{_EMOJI}])\u200d(?=[{_EMOJI}])")
# Terminal escape sequences (colours, cursor moves): removed whole, not just their ESC.
# CSI (ESC [ params intermediates final), a terminated OSC (ESC ] ... BEL or ESC \\, bounded:
# an unterminated one must not eat the text after it), two-character escapes, C1 CSI.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]"
)
_WS_RUN = re.compile(r" {2,}")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
# Every character the tables change is a control, format or separator character, none of
# which str.isprintable() accepts (the ASCII space aside, which they leave alone).
assert not any(c.isprintable() for c in _SPACES.replace(" ", "") + _INVISIBLE)


def needs_cleaning(text: str) -> bool:
    """False when ``clean_chars`` would return ``text`` unchanged: most text needs no change.

    ``isprintable()`` (one C loop, no regex) also rejects a few characters the tables keep
    (emoji joiners, private use); those take the slow path and come out the same.
    """
    return not text.isprintable() or "&" in text


def _translate(text: str, table: dict[int, str | None]) -> str:
    """``text.translate(table)``, keeping joiners inside emoji sequences and dropping
    terminal escape sequences whole."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    if _ZWJ not in text:
        return text.translate(table)
    text = _EMOJI_ZWJ.sub(_ZWJ_KEEP, text).translate(table)
    return text.replace(_ZWJ_KEEP, _ZWJ)


def clean_chars(text: str) -> str:
    """Map space-like characters to a space and drop invisible ones; keeps runs."""
    if text.isprintable() and "&" not in text:  # needs_cleaning(text), inlined: most text
        return text
    text = _translate(text, _TABLE)
    # Entities left in the text by double-escaping upstream (``&amp;nbsp;``).
    if "&" in text and _ENTITY.search(text):
        text = _translate(html.unescape(text), _TABLE)
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
    text = _translate(text.replace("\r\n", "\n").replace("\r", "\n"), _CODE_TABLE)
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def collapse(text: str) -> str:
    """Collapse whitespace runs of already-clean text (for summaries)."""
    return " ".join(text.split())
