"""The rebuild plan's fast paths against the code they stand in for, on generated inputs.

``tests/test_rebuild.py`` (rebuild == replay on multi-run archives with faults, redirects and a
damaged record, ``--jobs 1`` and ``--jobs 2``) judges the plan as a whole; these check each
shortcut where its inputs can be varied more than an archive varies them.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from newscrawl.sites.base import FeedItem
from newscrawl.sites.qq import feeds
from newscrawl.sites.qq.ids import id_from_url, normalize_id


def reference_channel_items(items: list[Any], depth: int = 0) -> list[FeedItem]:
    """``feeds._channel_items`` as it was before its arguments were read in place (the reference)."""
    out = []
    for raw in items:
        if not isinstance(raw, dict):
            continue
        link = raw.get("link_info") if isinstance(raw.get("link_info"), dict) else {}
        pic = raw.get("pic_info") if isinstance(raw.get("pic_info"), dict) else {}
        out.append(
            feeds._item(
                raw,
                [link.get("url"), raw.get("url")],
                [raw.get("publish_time"), raw.get("timestamp")],
                [raw.get("miniProShareImage"), pic.get("big_img"), raw.get("thumbnails_big"), raw.get("bigImage")],
            )
        )
        sub = raw.get("sub_item")
        if depth == 0 and isinstance(sub, list) and sub:
            out.extend(reference_channel_items(sub, depth + 1))
    return out


# JSON values a feed field may hold: strings (empty, blank, ids, URLs), numbers, booleans,
# null, lists (empty, of empty, of null, of several) and objects.
VALUES: list[Any] = [
    None, "", " ", "x", "20250220ABQKW400", "20250220ABQKW4", "TWF2025022012345600", "https://new.qq.com/omn/20250220/20250220ABQKW4.html",
    "https://news.qq.com/rain/a/20250208A07Y6400?x=1", 0, 1, 1.5, True, False, [], [""], [None], ["a"], ["", "b"],
    ["a", "b"], [["n"]], [0], {}, {"url": "u"},
]  # fmt: skip
FIELDS = (
    "id", "url", "title", "longtitle", "publish_time", "timestamp", "miniProShareImage", "thumbnails_big",
    "bigImage", "articletype", "article_type",
)  # fmt: skip


def generated_item(rng: random.Random, depth: int = 0) -> Any:
    if rng.random() < 0.03:
        return rng.choice([None, "item", 3, ["x"]])  # not an object: skipped
    raw: dict[str, Any] = {}
    for name in FIELDS:
        if rng.random() < 0.6:
            raw[name] = rng.choice(VALUES + (["0", "1", "2", "4", "525", 0, 525] if "type" in name else []))
    for name, inner in (("link_info", "url"), ("pic_info", "big_img")):
        roll = rng.random()
        if roll < 0.5:
            raw[name] = {inner: rng.choice(VALUES)} if rng.random() < 0.8 else {}
        elif roll < 0.6:
            raw[name] = rng.choice(VALUES)  # not an object: read as {}
    if depth < 2 and rng.random() < 0.1:
        raw["sub_item"] = [generated_item(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    elif rng.random() < 0.05:
        raw["sub_item"] = rng.choice(VALUES)
    return raw


def test_channel_items_read_in_place_are_the_reference_readings_items():
    rng = random.Random(15)
    pages = [[generated_item(rng) for _ in range(rng.randrange(0, 30))] for _ in range(400)]
    items = 0
    for page in pages:
        expected = reference_channel_items(page)
        assert feeds._channel_items(page) == expected, page
        items += len(expected)
    assert items > 4000
    # The generated items meet both sides of every shortcut: a string read in place, and _first's
    # other cases (lists, numbers, blanks) that still go through it.
    urls = {type(item.url) for page in pages for item in feeds._channel_items(page)}
    assert urls == {str}
    assert sum(item.id is not None for page in pages for item in feeds._channel_items(page)) > 200
    assert any(item.cover == "a" for page in pages for item in feeds._channel_items(page))  # from a list
    assert any(item.published == "1.5" for page in pages for item in feeds._channel_items(page))  # a number
    # Where an order or a fallback could be got wrong, the inputs have both sides: longtitle and
    # title both set and different; link_info's url empty with the item's own url set.
    flat = [raw for page in pages for raw in page if isinstance(raw, dict)]

    def both_titles(raw: dict[str, Any]) -> bool:
        long, short = raw.get("longtitle"), raw.get("title")
        return isinstance(long, str) and long != "" and short not in (None, "", long)

    def own_url_only(raw: dict[str, Any]) -> bool:
        link = raw.get("link_info")
        return isinstance(link, dict) and link.get("url") in (None, "") and raw.get("url") not in (None, "")

    assert sum(map(both_titles, flat)) > 100
    assert sum(map(own_url_only, flat)) > 50
    assert normalize_id("20250220ABQKW4") == "20250220ABQKW400" == id_from_url("https://x/20250220ABQKW4.html")


def _spider(template: str, site_class: Any = None) -> Any:
    from scrapy.utils.test import get_crawler

    from newscrawl.sites.qq.spider import QQSpider

    crawler = get_crawler(QQSpider, {"QQ_ARTICLE_URL": template})
    spider = QQSpider.from_crawler(crawler, ids="20250208A07Y6400")
    if site_class is not None:
        spider.site = site_class()
    return spider


IDS = ("20250208A07Y6400", "TWF2025", "a_b-c", "新闻", "a b", "a%20b", "..", "x/y", "", "?q", "#f")


@pytest.mark.parametrize(
    "template", ["https://new.qq.com/rain/a/{id}", "https://h.example/a b/{id}?x=1&id=", "https://h.example/p/{id}"]
)
def test_a_planned_article_request_is_what_request_init_makes_slot_by_slot(template):
    from scrapy.http import Request

    from newscrawl.archive.rebuild import _planned_article_request, _PlannedRequest, _request_slots

    spider = _spider(template)
    planned = _planned_article_request(spider)
    assert planned is not None
    for article_id in IDS:
        for feed in ({"title": "t", "url": "u"}, None, {}):
            mine = planned(article_id, feed)
            theirs = spider.article_request(article_id, feed)
            assert type(mine) is _PlannedRequest
            slots = _request_slots(mine)
            assert slots == _request_slots(theirs), (template, article_id)
            assert slots == _request_slots(
                Request(theirs.url, callback=spider.parse_article, errback=spider.article_failed, meta=theirs.meta)
            )
            assert len(slots) >= 13
            assert mine.meta is not feed


def test_a_planned_request_missing_an_attribute_request_init_sets_is_not_used(monkeypatch):
    """The check made before use is real: a lean constructor that leaves one slot unset (as a Scrapy
    that sets a new attribute in Request.__init__ would) makes the plan keep the spider's requests."""
    from newscrawl.archive import rebuild

    spider = _spider("https://new.qq.com/rain/a/{id}")
    assert rebuild._planned_article_request(spider) is not None
    lean = rebuild._PlannedRequest.article.__func__

    def without_flags(cls: Any, *args: Any) -> Any:
        request = lean(cls, *args)
        del request._flags
        return request

    monkeypatch.setattr(rebuild._PlannedRequest, "article", classmethod(without_flags))
    assert rebuild._planned_article_request(spider) is None


