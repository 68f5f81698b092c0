"""Image URL normalization: absolute https URLs of content images, UI images dropped.

Site-independent rules; a site adds its https image hosts and its own UI-image patterns
(``Site.https_image_hosts``, ``Site.is_ui_image``).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from newscrawl.convert.htmlblocks import COMPILED

# UI chrome: icons, logos, spacer/1x1 pixels. Separate patterns, each with a literal
# start: one alternation would be tried at every position.
_UI_NAME = re.compile(r"/(?:favicon|icon|logo|loading|placeholder|blank|spacer|pixel)[^/]*\.(?:png|gif|ico|svg)", re.I)
_UI_EXT = re.compile(r"\.(?:ico|svg)(?:$|\?)", re.I)


def normalize_image_url(url: str, base: str = "", https_hosts: tuple[str, ...] = ()) -> str:
    """Absolute URL: protocol-relative gets https, ``https_hosts`` (suffixes) get https.

    Other http URLs stay http: making them https could point at a host with no certificate.

    Returns "" for values that are not web images (``data:``, ``javascript:``, empty) and
    for URLs that do not parse (``http://[bad``: a page's value, so untrusted).
    """
    # Most values are already absolute https without surrounding whitespace: the general
    # path returns them unchanged (nothing to strip, join or upgrade), so return them here.
    # str.isspace() is the test str.strip() strips by; "https://" rules out leading space.
    if url.__class__ is str and url.startswith("https://") and not url[-1].isspace():
        return url
    return normalize_image_url_general(url, base, https_hosts)


def normalize_image_url_general(url: str, base: str = "", https_hosts: tuple[str, ...] = ()) -> str:
    """``normalize_image_url`` without its shortcut for absolute https URLs (the tests compare both)."""
    try:
        return _normalize_image_url(url, base, https_hosts)
    except ValueError:
        return ""


def _normalize_image_url(url: str, base: str, https_hosts: tuple[str, ...]) -> str:
    url = (url or "").strip()
    if not url or url.startswith(("data:", "javascript:", "about:", "blob:")):
        return ""
    if url.startswith("//"):
        url = "https:" + url
    elif not url.startswith(("http://", "https://")):
        if not base:
            return ""
        url = urljoin(base, url)
        if not url.startswith(("http://", "https://")):
            return ""
    if url.startswith("http://"):
        host = urlsplit(url).hostname or ""
        if https_hosts and host.endswith(https_hosts):
            url = "https://" + url[7:]
    return url


# Each UI pattern above needs one of these extensions, in any case. An ASCII URL holding none of
# them lower-cased matches neither (two case-insensitive searches over the URL cost ~2 µs; most
# content images are .jpg or have no extension). Non-ASCII URLs take the patterns: re.I also folds
# a few non-ASCII letters onto ASCII ones ("ſ" onto "s", "İ" and "ı" onto "i").
_UI_EXTENSIONS = (".ico", ".svg", ".png", ".gif")


def may_contain(url: str, needles: tuple[str, ...]) -> bool:
    """False when an ASCII ``url``, lower-cased, holds none of ``needles``: a pattern that needs one
    of them cannot match, so its search is skipped (a plain loop: cheaper than ``any`` over a
    generator, once per image). True otherwise, non-ASCII URLs included (the pattern decides)."""
    if not url.isascii():
        return True
    low = url.lower()
    for needle in needles:
        if needle in low:
            return True
    return False


# The compiled form (newscrawl/convert/_cwalk.pyx: the URL's bytes compared in place, no lower-cased
# copy), when the compiled module runs; the Python function stays the reference and the pure path.
python_may_contain = may_contain
may_contain = getattr(COMPILED, "may_contain", None) or python_may_contain


def is_ui_image(url: str) -> bool:
    """True for icons, logos and spacers that are not content (any site)."""
    return may_contain(url, _UI_EXTENSIONS) and is_ui_image_general(url)


def is_ui_image_general(url: str) -> bool:
    """``is_ui_image`` without its shortcut for URLs without a UI extension (the tests compare both)."""
    return bool(("." in url and _UI_EXT.search(url)) or ("/" in url and _UI_NAME.search(url)))
