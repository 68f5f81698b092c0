"""Mock Tencent news server for end-to-end tests and benchmarks (127.0.0.1 only, no internet).

Article pages are built from the real fixtures (``tests.qqpages``): synthetic article *i*
gets a deterministic id (:func:`synthetic_id`), body row ``i % 770`` of the 770 non-empty
captures wrapped in today's template, the title ``"<row title> #<i>"`` and a pubtime
433 s after article *i-1* (:func:`synthetic_pubtime`). Every ``old_every``-th article
(index ``i % old_every == old_every - 1``) is served from the real old-template page
``pages/20201130A0G1JJ.html`` with its ids, title, media and pubtime rewritten.
:meth:`MockState.spec` tells what a page will contain (``title``, ``pubtime``, ``template``,
``cover`` ...), so tests can check output files against it.

With ``real_articles=True``, an id that is a body capture's own id (or the old page's own
id, ``20201130A0G1JJ00``) is served as that article really was: its own body, title, media,
pubtime and share image, no ``#<i>`` suffix and no synthetic cover (the sample archive).

Two ways to run it
------------------
In-process (threads)::

    with MockQQServer(articles=100, latency=0.0) as mock:
        settings = {"QQ_ARTICLE_URL": mock.article_url}     # http://127.0.0.1:PORT/rain/a/{id}
        ...
        assert mock.article_fetches(mock.ids()[0]) == 1

As a subprocess (so a crawl in another process can use it, and a test can kill it)::

    python -m tests.mockserver --port 0 --articles 300 [--latency 0.05] [--config JSON]
    # prints exactly one line on stdout: READY http://127.0.0.1:PORT   (then serves until killed)

    with MockQQProcess("--articles", "300") as proc:       # helper that starts the above
        proc.control.add_articles(5)                        # MockControl: same API over HTTP
        proc.kill()                                         # "the mock went away"

CLI flags: ``--host`` (127.0.0.1), ``--port`` (0), ``--articles N``, ``--old-every N``,
``--origin-every N``, ``--channels a,b``, ``--hot-count N``, ``--author-page-size N``,
``--latency S``, ``--fault-rate R``, ``--fault-kinds k,k``, ``--fault-seed N``,
``--fault-max-attempts N``, ``--delay-fault S``, ``--feed-fault-rate R``, ``--down``,
``--specials``, ``--local-images``, ``--unrecognized-layout``, ``--duplicate-urls``,
``--no-feed-extras``, ``--cache-size N``, ``--config JSON`` (any :class:`MockConfig`
fields; applied last). SIGTERM/SIGINT stop it cleanly.

Endpoints (all counted, all delayed by ``latency``)
---------------------------------------------------
``GET /rain/a/<id>``
    Article page (200 HTML); the 14-char short id form is accepted too. Unknown id: 404.
    Per-article *modes* (:meth:`MockState.set_mode`) and the specials change what is served:
    ``new`` / ``origin`` (body also in ``window.DATA.originContent``) / ``old`` templates,
    ``deleted`` (302 to ``/babygohome/?pgv_ref=apub``), ``paid`` (``article_is_pay: 1``),
    ``challenge`` (``<title>安全验证</title>``, no article), ``empty`` (the current template,
    a body with no text and no image), ``unrecognized``
    (``<html><body><p>new layout</p></body></html>``), ``404``.
    Specials (``specials=True``; also listed in the first channel feed and the default
    author feed): :data:`DELETED_ID`, :data:`PAID_ID`, :data:`CHALLENGE_ID`,
    :data:`UNRECOGNIZED_ID`. ``unrecognized_layout=True`` serves *every* article page in
    the unrecognizable layout ("the site changed its template").
``GET /babygohome/?pgv_ref=apub``
    Tencent's "page gone" page (200).
``POST /web_feed/getPCList`` (channel feed; GET with the same query parameters works too)
    Body ``{"channel_id": "news_news_top", "flush_num": 1, "item_count": 12, ...}``.
    Answer ``{"ret": 0, "data": [item, ...]}``, newest first, page ``flush_num`` (1-based)
    holds articles ``[(flush_num-1)*item_count, flush_num*item_count)``; an exhausted page
    has ``data: []``. Item: ``id, title, publish_time ("YYYY-MM-DD HH:MM:SS"), articletype
    ("0"), link_info.url, pic_info.big_img[0], media_info.chl_name``. ``link_info.url`` forms
    vary (``https://new.qq.com/rain/a/<id>``, ``https://news.qq.com/rain/a/<id>?adChannelId=news``,
    ``https://view.inews.qq.com/a/<id>``, old template: ``https://new.qq.com/omn/<date>/<short id>.html``);
    ``url_forms="rain"`` uses the first only. With ``feed_extras`` (default) each non-empty
    page also holds a video item (``articletype "4"``, a ``V`` id that is not served) and an
    ad (``articletype "1000"``, ``is_ad: 1``, no article id), and page 1 a short video
    (``"118"``) — all to be skipped. Articles go to ``channels[index % len(channels)]``;
    an unknown channel has no items. ``duplicate_urls=True`` lists every article five
    times in a row under different URL forms (dedupe tests).
``GET /gw/event/hot_ranking_list?page_size=N`` (hot list)
    ``{"ret": 0, "idlist": [{"newslist": [header, item, ...]}]}``: a header item first (no
    article), then the newest ``min(hot_count, page_size)`` articles with ``id, title,
    timestamp (epoch s), url (https://view.inews.qq.com/k/<id>), miniProShareImage, ...``
    and one ``articletype "560"`` ad after the second article.
``GET /getSubNewsMixedList?guestSuid=<suid>&tabId=om_article&offset_info=<cursor>`` (author feed)
    ``{"ret": 0, "newslist": [...], "offsetInfo": "<cursor>", "hasNext": bool}``, pages of
    ``author_page_size``; pass ``offsetInfo`` back unchanged until ``hasNext`` is false.
    Items: ``id, title, url (https://view.inews.qq.com/a/<id>), publish_time, timestamp,
    articletype, ...``. Default mapping: :data:`DEFAULT_SUID` -> every listed article;
    :meth:`MockState.set_authors` replaces it. Unknown suid: empty list. Bad cursor: ``ret -1``.
``GET /img/<name>.jpg``
    A small real JPEG (colour depends on the name). Names in ``missing_images`` give 404.
    ``local_images=True`` rewrites every ``inews.gtimg.com`` URL in pages and feeds to
    ``http://127.0.0.1:PORT/img/<sha1(url)[:16]>.jpg`` (:meth:`MockState.local_image_url`).
``GET /robots.txt``
    ``User-agent: *`` / ``Allow: /``.

Faults
------
Article requests: when ``fault_rate > 0``, attempt *a* of article *id* (``a`` = its fetch
count, 1-based) fails if ``hash(fault_seed, id, a) < fault_rate`` and (``fault_max_attempts``
is 0 or ``a <= fault_max_attempts``), with a kind from ``fault_kinds`` also chosen by hash:
``"500"``, ``"503"``, ``"429"`` (status answers), ``"timeout"`` (no answer for
``delay_fault`` s, then close), ``"reset"`` (TCP RST, no answer), ``"truncate"``
(Content-Length of the whole page, half of it sent, then close). So
``fault_rate=1, fault_max_attempts=1`` fails every first attempt and no retry.
``always_fail={id: kind}`` (or :meth:`MockState.fail_always`) fails an article every time.
Feeds: ``feed_fault_rate`` / ``feed_fault_kinds`` (kinds above plus ``"invalid_json"`` and
``"error_envelope"``: 200 ``{"code":-1,"msg":"error","data":null}``),
keyed by the page asked for; ``feed_invalid_json=True`` makes every feed answer 200
with broken JSON; ``down=True`` makes every feed endpoint fail with ``down_kind``
(``"503"``, ``"reset"`` or ``"timeout"``). Article pages are unaffected by ``down``.

Control API (in-process methods of :class:`MockState`, or HTTP, neither counted nor delayed)
----------------------------------------------------------------------------------------
=================================  ================================================================
``GET  /_control/state``           ``{"url", "config", "articles", "listed"}``
``GET  /_control/ids?which=``      ``{"ids": [...]}``; which = ``articles`` (default) | ``listed``
                                   | ``writable`` (pages that should yield a file)
``GET  /_control/spec?id=``        ``{"spec": {...}}`` or ``{"spec": null}``
``GET  /_control/counters``        ``{"total", "paths", "articles", "statuses", "faults",
                                   "max_inflight"}``
``GET  /_control/hits?key=``       ``{"hits": n}``: key = a path (``/web_feed/getPCList``) or an id
``GET  /_control/log?limit=``      ``{"log": [{"t", "method", "path", "query", "status", "fault",
                                   "user_agent", "referer"}, ...]}`` (most recent last)
``POST /_control/articles``        ``{"add": n}`` -> ``{"ids": [new]}``; ``{"set": [ids]}``;
                                   ``{"remove": [ids]}``
``POST /_control/edit``            ``{"id", "title"?, "paragraph"?, "thumbnail"?}``: edit a published
                                   article (:meth:`MockState.edit`); delete one with mode ``deleted``
``POST /_control/config``          ``{field: value, ...}`` (:class:`MockConfig`) -> ``{"config"}``
``POST /_control/modes``           ``{"ids": [...], "mode": "deleted" | ... | null}``
``POST /_control/fail``            ``{"ids": [...], "kind": "500"}`` (kind null: stop failing)
``POST /_control/authors``         ``{"authors": {suid: [ids]}}`` (null: default mapping)
``POST /_control/reset``           ``{"what": "counters"}`` (default) or ``"all"`` (config,
                                   modes, authors and counters back to the start; articles kept)
``POST /_control/shutdown``        stops the server (the subprocess then exits)
=================================  ================================================================

Bad input answers 400 ``{"error": "..."}``, an unknown endpoint 404.

Python API (:class:`MockQQServer` in-process; :class:`MockControl` has the same methods over HTTP):
``add_articles(n) -> ids``, ``set_articles(ids)``, ``remove_articles(ids)``,
``ids(which="articles"|"listed"|"writable")`` (``articles`` oldest first),
``spec(id) -> ArticleSpec | None`` (MockControl: a dict), ``configure(**fields)``,
``set_mode(ids, mode|None)``, ``fail_always(ids, kind|None)``, ``set_authors(mapping|None)``,
``hits(path_or_id)``, ``article_fetches(id)``, ``total()``, ``counters()``, ``log(limit)``,
``reset_counters()``, ``reset()``, ``state()``; URLs ``url``, ``article_url``
(``.../rain/a/{id}``), ``channel_feed_url``, ``hot_list_url``, ``author_feed_url``.
Module helpers: :func:`synthetic_id`, :func:`synthetic_index`, :func:`usable_rows`,
:func:`image_name`, :class:`MockQQProcess`.

Notes: counters count every request, faulted ones included; status ``0`` in ``statuses`` and
the log means "no answer" (timeout, reset). Counters and the log are updated *before* the
answer is sent, so they are exact as soon as a client has its response. Pubtimes are Beijing
time; ``timestamp`` is the matching epoch. Twisted (Scrapy) retries a request once by itself
when a *reused* keep-alive connection is reset before any answer, so a ``reset`` fault may
not show in Scrapy's retry stats — count on the mock's ``counters()["faults"]`` instead.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter, OrderedDict, deque
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from email.utils import formatdate
from functools import cache, lru_cache, partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from newscrawl.sites.qq.ids import normalize_id
from tests.qqpages import bodies, page_file, wrap_body

ROOT = Path(__file__).resolve().parent.parent

# ---- ids ------------------------------------------------------------------------------------

ID_EPOCH = datetime(2025, 1, 1, 8, 0, 0)
ID_STEP = 433  # seconds between synthetic articles i and i+1 (20,000 articles span ~100 days)
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD = 36**5
_MULT = 7919  # coprime with 36**5, so i -> serial is a bijection (ids look random, never collide)
_OFFSET = 1_000_003
_MULT_INV = pow(_MULT, -1, _MOD)
_SYNTHETIC = re.compile(r"(\d{8})A([0-9A-Z]{5})00")
EXTRA_INDEX = 1_000_000  # indexes of non-synthetic ids given to set_articles start here

# Special articles (served when ``specials=True``): 2024 dates, so never a synthetic id.
DELETED_ID = "20240101ADELET00"
PAID_ID = "20240101APAYWL00"
CHALLENGE_ID = "20240101AVERIF00"
UNRECOGNIZED_ID = "20240101ALAYOT00"
SPECIALS = {DELETED_ID: "deleted", PAID_ID: "paid", CHALLENGE_ID: "challenge", UNRECOGNIZED_ID: "unrecognized"}
DEFAULT_SUID = "8QIf3nxc64AYuDfe"  # the author link wrap_body puts on every current-template page

CONTENT_TEMPLATES = ("new", "origin", "old", "paid")  # pages that carry a body
MODES = ("new", "origin", "old", "deleted", "paid", "challenge", "unrecognized", "404", "empty")
WRITABLE_TEMPLATES = ("new", "origin", "old")  # pages a crawler should turn into a file


def synthetic_pubtime(i: int) -> datetime:
    return ID_EPOCH + timedelta(seconds=i * ID_STEP)


def synthetic_id(i: int) -> str:
    """Deterministic id of synthetic article ``i``: ``<pubtime date>A<5 serial chars>00``."""
    if not 0 <= i < _MOD:
        raise ValueError(f"synthetic index out of range: {i}")
    x = (i * _MULT + _OFFSET) % _MOD
    serial = ""
    for _ in range(5):
        x, digit = divmod(x, 36)
        serial = _B36[digit] + serial
    return f"{synthetic_pubtime(i):%Y%m%d}A{serial}00"


def synthetic_index(article_id: str) -> int | None:
    """``i`` if ``article_id == synthetic_id(i)``, else None."""
    match = _SYNTHETIC.fullmatch(article_id)
    if not match:
        return None
    i = (int(match.group(2), 36) - _OFFSET) * _MULT_INV % _MOD
    return i if synthetic_id(i) == article_id else None


# ---- content --------------------------------------------------------------------------------


@cache
def usable_rows() -> tuple[dict, ...]:
    """The body captures that hold text or images (770 of 775: five are empty containers)."""
    return tuple(r for r in bodies() if re.sub(r"<[^>]+>|\s", "", r["body_html"]) or "<img" in r["body_html"])


OLD_PAGE = page_file("20201130A0G1JJ")
OLD_ID = "20201130A0G1JJ"


@cache
def real_sources() -> dict[str, int]:
    """Ids served as they really were (``real_articles``): row index, or -1 for the old page."""
    return {**{row["id"]: i for i, row in enumerate(usable_rows())}, f"{OLD_ID}00": -1}


CHALLENGE_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title></head>'
    '<body><div id="captcha">请完成安全验证后继续访问</div></body></html>'
).encode()
UNRECOGNIZED_HTML = b"<html><body><p>new layout</p></body></html>"
GONE_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>404 - 腾讯网</title></head>'
    "<body><p>很抱歉，您要访问的页面不存在！</p></body></html>"
).encode()
NOT_FOUND_HTML = b"<html><head><title>404 Not Found</title></head><body><p>404</p></body></html>"
ROBOTS = b"User-agent: *\nAllow: /\n"
_GTIMG = re.compile(r"""(?:https?:)?//inews\.gtimg\.com/[^"'\s<>)]+""")


