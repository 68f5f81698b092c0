"""Sanity tests of the mock Tencent news server (tests/mockserver.py): the pages it serves
parse as the articles it claims, feeds page through every article once, faults break
HTTP the way they should, and the subprocess mode is controllable over /_control/."""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.error
import urllib.request

import pytest

from newscrawl.sites.qq.ids import ID_RE, id_from_url
from newscrawl.sites.qq.page import Unavailable, extract
from tests.mockserver import (
    CHALLENGE_ID,
    DEFAULT_SUID,
    DELETED_ID,
    PAID_ID,
    UNRECOGNIZED_ID,
    MockControl,
    MockQQProcess,
    MockQQServer,
    MockState,
    image_name,
    synthetic_id,
    synthetic_index,
    usable_rows,
)


@pytest.fixture(scope="module")
def mock():
    with MockQQServer(articles=40, channels=["news_news_top", "news_news_finance"]) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(mock):
    """Each test starts from the same 40 articles and the default config."""
    mock.reset()
    mock.set_articles([synthetic_id(i) for i in range(40)])


def fetch(url: str, timeout: float = 5.0) -> tuple[str, str]:
    """(text, final URL) of a GET, redirects followed."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8"), response.geturl()


def get_json(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json;charset=UTF-8"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def channel_ids(mock, channel: str, item_count: int) -> tuple[list[str], list[dict]]:
    """Article ids (from link_info.url) of every page of a channel, and all raw items."""
    ids, items = [], []
    for page in range(1, 100):
        body = {"channel_id": channel, "flush_num": page, "item_count": item_count}
        data = get_json(mock.channel_feed_url, body)
        assert data["ret"] == 0
        if not data["data"]:
            return ids, items
        items.extend(data["data"])
        ids.extend(id_from_url(i["link_info"]["url"]) for i in data["data"] if i["articletype"] == "0")
    raise AssertionError("feed never ran out")


def test_synthetic_ids_are_valid_unique_and_reversible():
    ids = [synthetic_id(i) for i in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{8}A[0-9A-Z]{5}00", i) and ID_RE.match(i) for i in ids)
    assert [synthetic_index(i) for i in ids[::997]] == list(range(0, 20_000, 997))
    assert synthetic_index(DELETED_ID) is None
    # Short (old-template) forms in omn URLs map back to the id.
    assert all(id_from_url(f"https://new.qq.com/omn/{i[:8]}/{i[:-2]}.html") == i for i in ids[:500])
    assert len(usable_rows()) == 770


def test_large_setup_is_fast_and_lazy():
    state = MockState(articles=20_000)
    assert len(state.ids()) == 20_000
    assert not state._pages  # nothing built before a request
    assert len({state.spec(i).title for i in state.ids()[:2000]}) == 2000


def test_channel_feed_pages_every_article_once_newest_first(mock):
    seen = []
    for channel in mock.config.channels:
        ids, items = channel_ids(mock, channel, item_count=7)
        assert len(ids) == len(set(ids))
        times = [i["publish_time"] for i in items if i["articletype"] == "0"]
        assert times == sorted(times, reverse=True)
        assert {"4", "118", "1000"} <= {i["articletype"] for i in items}  # non-articles to skip
        assert all(i["id"] == id_from_url(i["link_info"]["url"]) for i in items if i["articletype"] == "0")
        seen.extend(ids)
    assert sorted(seen) == sorted(mock.ids())
    assert get_json(mock.channel_feed_url, {"channel_id": "nope", "flush_num": 1})["data"] == []


def test_duplicate_url_forms_share_an_id(mock):
    mock.configure(duplicate_urls=True, channels=["news_news_top"], feed_extras=False)
    ids, items = channel_ids(mock, "news_news_top", item_count=12)
    assert len(ids) == 5 * len(mock.ids())
    assert sorted(set(ids)) == sorted(mock.ids())
    assert len({i["link_info"]["url"] for i in items}) == len(items)


def test_article_pages_extract_as_their_spec(mock):
    ids = mock.ids()
    templates = set()
    for article_id in ids[:12]:
        text, url = fetch(mock.article_url.format(id=article_id))
        article = extract(text, url, requested_id=article_id)
        spec = mock.spec(article_id)
        assert article.id == article_id
        assert article.title == spec.title and article.published_raw == spec.pubtime
        assert article.body
        templates.add(spec.template)
        if spec.template == "old":
            assert article.template == "omn"
            assert f'"article_id": "{article_id[:-2]}"' in text and f'"cms_id": "{article_id}"' in text
    assert templates == {"new", "old"}
    assert mock.article_fetches(ids[0]) == 1 and mock.hits(f"/rain/a/{ids[0]}") == 1
    with pytest.raises(urllib.error.HTTPError) as err:
        fetch(mock.article_url.format(id="20250101AZZZZZ00"))
    assert err.value.code == 404


@pytest.mark.parametrize(
    "article_id, reason",
    [(DELETED_ID, "deleted"), (PAID_ID, "paid"), (CHALLENGE_ID, "challenge"), (UNRECOGNIZED_ID, "unrecognized")],
)
def test_special_pages_are_unavailable(mock, article_id, reason):
    with pytest.raises(urllib.error.HTTPError):
        fetch(mock.article_url.format(id=article_id))  # off by default
    mock.configure(specials=True)
    text, url = fetch(mock.article_url.format(id=article_id))
    with pytest.raises(Unavailable) as err:
        extract(text, url, requested_id=article_id)
    assert err.value.reason == reason
    assert article_id in mock.ids("listed") and article_id not in mock.ids("writable")


def test_template_change_switch_breaks_every_page(mock):
    mock.configure(unrecognized_layout=True)
    for article_id in mock.ids()[8:11]:  # includes an old-template one
        text, url = fetch(mock.article_url.format(id=article_id))
        with pytest.raises(Unavailable) as err:
            extract(text, url, requested_id=article_id)
        assert err.value.reason == "unrecognized"


def test_hot_list_and_author_feed(mock):
    mock.configure(hot_count=5)
    items = get_json(mock.hot_list_url + "?page_size=50")["idlist"][0]["newslist"]
    articles = [i for i in items[1:] if i["articletype"] != "560"]
    assert any(i["articletype"] == "560" for i in items) and not ID_RE.match(items[0]["id"])
    assert [id_from_url(i["url"]) for i in articles] == mock.ids()[::-1][:5]

    mock.configure(author_page_size=7)
    ids, cursor, pages = [], "", 0
    while True:
        url = f"{mock.author_feed_url}?guestSuid={DEFAULT_SUID}&tabId=om_article&offset_info={cursor}"
        data = get_json(url)
        pages += 1
        ids += [id_from_url(i["url"]) for i in data["newslist"] if i["articletype"] == "0"]
        if not data["hasNext"]:
            break
        cursor = data["offsetInfo"]
    assert pages == 6 and sorted(ids) == sorted(mock.ids()) and len(ids) == len(set(ids))
    mock.set_authors({"someone": mock.ids()[:3]})
    data = get_json(f"{mock.author_feed_url}?guestSuid=someone&tabId=om_article")
    assert [i["id"] for i in data["newslist"] if i["articletype"] == "0"] == mock.ids()[:3][::-1]
    assert get_json(f"{mock.author_feed_url}?guestSuid=someone&offset_info=garbage")["ret"] != 0


def raw_get(mock, path: str, timeout: float = 5.0) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        if response.status >= 400:
            raise urllib.error.HTTPError(path, response.status, "", response.headers, None)
        return response.read()
    finally:
        conn.close()


def test_faults_break_http(mock):
    article_id = mock.ids()[0]
    path = f"/rain/a/{article_id}"
    mock.fail_always(article_id, "truncate")
    with pytest.raises(http.client.IncompleteRead):
        raw_get(mock, path)
    mock.fail_always(article_id, "reset")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        raw_get(mock, path)
    mock.fail_always(article_id, "503")
    with pytest.raises(urllib.error.HTTPError) as err:
        raw_get(mock, path)
    assert err.value.code == 503
    mock.configure(delay_fault=1.0)
    mock.fail_always(article_id, "timeout")
    with pytest.raises((TimeoutError, socket.timeout)):
        raw_get(mock, path, timeout=0.2)
    mock.fail_always(article_id, None)
    assert b"window.DATA" in raw_get(mock, path)
    assert mock.counters()["faults"] == {"truncate": 1, "reset": 1, "503": 1, "timeout": 1}


def test_per_attempt_faults_let_retries_succeed(mock):
    ids = mock.ids()[:10]
    mock.configure(fault_rate=1.0, fault_max_attempts=1, fault_kinds=["500"])
    for article_id in ids:
        with pytest.raises(urllib.error.HTTPError):
            raw_get(mock, f"/rain/a/{article_id}")
        assert raw_get(mock, f"/rain/a/{article_id}")
    mock.reset_counters()
    mock.configure(fault_rate=0.5, fault_max_attempts=0, fault_seed=7)
    failures = 0
    for article_id in mock.ids():
        try:
            raw_get(mock, f"/rain/a/{article_id}")
        except urllib.error.HTTPError:
            failures += 1
    assert 5 < failures < 35  # 40 fair coin flips
    assert mock.counters()["statuses"].get("500") == failures


def test_feed_down_and_invalid_json(mock):
    mock.configure(down=True)
    with pytest.raises(urllib.error.HTTPError) as err:
        get_json(mock.hot_list_url)
    assert err.value.code == 503
    assert fetch(mock.article_url.format(id=mock.ids()[0]))[0]  # pages still served
    mock.configure(down=False, feed_invalid_json=True)
    with pytest.raises(json.JSONDecodeError):
        get_json(mock.channel_feed_url, {"channel_id": "news_news_top", "flush_num": 1})


def test_local_images_and_missing_image(mock):
    mock.configure(local_images=True)
    article_id = next(i for i in mock.ids() if mock.spec(i).thumbnail)
    text, url = fetch(mock.article_url.format(id=article_id))
    assert "inews.gtimg.com" not in text
    local = sorted(set(re.findall(r"http://127\.0\.0\.1:\d+/img/[0-9a-f]{16}\.jpg", text)))
    assert local and mock.spec(article_id).thumbnail in local
    image = raw_get(mock, urllib.parse.urlsplit(local[0]).path)
    assert image[:3] == b"\xff\xd8\xff"  # a real JPEG
    mock.configure(missing_images=[local[0]])
    with pytest.raises(urllib.error.HTTPError) as err:
        raw_get(mock, urllib.parse.urlsplit(local[0]).path)
    assert err.value.code == 404
    assert mock.local_image_url("//inews.gtimg.com/x/0").endswith(image_name("https://inews.gtimg.com/x/0") + ".jpg")


def test_keep_alive_and_robots(mock):
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=5)
    for article_id in mock.ids()[:5]:
        conn.request("GET", f"/rain/a/{article_id}")
        response = conn.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) == len(response.read())
    conn.request("GET", "/robots.txt")
    assert conn.getresponse().read() == b"User-agent: *\nAllow: /\n"
    conn.close()


@pytest.mark.e2e
def test_subprocess_mode_and_control():
    with MockQQProcess("--articles", "5", "--specials", "--old-every", "2") as proc:
        control = proc.control
        assert proc.url.startswith("http://127.0.0.1:")
        assert len(control.ids()) == 5 and len(control.ids("listed")) == 9
        new = control.add_articles(3)
        assert len(new) == 3 and control.ids()[-3:] == new
        text, url = fetch(control.article_url.format(id=new[0]))
        assert extract(text, url, requested_id=new[0]).id == new[0]
        assert [control.spec(i)["template"] for i in new] == ["old", "new", "old"]  # indexes 5, 6, 7
        assert control.article_fetches(new[0]) == 1 and control.total() == 1
        control.configure(fault_rate=1.0, fault_kinds=["503"])
        with pytest.raises(urllib.error.HTTPError):
            fetch(control.article_url.format(id=new[0]))
        assert control.counters()["faults"] == {"503": 1}
        with pytest.raises(ValueError):
            control.configure(no_such_field=1)
        control.reset()
        assert control.total() == 0 and control.config()["fault_rate"] == 0
        control.shutdown()
        assert proc.proc.wait(10) == 0
    assert MockControl(proc.url).url == proc.url


def test_modes_change_what_an_article_serves(mock):
    first, second, third = mock.ids()[:3]
    mock.set_mode(first, "origin")
    text, url = fetch(mock.article_url.format(id=first))
    assert extract(text, url, requested_id=first).template == "window_data"
    mock.set_mode(second, "deleted")
    text, url = fetch(mock.article_url.format(id=second))
    assert "/babygohome/" in url
    with pytest.raises(Unavailable) as err:
        extract(text, url, requested_id=second)
    assert err.value.reason == "deleted"
    mock.set_mode(third, "404")
    with pytest.raises(urllib.error.HTTPError):
        fetch(mock.article_url.format(id=third))
    assert second not in mock.ids("writable") and third not in mock.ids("writable") and first in mock.ids("writable")
    mock.set_mode([first, second, third], None)
    assert len(mock.ids("writable")) == len(mock.ids())
    mock.remove_articles([first])
    assert first not in mock.ids() and mock.spec(first) is None
    mock.set_articles(mock.ids() + [first])  # back, with the same content as before
    assert mock.spec(first).index == 0
