"""The real whole pages and the reconstructed current-template page."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from newscrawl.convert import frontmatter
from newscrawl.convert.article import ImageBlock, Video, iter_blocks
from newscrawl.convert.converter import Converter
from newscrawl.sites.qq.page import decode_html, extract
from tests.qqpages import EXPECTED, RECONSTRUCTED, RECONSTRUCTED_ID, page_file


def gtimg(*numbers: int) -> list[str]:
    return [f"https://inews.gtimg.com/newsapp_bt/0/{n}/1000" for n in numbers]


def page(name: str) -> str:
    return decode_html(page_file(name.removesuffix(".html")).read_bytes())


def body_of(markdown: str) -> str:
    return markdown.split("\n---\n", 1)[1]


def test_reconstructed_page_renders_byte_for_byte():
    html = decode_html(RECONSTRUCTED.read_bytes())
    article = Converter().convert(html, f"https://new.qq.com/rain/a/{RECONSTRUCTED_ID}", RECONSTRUCTED_ID)
    assert article.markdown.encode("utf-8") == EXPECTED.read_bytes()


@pytest.mark.e2e
def test_render_command_prints_the_expected_file():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newscrawl",
            "render",
            str(RECONSTRUCTED),
            "--url",
            f"https://news.qq.com/rain/a/{RECONSTRUCTED_ID}?adChannelId=finance",
        ],
        capture_output=True,
        check=True,
    )
    assert result.stdout == EXPECTED.read_bytes()


@pytest.mark.e2e
def test_render_command_explains_a_page_without_article(tmp_path):
    challenge = tmp_path / "challenge.html"
    challenge.write_text("<html><head><title>安全验证</title></head><body>请完成验证</body></html>", "utf-8")
    result = subprocess.run([sys.executable, "-m", "newscrawl", "render", str(challenge)], capture_output=True)
    assert result.returncode == 1
    assert b"challenge" in result.stderr
    assert result.stdout == b""


# (file, id, title, media, RFC 3339 date, images in order, text that must be in the body)
REAL_PAGES = [
    (
        "20190907A081B0.html",
        "20190907A081B000",
        "儿歌一分钱被改成一元钱 原作者女儿：改成这样不觉得拗口吗？",
        "扬眼",
        "2019-09-07T19:02:26+08:00",
        [
            f"https://inews.gtimg.com/newsapp_bt/0/{n}/1000"
            for n in (10211616160, 10211616161, 10211616164, 10211616165)
        ],
        ["近日，一张截图在朋友圈流传", "*家中曾堆满他的音像作品*", "扬子晚报记者 张楠"],
    ),
    (
        "20201130A0G1JJ.html",
        "20201130A0G1JJ00",
        "流感疫苗副作用大不能接种？腾讯新闻较真平台发布11月最全辟谣榜",
        "较真",
        "2020-11-30T21:48:28+08:00",
        [
            f"https://inews.gtimg.com/newsapp_bt/0/{n}/1000"
            for n in (12844449145, 12844451110, 12844451917, 12837514775)
        ],
        ["打开“**腾讯较真辟谣**”小程序", "**谣言三：镇痛药布洛芬副作用大不能用**", "正确解读：布洛芬是非甾体抗炎药"],
    ),
    (
        "TWF2021042600346900.html",
        "TWF2021042600346900",
        "跟随总书记的脚步 忆浴血湘江悟苦难辉煌",
        "央视新闻客户端",
        "2021-04-26T10:36:29+08:00",
        [
            f"https://inews.gtimg.com/newsapp_bt/0/{n}/1000"
            for n in (13455074465, 13455074818, 13455074647, 13455075190, 13455075334, 13455074969)
        ],
        [
            "[视频：时政马上评丨跟随总书记的脚步 忆浴血湘江 悟苦难辉煌](https://v.qq.com/x/page/b32420bvx0n.html)",
            "2018年11月\n\n习近平总书记曾专门作出重要批示",
            "就是对英烈最好的纪念",
        ],
    ),
    (
        "finance_20190923000843.html",
        "20190923000843",
        "棱镜|数据业大整顿：爬虫与现金贷共生共荣，用户信息几元不等",
        "棱镜",
        "2019-09-23T07:48:00+08:00",
        ["https://inews.gtimg.com/newsapp_bt/0/10362088290/641"],
        ["划重点：", "1. 一位接近监管的人士", "第三方数据行业的整顿仍将持续。"],
    ),
]


@pytest.mark.parametrize("name,article_id,title,media,date,images,snippets", REAL_PAGES, ids=[p[0] for p in REAL_PAGES])
def test_real_old_pages(name, article_id, title, media, date, images, snippets):
    article = Converter().convert(page(name))
    assert article.id == article_id
    assert article.title == title
    assert article.media == media
    assert article.published.isoformat() == date
    assert [img.image.src for img in iter_blocks(article.body) if isinstance(img, ImageBlock)] == images
    fields = frontmatter.load(article.markdown)
    assert fields["title"] == title
    assert fields["date"] == date
    assert fields["thumbnail"] == images[0]
    body = body_of(article.markdown)
    for snippet in snippets:
        assert snippet in body
    # Page chrome never leaks into the body.
    for chrome in ("免责声明", "返回腾讯网首页", "正文已结束", "潘振声女儿马莉表示，改成这样"):
        assert chrome not in body
    assert not re.search(r"(?<!\\)<[A-Za-z/!]", body)


def test_video_article_keeps_its_video_first():
    article = extract(page("TWF2021042600346900.html"))
    assert isinstance(article.body[0], Video)
    assert article.body[0].vid == "b32420bvx0n"


def test_requested_id_wins_and_page_id_is_checked():
    html = page("20201130A0G1JJ.html")
    assert extract(html, "https://new.qq.com/rain/a/20201130A0G1JJ", "20201130A0G1JJ00").id == "20201130A0G1JJ00"
    from newscrawl.sites.qq.page import Unavailable

    with pytest.raises(Unavailable) as info:
        extract(html, "https://new.qq.com/rain/a/20250101A0000000", "20250101A0000000")
    assert info.value.reason == "wrong_id"


@pytest.mark.e2e
def test_render_command_works_outside_the_project_folder(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newscrawl",
            "render",
            str(RECONSTRUCTED),
            "--url",
            f"https://new.qq.com/rain/a/{RECONSTRUCTED_ID}",
        ],
        capture_output=True,
        cwd=tmp_path,
        check=True,
    )
    assert result.stdout == EXPECTED.read_bytes()