@cache
def _old_page_parts() -> tuple[str, dict[str, str]]:
    text = OLD_PAGE.read_text(encoding="utf-8")
    data = json.loads(text[text.index("window.DATA = ") + 14 : text.index("}\n", text.index("window.DATA")) + 1])
    return text, data


def old_page(article_id: str, title: str, media: str, pubtime: str) -> str:
    """The real old-template page, rewritten to another id, title, media and pubtime."""
    text, data = _old_page_parts()

    def js(value: str) -> str:  # a JSON string inside <script>: "</" would end the script
        return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")

    replacements = [
        (f'"article_id": "{OLD_ID}"', f'"article_id": "{article_id[:-2]}"'),
        (f'"cms_id": "{OLD_ID}00"', f'"cms_id": "{article_id}"'),
        (f'"title": {js(data["title"])}', f'"title": {js(title)}'),
        (f'"media": {js(data["media"])}', f'"media": {js(media)}'),
        (f'"pubtime": {js(data["pubtime"])}', f'"pubtime": {js(pubtime)}'),
    ]
    for old, new in replacements:
        if old not in text:  # the fixture changed: fail loudly rather than serve the wrong id
            raise RuntimeError(f"old-template fixture lacks {old!r}")
        text = text.replace(old, new, 1)
    return text.replace(data["title"], html.escape(title, quote=True))