def test_a_site_with_its_own_article_url_is_asked_for_each_url():
    from newscrawl.archive.rebuild import _planned_article_request
    from newscrawl.sites.qq.site import QQSite

    class Shouting(QQSite):
        def article_url(self, article_id: str, settings: Any) -> str:
            return super().article_url(article_id.upper(), settings)

    spider = _spider("https://new.qq.com/rain/a/{id}", Shouting)
    planned = _planned_article_request(spider)
    assert planned is not None
    assert planned("abc_d").url == spider.article_request("abc_d").url == "https://new.qq.com/rain/a/ABC_D"


def test_the_sweeps_unserved_responses_are_served_in_orders_pass_after_pass():
    """Each sweep's pass gives what ServedInOrder's gives, in its order, as responses get served
    between passes (the later passes look only at the keys the last one left)."""
    from newscrawl.archive.index import ServedInOrder
    from newscrawl.archive.rebuild import ArchiveIndex, Stored

    rng = random.Random(7)
    passes = left = 0
    for _ in range(300):
        index = ArchiveIndex([], lambda *args: None)
        for number in range(rng.randrange(0, 40)):
            key = ("GET", f"u{rng.randrange(12)}", "")
            index.by_key.setdefault(key, []).append(Stored(None, f"r{number}", 200, "GET", b""))
        for key in list(index.by_key):
            if rng.random() < 0.7:
                index.used[key] = rng.randrange(0, 3)
        for _ in range(4):
            expected = [stored.uri for stored in ServedInOrder.unserved(index)]
            assert [stored.uri for stored in index.unserved()] == expected
            passes += 1
            left += bool(expected)
            for key in list(index.by_key):  # served between passes, past the end too (the last is repeated)
                if rng.random() < 0.4:
                    index.used[key] = index.used.get(key, 0) + rng.randrange(1, 3)
    assert passes == 1200 and 300 < left < 1200


def test_the_pipelines_imported_before_the_clock_leave_a_bad_path_to_the_converter(monkeypatch):
    """Every pipeline path is loaded; one that does not import is skipped there (the converter
    reports it, as before)."""
    import scrapy.utils.misc
    from scrapy.settings import Settings

    from newscrawl.archive.rebuild import _import_pipelines

    loaded = []
    real = scrapy.utils.misc.load_object

    def load_object(path):
        loaded.append(path)
        return real(path)

    monkeypatch.setattr(scrapy.utils.misc, "load_object", load_object)
    pipelines = {"nope.Missing": 1, "newscrawl.crawl.writer.WriterPipeline": 900}
    _import_pipelines(Settings({"ITEM_PIPELINES": pipelines}))
    assert sorted(loaded) == sorted(pipelines)
