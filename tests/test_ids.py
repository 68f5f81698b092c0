"""Every URL form of the site reference maps to one normalized article id."""

from __future__ import annotations

import pytest

from newscrawl.sites.qq.ids import canonical_url, id_from_url, legacy_id_from_url, normalize_id, short_id

ID = "20250208A07Y6400"


@pytest.mark.parametrize(
    "url,expected",
    [
        (f"https://news.qq.com/rain/a/{ID}", ID),
        (f"https://news.qq.com/rain/a/{ID}?adChannelId=finance", ID),
        (f"https://new.qq.com/rain/a/{ID}", ID),
        (f"http://new.qq.com/rain/a/{ID}#detail", ID),
        (f"https://new.qq.com/rain/a/{ID}?from=search#detail", ID),
        (f"https://view.inews.qq.com/a/{ID}", ID),
        (f"https://view.inews.qq.com/k/{ID}?web_channel=wap&openApp=false", ID),
        (f"https://inews.qq.com/rain/a/{ID}?id={ID}", ID),
        ("https://new.qq.com/omn/20250208/20250208A07Y6400.html", ID),
        ("https://new.qq.com/omn/20250208A07Y6400", ID),
        ("https://new.qq.com/omn/20201130/20201130A0G1JJ.html", "20201130A0G1JJ00"),
        ("https://new.qq.com/rain/a/20201130A0G1JJ", "20201130A0G1JJ00"),
        ("https://new.qq.com/omn/TWF20200/TWF2020041300303000.html", "TWF2020041300303000"),
        ("https://new.qq.com/rain/a/20260524V08WDT00", "20260524V08WDT00"),
        ("//new.qq.com/rain/a/20250208A07Y6400", ID),
        # Not articles, or the match is part of a longer run: no id.
        ("https://news.qq.com/omn/author/8QMc2XZf7IAfsD3Z", None),
        ("https://new.qq.com/rain/a/20250208A07Y6400X", None),
        ("https://new.qq.com/rain/a/X20250208A07Y6400", None),
        ("https://new.qq.com/ch/finance/?x=20250208A07Y6400", None),
        ("https://finance.qq.com/a/20190923/000843.htm", None),
        ("not a url", None),
    ],
)
def test_id_from_url(url, expected):
    assert id_from_url(url) == expected


def test_bare_ids_normalize():
    assert normalize_id(ID) == ID
    assert normalize_id("20201130A0G1JJ") == "20201130A0G1JJ00"
    assert normalize_id(" TWF2021042600346900 ") == "TWF2021042600346900"
    for bad in ("../etc/passwd", "20250208A07Y64/..", "", "2025", "20250208B07Y6400", "20190923000843"):
        assert normalize_id(bad) is None


def test_legacy_and_canonical_forms():
    assert legacy_id_from_url("https://finance.qq.com/a/20190923/000843.htm") == "20190923000843"
    assert legacy_id_from_url("https://evil.example/a/20190923/000843.htm") is None
    assert canonical_url(ID) == f"https://new.qq.com/rain/a/{ID}"
    assert short_id(ID) == "20250208A07Y64"
    assert short_id("TWF2021042600346900") == "TWF2021042600346900"