@lru_cache(maxsize=256)
def jpeg_bytes(name: str) -> bytes:
    """A small real JPEG (64x48), its colour derived from ``name``."""
    from PIL import Image  # imported lazily: only image tests need Pillow

    r, g, b = hashlib.sha1(name.encode()).digest()[:3]
    image = Image.new("RGB", (64, 48), (r, g, b))
    for x in range(0, 64, 8):  # a few stripes, so it is not a flat colour
        image.paste((255 - r, g, b), (x, 0, x + 4, 48))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def image_name(url: str) -> str:
    """The local image name of a remote image URL (protocol-relative and http count as https)."""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    elif url.startswith("http://"):
        url = "https://" + url[7:]
    return hashlib.sha1(url.encode()).hexdigest()[:16]


def _missing_name(value: str) -> str:
    """An image name from a name, an ``/img/<name>.jpg`` path/URL or a remote image URL."""
    if "/img/" in value:
        value = value.rsplit("/img/", 1)[1]
    elif value.startswith(("http://", "https://", "//")):
        return image_name(value)
    return re.sub(r"\.jpe?g$", "", value)


# ---- configuration --------------------------------------------------------------------------

ARTICLE_FAULT_KINDS = ("500", "503", "429", "timeout", "reset", "truncate")
FEED_FAULT_KINDS = (*ARTICLE_FAULT_KINDS, "invalid_json", "error_envelope")


@dataclass(frozen=True)
class MockConfig:
    """Everything that can be switched at run time (``configure(**fields)``)."""

    old_every: int = 10  # article i uses the old template if i % old_every == old_every - 1 (0: never)
    origin_every: int = 0  # same rule: body also in window.DATA.originContent.text (0: never)
    channels: tuple[str, ...] = ("news_news_top",)
    hot_count: int = 10  # articles on the hot list
    author_page_size: int = 10
    feed_extras: bool = True  # video / short video / ad items in feeds
    url_forms: str = "mixed"  # "mixed" or "rain" (channel feed link_info.url)
    duplicate_urls: bool = False  # channel feed lists each article under 5 URL forms
    specials: bool = False  # serve and list DELETED_ID, PAID_ID, CHALLENGE_ID, UNRECOGNIZED_ID
    unrecognized_layout: bool = False  # every article page in an unknown layout
    local_images: bool = False  # inews.gtimg.com URLs -> http://127.0.0.1:PORT/img/<name>.jpg
    missing_images: tuple[str, ...] = ()  # image names (or /img/ paths or URLs) that 404
    latency: float = 0.0  # seconds added to every counted request
    clock: float = 0.0  # epoch seconds every answer gives as its Date header (0: no Date header)
    real_articles: bool = False  # a body row's own id (or OLD_ID+"00") is served as it really was
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ("500", "503", "timeout", "reset", "truncate")
    fault_seed: int = 0
    fault_max_attempts: int = 0  # only attempts 1..N can fault (0: any attempt)
    always_fail: dict = field(default_factory=dict)  # id -> fault kind, on every attempt
    delay_fault: float = 3.0  # seconds a "timeout" fault stays silent (set the client timeout lower)
    feed_fault_rate: float = 0.0
    feed_fault_kinds: tuple[str, ...] = ("500", "503", "reset", "truncate", "invalid_json")
    feed_invalid_json: bool = False
    down: bool = False  # feed endpoints fail with down_kind
    down_kind: str = "503"  # "503", "reset" or "timeout"
    cache_size: int = 2048  # built pages kept (LRU)
    log_size: int = 10000  # request log entries kept

    def updated(self, **changes: Any) -> MockConfig:
        """A copy with ``changes`` applied and checked (lists from JSON / "a,b" strings accepted)."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown config field {name!r}")
            default = getattr(MockConfig, name, None) if name != "always_fail" else {}
            if isinstance(default, tuple):
                value = tuple(v for v in value.split(",") if v) if isinstance(value, str) else tuple(value)
            elif isinstance(default, bool):
                value = bool(value)
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif name == "always_fail":
                value = {normalize_id(str(k)) or str(k): str(v) for k, v in dict(value).items()}
            if name == "missing_images":
                value = tuple(_missing_name(v) for v in value)
            clean[name] = value
        new = replace(self, **clean)
        new.check()
        return new

    def check(self) -> None:
        if not 0.0 <= self.fault_rate <= 1.0 or not 0.0 <= self.feed_fault_rate <= 1.0:
            raise ValueError("fault rates must be within 0..1")
        for kind in self.fault_kinds:
            if kind not in ARTICLE_FAULT_KINDS:
                raise ValueError(f"unknown article fault kind {kind!r}")
        for kind in (*self.feed_fault_kinds, *self.always_fail.values()):
            if kind not in FEED_FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
        if self.down_kind not in ("503", "reset", "timeout"):
            raise ValueError("down_kind must be 503, reset or timeout")
        if self.url_forms not in ("mixed", "rain"):
            raise ValueError("url_forms must be mixed or rain")
        if not self.channels:
            raise ValueError("at least one channel")
        if self.fault_rate and not self.fault_kinds:
            raise ValueError("fault_rate needs fault_kinds")
        if self.feed_fault_rate and not self.feed_fault_kinds:
            raise ValueError("feed_fault_rate needs feed_fault_kinds")

    def as_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    """What the mock serves for one article id (and lists in feeds)."""

    id: str
    index: int  # synthetic index, or EXTRA_INDEX+n for ids given to set_articles
    row: int  # index into usable_rows()
    title: str
    media: str
    pubtime: str  # "YYYY-MM-DD HH:MM:SS" (window.DATA.pubtime, feed publish_time)
    timestamp: int  # the same as epoch seconds (pubtime read as UTC+8)
    channel: str
    template: str  # one of MODES (after modes, specials and unrecognized_layout)
    thumbnail: str  # og:image of the page ("" when none, and for the old template)
    cover: str  # the feed picture (pic_info.big_img[0], miniProShareImage)

    @property
    def writable(self) -> bool:
        """True when a correct crawler writes a file for this article."""
        return self.template in WRITABLE_TEMPLATES

    @property
    def short_id(self) -> str:
        return self.id[:-2]

    def as_json(self) -> dict:
        return {**{f: getattr(self, f) for f in self.__slots__}, "writable": self.writable}


def _unit(*parts: object) -> tuple[float, float]:
    """Two deterministic uniform numbers in [0, 1) from ``parts``."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big") / 2**64, int.from_bytes(digest[8:], "big") / 2**64


# ---- state and control API ------------------------------------------------------------------


