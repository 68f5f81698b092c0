"""Sites as plug-ins: the registry the crawl core asks for a site, by name or by URL.

A site is registered in the ``SITES`` setting (``SITES_BASE`` holds the project's own), as
``{"name": "package.module.SiteClass"}``, the way Scrapy registers its pluggable components;
``-s SITES='{"example": "tests.examplesite.site.ExampleSite"}'`` adds one for a run. The
core imports this module and ``newscrawl.sites.base``, never a site package.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scrapy.utils.misc import load_object

from newscrawl.sites.base import Site


def site_paths(settings: Any = None) -> dict[str, str]:
    """Registered sites, name -> class path (``SITES_BASE`` updated by ``SITES``), in order.

    Settings without newscrawl's (Scrapy's defaults, as ``get_crawler`` gives) use the project's.
    """
    extra = settings.getdict("SITES") if settings is not None else {}
    if settings is None or settings.get("SITES_BASE") is None:
        from newscrawl.convert.converter import project_settings

        settings = project_settings()
    paths = dict(settings.getdict("SITES_BASE"))
    paths.update(extra or settings.getdict("SITES"))
    return {name: path for name, path in paths.items() if path}


@cache
def _load(name: str, path: str) -> Site:
    cls = load_object(path)
    if not (isinstance(cls, type) and issubclass(cls, Site)):
        raise TypeError(f"SITES[{name!r}] = {path!r} is not a newscrawl.sites.base.Site subclass")
    if cls.name != name:
        raise ValueError(f"SITES[{name!r}] = {path!r} names itself {cls.name!r}")
    return cls()


def registry(settings: Any = None) -> dict[str, Site]:
    """Every registered site, by name."""
    return {name: _load(name, path) for name, path in site_paths(settings).items()}


def get_site(name: str, settings: Any = None) -> Site:
    """The registered site ``name``; KeyError names the registered ones."""
    paths = site_paths(settings)
    if name not in paths:
        raise KeyError(f"no site {name!r} in SITES (registered: {', '.join(paths) or 'none'})")
    return _load(name, paths[name])


def site_for_url(url: str, settings: Any = None, sites: list[Site] | None = None) -> Site:
    """The first registered site (or of ``sites``) that reads an article id in ``url``; else the first."""
    if sites is None:
        sites = list(registry(settings).values())
    if not sites:
        raise KeyError("no site registered (SITES_BASE and SITES are empty)")
    for site in sites:
        if url and site.id_from_url(url):
            return site
    return sites[0]
