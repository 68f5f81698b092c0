"""The optional compiled walker (``_cwalk``) writes exactly what the Python walk writes.

``newscrawl/convert/_cwalk.pyx`` is ``htmlblocks._walk`` written for Cython over libxml2's nodes;
htmlblocks uses it when it is built, unless ``NEWSCRAWL_PURE_PYTHON`` is set. The goldens
(test_corpus, test_pages, ...) run with whichever walk this process imported; here the same pages
are converted both ways, in a subprocess each, and every output must be the same bytes. Where a
C compiler is here, the default run must use the compiled walker: a build that silently fell back
would otherwise leave the comparison comparing Python with itself.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from newscrawl.convert import htmlblocks, markdown, normalize
from newscrawl.convert.article import Heading, Image, ImageBlock, ListBlock, Paragraph, Quote, Span, Table

ROOT = Path(__file__).resolve().parent.parent

# Converts the dom, data and page-fixture sets and nested markup around the walk's depth limit;
# prints one JSON object: which walk ran, and each output's SHA-256.
SCRIPT = r"""
import hashlib, json, logging, sys
sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)
from benchmarks.bench_convert import build_inputs, make_newscrawl
from newscrawl.convert.htmlblocks import MAX_DEPTH, WALKER, TooDeep, html_to_blocks
from newscrawl.convert.markdown import render_blocks

inputs = build_inputs()
convert = make_newscrawl()
from newscrawl.convert.normalize import normalize_blocks
out = {"walker": WALKER, "outputs": {}}
for name in ("dom", "data", "pages"):
    for n, doc in enumerate(inputs[name]):
        text = convert(doc) or ""
        out["outputs"][f"{name}/{n}"] = hashlib.sha256(text.encode()).hexdigest()