class MockState:
    """Articles, configuration, modes, counters and the page cache. Thread-safe.

    :class:`MockQQServer` is a MockState with an HTTP server; every public method here is
    also reachable over ``/_control/`` (see the module docstring) and via :class:`MockControl`.
    """

    def __init__(self, articles: int = 0, **config: Any) -> None:
        self._lock = threading.RLock()
        self._initial = MockConfig().updated(**config)
        self.config = self._initial
        self.base_url = "http://127.0.0.1:0"
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._next_synthetic = 0
        self._extra: dict[str, int] = {}  # non-synthetic id -> stable index
        self._modes: dict[str, str] = {}
        self._authors: dict[str, list[str]] | None = None
        self._edits: dict[str, dict[str, str]] = {}  # id -> {"title", "paragraph", "thumbnail"}
        self._specs: dict[str, ArticleSpec] = {}
        self._views: dict[str, Any] = {}
        self._pages: OrderedDict[str, bytes] = OrderedDict()
        self.reset_counters()
        if articles:
            self.add_articles(articles)

    # -- articles --

    def add_articles(self, n: int) -> list[str]:
        """Append ``n`` new synthetic articles (newer than all before); returns their ids."""
        with self._lock:
            new = []
            for _ in range(int(n)):
                i = self._next_synthetic
                self._next_synthetic += 1
                article_id = synthetic_id(i)
                if article_id not in self._index:
                    self._index[article_id] = i
                    self._ids.append(article_id)
                    new.append(article_id)
            self._invalidate()
            return new

    def set_articles(self, ids: list[str]) -> None:
        """Replace the listed articles. Synthetic ids keep their content; other valid ids get
        a stable index of their own (``EXTRA_INDEX + n``)."""
        with self._lock:
            self._ids, self._index = [], {}
            for raw in ids:
                article_id = normalize_id(raw)
                if not article_id:
                    raise ValueError(f"not an article id: {raw!r}")
                if article_id in self._index:
                    continue
                self._ids.append(article_id)
                self._index[article_id] = self._index_of(article_id)
            self._invalidate()

    def remove_articles(self, ids: list[str]) -> None:
        """Stop listing and serving these articles (they become 404)."""
        with self._lock:
            gone = {normalize_id(i) or i for i in ids}
            self._ids = [i for i in self._ids if i not in gone]
            for article_id in gone:
                self._index.pop(article_id, None)
            self._invalidate()

    def ids(self, which: str = "articles") -> list[str]:
        """``articles``: the regular articles, oldest first; ``listed``: everything the feeds
        list (plus specials); ``writable``: listed ids a correct crawler writes a file for."""
        with self._lock:
            if which == "articles":
                return list(self._ids)
            listed = self._ids + [i for i in SPECIALS if self.config.specials]
            if which == "listed":
                return listed
            if which == "writable":
                fail = self.config.always_fail
                return [i for i in listed if i not in fail and self._spec(i).writable]
            raise ValueError(f"unknown id list {which!r}")

    def spec(self, article_id: str) -> ArticleSpec | None:
        """What ``/rain/a/<id>`` serves, or None for an id that is 404."""
        with self._lock:
            article_id = normalize_id(article_id) or article_id
            if article_id in self._index or article_id in self._modes:
                return self._spec(article_id)
            if self.config.specials and article_id in SPECIALS:
                return self._spec(article_id)
            return None

    def set_mode(self, ids: str | list[str], mode: str | None) -> None:
        """Serve these ids as ``mode`` (one of MODES), whether listed or not; None: back to normal."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        with self._lock:
            for raw in [ids] if isinstance(ids, str) else ids:
                article_id = normalize_id(raw) or raw
                if mode is None:
                    self._modes.pop(article_id, None)
                else:
                    self._modes[article_id] = mode
            self._invalidate()

    def edit(
        self, article_id: str, title: str | None = None, paragraph: str | None = None, thumbnail: str | None = None
    ) -> None:
        """Edit an article after publication (revisit tests): a new ``title``, a ``paragraph``
        appended to the body, a new ``thumbnail`` (og:image URL). Repeated edits accumulate;
        :meth:`reset` undoes them all."""
        with self._lock:
            article_id = normalize_id(article_id) or article_id
            changes = {k: v for k, v in (("title", title), ("paragraph", paragraph), ("thumbnail", thumbnail)) if v}
            edits = self._edits.setdefault(article_id, {})
            if "paragraph" in changes and "paragraph" in edits:
                changes["paragraph"] = edits["paragraph"] + "\n" + changes["paragraph"]
            edits.update(changes)
            self._invalidate()

    def delete(self, ids: str | list[str]) -> None:
        """Delete articles at the site: their pages redirect to ``babygohome`` (mode ``deleted``)."""
        self.set_mode(ids, "deleted")

    def fail_always(self, ids: str | list[str], kind: str | None = "500") -> None:
        """Make these articles fail on every attempt with ``kind`` (None: stop)."""
        with self._lock:
            table = dict(self.config.always_fail)
            for raw in [ids] if isinstance(ids, str) else ids:
                article_id = normalize_id(raw) or raw
                if kind is None:
                    table.pop(article_id, None)
                else:
                    table[article_id] = kind
            self.configure(always_fail=table)

    def set_authors(self, authors: dict[str, list[str]] | None) -> None:
        """Author feed mapping suid -> ids (newest first in the feed); None: the default
        (:data:`DEFAULT_SUID` -> every listed article)."""
        with self._lock:
            self._authors = (
                None if authors is None else {s: [normalize_id(i) or i for i in v] for s, v in authors.items()}
            )
            self._invalidate()

    def configure(self, **changes: Any) -> MockConfig:
        """Change :class:`MockConfig` fields; returns the new config."""
        with self._lock:
            self.config = self.config.updated(**changes)
            self._invalidate()
            return self.config

    def reset(self) -> None:
        """Config, modes, authors and counters back to the start (the articles stay)."""
        with self._lock:
            self.config = self._initial
            self._modes.clear()
            self._edits.clear()
            self._authors = None
            self._invalidate()
            self.reset_counters()

    def local_image_url(self, url: str) -> str:
        """Where ``local_images=True`` points a remote image URL."""
        return f"{self.base_url}/img/{image_name(url)}.jpg"

    # -- counters --

    def reset_counters(self) -> None:
        """Zero all counters and the log; attempt numbers (for faults) restart at 1."""
        with self._lock:
            self._total = 0
            self._paths: Counter[str] = Counter()
            self._articles: Counter[str] = Counter()
            self._feed_attempts: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._inflight = 0
            self._max_inflight = 0
            self._log: deque[dict] = deque(maxlen=self.config.log_size)

    def hits(self, path_or_id: str) -> int:
        """Requests for a path (query ignored), or article fetches when given an id."""
        with self._lock:
            article_id = normalize_id(path_or_id)
            if article_id:
                return self._articles[article_id]
            return self._paths[urlsplit(path_or_id).path]

    def article_fetches(self, article_id: str) -> int:
        """How many times ``/rain/a/<id>`` was requested (all answers, faults included)."""
        with self._lock:
            return self._articles[normalize_id(article_id) or article_id]

    def total(self) -> int:
        """All counted requests (``/_control/`` is not counted)."""
        with self._lock:
            return self._total

    def counters(self) -> dict:
        with self._lock:
            return {
                "total": self._total,
                "paths": dict(self._paths),
                "articles": dict(self._articles),
                "statuses": dict(self._statuses),
                "faults": dict(self._faults),
                "max_inflight": self._max_inflight,
            }

    def log(self, limit: int = 0) -> list[dict]:
        """Recent requests, oldest first (at most ``log_size`` kept)."""
        with self._lock:
            entries = list(self._log)
        return entries[-limit:] if limit else entries

    def state(self) -> dict:
        with self._lock:
            return {
                "url": self.base_url,
                "config": self.config.as_json(),
                "articles": len(self._ids),
                "listed": len(self.ids("listed")),
            }

    # -- internals (handler side) --

    def _invalidate(self) -> None:
        with self._lock:
            self._specs.clear()
            self._views.clear()
            self._pages.clear()

    def _index_of(self, article_id: str) -> int:
        index = synthetic_index(article_id)
        if index is not None:
            return index
        if article_id not in self._extra:
            self._extra[article_id] = EXTRA_INDEX + len(self._extra)
        return self._extra[article_id]

    def _spec(self, article_id: str) -> ArticleSpec:
        """Spec of a served id (lock held by the caller)."""
        spec = self._specs.get(article_id)
        if spec is not None:
            return spec
        config = self.config
        index = self._index.get(article_id)
        if index is None:
            index = self._index_of(article_id)
        if config.real_articles and article_id in real_sources():
            spec = self._real_spec(article_id, index)
            self._specs[article_id] = spec
            return spec
        rows = usable_rows()
        row = index % len(rows)
        if synthetic_index(article_id) == index:
            published = synthetic_pubtime(index)
        else:
            try:
                day = datetime.strptime(article_id[:8], "%Y%m%d") if article_id[:8].isdigit() else ID_EPOCH
            except ValueError:
                day = ID_EPOCH
            published = day + timedelta(seconds=(index * 7919) % 86400)
        if article_id in self._modes:
            template = self._modes[article_id]
        elif config.specials and article_id in SPECIALS:
            template = SPECIALS[article_id]
        elif config.old_every and index % config.old_every == config.old_every - 1:
            template = "old"
        elif config.origin_every and index % config.origin_every == config.origin_every - 1:
            template = "origin"
        else:
            template = "new"
        if config.unrecognized_layout and template in CONTENT_TEMPLATES:
            template = "unrecognized"
        thumbnail = "" if template == "old" else rows[row].get("thumbnail") or ""
        cover = thumbnail or f"https://inews.gtimg.com/om_ls/O{hashlib.sha1(article_id.encode()).hexdigest()}_640360/0"
        if config.local_images:
            thumbnail = self.local_image_url(thumbnail) if thumbnail else ""
            cover = self.local_image_url(cover)
        edits = self._edits.get(article_id, {})
        thumbnail = edits.get("thumbnail", thumbnail) if template != "old" else thumbnail
        spec = ArticleSpec(
            id=article_id,
            index=index,
            row=row,
            title=edits.get("title") or f"{rows[row]['title']} #{index}",
            media=rows[row].get("media") or "腾讯新闻",
            pubtime=f"{published:%Y-%m-%d %H:%M:%S}",
            timestamp=_epoch(published),
            channel=config.channels[index % len(config.channels)],
            template=template,
            thumbnail=thumbnail,
            cover=cover,
        )
        self._specs[article_id] = spec
        return spec

    def _real_spec(self, article_id: str, index: int) -> ArticleSpec:
        """An article served with its own capture's title, media, pubtime and image."""
        config = self.config
        row = real_sources()[article_id]
        if row < 0:
            data = _old_page_parts()[1]
            title, media, pubtime = data["title"], data["media"], data["pubtime"]
            thumbnail, template, row = "", "old", 0
        else:
            source = usable_rows()[row]
            title, media, pubtime = source["title"], source.get("media") or "", source["pubtime"]
            thumbnail, template = source.get("thumbnail") or "", "new"
        if config.local_images and thumbnail:
            thumbnail = self.local_image_url(thumbnail)
        published = datetime.strptime(pubtime, "%Y-%m-%d %H:%M:%S")
        return ArticleSpec(
            id=article_id,
            index=index,
            row=row,
            title=title,
            media=media,
            pubtime=pubtime,
            timestamp=_epoch(published),
            channel=config.channels[index % len(config.channels)],
            template=template,
            thumbnail=thumbnail,
            cover=thumbnail,
        )

    def _view(self, name: str) -> Any:
        """Derived lists for the feeds, rebuilt after any change."""
        with self._lock:
            view = self._views.get(name)
            if view is not None:
                return view
            if name == "newest":
                specs = [self._spec(i) for i in self.ids("listed")]
                view = sorted(specs, key=lambda s: (s.timestamp, s.index), reverse=True)
            elif name == "channels":
                view = {}
                for spec in self._view("newest"):
                    channel = spec.channel if spec.id not in SPECIALS else self.config.channels[0]
                    view.setdefault(channel, []).append(spec)
            elif name == "authors":
                if self._authors is None:
                    view = {DEFAULT_SUID: self._view("newest")}
                else:
                    view = {}
                    for suid, ids in self._authors.items():
                        specs = [self._spec(i) for i in ids if self.spec(i) is not None]
                        view[suid] = sorted(specs, key=lambda s: (s.timestamp, s.index), reverse=True)
            else:
                raise KeyError(name)
            self._views[name] = view
            return view

    def _page(self, spec: ArticleSpec) -> bytes:
        """Page bytes of a spec, built on first use and kept in a bounded LRU."""
        with self._lock:
            page = self._pages.get(spec.id)
            if page is not None:
                self._pages.move_to_end(spec.id)
                return page
            local = self.config.local_images
        page = self._build_page(spec, local)
        with self._lock:
            if self._specs.get(spec.id) is spec:  # not invalidated meanwhile
                self._pages[spec.id] = page
                while len(self._pages) > self.config.cache_size:
                    self._pages.popitem(last=False)
        return page

    def _build_page(self, spec: ArticleSpec, local_images: bool) -> bytes:
        if spec.template == "unrecognized":
            return UNRECOGNIZED_HTML
        if spec.template == "challenge":
            return CHALLENGE_HTML
        row = usable_rows()[spec.row]
        if spec.template == "old":
            text = old_page(spec.id, spec.title, spec.media, spec.pubtime)
        else:
            page_row = {**row, "title": spec.title, "pubtime": spec.pubtime, "thumbnail": spec.thumbnail}
            if spec.template == "empty":  # the current template around a body with no text, no image
                page_row["body_html"] = '<div class="rich_media_content"><p> </p></div>'
            added = self._edits.get(spec.id, {}).get("paragraph")
            if added:  # edited after publication: paragraphs appended at the end of the body
                paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in added.split("\n"))
                body_html = page_row["body_html"]
                end = body_html.rfind("</div>")
                if end < 0:
                    end = len(body_html)
                page_row["body_html"] = body_html[:end] + paragraphs + body_html[end:]
            text = wrap_body(page_row, origin_content=spec.template == "origin", article_id=spec.id)
            if spec.template == "paid":
                text = text.replace('"article_is_pay": 0', '"article_is_pay": 1', 1)
        if local_images:
            text = _GTIMG.sub(lambda m: self.local_image_url(m.group(0)), text)
        return text.encode("utf-8")

    def _begin(self, path: str) -> None:
        with self._lock:
            self._total += 1
            self._paths[path] += 1
            self._inflight += 1
            self._max_inflight = max(self._max_inflight, self._inflight)

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._statuses[str(entry["status"])] += 1
            self._log.append(entry)

    def _end(self) -> None:
        with self._lock:
            self._inflight -= 1

    def _count_fault(self, kind: str) -> None:
        with self._lock:  # counted when it starts: a "timeout" fault ends seconds later
            self._faults[kind] += 1

    def _article_attempt(self, article_id: str) -> int:
        with self._lock:
            self._articles[article_id] += 1
            return self._articles[article_id]

    def _article_fault(self, article_id: str, attempt: int) -> str:
        config = self.config
        kind = config.always_fail.get(article_id)
        if kind:
            return kind
        if not config.fault_rate or (config.fault_max_attempts and attempt > config.fault_max_attempts):
            return ""
        u, v = _unit(config.fault_seed, article_id, attempt)
        return config.fault_kinds[int(v * len(config.fault_kinds))] if u < config.fault_rate else ""

    def _feed_fault(self, key: str) -> str:
        config = self.config
        if config.down:
            return "down:" + config.down_kind
        if config.feed_fault_rate:
            with self._lock:
                self._feed_attempts[key] += 1
                attempt = self._feed_attempts[key]
            u, v = _unit(config.fault_seed, "feed", key, attempt)
            if u < config.feed_fault_rate:
                return config.feed_fault_kinds[int(v * len(config.feed_fault_kinds))]
        return "invalid_json" if config.feed_invalid_json else ""


