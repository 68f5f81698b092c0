"""``python -m newscrawl render PAGE.html [--url URL]``: print the Markdown a saved page gives.

``python -m newscrawl`` is the ``newscrawl`` command (:mod:`newscrawl.cli`): ``crawl`` works too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newscrawl.convert.converter import Converter
from newscrawl.convert.normalize import ArticleDropped
from newscrawl.sites import get_site, site_for_url
from newscrawl.sites.base import Unavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newscrawl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the Markdown file a saved page gives")
    render.add_argument("page", type=Path, help="a saved article page (HTML)")
    render.add_argument("--url", default="", help="the URL the page was fetched from")
    render.add_argument("--site", default="", help="the site (SITES name); default: the one the URL belongs to")
    args = parser.parse_args(argv)

    url = args.url
    try:
        site = get_site(args.site) if args.site else site_for_url(url)
    except KeyError as exc:  # an unknown --site: one line that lists the registered ones
        print(f"newscrawl: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        data = args.page.read_bytes()
    except OSError as exc:
        print(f"newscrawl: cannot read {args.page}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    html = site.decode_html(data)
    try:
        article = Converter().convert(html, url, site.id_from_url(url) if url else None, site)
    except (Unavailable, ArticleDropped) as exc:
        print(f"newscrawl: no article in {args.page}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # as a crawl counts it: one line, no traceback
        print(f"newscrawl: extract_error in {args.page}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(article.markdown)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    from newscrawl.cli import main as cli_main

    sys.exit(cli_main())