# Just under and just over the limit, in each of the walk's recursive paths.
shapes = {"span": ("<span>", 1), "div": ("<div>", 1), "li": ("<ul><li>", 4), "quote": ("<blockquote>", 3)}
for shape, (open_tag, calls) in shapes.items():
    for levels in (MAX_DEPTH // calls - 5, MAX_DEPTH // calls + 5):
        try:
            result = render_blocks(html_to_blocks(open_tag * levels + "深<b>x</b>"))
        except TooDeep:
            result = "TooDeep"
        out["outputs"][f"deep/{shape}/{levels}"] = result
# Hostile fragments through the walk, the text step and the renderer.
for n, html in enumerate(json.loads(sys.argv[2])):
    out["outputs"][f"hostile/{n}"] = render_blocks(normalize_blocks(html_to_blocks(html)))
print(json.dumps(out))
"""

# Markup that takes the rare paths of the walk, the text step and the renderer: emphasis beside
# CJK and ASCII punctuation, links (grouped, styled, after "!", blank), entities and stray "&",
# control and bidi characters, terminal escapes, emoji joiners, whitespace runs across spans,
# line starts, headings, lists, quotes and table cells.
HOSTILE = [
    "<p><b>DeepSeek：</b>传统<i>“引号”</i>后<strong>！</strong></p>",
    "<p>前<b> 空格 </b>后<b>。</b>x<em>，逗号</em>y<b><i>粗斜</i></b>z</p>",
    "<p>wow!<a href='https://a.example/(x) y'>链接</a>!<a href='//b.example/?q=[1]'><b>粗</b>文</a></p>",
    "<p>a<a href='https://a.example/'>  </a>b<a href='https://a.example/'>x</a><a href='https://a.example/'>y</a></p>",
    "<p>&amp;amp; &amp;nbsp;x &amp;#123; &amp;abc; &amp;" + "a" * 33 + "; a&b c&d;</p>",
    "<p>ctl\x01\x7f\x85 bidi\u202e\u2066x\u00ad\u200b\ufeff end</p>",
    "<p>esc\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b1m</p>",
    "<p>\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f\u200d\U0001f308 a\u200db</p>",
    "<p>  lead<span>  mid  </span><b>  bold  </b>\u3000\u00a0<i> it </i>  tail  </p>",
    "<p>1. one</p><p>12) two</p><p>1234567890. ten</p><p>\u0661. arabic</p><p>\u00b2. sup</p>",
    "<p>- dash</p><p>+ plus</p><p>= eq</p><p>: colon</p><p># hash</p><p>> gt</p>",
    "<p>a--b---c...d. .e \\ ` * _ [ ] < > | ~ #</p>",
    "<h2><b>粗</b>标题：<a href='https://h.example/'>链</a></h2><h3>  </h3><h4>&amp;nbsp;</h4>",
    "<ul><li><b>项：</b>一</li><li><p>二<i>斜</i></p></li></ul><blockquote><p><b>引：</b>文</p></blockquote>",
    "<table><tr><td><b>格：</b>文<img src='https://inews.gtimg.com/x/0'>后</td><td>a|b&amp;nbsp;</td></tr></table>",
    "<p><code>`tick`</code> <code>  </code> <tt>x</tt>y<kbd>k</kbd></p>",
    "<p><b>a</b><b>b</b><span>c</span><span>d</span><i></i><b> </b><i>e</i></p>",
    "<p><b>“</b>引<b>”</b> <i>(</i>x<i>)</i> <b>!?</b>好</p>",
    "<p>a<span style='font-weight: 400; FoNt-WeIgHt :bold'>b</span>c"
    "<span style='x:font-weight;font-weight:300'>d</span><span style='ffffont-weight:\t700'>e</span>"
    "<font style='font-weight:bold'>f</font><span style='FONT-WEIGHT:BOLD'>g</span></p>",
]


def _start(pure: bool) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != htmlblocks.PURE_ENV}
    if pure:
        env[htmlblocks.PURE_ENV] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ROOT), json.dumps(HOSTILE)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out)


def _can_compile() -> bool:
    """A C compiler is here (the build fetches Cython and lxml itself: pyproject.toml's build requires)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def _forced() -> bool:
    return os.environ.get(htmlblocks.PURE_ENV, "") not in ("", "0")


def test_compiled_and_pure_python_write_the_same_bytes():
    if _forced():
        pytest.skip(f"{htmlblocks.PURE_ENV} is set: both runs would be plain Python")
    started = _start(pure=False), _start(pure=True)  # side by side: two cores
    fast, pure = (_result(process) for process in started)
    assert pure["walker"] == "python"
    if _can_compile():
        assert fast["walker"] == "cython", (
            f"a C compiler is here, yet the Python walk ran: build with `pip install -e .` (scripts/setup), "
            f"or set {htmlblocks.PURE_ENV}=1 to test plain Python alone"
        )
    elif fast["walker"] != "cython":
        pytest.skip("no compiled walker on this machine: nothing to compare")
    pages = len(list((ROOT / "tests/fixtures/sites/qq").glob("*/page.html")))
    assert len(fast["outputs"]) == 775 * 2 + pages + 8 + len(HOSTILE)
    differ = [key for key, value in fast["outputs"].items() if pure["outputs"][key] != value]
    assert differ == []
    # The depth cases do what they say: under the limit converts, over it is TooDeep, both ways.
    deep = {key: value for key, value in fast["outputs"].items() if key.startswith("deep/")}
    assert sorted(value == "TooDeep" for value in deep.values()) == [False] * 4 + [True] * 4
    assert all("深**x**" in value for value in deep.values() if value != "TooDeep")


def test_this_process_reports_its_walker():
    assert htmlblocks.WALKER in ("cython", "python")
    assert (htmlblocks.WALKER == "cython") == (htmlblocks._walk.__module__ == "newscrawl.convert._cwalk")
    if _forced():
        assert htmlblocks.WALKER == "python"


@pytest.fixture
def checkout(tmp_path):
    """A source checkout's layout: pyproject.toml, the .pyx and a built extension beside it."""
    (tmp_path / "pyproject.toml").write_text("")
    folder = tmp_path / "newscrawl" / "convert"
    folder.mkdir(parents=True)
    source, built = folder / "_cwalk.pyx", folder / "_cwalk.so"
    source.write_text("")
    built.write_bytes(b"")
    return source, built


def test_a_current_build_is_used(checkout):
    source, built = checkout
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert not htmlblocks._stale(source, built)


def test_a_build_older_than_its_source_is_not_run(checkout, tmp_path):
    source, built = checkout
    os.utime(source, (2_000, 2_000))
    os.utime(built, (1_000, 1_000))
    assert htmlblocks._stale(source, built)
    # Installed (no pyproject.toml above the package): file times say nothing, the build is used.
    (tmp_path / "pyproject.toml").unlink()
    assert not htmlblocks._stale(source, built)


# ---- the compiled paragraph functions against their Python originals, in this process -----------

# Pieces the random spans are made of: what each rule of escape, emphasis, merge, links, line
# starts and the cleaning table looks at, beside plain CJK and ASCII text.
PIECES = [
    *"ab 1２-.&#;*_[]<>|~\\`!:+=)（）：，。、“”字",
    "  ",
    "\u3000",
    "\u00a0",
    "\t\n",
    "\u200b",
    "\u200d",
    "\u00ad",
    "\u202e",
    "\x01",
    "\x85",
    "\x1b[31m",
    "\x9b1m",
    "\x1b]0;t\x07",
    "\U0001f468\u200d\U0001f469",
    "\ufe0f",
    "\ue000",
    "&amp;",
    "&amp;nbsp;",
    "&x1;",
    "&#12;",
    "&" + "a" * 32 + ";",
    "&" + "a" * 33 + ";",
    "12.",
    "1)",
    "1234567890.",
    "~**",
    "\u0661.",
    "\u00b2)",
    "--",
    "...",
    "é",
    "\U0001d400",
]
HREFS = [None, None, None, "https://a.example/x y", "//b.example/(1)", "http://c.example/"]


def _random_spans(rng: random.Random) -> list[Span]:
    return [
        Span(
            "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 5))),
            rng.random() < 0.3,
            rng.random() < 0.2,
            rng.random() < 0.08,
            rng.choice(HREFS),
        )
        for _ in range(rng.randint(1, 5))
    ]


def _copy(spans: list[Span]) -> list[Span]:
    return [Span(s.text, s.bold, s.italic, s.code, s.href) for s in spans]


@pytest.fixture
def reference(compiled, monkeypatch):
    """The compiled module, with the Python functions' module globals set back to the Python
    functions: ``python_render_inline`` calls ``escape``, ``python_normalize_blocks`` calls
    ``normalize_blocks`` for lists, and so on, so the reference is pure Python throughout."""
    for module, names in (
        (markdown, ("render_inline", "render_blocks", "escape", "escape_url")),
        (normalize, ("normalize_blocks", "_normalize_spans")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, getattr(module, "python_" + name.lstrip("_")))
    return compiled


def test_compiled_render_inline_matches_python_on_hostile_spans(reference):
    compiled = reference
    rng = random.Random(15)
    seen = {"**": 0, "](": 0, "\\&": 0, "\\-": 0, "\\!": 0}
    for _ in range(3000):
        spans = _random_spans(rng)
        for heading in (False, True):
            expected = markdown.python_render_inline(_copy(spans), heading)
            assert compiled.render_inline(_copy(spans), heading) == expected, (spans, heading)
            for mark in seen:
                seen[mark] += mark in expected
    assert all(seen.values()), seen  # the cases reach emphasis, links, entities, runs, "!["


def test_compiled_normalize_blocks_matches_python_on_hostile_spans(reference):
    compiled = reference
    rng = random.Random(16)

    def body(spans: list[Span]) -> list:
        return [
            Paragraph(_copy(spans)),
            Heading(3, _copy(spans)),
            ListBlock(False, [[Paragraph(_copy(spans))]]),
            Quote([Paragraph(_copy(spans))]),
            Table([[_copy(spans)]]),
        ]

    dropped = 0
    for _ in range(2000):
        spans = _random_spans(rng)
        expected = normalize.python_normalize_blocks(body(spans))
        assert compiled.normalize_blocks(body(spans)) == expected, spans
        dropped += len(expected) < 5
    assert dropped  # some paragraphs come out empty and are dropped


def test_compiled_render_blocks_matches_python(reference):
    compiled = reference
    rng = random.Random(17)
    for _ in range(500):
        blocks = normalize.python_normalize_blocks(
            [
                Paragraph(_random_spans(rng)),
                Heading(2, _random_spans(rng)),
                ImageBlock(Image("https://i.example/a b.jpg")),
            ]
        )
        assert compiled.render_blocks(blocks) == markdown.python_render_blocks(blocks)


def test_the_conversion_uses_the_compiled_functions_when_built(compiled):
    assert markdown.render_blocks is compiled.render_blocks
    assert markdown.render_inline is compiled.render_inline
    assert normalize.normalize_blocks is compiled.normalize_blocks
    assert markdown.escape is compiled.escape and markdown.escape_url is compiled.escape_url


def test_compiled_escapes_match_python(reference):
    compiled = reference
    rng = random.Random(18)
    pieces = [*PIECES, *"%()\"'{}^ é", "%zz", "\x00", "\x7f", "\U0001f600", "\ud800"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert compiled.escape(text) == markdown.python_escape(text), text
        try:
            expected = markdown.python_escape_url(text)
        except UnicodeEncodeError:  # a lone surrogate: the same error both ways
            with pytest.raises(UnicodeEncodeError):
                compiled.escape_url(text)
        else:
            assert compiled.escape_url(text) == expected, text


def test_compiled_whitespace_test_is_str_isspace(compiled):
    assert compiled._isspace_differs() == []


def test_compiled_builds_the_same_objects_as_the_classes(compiled):
    # The walk fills the slotted dataclasses' slots directly (their __init__ is a Python frame).
    fast, span, block = compiled._fast_objects("x", True, False, False, None, 0)
    assert fast  # the classes are the plain slotted dataclasses it was written for
    assert (span, block) == (Span("x", True, False, False, None), Paragraph([Span("x", True, False, False, None)]))
    assert type(span) is Span and type(block) is Paragraph
    _, span, block = compiled._fast_objects("y", False, True, True, "https://a", 3)
    assert block == Heading(3, [Span("y", False, True, True, "https://a")]) and type(block) is Heading
    span.text = "z"  # an ordinary object afterwards
    assert block.spans[0].text == "z" and span.__slots__ == ("text", "bold", "italic", "code", "href")


def test_only_f_starts_a_bold_style_match():
    # The compiled walker tries htmlblocks._BOLD_STYLE only at "f"/"F" (see _cwalk._bold_css).
    assert [c for c in map(chr, range(0x110000)) if htmlblocks._BOLD_STYLE.match(c + "ont-weight:bold")] == ["F", "f"]


def test_compiled_printable_shortcuts_hold():
    # _cwalk._printable takes ASCII and U+4E00-U+9FA5 without the table; _settled relies on the
    # ASCII space being the only printable whitespace character.
    assert all(chr(c).isprintable() for c in range(0x4E00, 0x9FA6))
    assert [chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c).isprintable()] == [" "]


def _outcome(function, *args):
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - the exception's type is the outcome compared
        return type(exc)


def test_compiled_takes_what_a_user_step_may_leave(reference):
    compiled = reference
    # A step may leave spans in a tuple, or a text that is not a string: the compiled functions do
    # what the Python ones do (the same output, or the same exception), and never crash.
    spans = (Span("a "), Span("b", bold=True), Span(" c"))
    assert compiled.render_inline(spans) == markdown.python_render_inline(spans) == "a **b** c"
    blocks = [Paragraph(spans), Heading(2, spans), ImageBlock(Image("https://i.example/x y"))]
    assert compiled.render_blocks(blocks) == markdown.python_render_blocks(blocks)
    fresh = lambda: [Paragraph(tuple(_copy(list(spans))))]  # noqa: E731 - the step changes spans in place
    assert compiled.normalize_blocks(fresh()) == normalize.python_normalize_blocks(fresh())

    class Marked(Span):  # a step's own span class: read through getattr, not the slots
        __slots__ = ("note",)

    unset = object.__new__(Span)  # slots never filled: AttributeError both ways
    unset.text = "x"
    odd = ([Marked("a", True), Span("b")], [Span("a"), Marked("b", href="https://m")], [Span("a"), unset], [unset])
    for bad in ([Span(None)], [Span("a"), Span(None, bold=True)], [Span(3)], None, *odd):
        assert _outcome(compiled.render_inline, bad) == _outcome(markdown.python_render_inline, bad)
    for bad in (None, 3, b"a b"):
        assert _outcome(compiled.escape, bad) == _outcome(markdown.python_escape, bad)
        assert _outcome(compiled.escape_url, bad) == _outcome(markdown.python_escape_url, bad)
    assert _outcome(compiled.render_blocks, [ImageBlock(Image(None))]) is TypeError
