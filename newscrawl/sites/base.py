"""The ``Site`` interface: everything one news site decides, and nothing the crawl core decides.

The split follows web-poet / scrapy-poet: navigation (arguments, what to fetch, backlog,
failures, the stats the verdict reads) is one generic spider in the core
(``newscrawl.crawl.spider.ArticleSpider``); a site says how its URLs, feeds and pages read. The
core never imports a site package: it asks the registry (``newscrawl.sites.get_site``) for
the ``Site`` named by a spider or by ``Article.source``.

A site is a subclass of :class:`Site` registered in the ``SITES`` setting
(``{"name": "package.module.Class"}``), the way Scrapy registers its pluggable components.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from w3lib.encoding import html_to_unicode

if TYPE_CHECKING:  # annotations only: the core spider imports this module
    import scrapy
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

    from newscrawl.convert.article import Article

UTC_ZONE = ZoneInfo("UTC")


def split_arg(value: str | Iterable[str] | None) -> list[str]:
    """A list-valued spider argument: ``-a ids=a,b c`` -> ["a", "b", "c"] (commas or whitespace)."""
    if not value:
        return []
    if not isinstance(value, str):
        value = ",".join(value)
    return [part for part in value.replace(",", " ").split() if part]


class Unavailable(Exception):
    """The page holds no article to write. ``reason`` is a short stats key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FeedError(ValueError):
    """A feed response that is not the JSON the endpoint documents, or an error answer.

    ``reason`` is the stats key: ``bad_json`` (not the documented JSON) or ``error_envelope``
    (the endpoint said it failed).
    """

    def __init__(self, message: str, reason: str = "bad_json") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class FeedItem:
    """One listed article, with the metadata a feed gives (used where the page is silent).

    ``not_article`` is empty for an article the core can render, else the stats key
    suffix saying what the item is instead (``type_525``).
    """

    id: str | None
    url: str
    title: str = ""
    published: str = ""
    cover: str = ""
    not_article: str = ""

    @property
    def is_article(self) -> bool:
        return self.id is not None and not self.not_article

    def metadata(self) -> dict[str, str]:
        return {"title": self.title, "published": self.published, "cover": self.cover, "url": self.url}


@dataclass(slots=True)
class FeedPage:
    """What one feed page lists (zyte-common-items' ``ArticleNavigation``): items and the next page.

    ``next_page`` builds the next page's request; the spider calls it unless the article
    limit is reached, or (``only_if_new``) the page listed nothing new.
    """

    items: list[FeedItem]
    next_page: Callable[[], scrapy.Request] | None = None
    only_if_new: bool = False


@dataclass(frozen=True, slots=True)
class Markup:
    """A site's markup rules for the shared HTML walker (``newscrawl.convert.htmlblocks``).

    Class tests are substring tests on the ``class`` attribute, as the walker always did.
    A video widget is a ``<div>`` whose ``video_attribute`` equals ``video_value``; its id
    and title are in ``video_id_attribute`` / ``video_title_attribute``, and
    ``video_url`` (with ``{vid}``) is the link the Markdown gets.
    """

    bold_classes: tuple[str, ...] = ()
    subhead_classes: tuple[str, ...] = ()
    video_attribute: str = ""
    video_value: str = ""
    video_id_attribute: str = ""
    video_title_attribute: str = ""
    video_url: str = ""
    #: Query parameter holding the video id in an embedded player's ``<iframe src>``.
    iframe_video_param: str = ""


PLAIN_MARKUP = Markup()


@dataclass(slots=True)
class ArchivedRequest:
    """What a site recognizes in an archived request: its kind and the values in it."""

    kind: str  # "article", or a feed kind of the site ("channel", ...)
    details: dict[str, Any] = field(default_factory=dict)


