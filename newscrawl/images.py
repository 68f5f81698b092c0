"""Image URL normalization: absolute https URLs of content images, UI images dropped."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

# Tencent's image CDNs, which all serve https. Other http URLs stay http: making them
# https could point at a host that has no certificate.
HTTPS_HOST_SUFFIXES = (".gtimg.com", ".qpic.cn", ".qq.com")
# UI chrome and tracking: icons, logos, spacer/1x1 pixels, analytics beacons. Separate
# patterns, each with a literal start: one alternation would be tried at every position.
_UI_HOST = re.compile(
    r"https?://(?:mat1\.gtimg\.com|qzonestyle\.gtimg\.cn|pingjs\.qq\.com|[^/]*\.(?:tajs|tcss|beacon)\.qq\.com)/",
    re.I,
)
_UI_NAME = re.compile(r"/(?:favicon|icon|logo|loading|placeholder|blank|spacer|pixel)[^/]*\.(?:png|gif|ico|svg)", re.I)
_UI_EXT = re.compile(r"\.(?:ico|svg)(?:$|\?)", re.I)
_UI_TRACKING = re.compile(r"[?&](?:pgv_|pv_|track)", re.I)


def normalize_image_url(url: str, base: str = "") -> str:
    """Absolute URL: protocol-relative gets https, known https hosts get https.

    Returns "" for values that are not web images (``data:``, ``javascript:``, empty) and
    for URLs that do not parse (``http://[bad``: a page's value, so untrusted).
    """
    try:
        return _normalize_image_url(url, base)
    except ValueError:
        return ""


def _normalize_image_url(url: str, base: str) -> str:
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
        if host.endswith(HTTPS_HOST_SUFFIXES):
            url = "https://" + url[7:]
    return url


def is_ui_image(url: str) -> bool:
    """True for icons, logos, spacers and tracking pixels that are not content."""
    return bool(
        _UI_HOST.match(url)
        or ("." in url and _UI_EXT.search(url))
        or ("/" in url and _UI_NAME.search(url))
        or (("?" in url or "&" in url) and _UI_TRACKING.search(url))
    )