def _epoch(local: datetime) -> int:
    """Epoch seconds of a Beijing-time (UTC+8) naive datetime."""
    return int((local - datetime(1970, 1, 1, 8)).total_seconds())


# ---- feeds ----------------------------------------------------------------------------------


def article_link(spec: ArticleSpec, form: str) -> str:
    """One of the URL forms the site uses for an article (see qq-site reference §1)."""
    if form == "rain":
        return f"https://new.qq.com/rain/a/{spec.id}"
    if form == "news":
        return f"https://news.qq.com/rain/a/{spec.id}?adChannelId=news"
    if form == "view":
        return f"https://view.inews.qq.com/a/{spec.id}"
    if form == "k":
        return f"https://view.inews.qq.com/k/{spec.id}"
    if form == "omn":
        return f"https://new.qq.com/omn/{spec.id[:8]}/{spec.short_id}.html"
    if form == "search":
        return f"https://new.qq.com/rain/a/{spec.id}?from=search#detail"
    raise ValueError(form)


_MIXED_FORMS = ("rain", "news", "rain", "view")
DUPLICATE_FORMS = ("rain", "news", "view", "omn", "search")


def _channel_item(spec: ArticleSpec, url: str) -> dict:
    return {
        "id": spec.id,
        "title": spec.title,
        "publish_time": spec.pubtime,
        "articletype": "0",
        "link_info": {"url": url},
        "pic_info": {"big_img": [spec.cover]},
        "media_info": {"chl_name": spec.media, "medal_info": {"medal_name": ""}},
        "sub_item": [],
    }