class Site:
    """One news site. Subclasses set the class attributes and implement the methods.

    Instances are stateless and cheap: the registry makes one per name.
    """

    #: The source name: ``Article.source``, the spider's name, the output folder, the tags.
    name: ClassVar[str] = ""
    #: Article language (front matter ``lang``, output path ``{lang}``).
    lang: ClassVar[str] = ""
    #: Naive times on pages and feeds are in this zone.
    timezone: ClassVar[ZoneInfo] = UTC_ZONE
    #: Rules the shared HTML walker applies to this site's body markup.
    markup: ClassVar[Markup] = PLAIN_MARKUP
    #: Image hosts that serve https (an http URL on them is made https).
    https_image_hosts: ClassVar[tuple[str, ...]] = ()
    #: Referer sent with image downloads (IMAGES_DOWNLOAD) unless IMAGES_REFERER is set.
    image_referer: ClassVar[str] = ""
    #: Spider arguments (``-a``) of this site's discovery, besides the core's urls/ids/limit/...
    arguments: ClassVar[tuple[str, ...]] = ()
    #: Those of ``arguments`` that name what to fetch (given any, default discovery is off).
    selection_arguments: ClassVar[tuple[str, ...]] = ()
    #: Those of ``arguments`` that are on/off flags (``1``/``0``, ``true``/``false``, ...).
    flag_arguments: ClassVar[tuple[str, ...]] = ()
    #: Settings prefix of the site: a replay takes these settings from the capture.
    settings_prefix: ClassVar[str] = ""
    #: The site's settings and their defaults, applied at "default" priority by its spider.
    default_settings: ClassVar[dict[str, Any]] = {}
    #: Allowed ranges of the site's numeric settings, as ``(lowest, highest or None)``: an int
    #: bound asks for a whole number (checked before a run, as the core's ``preflight.RANGES``).
    setting_ranges: ClassVar[dict[str, tuple[float, float | None]]] = {}
    #: The setting holding the article fetch URL (with ``{id}``).
    article_url_setting: ClassVar[str] = ""

    # ---- ids and URLs ----------------------------------------------------------------------

    def id_from_url(self, url: str) -> str | None:
        """The normalized article id a URL of this site points at, or None."""
        raise NotImplementedError

    def normalize_id(self, value: str) -> str | None:
        """The normalized id of a bare id given on the command line, or None."""
        raise NotImplementedError

    def id_forms(self, article_id: str) -> tuple[str, ...]:
        """Every id a file of this article may be named by (older runs' short forms)."""
        return (article_id,)

    def article_url(self, article_id: str, settings: BaseSettings) -> str:
        """Where the article page is fetched from."""
        return str(settings.get(self.article_url_setting)).format(id=article_id)

    def canonical_url(self, article_id: str) -> str:
        """The link the output file gives."""
        raise NotImplementedError

    # ---- pages -----------------------------------------------------------------------------

    def decode_html(self, body: bytes, content_type: str | None = None) -> str:
        """Page bytes -> text (``content_type``: the HTTP header, for its charset)."""
        return html_to_unicode(content_type, body)[1]

    def extract(self, html: str, url: str = "", requested_id: str | None = None, redirected: bool = False) -> Article:
        """The article of a page. Raises :class:`Unavailable` when it holds none to write.

        ``url`` is where the page was fetched from; ``requested_id`` the id asked for;
        ``redirected`` says the fetch was redirected (the page must prove it is that article).
        """
        raise NotImplementedError

    # ---- normalization rules ---------------------------------------------------------------

    def is_ui_image(self, url: str) -> bool:
        """True for the site's own icons, logos and beacons (the generic rules run too)."""
        return False

    def date_from_id(self, article_id: str) -> datetime | None:
        """A publish date the id carries (the last resort for a date), or None."""
        return None

    # ---- discovery -------------------------------------------------------------------------

    def start_requests(self, spider: Any) -> Iterable[scrapy.Request]:
        """Feed requests of a run (``spider.site_args`` holds the site's ``-a`` values)."""
        return ()

    def parse_feed(self, spider: Any, response: Response) -> FeedPage:
        """One feed page's items and next page. Raises :class:`FeedError` on a bad page."""
        raise NotImplementedError

    def feed_label(self, meta: dict[str, Any]) -> str:
        """A feed page as log lines name it."""
        return str(meta.get("feed_kind", "feed"))

    # ---- replay ----------------------------------------------------------------------------

    def classify(self, method: str, uri: str, body: bytes, settings: dict[str, Any]) -> ArchivedRequest | None:
        """What an archived request was (``settings``: the capture's), or None."""
        return None

    def sweep_request(self, spider: Any, archived: ArchivedRequest, settings: BaseSettings) -> scrapy.Request | None:
        """The request that replays one archived feed page on its own (no next pages), or None."""
        return None
