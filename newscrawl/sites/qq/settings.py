"""Settings of the qq site, with their defaults: applied by its spider at "default" priority.

Override any of them per run with ``-s NAME=value`` (or in the project's settings.py). A
replay takes every ``QQ_*`` setting from the capture: they decide which requests are made.
"""

from __future__ import annotations

from typing import Any

# Where article pages are fetched from; tests and mirrors point it elsewhere. The link in
# the output is always the canonical https://new.qq.com/rain/a/<id>.
QQ_ARTICLE_URL = "https://new.qq.com/rain/a/{id}"
# Channel feed (POST, JSON body with channel_id and flush_num).
QQ_FEED_URL = "https://i.news.qq.com/web_feed/getPCList"
# Hot list (GET).
QQ_HOT_URL = "https://r.inews.qq.com/gw/event/hot_ranking_list?page_size=50"
# An author's feed (GET); {suid} and {cursor} (the previous page's offsetInfo) are filled in.
QQ_AUTHOR_FEED_URL = (
    "https://i.news.qq.com/getSubNewsMixedList?guestSuid={suid}&tabId=om_article"
    "&offset_info={cursor}&caller=1&from_scene=103"
)
# Channels a run with no arguments lists (override with -a channels=...).
QQ_CHANNELS = ["news_news_top", "news_news_finance", "news_news_tech", "news_news_world"]
# Pages (flush_num) read per channel per run.
QQ_FEED_PAGES = 5
# Items asked per channel feed page.
QQ_FEED_ITEM_COUNT = 20
# Pages of an author's feed followed per run.
QQ_AUTHOR_PAGES = 20
# Seconds a feed request may take, and its retries: feed answers are small, and a host that
# never answers gets the feeds' verdict (exit status 4) within about a minute
# (robots.txt: ROBOTSTXT_TIMEOUT x (1 + ROBOTSTXT_RETRY_TIMES), then these).
QQ_FEED_TIMEOUT = 15.0
# Retries of a feed request after its first attempt (see QQ_FEED_TIMEOUT).
QQ_FEED_RETRY_TIMES = 2
# A feed's next page waits while this many article requests are queued or in flight, so
# a long discovery run holds a bounded number of requests in memory (0 = page eagerly).
QQ_FEED_BACKLOG = 500


# Allowed ranges of the numbers above (Site.setting_ranges): 0 feed pages or items would
# make a discovery run that finds nothing and says ok.
RANGES: dict[str, tuple[float, float | None]] = {
    "QQ_FEED_PAGES": (1, None),
    "QQ_FEED_ITEM_COUNT": (1, None),
    "QQ_AUTHOR_PAGES": (1, None),
    "QQ_FEED_TIMEOUT": (0.0, None),
    "QQ_FEED_RETRY_TIMES": (0, None),
    "QQ_FEED_BACKLOG": (0, None),
}


def defaults() -> dict[str, Any]:
    """The settings above, by name."""
    return {name: value for name, value in globals().items() if name.startswith("QQ_")}