def _video_id(spec: ArticleSpec) -> str:
    return f"{spec.id[:8]}V{spec.id[9:]}"


def _extra_items(spec: ArticleSpec, page: int, channel: str) -> list[tuple[int, dict]]:
    """(position, item) of the non-article items on a feed page."""
    video_id = _video_id(spec)
    video = {
        "id": video_id,
        "title": f"视频：{spec.title}",
        "publish_time": spec.pubtime,
        "articletype": "4",
        "link_info": {"url": f"https://new.qq.com/rain/a/{video_id}"},
        "pic_info": {"big_img": [spec.cover]},
        "media_info": {"chl_name": spec.media},
    }
    ad = {
        "id": f"ad_{channel}_{page}",
        "title": "【广告】限时优惠",
        "articletype": "1000",
        "is_ad": 1,
        "link_info": {"url": f"https://e.qq.com/dsp/ad/{channel}/{page}"},
        "pic_info": {"big_img": []},
        "media_info": {"chl_name": "广告"},
    }
    extras = [(1, video), (4, ad)]
    if page == 1:
        short = {**video, "id": f"{spec.id[:8]}V{spec.id[9:14]}1X00", "articletype": "118", "title": "小视频"}
        short["link_info"] = {"url": f"https://new.qq.com/rain/a/{short['id']}"}
        extras.append((2, short))
    return extras


