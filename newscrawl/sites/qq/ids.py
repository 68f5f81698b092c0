"""Tencent news article ids: every URL form maps to one normalized id.

Dedupe is by id, never by URL (see the site reference): ``news.qq.com/rain/a/<id>``,
``new.qq.com/omn/<date>/<id>.html``, ``view.inews.qq.com/k/<id>?…`` are one article.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A normalized id: current (date + A/V + serial + "00"), or TWF. Also the only ids the
# writer accepts as file names, so an id can never carry a path separator.
ID_RE = re.compile(r"^(?:\d{8}[AV][0-9A-Z]{5,7}00|TWF\d{14}00)$")
_CURRENT = re.compile(r"(?<![0-9A-Z])(\d{8}[AV][0-9A-Z]{5,7}00|TWF\d{14}00)(?![0-9A-Z])")
_SHORT = re.compile(r"(?<![0-9A-Z])(\d{8}[AV][0-9A-Z]{5})(?![0-9A-Z])")
_LEGACY = re.compile(r"^/a/(\d{8})/(\d{6})\.s?html?$")
_SHORT_FORM = re.compile(r"\d{8}[AV][0-9A-Z]{5}")
_TWF_SHORT_FORM = re.compile(r"TWF\d{14}")

CANONICAL_URL = "https://new.qq.com/rain/a/{id}"
# Hosts that are Tencent's own (pages and image CDNs): the only ones a page's <base href> may name.
TENCENT_HOST_SUFFIXES = (".qq.com", ".gtimg.com", ".gtimg.cn", ".qpic.cn", ".idqqimg.com")


def normalize_id(value: str) -> str | None:
    """The normalized id of a bare id (16-char, 14-char short form, or TWF), else None."""
    value = value.strip()
    if not value:  # a missing field, the usual case for all but one of a page's id keys
        return None
    if ID_RE.match(value):
        return value
    if _SHORT_FORM.fullmatch(value) or _TWF_SHORT_FORM.fullmatch(value):
        return value + "00"
    return None


def id_from_url(url: str) -> str | None:
    """The normalized article id a Tencent news URL points at, or None.

    Matches the path only (query and fragment ignored) and never inside a longer run of
    ``[0-9A-Z]``. Legacy CMS URLs (``/a/20190923/000843.htm``) map to no current id.
    """
    path = urlsplit(url.strip()).path
    match = _CURRENT.search(path)
    if match:
        return match.group(1)
    match = _SHORT.search(path)
    if match:
        return match.group(1) + "00"
    return None


def legacy_id_from_url(url: str) -> str | None:
    """``<channel>_<date><serial>`` for legacy CMS URLs (finance.qq.com/a/20190923/000843.htm)."""
    parts = urlsplit(url.strip())
    match = _LEGACY.match(parts.path)
    if not match or not (parts.hostname or "").endswith("qq.com"):
        return None
    return match.group(1) + match.group(2)


def canonical_url(article_id: str) -> str:
    return CANONICAL_URL.format(id=article_id)


def short_id(article_id: str) -> str:
    """The 14-character stem older sites name files by (``20250208A07Y64``)."""
    return article_id[:-2] if article_id.endswith("00") and not article_id.startswith("TWF") else article_id