def _cursor(suid: str, offset: int) -> str:
    raw = json.dumps({"suid": suid, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str, suid: str) -> int | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(data["offset"]) if data.get("suid") == suid else None
    except (ValueError, KeyError, TypeError):
        return None


# ---- HTTP -----------------------------------------------------------------------------------

_ARTICLE_PATH = re.compile(r"/rain/a/([0-9A-Za-z]+)/?")
_IMG_PATH = re.compile(r"/img/([0-9A-Za-z_.-]+)\.jpe?g")
JSON_TYPE = "application/json;charset=UTF-8"
HTML_TYPE = "text/html; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: MockQQServer) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._aborted: set[int] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def abort(self, request: socket.socket) -> None:
        """Close this connection with a TCP RST instead of a FIN."""
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conns_lock:
            self._aborted.add(id(request))

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
            aborted = id(request) in self._aborted
            self._aborted.discard(id(request))
        if aborted:
            request.close()  # no shutdown(): that would send a FIN before the RST
        else:
            super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handlers blocked on idle keep-alive connections, so nothing answers after stop."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):  # clients hang up: normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockQQ/1.0"
    timeout = 120  # idle keep-alive connections
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests count instead
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    # -- plumbing --

    def _respond(self, status: int, body: bytes, ctype: str = HTML_TYPE, headers: tuple = ()) -> None:
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Server: {self.server_version}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers),
        ]
        clock = self.server.state.config.clock
        if clock:  # the server's time, set by the test (revisits read it as the time of an answer)
            lines.append(f"Date: {formatdate(clock, usegmt=True)}")
        if self.close_connection:
            lines.append("Connection: close")
        self._record(status)
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _record(self, status: int) -> None:
        """Count the status and log the request *before* answering, so a client that reads
        counters right after its response sees this request."""
        entry, self._entry = self._entry, None
        if entry is not None:
            entry["status"] = status
            self.server.state._record(entry)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._respond(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), JSON_TYPE)

    def _fault(self, kind: str, body: bytes, ctype: str) -> None:
        """Misbehave as ``kind`` (status answer, silence, reset, truncated or broken body)."""
        state = self.server.state
        state._count_fault(kind)
        if self._entry is not None:
            self._entry["fault"] = kind
        if kind in ("500", "503", "429"):
            status = int(kind)
            headers = (("Retry-After", "1"),) if kind == "429" else ()
            self._respond(status, f"<html><body>{status}</body></html>".encode(), HTML_TYPE, headers)
            return
        self.close_connection = True
        if kind == "timeout":
            self._record(0)
            self.server.stopping.wait(state.config.delay_fault)
            return
        if kind == "reset":
            self._record(0)
            self.server.abort(self.connection)
            return
        if kind == "truncate":
            self._record(200)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
            self.wfile.write(head.encode("latin-1") + body[: len(body) // 2])
            return
        if kind == "invalid_json":
            self.close_connection = False
            self._respond(200, b'{"ret":0,"data":[{"id":"2025', JSON_TYPE)
            return
        if kind == "error_envelope":  # the endpoint's own error answer: 200, valid JSON, no data
            self.close_connection = False
            self._respond(200, b'{"code":-1,"msg":"error","data":null}', JSON_TYPE)
            return
        raise ValueError(kind)

    def _request_json(self, raw: bytes) -> dict:
        if not raw:
            return {}
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("JSON object expected")
        return data

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""  # read it all, or keep-alive desyncs
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        state = self.server.state
        self._entry: dict | None = None
        if path.startswith("/_control/"):
            self._control(path[len("/_control/") :], query, raw)
            return
        state._begin(path)
        self._entry = {
            "t": time.time(),
            "method": self.command,
            "path": path,
            "query": parts.query,
            "status": 0,
            "fault": "",
            "user_agent": self.headers.get("User-Agent", ""),
            "referer": self.headers.get("Referer", ""),
        }
        try:
            latency = state.config.latency
            if latency > 0:
                self.server.stopping.wait(latency)
            self._route(path, query, raw)
        finally:
            self._record(0)  # no-op unless the request ended without an answer (an error)
            state._end()

    def _route(self, path: str, query: dict, raw: bytes) -> None:
        match = _ARTICLE_PATH.fullmatch(path)
        if match:
            return self._article(match.group(1))
        if path == "/web_feed/getPCList":
            return self._channel_feed(query, raw)
        if path == "/gw/event/hot_ranking_list":
            return self._hot_list(query)
        if path == "/getSubNewsMixedList":
            return self._author_feed(query)
        match = _IMG_PATH.fullmatch(path)
        if match:
            return self._image(match.group(1))
        if path in ("/babygohome", "/babygohome/"):
            self._respond(200, GONE_HTML)
            return
        if path == "/robots.txt":
            self._respond(200, ROBOTS, "text/plain; charset=utf-8")
            return
        self._respond(404, NOT_FOUND_HTML)

    # -- endpoints --

    def _article(self, raw_id: str) -> None:
        state = self.server.state
        article_id = normalize_id(raw_id) or raw_id
        attempt = state._article_attempt(article_id)
        spec = state.spec(article_id)
        kind = state._article_fault(article_id, attempt)
        if kind:
            body = state._page(spec) if spec and kind == "truncate" else NOT_FOUND_HTML
            self._fault(kind, body, HTML_TYPE)
            return
        if spec is None or spec.template == "404":
            self._respond(404, NOT_FOUND_HTML)
            return
        if spec.template == "deleted":
            host = self.headers.get("Host") or urlsplit(state.base_url).netloc
            self._respond(302, b"", HTML_TYPE, (("Location", f"http://{host}/babygohome/?pgv_ref=apub"),))
            return
        self._respond(200, state._page(spec))

    def _feed_answer(self, key: str, make: Any) -> None:
        """Run feed faults for ``key``, else answer ``make()`` (a JSON-able object)."""
        state = self.server.state
        kind = state._feed_fault(key)
        if kind.startswith("down:"):
            kind = kind[5:]
        if kind:
            body = json.dumps(make(), ensure_ascii=False).encode() if kind == "truncate" else b""
            self._fault(kind, body, JSON_TYPE)
            return
        self._json(make())

    def _channel_feed(self, query: dict, raw: bytes) -> None:
        try:
            request = {k: v[0] for k, v in query.items()}
            request.update(self._request_json(raw))
            channel = str(request["channel_id"])
            page = max(1, int(request.get("flush_num") or 1))
            count = min(200, max(1, int(request.get("item_count") or 12)))
        except (ValueError, KeyError, TypeError) as exc:
            self._json({"ret": -1, "msg": f"bad request: {exc}"}, 400)
            return
        state = self.server.state

        def make() -> dict:
            config = state.config
            entries: list[tuple[ArticleSpec, str]] = []
            for spec in state._view("channels").get(channel, ()):
                if config.duplicate_urls:
                    entries.extend((spec, article_link(spec, f)) for f in DUPLICATE_FORMS)
                elif config.url_forms == "rain":
                    entries.append((spec, article_link(spec, "rain")))
                else:
                    form = "omn" if spec.template == "old" else _MIXED_FORMS[zlib.crc32(spec.id.encode()) % 4]
                    entries.append((spec, article_link(spec, form)))
            chunk = entries[(page - 1) * count : page * count]
            data = [_channel_item(spec, url) for spec, url in chunk]
            if chunk and config.feed_extras:
                for position, item in sorted(_extra_items(chunk[0][0], page, channel), key=lambda p: p[0]):
                    data.insert(min(position, len(data)), item)
            return {"ret": 0, "msg": "", "data": data}

        return self._feed_answer(f"channel|{channel}|{page}|{count}", make)

    def _hot_list(self, query: dict) -> None:
        try:
            size = min(200, max(1, int(query.get("page_size", ["50"])[0])))
        except ValueError:
            size = 50
        state = self.server.state

        def make() -> dict:
            articles = [s for s in state._view("newest") if s.id not in SPECIALS][: min(size, state.config.hot_count)]
            items: list[dict] = [
                {"id": "hot_header", "articletype": "1101", "title": "腾讯新闻热点榜", "hotEvent": {"title": "热点榜"}}
            ]
            for rank, spec in enumerate(articles, 1):
                items.append(
                    {
                        "id": spec.id,
                        "title": spec.title,
                        "longtitle": spec.title,
                        "abstract": "",
                        "source": spec.media,
                        "chlname": spec.media,
                        "timestamp": spec.timestamp,
                        "url": article_link(spec, "k"),
                        "surl": article_link(spec, "k"),
                        "shareUrl": article_link(spec, "view"),
                        "miniProShareImage": spec.cover,
                        "readCount": 100000 - rank,
                        "articletype": "0",
                        "hotEvent": {"title": spec.title, "hotScore": 5_000_000 - rank * 1000, "ranking": rank},
                    }
                )
                if rank == 2 and state.config.feed_extras:
                    items.append(
                        {
                            "id": "ad_hot_1",
                            "articletype": "560",
                            "title": "【推广】",
                            "url": "https://e.qq.com/dsp/ad/hot/1",
                            "miniProShareImage": "",
                        }
                    )
            return {"ret": 0, "idlist": [{"newslist": items}]}

        return self._feed_answer(f"hot|{size}", make)

    def _author_feed(self, query: dict) -> None:
        suid = query.get("guestSuid", [""])[0]
        tab = query.get("tabId", ["om_article"])[0]
        cursor = query.get("offset_info", [""])[0]
        offset = _uncursor(cursor, suid) if cursor else 0
        if offset is None:
            self._json({"ret": -1, "errmsg": "invalid offset_info"})
            return
        state = self.server.state

        def make() -> dict:
            specs = state._view("authors").get(suid, []) if tab in ("om_article", "om_index") else []
            size = state.config.author_page_size
            chunk = specs[offset : offset + size]
            items = [
                {
                    "id": s.id,
                    "title": s.title,
                    "url": article_link(s, "view"),
                    "link_info": {"url": article_link(s, "view")},
                    "time": s.pubtime,
                    "publish_time": s.pubtime,
                    "timestamp": s.timestamp,
                    "chlname": s.media,
                    "source": s.media,
                    "card": {"suid": suid, "chlname": s.media},
                    "abstract": "",
                    "articletype": "0",
                    "miniProShareImage": s.cover,
                }
                for s in chunk
            ]
            if chunk and offset == 0 and state.config.feed_extras:
                video_id = _video_id(chunk[0])
                items.insert(
                    min(1, len(items)),
                    {
                        "id": video_id,
                        "title": "视频",
                        "url": f"https://view.inews.qq.com/a/{video_id}",
                        "articletype": "4",
                    },
                )
            has_next = offset + size < len(specs)
            return {
                "ret": 0,
                "newslist": items,
                "offsetInfo": _cursor(suid, offset + size) if has_next else "",
                "hasNext": has_next,
            }

        return self._feed_answer(f"author|{suid}|{tab}|{offset}", make)

    def _image(self, name: str) -> None:
        missing = self.server.state.config.missing_images
        if name in missing:
            self._respond(404, NOT_FOUND_HTML)
            return
        self._respond(200, jpeg_bytes(name), "image/jpeg", (("Cache-Control", "max-age=86400"),))

    # -- control --

    def _control(self, name: str, query: dict, raw: bytes) -> None:
        state = self.server.state
        q = {k: v[0] for k, v in query.items()}
        try:
            body = self._request_json(raw)
            if name == "state":
                result: Any = state.state()
            elif name == "ids":
                result = {"ids": state.ids(q.get("which", "articles"))}
            elif name == "spec":
                spec = state.spec(q["id"])
                result = {"spec": spec.as_json() if spec else None}
            elif name == "counters":
                result = state.counters()
            elif name == "hits":
                result = {"hits": state.hits(q["key"])}
            elif name == "log":
                result = {"log": state.log(int(q.get("limit", 0)))}
            elif name == "articles":
                result = {}
                if "set" in body:
                    state.set_articles(body["set"])
                if "remove" in body:
                    state.remove_articles(body["remove"])
                if "add" in body:
                    result["ids"] = state.add_articles(int(body["add"]))
                result["count"] = len(state.ids())
            elif name == "config":
                result = {"config": state.configure(**body).as_json()}
            elif name == "modes":
                state.set_mode(body["ids"], body.get("mode"))
                result = {"ok": True}
            elif name == "edit":
                state.edit(body["id"], body.get("title"), body.get("paragraph"), body.get("thumbnail"))
                result = {"ok": True}
            elif name == "fail":
                state.fail_always(body["ids"], body.get("kind", "500"))
                result = {"ok": True}
            elif name == "authors":
                state.set_authors(body.get("authors"))
                result = {"ok": True}
            elif name == "reset":
                if body.get("what", "counters") == "all":
                    state.reset()
                else:
                    state.reset_counters()
                result = {"ok": True}
            elif name == "shutdown":
                self.close_connection = True
                self._json({"ok": True})
                threading.Thread(target=state.stop, daemon=True).start()
                return
            else:
                self._json({"error": f"unknown control endpoint {name!r}"}, 404)
                return
        except (ValueError, KeyError, TypeError) as exc:
            self._json({"error": f"{type(exc).__name__}: {exc}"}, 400)
            return
        self._json(result)


class MockQQServer(MockState):
    """The mock on 127.0.0.1 in a background thread; a context manager.

    ``MockQQServer(articles=0, host="127.0.0.1", port=0, **config)`` where ``config`` are
    :class:`MockConfig` fields. URLs: :attr:`url`, :attr:`article_url` (for
    ``QQ_ARTICLE_URL``), :attr:`channel_feed_url`, :attr:`hot_list_url`, :attr:`author_feed_url`.
    """

    def __init__(self, articles: int = 0, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        super().__init__(articles, **config)
        self._address = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()

    def start(self) -> MockQQServer:
        httpd = self._httpd = _Server(self._address, self)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._invalidate()  # specs/pages may embed the URL (local images)
        serve = partial(httpd.serve_forever, poll_interval=0.05)  # short poll: stop() returns quickly
        self._thread = threading.Thread(target=serve, name="mockqq", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, drop open connections, wake sleeping faults. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        self.stopped.set()

    def __enter__(self) -> MockQQServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    url = property(lambda self: self.base_url, doc="http://127.0.0.1:PORT")
    article_url = property(lambda self: self.base_url + "/rain/a/{id}", doc="QQ_ARTICLE_URL template")
    channel_feed_url = property(lambda self: self.base_url + "/web_feed/getPCList")
    hot_list_url = property(lambda self: self.base_url + "/gw/event/hot_ranking_list")
    author_feed_url = property(lambda self: self.base_url + "/getSubNewsMixedList")


# ---- remote control -------------------------------------------------------------------------


class MockControl:
    """The control API of a mock in another process (``MockControl("http://127.0.0.1:PORT")``)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    url = property(lambda self: self.base_url)
    article_url = property(lambda self: self.base_url + "/rain/a/{id}")
    channel_feed_url = property(lambda self: self.base_url + "/web_feed/getPCList")
    hot_list_url = property(lambda self: self.base_url + "/gw/event/hot_ranking_list")
    author_feed_url = property(lambda self: self.base_url + "/getSubNewsMixedList")

    def _call(self, name: str, body: dict | None = None, **query: Any) -> Any:
        url = f"{self.base_url}/_control/{name}"
        if query:
            url += "?" + urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ValueError(exc.read().decode("utf-8", "replace")) from exc

    def state(self) -> dict:
        return self._call("state")

    def config(self) -> dict:
        return self.state()["config"]

    def ids(self, which: str = "articles") -> list[str]:
        return self._call("ids", which=which)["ids"]

    def spec(self, article_id: str) -> dict | None:
        return self._call("spec", id=article_id)["spec"]

    def add_articles(self, n: int) -> list[str]:
        return self._call("articles", {"add": n})["ids"]

    def set_articles(self, ids: list[str]) -> None:
        self._call("articles", {"set": list(ids)})

    def remove_articles(self, ids: list[str]) -> None:
        self._call("articles", {"remove": list(ids)})

    def configure(self, **changes: Any) -> dict:
        return self._call("config", changes)["config"]

    def set_mode(self, ids: str | list[str], mode: str | None) -> None:
        self._call("modes", {"ids": [ids] if isinstance(ids, str) else list(ids), "mode": mode})

    def edit(
        self, article_id: str, title: str | None = None, paragraph: str | None = None, thumbnail: str | None = None
    ) -> None:
        self._call("edit", {"id": article_id, "title": title, "paragraph": paragraph, "thumbnail": thumbnail})

    def delete(self, ids: str | list[str]) -> None:
        self.set_mode(ids, "deleted")

    def fail_always(self, ids: str | list[str], kind: str | None = "500") -> None:
        self._call("fail", {"ids": [ids] if isinstance(ids, str) else list(ids), "kind": kind})

    def set_authors(self, authors: dict[str, list[str]] | None) -> None:
        self._call("authors", {"authors": authors})

    def counters(self) -> dict:
        return self._call("counters")

    def hits(self, path_or_id: str) -> int:
        return self._call("hits", key=path_or_id)["hits"]

    def article_fetches(self, article_id: str) -> int:
        return self.hits(article_id)

    def total(self) -> int:
        return self.counters()["total"]

    def log(self, limit: int = 0) -> list[dict]:
        return self._call("log", limit=limit)["log"]

    def reset_counters(self) -> None:
        self._call("reset", {"what": "counters"})

    def reset(self) -> None:
        self._call("reset", {"what": "all"})

    def shutdown(self) -> None:
        self._call("shutdown", {})


class MockQQProcess:
    """``python -m tests.mockserver`` in a subprocess; a context manager.

    ``MockQQProcess(*cli_args)``; after start: :attr:`url`, :attr:`control` (MockControl),
    :attr:`proc` (Popen); :meth:`stop` (SIGTERM, then SIGKILL), :meth:`kill` (SIGKILL).
    """

    def __init__(self, *args: str, ready_timeout: float = 30.0) -> None:
        self.args = [str(a) for a in args]
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> MockQQProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-m", "tests.mockserver", "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.ready_timeout)
        if not line or not line[0].startswith("READY "):
            self.kill()
            raise RuntimeError(f"mock server did not start: {line!r}")
        self.url = line[0].split()[1]
        return self

    @property
    def control(self) -> MockControl:
        return MockControl(self.url)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()

    def __enter__(self) -> MockQQProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


# ---- CLI ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.mockserver", description="Mock Tencent news server.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--articles", type=int, default=0, help="synthetic articles to start with")
    p.add_argument("--old-every", type=int)
    p.add_argument("--origin-every", type=int)
    p.add_argument("--channels", help="comma-separated channel ids")
    p.add_argument("--hot-count", type=int)
    p.add_argument("--author-page-size", type=int)
    p.add_argument("--latency", type=float)
    p.add_argument("--fault-rate", type=float)
    p.add_argument("--fault-kinds", help="comma-separated: " + ",".join(ARTICLE_FAULT_KINDS))
    p.add_argument("--fault-seed", type=int)
    p.add_argument("--fault-max-attempts", type=int)
    p.add_argument("--delay-fault", type=float)
    p.add_argument("--feed-fault-rate", type=float)
    p.add_argument("--cache-size", type=int)
    for flag in ("down", "specials", "local-images", "unrecognized-layout", "duplicate-urls"):
        p.add_argument(f"--{flag}", action="store_true", default=None)
    p.add_argument("--no-feed-extras", dest="feed_extras", action="store_false", default=None)
    p.add_argument("--config", default="{}", help="JSON object of MockConfig fields (applied last)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = {f.name for f in fields(MockConfig)}
    config = {k: v for k, v in vars(args).items() if k in names and v is not None}
    config.update(json.loads(args.config))
    server = MockQQServer(articles=args.articles, host=args.host, port=args.port, **config)
    server.start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stopped.set())
    print(f"READY {server.url}", flush=True)
    server.stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
