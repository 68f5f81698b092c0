# cython: language_level=3
"""Compiled replacement for ``htmlblocks._walk`` that reads libxml2's nodes directly.

lxml builds a Python proxy object for every element a Python loop touches (``for child in el``)
and decodes a new string for each ``.tag``, ``.text`` and ``.tail``. This walker follows the C
nodes (``child.next``) through lxml's public C API (``lxml.includes.etreepublic``: the same
``namespacedName``, ``textOf``, ``tailOf``, ``hasChild`` and ``attributeValueFromNsName`` that
lxml's own properties call, so every string is the one Python would see) and makes a proxy
only for the elements it hands back to ``htmlblocks._element`` (lists, tables, headings,
widgets: the rare kinds). Paragraph text, inline styles, images, line breaks and plain blocks,
most of a page, never leave C until their ``Span`` or ``Image`` is built. It does not make a
string per element either: an element's kind comes from a C table made from ``htmlblocks._KIND``,
and the bold-class, inline-style and widget tests read the attribute's text node in place
(anything unusual takes the Python-facing code). The logic is ``htmlblocks._walk``'s; the tests
convert the corpus with and without this module and compare the bytes, and compare the two walks
on generated hostile markup (tests/test_compiled_walk.py, against ``htmlblocks.python_walk``).

The same module also holds the compiled forms of the paragraph text path that follows the walk:
``normalize_blocks`` (the text step's paragraph loop), ``render_inline``/``render_blocks``,
``escape`` and ``escape_url`` (the Markdown of paragraphs and headings). They are the Python
functions' rules written as character loops over the string buffers, without the regexes, the
per-span strings and the dataclasses' Python ``__init__``; the Python functions stay in their
modules as the reference (``markdown.python_render_inline``, ``normalize.python_normalize_blocks``,
...) and as the pure path. Nothing is cached on the blocks and nothing is normalized early: every
step still sees and may change the same blocks, and each step's output depends only on its input.

Then, each in a section of its own (marked ``# ---- ...``) and each with its Python function kept as
the reference that the tests compare it with on generated input: element scans for the page
extraction and the head's ``<meta>``/``<base>`` tags (``newscrawl.sites.qq.page``); the parser's
input as UTF-8 (``htmlblocks._parse``); the file text as UTF-8 (``file_utf8``, reference
``writer.python_utf8``); ``newscrawl rebuild``'s and replay's WARC readers (the inflate loop,
``refresh_in_head``, ``warc_head``, ``warc_records``, ``http_head``: references in
``archive.read`` and ``archive.rebuild``); and the steps after the walk (the text step's and the
renderer's character scans, the image step's UI-image pretest, the front matter's date and
verbatim test). One compiled module, not one per area: one build step, one switch.

Optional: built by setup.py when Cython, lxml's headers and a C compiler are there; htmlblocks
uses it unless ``NEWSCRAWL_PURE_PYTHON`` is set (``htmlblocks.COMPILED``: one choice for the walk,
the text step and the renderer), and falls back to the Python functions otherwise.
"""

from lxml.includes cimport tree
from lxml.includes.etreepublic cimport (
    _Document,
    _Element,
    attributeValueFromNsName,
    elementFactory,
    hasChild,
    import_lxml__etree,
    namespacedName,
    tailOf,
    textOf,
)

import_lxml__etree()

from newscrawl.convert import htmlblocks as _hb
from newscrawl.convert.article import Heading, Paragraph, Span

_Paragraph, _Heading, _Span = Paragraph, Heading, Span

cdef dict _KIND = _hb._KIND
cdef int _SKIP = _hb._SKIP
cdef int _BLOCK = _hb._BLOCK
cdef int _INLINE = _hb._INLINE
cdef int _STYLED = _hb._STYLED
cdef int _IMG = _hb._IMG
cdef int _BR = _hb._BR
cdef int MAX_DEPTH = _hb.MAX_DEPTH
cdef object _element = _hb._element
cdef object _has_class = _hb._has_class
cdef object _BOLD_STYLE = _hb._BOLD_STYLE
cdef object TooDeep = _hb.TooDeep


cdef inline object _get(tree.xmlNode* c_node, const char* name):
    """``el.get(name)`` without the proxy."""
    return attributeValueFromNsName(c_node, NULL, <const unsigned char*>name)


cdef object _attr(tree.xmlNode* c_node, str name):
    """``el.get(name)`` for a name given as a Python string (the site's markup)."""
    cdef bytes raw = name.encode("utf-8")
    return attributeValueFromNsName(c_node, NULL, <const unsigned char*><const char*>raw)


cdef tuple _style_for(str tag, tree.xmlNode* c_node, tuple style, object markup):
    """``htmlblocks._style_for``, reading attributes from the C node."""
    if tag == "span" or tag == "font":
        cls = _get(c_node, "class")
        if cls and _has_class(cls, markup.bold_classes):
            return (True, style[1], style[2], style[3])
        css = _get(c_node, "style")
        if css and "font-weight" in css and _bold_css(css):
            return (True, style[1], style[2], style[3])
        return style
    if tag == "strong" or tag == "b":
        return (True, style[1], style[2], style[3])
    if tag == "a":
        link = (_get(c_node, "href") or "").strip()
        href = link if link.startswith(("http://", "https://", "//")) else None
        return (style[0], style[1], style[2], href)
    if tag == "code" or tag == "kbd" or tag == "samp" or tag == "tt":
        return (style[0], style[1], True, style[3])
    return (style[0], True, style[2], style[3])  # em i cite dfn


from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ


cdef inline bint _ci(Py_UCS4 c, unsigned int lower):
    """``c`` is the ASCII letter ``lower`` in either case (``c | 0x20``: only its upper case maps there)."""
    return ((<unsigned int>c) | 0x20) == lower


cdef bint _bold_css(str css) except -1:
    """``_BOLD_STYLE.search(css)``, tried only where a match can start.

    The pattern is case-insensitive, so ``search`` tries it at every position (tens of thousands
    of instructions on a long inline style); a match can only start at an ``f`` or ``F`` followed
    by ``ont-w`` in either case (no other character folds to one of these letters under ``re.I``:
    the tests enumerate every code point), so ``match`` at those positions finds the same. Inline
    styles name ``font-family``, ``font-size``, ... before ``font-weight``: ~4 ``f`` a style.
    """
    cdef Py_ssize_t p, n = len(css)
    cdef int kind = PyUnicode_KIND(css)
    cdef void* data = PyUnicode_DATA(css)
    for p in range(n - 5):
        if (
            _ci(PyUnicode_READ(kind, data, p), 0x66)  # f
            and _ci(PyUnicode_READ(kind, data, p + 1), 0x6F)  # o
            and _ci(PyUnicode_READ(kind, data, p + 2), 0x6E)  # n
            and _ci(PyUnicode_READ(kind, data, p + 3), 0x74)  # t
            and PyUnicode_READ(kind, data, p + 4) == 0x2D  # -
            and _ci(PyUnicode_READ(kind, data, p + 5), 0x77)  # w
            and _BOLD_STYLE.match(css, p) is not None
        ):
            return True
    return False


def _bold_css_test(str css):
    """For the tests: the compiled ``font-weight`` test."""
    return _bold_css(css)


cdef bint _special_div(tree.xmlNode* c_node, object markup) except -1:
    """``htmlblocks._special_div``, reading attributes from the C node."""
    if markup.video_attribute and _attr(c_node, markup.video_attribute) == markup.video_value:
        return True
    cls = _get(c_node, "class")
    return bool(cls and _has_class(cls, markup.subhead_classes))


# ---- the element's kind and style without Python strings ---------------------------------------
#
# ``namespacedName`` decodes a new string per element, then ``_KIND.get`` hashes it; and
# ``_style_for``'s attribute reads (``el.get``: a copy and a decoded string each), its
# ``_has_class`` call and its tag comparisons cost ~2,700 instructions per styled element. For an
# element without a namespace, its name is looked up in a C table made from ``_KIND`` at import,
# which also records which of ``_style_for``'s branches the name takes; the class and style tests
# read the attribute's text node in place (a substring of a UTF-8 value is a substring of the
# decoded value). Anything unusual (a namespaced element, an attribute value that is not one
# text node, markup that is not a plain ``Markup``) takes the general code above.

from libc.string cimport strcmp, strlen, strstr
from cpython.unicode cimport PyUnicode_DecodeUTF8

from newscrawl.sites.base import Markup as _Markup

cdef enum:
    _ST_NONE = 0  # not a styled tag
    _ST_SPAN = 1  # span font: bold by class or inline style
    _ST_BOLD = 2  # strong b
    _ST_LINK = 3  # a
    _ST_CODE = 4  # code kbd samp tt
    _ST_ITALIC = 5  # em i cite dfn (the rest)
    _NAMES_SIZE = 256

cdef struct _Name:
    const char* name  # NULL: an empty slot
    int kind
    int style

cdef _Name _NAMES[_NAMES_SIZE]
cdef list _NAMES_KEPT = []  # the bytes the table points into


cdef inline unsigned int _name_hash(const unsigned char* name):
    cdef unsigned int h = 5381
    while name[0]:
        h = h * 33 + name[0]
        name += 1
    return h & (_NAMES_SIZE - 1)


def _style_kind(str tag):
    """Which branch of ``_style_for`` a styled tag takes (its tests, in its order)."""
    if tag == "span" or tag == "font":
        return _ST_SPAN
    if tag == "strong" or tag == "b":
        return _ST_BOLD
    if tag == "a":
        return _ST_LINK
    if tag == "code" or tag == "kbd" or tag == "samp" or tag == "tt":
        return _ST_CODE
    return _ST_ITALIC


cdef bint _build_names() except -1:
    """Fill ``_NAMES`` from ``_KIND``; False (the table unused) for a key it cannot hold."""
    cdef unsigned int h
    if len(_KIND) > _NAMES_SIZE // 2:
        return False
    for tag, kind in _KIND.items():
        if type(tag) is not str or not tag or not tag.isascii() or "\0" in tag or type(kind) is not int:
            return False
        raw = (<str>tag).encode("ascii")
        _NAMES_KEPT.append(raw)
        h = _name_hash(<const unsigned char*><const char*>raw)
        while _NAMES[h].name is not NULL:
            h = (h + 1) & (_NAMES_SIZE - 1)
        _NAMES[h].name = <const char*>raw
        _NAMES[h].kind = kind
        _NAMES[h].style = _style_kind(tag) if kind == _STYLED else _ST_NONE
    return True


cdef bint _NAMES_OK = _build_names()


cdef inline int _kind_of(const char* name, int* style):
    """``_KIND.get(name, _INLINE)`` for a tag without a namespace; ``style``: its style branch."""
    cdef unsigned int h = _name_hash(<const unsigned char*>name)
    while _NAMES[h].name is not NULL:
        if strcmp(_NAMES[h].name, name) == 0:
            style[0] = _NAMES[h].style
            return _NAMES[h].kind
        h = (h + 1) & (_NAMES_SIZE - 1)
    style[0] = _ST_NONE
    return _INLINE


def _kind_by_name(bytes name):
    """For the tests: (kind, style branch) as the table has them, or None without the table."""
    cdef int style = 0
    if not _NAMES_OK:
        return None
    kind = _kind_of(<const char*>name, &style)
    return kind, style


cdef int _raw_attr(tree.xmlNode* c_node, const char* name, const char** value):
    """Where ``el.get(name)`` reads (the first attribute of that name without a namespace, as
    ``xmlGetNoNsProp`` finds it): 0 when there is none; 1 with ``value`` set to its text ("" when
    it has no text node); -1 when its value is not one text node (then only lxml's reader knows)."""
    cdef tree.xmlAttr* c_attr = c_node.properties
    cdef tree.xmlNode* c_text
    while c_attr is not NULL:
        if c_attr.ns is NULL and strcmp(<const char*>c_attr.name, name) == 0:
            c_text = c_attr.children
            if c_text is NULL:
                value[0] = ""
                return 1
            if c_text.next is not NULL or c_text.type != tree.XML_TEXT_NODE or c_text.content is NULL:
                return -1
            value[0] = <const char*>c_text.content
            return 1
        c_attr = c_attr.next
    return 0


# The markup the walk last saw, with its names as UTF-8 bytes (a frozen ``Markup``: its fields
# cannot change, and the reference kept here keeps its identity from being reused).
cdef object _m_markup = None
cdef bint _m_ok = False
cdef tuple _m_bold = ()
cdef tuple _m_subhead = ()
cdef bytes _m_video_attribute = None  # None: no video attribute (``markup.video_attribute`` empty)
cdef bytes _m_video_value = None


cdef bint _utf8_names(object names, list out) except -1:
    if type(names) is not tuple:
        return False
    for name in names:
        if type(name) is not str or "\0" in name:
            return False
        out.append((<str>name).encode("utf-8"))
    return True


cdef bint _use_markup(object markup) except -1:
    """Whether the raw-attribute tests can stand for ``markup``'s (computed once per markup)."""
    global _m_markup, _m_ok, _m_bold, _m_subhead, _m_video_attribute, _m_video_value
    if markup is _m_markup:
        return _m_ok
    bold, subhead = [], []
    _m_ok = (
        type(markup) is _Markup
        and _utf8_names(markup.bold_classes, bold)
        and _utf8_names(markup.subhead_classes, subhead)
        and type(markup.video_attribute) is str
        and type(markup.video_value) is str
        and "\0" not in markup.video_attribute
        and "\0" not in markup.video_value
    )
    if _m_ok:
        _m_bold, _m_subhead = tuple(bold), tuple(subhead)
        _m_video_attribute = markup.video_attribute.encode("utf-8") if markup.video_attribute else None
        _m_video_value = markup.video_value.encode("utf-8")
    _m_markup = markup
    return _m_ok


cdef inline bint _holds(const char* value, tuple needles):
    """``_has_class(value, names)`` on UTF-8: a name is a substring of the value."""
    for needle in needles:
        if strstr(value, <const char*><bytes>needle) is not NULL:
            return True
    return False


cdef int _span_bold(tree.xmlNode* c_node) except -2:
    """``_style_for``'s test for span and font (``_use_markup`` done): 1 bold, 0 not, -1 unknown."""
    cdef const char* value
    cdef int found = _raw_attr(c_node, "class", &value)
    if found < 0:
        return -1
    if found and value[0] != 0 and _holds(value, _m_bold):
        return 1
    found = _raw_attr(c_node, "style", &value)
    if found < 0:
        return -1
    if found and value[0] != 0 and strstr(value, "font-weight") is not NULL:
        return _bold_css(PyUnicode_DecodeUTF8(value, strlen(value), NULL))
    return 0


cdef tuple _style_by_kind(int st, tree.xmlNode* c_node, tuple style, object markup):
    """``_style_for(tag, el, style, markup)`` for a tag whose style branch is ``st``."""
    cdef int bold
    if st == _ST_SPAN:
        bold = _span_bold(c_node) if _use_markup(markup) else -1
        if bold < 0:
            return _style_for("span", c_node, style, markup)  # span and font are the same branch
        return (True, style[1], style[2], style[3]) if bold else style
    if st == _ST_BOLD:
        return (True, style[1], style[2], style[3])
    if st == _ST_LINK:
        return _style_for("a", c_node, style, markup)
    if st == _ST_CODE:
        return (style[0], style[1], True, style[3])
    return (style[0], True, style[2], style[3])


cdef int _div_special(tree.xmlNode* c_node, object markup) except -1:
    """``_special_div(el, markup)`` on the raw attributes."""
    cdef const char* value
    cdef int found
    if not _use_markup(markup):
        return _special_div(c_node, markup)
    if _m_video_attribute is not None:
        found = _raw_attr(c_node, <const char*>_m_video_attribute, &value)
        if found < 0:
            return _special_div(c_node, markup)
        if found and strcmp(value, <const char*>_m_video_value) == 0:
            return True
    found = _raw_attr(c_node, "class", &value)
    if found < 0:
        return _special_div(c_node, markup)
    return found and value[0] != 0 and _holds(value, _m_subhead)


def _style_checks(_Element el not None, tuple style, markup):
    """For the tests: (``_style_for``'s result, the table's) and (``_special_div``, the raw test)
    for one element without a namespace."""
    cdef int st = 0
    cdef tree.xmlNode* c_node = el._c_node
    tag = namespacedName(c_node)
    kind = _kind_of(<const char*>c_node.name, &st)
    general = _style_for(tag, c_node, style, markup) if kind == _STYLED else None
    fast = _style_by_kind(st, c_node, style, markup) if kind == _STYLED else None
    return (general, fast), (_special_div(c_node, markup), bool(_div_special(c_node, markup)))


# ---- blocks without the dataclasses' Python __init__ -------------------------------------------
#
# ``Span(...)`` called from C runs the dataclass's generated ``__init__`` as a Python frame (about
# 2,000 instructions, the walk's largest cost after libxml2). The classes have ``__slots__``, so
# their fields are fixed offsets in the object: here a Span, Paragraph or Heading is allocated
# and its slots filled directly, the same object ``__init__`` would make. Used only when the
# classes are the plain slotted dataclasses this was written for (``_fast_objects``); otherwise
# the classes are called.

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.type cimport PyType_GenericAlloc

import dataclasses as _dataclasses
import types as _types

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef object _member_descriptor = _types.MemberDescriptorType  # what __slots__ makes


cdef Py_ssize_t _offset(type cls, str name) except -2:
    """The slot offset of field ``name``, or -1 when it is not a plain slot."""
    d = cls.__dict__.get(name)
    if d is None or type(d) is not _member_descriptor:
        return -1
    return (<PyMemberDescrObject*><PyObject*>d).d_member.offset


cdef bint _plain_dataclass(type cls, tuple names) except -1:
    return (
        _dataclasses.is_dataclass(cls)
        and tuple(f.name for f in _dataclasses.fields(cls)) == names
        and getattr(cls, "__slots__", None) == names
        and not hasattr(cls, "__post_init__")
        and cls.__new__ is object.__new__
        and type(cls) is type
        and all(_offset(cls, name) >= 0 for name in names)
    )


cdef Py_ssize_t _S_TEXT = -1, _S_BOLD = -1, _S_ITALIC = -1, _S_CODE = -1, _S_HREF = -1
cdef Py_ssize_t _P_SPANS = -1, _H_LEVEL = -1, _H_SPANS = -1
cdef bint _FAST = (
    _plain_dataclass(_Span, ("text", "bold", "italic", "code", "href"))
    and _plain_dataclass(_Paragraph, ("spans",))
    and _plain_dataclass(_Heading, ("level", "spans"))
)
if _FAST:
    _S_TEXT, _S_BOLD, _S_ITALIC = _offset(_Span, "text"), _offset(_Span, "bold"), _offset(_Span, "italic")
    _S_CODE, _S_HREF = _offset(_Span, "code"), _offset(_Span, "href")
    _P_SPANS, _H_LEVEL, _H_SPANS = _offset(_Paragraph, "spans"), _offset(_Heading, "level"), _offset(_Heading, "spans")


cdef inline void _put_slot(object obj, Py_ssize_t offset, object value):
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


cdef object _span(object text, object bold, object italic, object code, object href):
    """``Span(text, bold, italic, code, href)``."""
    if not _FAST:
        return _Span(text, bold, italic, code, href)
    obj = PyType_GenericAlloc(_Span, 0)
    _put_slot(obj, _S_TEXT, text)
    _put_slot(obj, _S_BOLD, bold)
    _put_slot(obj, _S_ITALIC, italic)
    _put_slot(obj, _S_CODE, code)
    _put_slot(obj, _S_HREF, href)
    return obj


cdef object _block(object level, list spans):
    """``Heading(level, spans) if level else Paragraph(spans)``."""
    if not _FAST:
        return _Heading(level, spans) if level else _Paragraph(spans)
    if level:
        obj = PyType_GenericAlloc(_Heading, 0)
        _put_slot(obj, _H_LEVEL, level)
        _put_slot(obj, _H_SPANS, spans)
        return obj
    obj = PyType_GenericAlloc(_Paragraph, 0)
    _put_slot(obj, _P_SPANS, spans)
    return obj


cdef inline object _slot(object obj, type cls, bint fast, Py_ssize_t offset, str name):
    """``getattr(obj, name)``, read from the slot at ``offset`` when ``fast`` and ``obj`` is
    exactly ``cls`` (the plain class the offsets were taken from)."""
    cdef PyObject* value
    if fast and type(obj) is cls:
        value = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
        if value != NULL:
            return <object>value
    return getattr(obj, name)  # a subclass, or an unset slot: its AttributeError


cdef inline object _field(object span, Py_ssize_t offset, str name):
    """``getattr(span, name)``, read from the slot when ``span`` is a plain ``Span``."""
    return _slot(span, _Span, _FAST, offset, name)


cdef inline object _spans_of(object block, type cls):
    """``block.spans`` of a ``Paragraph`` or ``Heading`` (``cls``: its exact type), from the slot."""
    cdef PyObject* value
    if _FAST:
        value = (<PyObject**>((<char*><PyObject*>block) + (_P_SPANS if cls is _Paragraph else _H_SPANS)))[0]
        if value != NULL:
            return <object>value
    return block.spans  # an unset slot: its AttributeError


def _fast_objects(text, bold, italic, code, href, level):
    """For the tests: whether the direct path is on, and what it builds."""
    span = _span(text, bold, italic, code, href)
    return _FAST, span, _block(level, [span])


# Images and image blocks, built the same way (the walker makes one per <img>, ``_flush`` one
# block per image), only when ``Span`` and the blocks above are built directly too.
from newscrawl.convert.article import Image as _Image, ImageBlock as _ImageBlock

cdef Py_ssize_t _I_SRC = -1, _I_ALT = -1, _IB_IMAGE = -1
cdef bint _FAST_IMAGE = (
    _FAST and _plain_dataclass(_Image, ("src", "alt")) and _plain_dataclass(_ImageBlock, ("image",))
)
if _FAST_IMAGE:
    _I_SRC, _I_ALT, _IB_IMAGE = _offset(_Image, "src"), _offset(_Image, "alt"), _offset(_ImageBlock, "image")


def _fast_images(src, alt):
    """For the tests: whether images are built directly, and what is built."""
    image = _image(src, alt) if _FAST_IMAGE else _Image(src, alt)
    return _FAST_IMAGE, image


cdef object _image(object src, object alt):
    """``Image(src, alt)`` (only with ``_FAST_IMAGE``)."""
    obj = PyType_GenericAlloc(_Image, 0)
    _put_slot(obj, _I_SRC, src)
    _put_slot(obj, _I_ALT, alt)
    return obj


# The walk's builder (``htmlblocks._Builder``, a plain class with ``__slots__``): its fields are
# read from their slots too (``b.inline`` through Python's attribute lookup is ~130 instructions,
# and the walk reads a few per element); ``getattr`` for anything else.
_Builder = _hb._Builder
cdef Py_ssize_t _B_INLINE = -1, _B_BLOCKS = -1, _B_HEADING = -1, _B_IN_CELL = -1, _B_MARKUP = -1
cdef bint _FAST_BUILDER = (
    getattr(_Builder, "__slots__", None) == ("blocks", "inline", "heading", "in_cell", "markup")
    and type(_Builder) is type
    and _Builder.__getattribute__ is object.__getattribute__
    and all(_offset(_Builder, name) >= 0 for name in _Builder.__slots__)
)
if _FAST_BUILDER:
    _B_INLINE, _B_BLOCKS, _B_HEADING = _offset(_Builder, "inline"), _offset(_Builder, "blocks"), _offset(_Builder, "heading")
    _B_IN_CELL, _B_MARKUP = _offset(_Builder, "in_cell"), _offset(_Builder, "markup")


cdef inline object _bget(object b, Py_ssize_t offset, str name):
    """``getattr(b, name)``, read from the slot when ``b`` is a plain ``_Builder``."""
    return _slot(b, _Builder, _FAST_BUILDER, offset, name)


from cpython.unicode cimport Py_UNICODE_ISSPACE as _ISSPACE


cdef inline bint _spaces(str t):
    """``t.isspace()`` without the method call (~250 instructions a call; the walk and ``_flush``
    make ~25 a page): False for "", else whether every character is ``Py_UNICODE_ISSPACE``, as
    ``str.isspace`` tests them."""
    cdef Py_ssize_t n = len(t), i
    cdef int kind = PyUnicode_KIND(t)
    cdef const void* data = PyUnicode_DATA(t)
    if n == 0:
        return False
    for i in range(n):
        if not _ISSPACE(PyUnicode_READ(kind, data, i)):
            return False
    return True


def _spaces_test(str t):
    """For the tests: ``_spaces(t)``."""
    return _spaces(t)


cdef int _flush(object b) except -1:
    """``htmlblocks._Builder.flush``: spans and images (each image a block of its own, the spans
    between them a paragraph when one is not all whitespace) here, anything else by the method."""
    cdef list inline = _bget(b, _B_INLINE, "inline")
    cdef list spans
    cdef bint text = False
    cdef bint images = False
    if _bget(b, _B_IN_CELL, "in_cell"):
        return 0
    for item in inline:
        if type(item) is _Image and _FAST_IMAGE:
            images = True
        elif type(item) is not _Span:
            b.flush()
            return 0
    if not images:
        for item in inline:
            t = _field(item, _S_TEXT, "text")
            if not (_spaces(<str>t) if type(t) is str else t.isspace()):
                b.blocks.append(_block(_bget(b, _B_HEADING, "heading"), inline))
                break
    else:
        blocks = _bget(b, _B_BLOCKS, "blocks")
        spans = []
        for item in inline:
            if type(item) is _Image:
                _close(b, spans)
                spans = []
                image_block = PyType_GenericAlloc(_ImageBlock, 0)
                _put_slot(image_block, _IB_IMAGE, item)
                blocks.append(image_block)
            else:
                spans.append(item)
        _close(b, spans)
    b.inline = []
    return 0


cdef int _close(object b, list spans) except -1:
    """``htmlblocks._Builder._close``: a paragraph (or heading) of ``spans`` unless all whitespace."""
    for item in spans:
        t = _field(item, _S_TEXT, "text")
        if not (_spaces(<str>t) if type(t) is str else t.isspace()):
            _bget(b, _B_BLOCKS, "blocks").append(_block(_bget(b, _B_HEADING, "heading"), spans))
            return 0
    return 0


# ---- paragraph Markdown (markdown.render_inline / render_blocks) -----------------------------
#
# ``markdown.render_inline`` builds a paragraph from many small strings (an escape regex, a
# translate and a join per span, a Span per merge). Here a paragraph is written character by
# character into one UCS-4 buffer and becomes one string at the end. The rules are the Python
# module's, one for one (each function names its original); the tests render the corpus and
# hostile span lists both ways and compare. Rare parts (code spans, link URLs, the Unicode
# category of a non-ASCII edge character) call the Python functions.

from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport (
    PyUnicode_DATA,
    PyUnicode_FromKindAndData,
    PyUnicode_KIND,
    PyUnicode_READ,
    Py_UNICODE_ISALNUM,
    Py_UNICODE_ISDECIMAL,
    Py_UNICODE_ISDIGIT,
    Py_UNICODE_ISPRINTABLE,
    Py_UNICODE_ISSPACE,
)

import unicodedata as _unicodedata

from newscrawl.convert.article import ImageBlock as _ImageBlock

cdef int _KIND4 = 4  # PyUnicode_4BYTE_KIND
cdef Py_ssize_t _STACK = 256
cdef object _md = None  # newscrawl.convert.markdown, bound by use_markdown()


def use_markdown(module):
    """Called by ``markdown`` once it is loaded: the Python helpers for the rare parts."""
    global _md
    _md = module


cdef struct _Buf:
    Py_UCS4* data
    Py_ssize_t n
    Py_ssize_t cap
    Py_UCS4* stack


cdef int _grow(_Buf* b, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap = b.cap * 2
    cdef Py_UCS4* data
    while cap < b.n + need:
        cap *= 2
    if b.data == b.stack:
        data = <Py_UCS4*>PyMem_Malloc(cap * sizeof(Py_UCS4))
        if data == NULL:
            raise MemoryError()
        for i in range(b.n):
            data[i] = b.data[i]
    else:
        data = <Py_UCS4*>PyMem_Realloc(b.data, cap * sizeof(Py_UCS4))
        if data == NULL:
            raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int _put(_Buf* b, Py_UCS4 c) except -1:
    if b.n >= b.cap:
        _grow(b, 1)
    b.data[b.n] = c
    b.n += 1
    return 0


cdef int _puts(_Buf* b, str s) except -1:
    cdef Py_UCS4 c
    if b.n + len(s) > b.cap:
        _grow(b, len(s))
    for c in s:
        b.data[b.n] = c
        b.n += 1
    return 0


cdef int _insert(_Buf* b, Py_ssize_t at, Py_UCS4 c) except -1:
    """Insert ``c`` before position ``at``."""
    cdef Py_ssize_t i
    _put(b, 0)
    i = b.n - 1
    while i > at:
        b.data[i] = b.data[i - 1]
        i -= 1
    b.data[at] = c
    return 0


cdef inline bint _special(Py_UCS4 c):
    """One of the characters ``markdown._ESCAPE`` prefixes with a backslash."""
    return (
        c == 0x5C or c == 0x60 or c == 0x2A or c == 0x5F or c == 0x5B or c == 0x5D
        or c == 0x3C or c == 0x3E or c == 0x7C or c == 0x7E or c == 0x23
    )


cdef inline bint _ascii_alnum(Py_UCS4 c):
    return (0x30 <= c <= 0x39) or (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)


cdef int _escape_into(_Buf* b, str t, Py_ssize_t a, Py_ssize_t z) except -1:
    """``markdown.escape(t[a:z])`` appended to ``b``.

    The escape set, then ``&`` before an entity-like name (``&`` + 1-32 ASCII letters or digits
    + ``;``: ``#`` is always escaped first, so ``&#...`` never matches), then every ``-`` or ``.``
    that follows the same character in the slice.
    """
    cdef Py_ssize_t i, j
    cdef Py_UCS4 c, prev = 0
    cdef int kind = PyUnicode_KIND(t)
    cdef void* data = PyUnicode_DATA(t)
    if b.n + (z - a) * 2 > b.cap:
        _grow(b, (z - a) * 2)
    for i in range(a, z):
        c = PyUnicode_READ(kind, data, i)
        if c < 0x80:
            if _special(c):
                b.data[b.n] = 0x5C
                b.n += 1
            elif c == 0x26:  # &
                j = i + 1
                while j < z and j - i <= 33 and _ascii_alnum(PyUnicode_READ(kind, data, j)):
                    j += 1
                if 1 <= j - i - 1 <= 32 and j < z and PyUnicode_READ(kind, data, j) == 0x3B:
                    b.data[b.n] = 0x5C
                    b.n += 1
            elif (c == 0x2D or c == 0x2E) and prev == c:  # - .
                b.data[b.n] = 0x5C
                b.n += 1
        b.data[b.n] = c
        b.n += 1
        prev = c
    return 0


cdef inline bint _isspace(Py_UCS4 c):
    """``c.isspace()`` (``Py_UNICODE_ISSPACE``) without the table lookup; the tests check it
    against ``str.isspace`` for every code point (``_isspace_differs``)."""
    if c < 0x80:
        return c == 0x20 or 0x09 <= c <= 0x0D or 0x1C <= c <= 0x1F
    if c < 0x1680:
        return c == 0x85 or c == 0xA0
    return (
        c == 0x1680 or 0x2000 <= c <= 0x200A or c == 0x2028 or c == 0x2029 or c == 0x202F
        or c == 0x205F or c == 0x3000
    )


def _isspace_differs():
    """Code points where ``_isspace`` and ``str.isspace`` disagree (for the tests: none)."""
    cdef Py_UCS4 c
    return [c for c in range(0x110000) if _isspace(c) != Py_UNICODE_ISSPACE(c)]


cdef bint _is_edge(Py_UCS4 c) except -1:
    """``markdown._is_edge``: whitespace or Unicode punctuation/symbol."""
    if Py_UNICODE_ISSPACE(c):
        return True
    if Py_UNICODE_ISALNUM(c):
        return False
    if c < 128:  # ASCII: printable non-alphanumerics are all P* or S*, controls are Cc
        return 0x21 <= c <= 0x7E
    return _unicodedata.category(chr(c))[0] in "PS"


cdef int _emphasis_into(_Buf* b, str t, str marker, long before, long after) except -1:
    """``markdown._emphasis``; ``before``/``after`` are -1 at a line edge."""
    cdef Py_ssize_t size = len(t), start = 0, end = len(t)
    cdef int kind = PyUnicode_KIND(t)
    cdef void* data = PyUnicode_DATA(t)
    while start < end and _isspace(PyUnicode_READ(kind, data, start)):
        start += 1
    while end > start and _isspace(PyUnicode_READ(kind, data, end - 1)):
        end -= 1
    if (
        start < end and start == 0 and before >= 0 and not _is_edge(<Py_UCS4>before)
        and _is_edge(PyUnicode_READ(kind, data, 0))
    ):
        while start < end and _is_edge(PyUnicode_READ(kind, data, start)):
            start += 1
    if (
        start < end and end == size and after >= 0 and not _is_edge(<Py_UCS4>after)
        and _is_edge(PyUnicode_READ(kind, data, end - 1))
    ):
        while end > start and _is_edge(PyUnicode_READ(kind, data, end - 1)):
            end -= 1
    if start == end:
        return _escape_fast(b, t, 0, size)
    _escape_fast(b, t, 0, start)
    _puts(b, marker)
    _escape_fast(b, t, start, end)
    _puts(b, marker)
    _escape_fast(b, t, end, size)
    return 0


cdef int _styled_into(_Buf* b, str t, object span, bint heading, long before, long after) except -1:
    """``markdown._styled``."""
    if _field(span, _S_CODE, "code"):
        if t.strip():
            return _puts(b, _md._code_span(t))
        return _escape_fast(b, t, 0, len(t))
    if heading or not (_field(span, _S_BOLD, "bold") or _field(span, _S_ITALIC, "italic")):
        return _escape_fast(b, t, 0, len(t))
    bold = _field(span, _S_BOLD, "bold")
    marker = "***" if bold and _field(span, _S_ITALIC, "italic") else "**" if bold else "*"
    return _emphasis_into(b, t, marker, before, after)


cdef inline bint _same(object x, object y) except -1:
    return x is y or x == y


cdef inline long _first(list texts, list styles, Py_ssize_t i):
    """``markdown._first_char``: -1 for none."""
    if i >= len(texts):
        return -1
    if _field(styles[i], _S_HREF, "href") is not None:
        return 0x5B  # [
    t = <str>texts[i]
    return <long>(<Py_UCS4>t[0]) if t else -1


cdef object _render(object spans, bint heading):
    cdef Py_UCS4 stack[256]
    cdef _Buf b
    b.data = stack
    b.stack = stack
    b.n = 0
    b.cap = _STACK
    try:
        _render_into(&b, spans, heading)
        return PyUnicode_FromKindAndData(_KIND4, b.data, b.n)
    finally:
        if b.data != b.stack:
            PyMem_Free(b.data)


cdef int _render_into(_Buf* b, object spans, bint heading) except -1:
    """``markdown.render_inline(spans, heading)`` appended to the buffer (from ``b.n``)."""
    cdef Py_ssize_t i, n, count, part, label, group_start, start = b.n
    cdef long before, after
    cdef list texts, styles
    if type(spans) is not list:
        return _puts(b, _md.python_render_inline(spans, heading))  # a step may leave a tuple, say
    if len(<list>spans) == 1:
        span = (<list>spans)[0]
        if _field(span, _S_HREF, "href") is None and not (
            _field(span, _S_BOLD, "bold") or _field(span, _S_ITALIC, "italic") or _field(span, _S_CODE, "code")
        ):
            t = _field(span, _S_TEXT, "text")
            if type(t) is not str:
                return _puts(b, _md.python_render_inline(spans, heading))  # the same error
            _escape_fast(b, t, 0, len(t))
            _line_start_at(b, start)
            return 0
    # markdown._merge: neighbouring spans of one style become one text (the later span's style).
    texts = []
    styles = []
    for span in <list>spans:
        t = _field(span, _S_TEXT, "text")
        if type(t) is not str:
            b.n = start
            return _puts(b, _md.python_render_inline(spans, heading))
        if not t:
            continue
        if styles:
            last = styles[-1]
            if (
                _same(_field(last, _S_BOLD, "bold"), _field(span, _S_BOLD, "bold"))
                and _same(_field(last, _S_ITALIC, "italic"), _field(span, _S_ITALIC, "italic"))
                and _same(_field(last, _S_CODE, "code"), _field(span, _S_CODE, "code"))
                and _same(_field(last, _S_HREF, "href"), _field(span, _S_HREF, "href"))
            ):
                texts[-1] = texts[-1] + t
                styles[-1] = span
                continue
        texts.append(t)
        styles.append(span)
    count = len(texts)
    part = -1  # where the last part (``out[-1]``) starts in the buffer; -1: none yet
    i = 0
    while i < count:
        span = styles[i]
        t = <str>texts[i]
        href = _field(span, _S_HREF, "href")
        if href is None:
            before = <long>b.data[b.n - 1] if part >= 0 and b.n > part else -1
            part = b.n
            if _field(span, _S_BOLD, "bold") or _field(span, _S_ITALIC, "italic") or _field(span, _S_CODE, "code"):
                _styled_into(b, t, span, heading, before, _first(texts, styles, i + 1))
            else:
                _escape_fast(b, t, 0, len(t))
            i += 1
            continue
        # A link: the group of neighbouring spans with this href is its label.
        if part >= 0 and b.n > part and b.data[b.n - 1] == 0x21 and not (
            b.n - 1 > part and b.data[b.n - 2] == 0x5C
        ):
            bang = True  # out[-1] ends with an unescaped "!": "![" would start an image
        else:
            bang = False
        group_start = b.n
        _put(b, 0x5B)  # [
        label = b.n
        n = i
        while i < count and _same(_field(styles[i], _S_HREF, "href"), href):
            before = <long>b.data[b.n - 1] if i > n else -1
            if i > n and b.n == label:
                before = -1
            if i + 1 < count and _same(_field(styles[i + 1], _S_HREF, "href"), href):
                after = <long>(<Py_UCS4>(<str>texts[i + 1])[0])  # merged texts are never empty
            else:
                after = -1
            _styled_into(b, <str>texts[i], styles[i], heading, before, after)
            i += 1
        if _blank(b, label):
            # A label of whitespace only is kept as text, without the link.
            for k in range(label, b.n):
                b.data[k - 1] = b.data[k]
            b.n -= 1
            part = group_start
            continue
        if bang:
            _insert(b, group_start - 1, 0x5C)
            group_start += 1
        url = "https:" + href if href.startswith("//") else href
        _puts(b, "](")
        _puts(b, _escape_url(url))
        _put(b, 0x29)  # )
        part = group_start
    _line_start_at(b, start)
    return 0


cdef bint _blank(_Buf* b, Py_ssize_t start):
    """``not label.strip()`` for the buffer from ``start``."""
    cdef Py_ssize_t k
    for k in range(start, b.n):
        if not _isspace(b.data[k]):
            return False
    return True


cdef inline bint _url_safe(Py_UCS4 c):
    """ASCII that ``markdown.escape_url`` keeps: ``quote``'s always-safe set plus its ``safe``."""
    return _ascii_alnum(c) or (c < 128 and (<str>"_.-~!#$%&'*+,/:;=?@[]").find(chr(c)) >= 0)


cdef str _escape_url(object url):
    """``markdown.escape_url`` (``urllib.parse.quote`` of the UTF-8 bytes, upper-case hex)."""
    cdef Py_UCS4 c
    cdef bint plain = True
    cdef bytes raw
    cdef unsigned char byte
    cdef list out
    if type(url) is not str:
        return _md.python_escape_url(url)  # what quote does with it (bytes, or its error)
    for c in <str>url:
        if 0xD800 <= c <= 0xDFFF:
            return _md.python_escape_url(url)  # a lone surrogate: quote's own error
        if not _url_ok(c):
            plain = False
    if plain:
        return url
    out = []
    for c in <str>url:
        if _url_ok(c):
            out.append(chr(c))
        else:
            raw = chr(c).encode("utf-8")
            for byte in raw:
                out.append(_HEX[byte])
    return "".join(out)


cdef list _HEX = ["%%%02X" % n for n in range(256)]


def escape_url(url):
    """``markdown.escape_url``, compiled."""
    return _escape_url(url)


def escape(text):
    """``markdown.escape``, compiled."""
    cdef Py_UCS4 stack[256]
    cdef _Buf b
    if type(text) is not str:
        return _md.python_escape(text)  # the same error
    b.data = stack
    b.stack = stack
    b.n = 0
    b.cap = _STACK
    try:
        _escape_fast(&b, <str>text, 0, len(<str>text))
        return PyUnicode_FromKindAndData(_KIND4, b.data, b.n)
    finally:
        if b.data != b.stack:
            PyMem_Free(b.data)


def render_inline(spans, bint heading=False):
    """``markdown.render_inline``, compiled."""
    return _render(spans, heading)


def render_blocks(list blocks):
    """``markdown.render_blocks``, compiled: paragraphs and headings here, other blocks by
    ``markdown.render_block`` (which comes back here for the blocks inside lists and quotes).
    The blocks are written into one buffer, each after a blank line, and become one string at
    the end (``_render_page``)."""
    return _render_page(blocks)


def _render_blocks_join(list blocks):
    """``render_blocks`` as one string per block joined at the end (the form before
    ``_render_page``: its reference in the tests, and its path when ``render_block`` gives
    something that is not a string)."""
    cdef list parts = []
    render_block = _md.render_block
    for block in blocks:
        cls = type(block)
        if cls is _Paragraph:
            text = _render(block.spans, False)
        elif cls is _Heading:
            text = _render(block.spans, True)
            if text:
                text = "#" * block.level + " " + text
        elif cls is _ImageBlock:
            text = "![" + _md.IMAGE_ALT + "](" + _escape_url(block.image.src) + ")"
        else:
            text = render_block(block)
        if text:
            parts.append(text)
    return "\n\n".join(parts)


# ---- paragraph text (normalize._normalize_spans / normalize_blocks) ----------------------------
#
# The text step's paragraph loop, compiled: the whitespace collapse (``" ".join(text.split())``)
# is one scan that returns the span's own string when nothing changes (most spans); the rare
# characters to clean go through ``text.clean_chars`` as before.

from newscrawl.convert import text as _textnorm

cdef object _clean_chars = _textnorm.clean_chars
cdef object _py_normalize_spans = None  # normalize's Python functions, bound by use_normalize()
cdef object _py_normalize_blocks = None


def use_normalize(normalize_spans, normalize_blocks):
    """Called by ``normalize`` once it is loaded: its Python functions, for the blocks that
    are not plain paragraphs or headings."""
    global _py_normalize_spans, _py_normalize_blocks
    _py_normalize_spans, _py_normalize_blocks = normalize_spans, normalize_blocks


cdef str _collapse(str t):
    """``" ".join(t.split())``: ``t`` itself when it has no edge or repeated whitespace, and
    no whitespace other than single ASCII spaces."""
    cdef Py_ssize_t n = len(t), a = 0, z = len(t), i
    cdef Py_UCS4 c
    cdef bint prev_space = False
    cdef int kind = PyUnicode_KIND(t)
    cdef void* data = PyUnicode_DATA(t)
    cdef list words
    while a < z and _isspace(PyUnicode_READ(kind, data, a)):
        a += 1
    while z > a and _isspace(PyUnicode_READ(kind, data, z - 1)):
        z -= 1
    if a == z:
        return ""
    for i in range(a, z):
        c = PyUnicode_READ(kind, data, i)
        if c == 0x20:
            if prev_space:
                break
            prev_space = True
        elif _isspace(c):
            break
        else:
            prev_space = False
    else:
        return t if a == 0 and z == n else t[a:z]
    words = t.split()
    return " ".join(words) if len(words) > 1 else words[0]


# What ``text._TABLE`` does to each BMP character: 0 keep, 1 a space, 2 drop (built from the
# table itself, so the two cannot disagree; every character it changes is in the BMP).
cdef unsigned char _CLEAN[0x10000]
for _code, _to in _textnorm._TABLE.items():
    assert _code < 0x10000
    _CLEAN[_code] = 1 if _to == " " else 2


cdef inline bint _printable(Py_UCS4 c):
    """``c.isprintable()``, without the table lookup for ASCII and the common CJK block."""
    if c < 0x7F:
        return c >= 0x20
    if 0x4E00 <= c <= 0x9FA5:  # CJK ideographs of Unicode 1.1: all letters (Lo)
        return True
    return Py_UNICODE_ISPRINTABLE(c)


cdef str _clean(str t):
    """``text.clean_chars(t)``: the table applied here when the text has no escape sequence,
    joiner or ``&`` (what ``text._translate`` and the entity pass look for), else the Python
    function."""
    cdef Py_UCS4 c
    cdef Py_UCS4 stack[256]
    cdef _Buf b
    cdef unsigned char to
    cdef bint plain = True, amp = False
    for c in t:
        if not _printable(c):
            plain = False
            if c == 0x1B or c == 0x9B or c == 0x200D:
                return _clean_chars(t)
        elif c == 0x26:
            amp = True
    if amp:
        return _clean_amp(t, plain)
    if plain:
        return t
    b.data = stack
    b.stack = stack
    b.n = 0
    b.cap = _STACK
    try:
        if len(t) > b.cap:
            _grow(&b, len(t))
        for c in t:
            to = _CLEAN[c] if c < 0x10000 else 0
            if to == 0:
                b.data[b.n] = c
                b.n += 1
            elif to == 1:
                b.data[b.n] = 0x20
                b.n += 1
        return PyUnicode_FromKindAndData(_KIND4, b.data, b.n)
    finally:
        if b.data != b.stack:
            PyMem_Free(b.data)


cdef bint _settled(str t):
    """One scan: nothing to clean (printable, no ``&``) and nothing to collapse (not empty, no
    space at an edge or beside another): ``_collapse(_clean(t)) is t``."""
    cdef Py_ssize_t i, n = len(t)
    cdef Py_UCS4 c
    cdef int kind = PyUnicode_KIND(t)
    cdef void* data = PyUnicode_DATA(t)
    cdef bint space = True  # a space at the start is an edge
    if n == 0:
        return False
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c == 0x20:
            if space:
                return False
            space = True
            continue
        space = False
        if c == 0x26 or not _printable(c):  # every other whitespace character is not printable
            return False
    return not space


cdef object _norm_spans(object spans):
    """``normalize._normalize_spans``."""
    cdef list out
    cdef bint pending = False
    cdef str t
    if type(spans) is not list:
        return _py_normalize_spans(spans)
    out = []
    for span in <list>spans:
        raw = _field(span, _S_TEXT, "text")
        if type(raw) is str and _settled_fast(<str>raw):
            t = body = raw
        else:
            t = _clean(raw) if type(raw) is str else _clean_chars(raw)
            body = _collapse(t)
        if body is raw and len(<list>spans) == 1 and body:  # the common case: one run that is already clean
            return spans
        if not body:
            pending = pending or (bool(t) and bool(out))
            continue
        if out and (pending or t[0] == u" "):
            if span.bold or span.italic or span.code or span.href:
                out.append(Span(" ", href=span.href if span.href == out[-1].href else None))
            else:
                body = " " + body
        if body is not raw or not _plain_span(span):  # the same string in a plain slot: nothing to set
            span.text = body  # spans belong to this article: normalize in place
        out.append(span)
        pending = t[len(t) - 1] == u" "
    return out


def normalize_spans(spans):
    """``normalize._normalize_spans``, compiled."""
    return _norm_spans(spans)


def normalize_blocks(blocks):
    """``normalize.normalize_blocks``, compiled for paragraphs and headings; every other block
    goes through the Python function (which comes back here for lists and quotes)."""
    cdef list out = []
    for block in blocks:
        cls = type(block)
        if cls is _Paragraph or cls is _Heading:
            spans = _norm_spans(_spans_of(block, cls))
            if spans is not _spans_of(block, cls) or not _FAST:
                block.spans = spans
            if spans:
                out.append(block)
        elif cls is _ImageBlock:  # the Python function's type tests pass an image block on as it is
            out.append(block)
        else:
            out.extend(_py_normalize_blocks([block]))
    return out


def walk(_Element el not None, b, tuple style, int depth):
    """``htmlblocks._walk(el, b, style, depth)``."""
    _walk(el._doc, el._c_node, b, style, depth)


cdef int _walk(_Document doc, tree.xmlNode* c_el, object b, tuple style, int depth) except -1:
    cdef tree.xmlNode* c_child
    cdef int kind, st
    if depth > MAX_DEPTH:
        raise TooDeep("HTML nested deeper than the converter follows")
    inline = _bget(b, _B_INLINE, "inline")
    bold, italic, code, href = style
    c_child = c_el.children
    while c_child is not NULL:
        # lxml's iteration: elements, comments, entity references and PIs; text is .text/.tail.
        if c_child.type == tree.XML_ELEMENT_NODE:
            if _NAMES_OK and c_child.ns is NULL:
                tag = None  # made by namespacedName only where a Python function needs it
                kind = _kind_of(<const char*>c_child.name, &st)
            else:
                tag = namespacedName(c_child)
                kind = _KIND.get(tag, _INLINE)
                st = -1
        elif (
            c_child.type == tree.XML_COMMENT_NODE
            or c_child.type == tree.XML_ENTITY_REF_NODE
            or c_child.type == tree.XML_PI_NODE
        ):
            tag = None
            kind = _SKIP  # their tag is not a string: skipped, their tail kept
        else:
            c_child = c_child.next
            continue
        if kind == _STYLED or kind == _INLINE:
            if kind != _STYLED:
                inner = style
            elif st >= 0:
                inner = _style_by_kind(st, c_child, style, _bget(b, _B_MARKUP, "markup"))
            else:
                inner = _style_for(tag, c_child, style, _bget(b, _B_MARKUP, "markup"))
            text = textOf(c_child)
            if text:
                inline.append(_span(text, inner[0], inner[1], inner[2], inner[3]))
            if hasChild(c_child):
                _walk(doc, c_child, b, inner, depth + 1)
                inline = _bget(b, _B_INLINE, "inline")  # a nested block may have flushed
        elif (
            kind == _BLOCK
            and not _bget(b, _B_IN_CELL, "in_cell")
            and not (
                (strcmp(<const char*>c_child.name, "div") == 0 if tag is None else tag == "div")
                and _div_special(c_child, _bget(b, _B_MARKUP, "markup"))
            )
        ):
            if inline:
                _flush(b)
            text = textOf(c_child)
            if not hasChild(c_child):  # a leaf block: its text is the whole paragraph
                if text and not _spaces(text):
                    _bget(b, _B_BLOCKS, "blocks").append(
                        _block(_bget(b, _B_HEADING, "heading"), [_span(text, bold, italic, code, href)])
                    )
            else:
                if text:
                    _bget(b, _B_INLINE, "inline").append(_span(text, bold, italic, code, href))
                _walk(doc, c_child, b, style, depth + 1)
                if _bget(b, _B_INLINE, "inline"):
                    _flush(b)
            inline = _bget(b, _B_INLINE, "inline")
        elif kind == _IMG and _FAST_IMAGE:
            # htmlblocks._element's <img>: image_src (lazy-load data-src wins over src), then alt.
            src = _img_src(c_child)
            if src:
                inline.append(_image(src, _get(c_child, "alt") or ""))
        elif kind == _BR:
            # htmlblocks._element's <br>: a space in a cell, else the end of the paragraph.
            if _bget(b, _B_IN_CELL, "in_cell"):
                inline.append(_span(" ", False, False, False, None))
            elif inline:
                _flush(b)
                inline = _bget(b, _B_INLINE, "inline")
        elif kind != _SKIP:
            if tag is None:
                tag = namespacedName(c_child)
            _element(elementFactory(doc, c_child), kind, tag, b, style, depth + 1)
            inline = _bget(b, _B_INLINE, "inline")
        tail = tailOf(c_child)
        if tail:
            inline.append(_span(tail, bold, italic, code, href))
        c_child = c_child.next
    return 0


cdef object _img_src(tree.xmlNode* c_node):
    """``htmlblocks.image_src``: the first of data-src, data-original, src that is set and not a
    ``data:`` URL, stripped; "" when none is."""
    for name in (b"data-src", b"data-original", b"src"):
        value = _get(c_node, <const char*><bytes>name)
        if value and not value.startswith("data:"):
            return value.strip()
    return ""


# ---- element scans for the page extraction (newscrawl.sites.qq.page) ----------------------------

from libc.string cimport strcmp, strstr


cdef bint _may_hold(tree.xmlNode* c_node, const char** needles, Py_ssize_t count):
    """Whether the element's ``id`` or ``class`` attribute (no namespace, as ``el.get`` reads
    them) may hold one of the ``count`` ``needles``: a value holds one as a substring, or a value
    is not a single text node (then the caller's Python test decides)."""
    cdef tree.xmlAttr* c_attr = c_node.properties
    cdef tree.xmlNode* c_text
    cdef const char* value
    cdef const char* name
    cdef Py_ssize_t k
    while c_attr is not NULL:
        name = <const char*>c_attr.name
        if c_attr.ns is NULL and (
            (name[0] == 0x63 and strcmp(name, "class") == 0) or (name[0] == 0x69 and strcmp(name, "id") == 0)
        ):
            c_text = c_attr.children
            if c_text is not NULL:
                if c_text.next is not NULL or c_text.type != tree.XML_TEXT_NODE or c_text.content is NULL:
                    return True
                value = <const char*>c_text.content
                for k in range(count):
                    if strstr(value, needles[k]) is not NULL:
                        return True
        c_attr = c_attr.next
    return False


def scan(_Element root not None, tuple tags, tuple needles):
    """``[(n, el) for n, el in enumerate(root.iter(*tags))]`` (``tags``: bytes, names without a
    namespace), keeping only the elements whose ``id`` or ``class`` may hold one of ``needles``
    (bytes): a superset of those where one of them is a class token or the id. A proxy is made
    only for the elements kept; the caller applies its exact test to them. The names are read
    into C arrays first: a Python tuple's loop per element cost more than the tests."""
    cdef tree.xmlNode* c_root = root._c_node
    cdef tree.xmlNode* c_node = c_root
    cdef Py_ssize_t order = 0, ntags = len(tags), nneedles = len(needles), k
    cdef const char* name
    cdef bint match
    cdef const char** c_tags = <const char**>PyMem_Malloc((ntags + nneedles + 1) * sizeof(const char*))
    cdef const char** c_needles = c_tags + ntags
    if c_tags == NULL:
        raise MemoryError()
    found = []
    try:
        for k in range(ntags):
            c_tags[k] = <const char*><bytes?>tags[k]
        for k in range(nneedles):
            c_needles[k] = <const char*><bytes?>needles[k]
        while c_node is not NULL:
            if c_node.type == tree.XML_ELEMENT_NODE:
                if c_node.ns is NULL:
                    name = <const char*>c_node.name
                    match = False
                    for k in range(ntags):
                        if name[0] == c_tags[k][0] and strcmp(name, c_tags[k]) == 0:
                            match = True
                            break
                    if match:
                        if c_node.properties is not NULL and _may_hold(c_node, c_needles, nneedles):
                            found.append((order, elementFactory(root._doc, c_node)))
                        order += 1
                if c_node.children is not NULL:  # document order: children first
                    c_node = c_node.children
                    continue
            while c_node is not c_root and c_node.next is NULL:  # then the next sibling up the way
                c_node = c_node.parent
            if c_node is c_root:
                break
            c_node = c_node.next
    finally:
        PyMem_Free(c_tags)
    return found


def holds(_Element root not None, bytes name):
    """Whether an element below ``root`` is named ``name`` (any namespace: a superset of
    ``root.iter(name)``'s, for a gate whose caller then does the exact work)."""
    cdef tree.xmlNode* c_root = root._c_node
    cdef tree.xmlNode* c_node = c_root.children
    cdef const char* c_name = name
    if c_node is NULL:
        return False
    while True:
        if c_node.type == tree.XML_ELEMENT_NODE:
            if strcmp(<const char*>c_node.name, c_name) == 0:
                return True
            if c_node.children is not NULL:  # document order: children first
                c_node = c_node.children
                continue
        while c_node.next is NULL:  # then the next sibling up the way
            c_node = c_node.parent
            if c_node is c_root:
                return False
        c_node = c_node.next


# ---- the head's <meta> and <base> tags (newscrawl.sites.qq.page: QQPage.meta, QQPage.base_href) --
#
# ``_META_TAG.findall(head)`` (``<meta\s[^<>]*>``, case-insensitive) and ``_BASE_TAG.search(head)``
# (the same for ``<base``) run the regex engine's generic character-class loop over every character
# of a tag (~30 instructions a character on a CJK head: ~20k a page for the meta tags). The same
# matches, found by a loop over the str's buffer: a ``<``, the name's letters in either case (no
# other character matches m, e, t, a or b case-insensitively, U+017F matches s: the tests check),
# a ``str.isspace()`` character (the pattern's ``\s``), then the first ``<`` or ``>``: a ``>``
# closes a match (the text from the ``<`` to it), a ``<`` or the end does not, and the search
# goes on from that ``<``, where the regex's next attempt would find its next match.

cdef inline bint _tag_at(int kind, const void* data, Py_ssize_t i, Py_ssize_t n, bint base):
    """``<meta`` (``<base`` when ``base``) + a whitespace character at ``i``, letters in either
    case; the ``s`` of base also matches U+017F (LATIN SMALL LETTER LONG S), as under ``re.I``."""
    cdef unsigned int c3
    if i + 5 >= n:
        return False
    if not base:
        return (
            (<unsigned int>PyUnicode_READ(kind, data, i + 1) | 0x20) == 0x6D  # m
            and (<unsigned int>PyUnicode_READ(kind, data, i + 2) | 0x20) == 0x65  # e
            and (<unsigned int>PyUnicode_READ(kind, data, i + 3) | 0x20) == 0x74  # t
            and (<unsigned int>PyUnicode_READ(kind, data, i + 4) | 0x20) == 0x61  # a
            and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i + 5))
        )
    c3 = <unsigned int>PyUnicode_READ(kind, data, i + 3)
    return (
        (<unsigned int>PyUnicode_READ(kind, data, i + 1) | 0x20) == 0x62  # b
        and (<unsigned int>PyUnicode_READ(kind, data, i + 2) | 0x20) == 0x61  # a
        and ((c3 | 0x20) == 0x73 or c3 == 0x17F)  # s
        and (<unsigned int>PyUnicode_READ(kind, data, i + 4) | 0x20) == 0x65  # e
        and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i + 5))
    )


from libc.stdint cimport uint16_t

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* The first i >= from with s[i] == a or s[i] == b, else n: eight code units a step with SSE2. */
    static Py_ssize_t nc_find2_u16(const uint16_t *s, Py_ssize_t i, Py_ssize_t n, uint16_t a, uint16_t b) {
    #if defined(__SSE2__)
        const __m128i va = _mm_set1_epi16((short)a), vb = _mm_set1_epi16((short)b);
        while (i + 8 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi16(v, va), _mm_cmpeq_epi16(v, vb)));
            if (m) return i + (__builtin_ctz((unsigned)m) >> 1);
            i += 8;
        }
    #endif
        for (; i < n; i++) {
            if (s[i] == a || s[i] == b) return i;
        }
        return n;
    }
    """
    Py_ssize_t nc_find2_u16(const uint16_t*, Py_ssize_t, Py_ssize_t, uint16_t, uint16_t)


cdef inline Py_ssize_t _next_angle(int kind, const void* data, Py_ssize_t i, Py_ssize_t n, bint gt):
    """The index of the next ``<`` (or ``>`` too, when ``gt``) from ``i``, else ``n``: a loop per
    str width (a two-byte str on these pages, eight characters a step), not a width switch per
    character."""
    cdef Py_UCS4 c
    if kind == 2:
        return nc_find2_u16(<const uint16_t*>data, i, n, 0x3C, 0x3E if gt else 0x3C)
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if c == 0x3C or (gt and c == 0x3E):
            return i
        i += 1
    return n


cdef list _start_tags(str head, bint base, bint first):
    """The matches of ``<meta\\s[^<>]*>`` (``<base\\s[^<>]*>`` when ``base``), case-insensitive, in
    order; only the first when ``first``."""
    cdef Py_ssize_t n = len(head), i = 0, j
    cdef int kind = PyUnicode_KIND(head)
    cdef const void* data = PyUnicode_DATA(head)
    found = []
    while True:
        i = _next_angle(kind, data, i, n, False)
        if i >= n:
            break
        if not _tag_at(kind, data, i, n, base):
            i += 1
            continue
        j = _next_angle(kind, data, i + 6, n, True)
        if j < n and PyUnicode_READ(kind, data, j) == 0x3E:  # >
            found.append(head[i : j + 1])
            if first:
                break
            i = j + 1
        else:
            i = j  # the next "<", or the end
    return found


def meta_tags(str head):
    """``re.compile(r"<meta\s[^<>]*>", re.I).findall(head)``."""
    return _start_tags(head, False, False)


def base_tag(str head):
    """``re.compile(r"<base\s[^<>]*>", re.I).search(head)``'s text, or None."""
    found = _start_tags(head, True, True)
    return found[0] if found else None


# ---- the parser's input as UTF-8 (htmlblocks._parse) --------------------------------------------
#
# lxml hands a str to libxml2 in the str's own storage: UTF-16 for most pages (one CJK character
# makes the whole string two bytes a character), which libxml2 converts to UTF-8, chunk by chunk,
# before it parses: ~14 instructions a character, ~130k a dom page. UTF-8 bytes are parsed in
# place. The loop below writes the same UTF-8 in a few instructions a character (ASCII eight at a
# time with SSE2, where the compiler has it; ``str.encode`` costs about as much as libxml2's
# converter), and ``htmlblocks._parse`` parses the bytes with the same options and the encoding
# named, so libxml2 reads the very bytes its own conversion would have made. Anything unusual keeps
# the str (None): an ASCII string (lxml already passes it as UTF-8), a lone surrogate (libxml2's
# converter decides what becomes of it), a NUL, a byte order mark at the start, and ``<?xml`` at
# the start (lxml refuses a str with an encoding declaration, which bytes would not be).

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* One code point's UTF-8 at o: past its end, or NULL at a NUL or a surrogate. */
    static inline uint8_t *nc_put_utf8(uint32_t c, uint8_t *o) {
        if (c < 0x80) {
            if (c == 0) return NULL;
            *o++ = (uint8_t)c;
        } else if (c < 0x800) {
            *o++ = (uint8_t)(0xC0 | (c >> 6));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            if (c >= 0xD800 && c < 0xE000) return NULL;
            *o++ = (uint8_t)(0xE0 | (c >> 12));
            *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            *o++ = (uint8_t)(0xF0 | (c >> 18));
            *o++ = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (uint8_t)(0x80 | (c & 0x3F));
        }
        return o;
    }
    /* A one-byte string's UTF-8 (room for 2n): Latin-1, rare on these pages. */
    static Py_ssize_t nc_utf8_ucs1(const uint8_t *s, Py_ssize_t n, uint8_t *out) {
        uint8_t *o = out;
        Py_ssize_t i;
        for (i = 0; i < n; i++) {
            if ((o = nc_put_utf8(s[i], o)) == NULL) return -1;
        }
        return o - out;
    }
    """
    Py_ssize_t nc_utf8_ucs1(const void*, Py_ssize_t, void*)

cdef extern from "Python.h":
    Py_ssize_t _u8_len "PyUnicode_GET_LENGTH"(object)
    bint _u8_is_ascii "PyUnicode_IS_ASCII"(object)
    bytes _u8_bytes "PyBytes_FromStringAndSize"(const char*, Py_ssize_t)

from libc.string cimport memchr

# Scratch for the UTF-8 of utf8_for_parser and file_utf8, grown as needed: each uses it only while
# it holds the GIL and copies the bytes out before it returns.
cdef char* _u8_buf = NULL
cdef Py_ssize_t _u8_cap = 0


cdef char* _u8_scratch(Py_ssize_t need) except NULL:
    global _u8_buf, _u8_cap
    cdef char* grown
    if need > _u8_cap:
        grown = <char*>PyMem_Realloc(_u8_buf, need)
        if grown == NULL:
            raise MemoryError()
        _u8_buf, _u8_cap = grown, need
    return _u8_buf


def utf8_for_parser(str text, Py_ssize_t start=0):
    """``text[start:].encode("utf-8")`` for the HTML parser, or None when ``text[start:]`` must be
    parsed as a str. The page's ``<body`` is parsed from its offset: no slice of the page is copied."""
    cdef Py_ssize_t n = _u8_len(text), size
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 first
    cdef char* buf
    if start < 0 or start > n:
        raise ValueError(f"start {start} is outside the text (length {n})")
    n -= start
    if n == 0 or _u8_is_ascii(text):
        return None
    data = (<const char*>data) + start * kind
    first = PyUnicode_READ(kind, data, 0)
    if first == 0xFEFF or (first == 0x3C and text.startswith("<?xml", start)):
        return None
    buf = _u8_scratch(n * (2 if kind == 1 else 4) + 1)
    # The writer's encoders (the file text's section below: the same UTF-8, CJK eight characters a
    # step), then a NUL keeps the str: one memchr over the bytes, cheaper than a test per character.
    if kind == 2:
        size = nc_file_utf8_ucs2(data, n, buf)
    elif kind == 1:
        size = nc_utf8_ucs1(data, n, buf)
    else:
        size = nc_file_utf8_ucs4(data, n, buf)
    if size < 0 or (kind != 1 and memchr(buf, 0, size) != NULL):
        return None
    # An ASCII part of a wider str (a byte a character): the str, as its slice would be an ASCII str.
    return None if size == n else _u8_bytes(buf, size)


# ---- the file text as UTF-8 (crawl.writer.WriterPipeline; rebuild and crawl alike) --------------
#
# Not conversion: the writer encodes every article's Markdown for its file. A Chinese page's text
# is a two-byte str, and CPython's encoder for it costs ~14 instructions a character (~50k an
# article, a tenth of rebuild's own part). The loop below writes the same bytes (UTF-8 is one
# encoding: no choice in it) with eight ASCII characters a step and a CJK character as one 32-bit
# store; anything it does not take (a lone surrogate: ``str.encode`` raises) goes to
# ``str.encode`` itself, so the result, or the error, is always ``text.encode("utf-8")``'s.
# ``writer.python_utf8`` is the reference (tests compare the two on generated strings).

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* The UTF-8 of n UCS-2 code units into out (room for 3n + 1 bytes: a three-byte character is
       written as four, the fourth overwritten next), or -1 at a surrogate. NUL is a character
       here. Runs of one kind: ASCII eight characters a step (one store), three-byte characters
       (CJK text and its punctuation) eight a step where the compiler has SSE2, each in one 32-bit
       store otherwise; a run's last few one by one. */
    static inline uint32_t nc_file_u8_3(uint32_t c) {  /* a three-byte character, lowest byte first */
        return 0x008080E0u | (c >> 12) | ((c << 2) & 0x3F00u) | ((c & 0x3Fu) << 16);
    }
    static Py_ssize_t nc_file_utf8_ucs2(const uint16_t *s, Py_ssize_t n, uint8_t *out) {
        uint8_t *o = out;
        Py_ssize_t i = 0;
        uint32_t c, w;
    #if defined(__SSE2__)
        const __m128i k7f = _mm_set1_epi16(0x7F), zero = _mm_setzero_si128();
        const __m128i k1b = _mm_set1_epi16(0x1B), k3f = _mm_set1_epi16(0x3F);
        const __m128i ke0 = _mm_set1_epi16(0xE0), k80 = _mm_set1_epi16(0x80);
        uint32_t t[8];
        int k;
    #endif
        while (i < n) {
            c = s[i];
            if (c < 0x80) {
    #if defined(__SSE2__)
                while (i + 8 <= n) {  /* eight ASCII characters: one store */
                    __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
                    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_subs_epu16(v, k7f), zero)) != 0xFFFF) break;
                    _mm_storel_epi64((__m128i *)o, _mm_packus_epi16(v, v));
                    o += 8;
                    i += 8;
                }
    #endif
                while (i < n && (c = s[i]) < 0x80) {
                    *o++ = (uint8_t)c;
                    i++;
                }
            } else if (c >= 0x800) {
    #if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                while (i + 8 <= n) {  /* eight three-byte characters: 24 bytes */
                    __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
                    __m128i top = _mm_srli_epi16(v, 11);  /* 0: below U+0800; 0x1B: a surrogate */
                    if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi16(top, zero), _mm_cmpeq_epi16(top, k1b)))) break;
                    __m128i b0 = _mm_or_si128(_mm_srli_epi16(v, 12), ke0);
                    __m128i b1 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 6), k3f), k80);
                    __m128i b2 = _mm_or_si128(_mm_and_si128(v, k3f), k80);
                    __m128i b01 = _mm_or_si128(b0, _mm_slli_epi16(b1, 8));
                    _mm_storeu_si128((__m128i *)t, _mm_unpacklo_epi16(b01, b2));
                    _mm_storeu_si128((__m128i *)(t + 4), _mm_unpackhi_epi16(b01, b2));
                    for (k = 0; k < 8; k++) memcpy(o + 3 * k, t + k, 4);
                    o += 24;
                    i += 8;
                }
    #endif
                while (i < n && (c = s[i]) >= 0x800) {
                    if ((c & 0xF800) == 0xD800) return -1;
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                    w = nc_file_u8_3(c);
                    memcpy(o, &w, 4);
    #else
                    o[0] = (uint8_t)(0xE0 | (c >> 12));
                    o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                    o[2] = (uint8_t)(0x80 | (c & 0x3F));
    #endif
                    o += 3;
                    i++;
                }
            } else {
                o[0] = (uint8_t)(0xC0 | (c >> 6));
                o[1] = (uint8_t)(0x80 | (c & 0x3F));
                o += 2;
                i++;
            }
        }
        return o - out;
    }
    /* The same for four-byte strings (room for 4n bytes); -1 at a surrogate. */
    static Py_ssize_t nc_file_utf8_ucs4(const uint32_t *s, Py_ssize_t n, uint8_t *out) {
        uint8_t *o = out;
        Py_ssize_t i;
        uint32_t c;
        for (i = 0; i < n; i++) {
            c = s[i];
            if (c < 0x80) {
                *o++ = (uint8_t)c;
            } else if (c < 0x800) {
                *o++ = (uint8_t)(0xC0 | (c >> 6));
                *o++ = (uint8_t)(0x80 | (c & 0x3F));
            } else if (c < 0x10000) {
                if ((c & 0xF800) == 0xD800) return -1;
                *o++ = (uint8_t)(0xE0 | (c >> 12));
                *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                *o++ = (uint8_t)(0x80 | (c & 0x3F));
            } else {
                *o++ = (uint8_t)(0xF0 | (c >> 18));
                *o++ = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
                *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                *o++ = (uint8_t)(0x80 | (c & 0x3F));
            }
        }
        return o - out;
    }
    """
    Py_ssize_t nc_file_utf8_ucs2(const void*, Py_ssize_t, void*)
    Py_ssize_t nc_file_utf8_ucs4(const void*, Py_ssize_t, void*)

def file_utf8(str text):
    """``text.encode("utf-8")``: the same bytes, or the same UnicodeEncodeError (a lone surrogate)."""
    cdef Py_ssize_t n = _u8_len(text), size
    cdef int kind = PyUnicode_KIND(text)
    cdef char* buf
    if kind == 1:  # ASCII is its own UTF-8 (one copy), and Latin-1 is rare on these pages
        return text.encode("utf-8")
    buf = _u8_scratch(n * 3 + 1 if kind == 2 else n * 4)
    if kind == 2:
        size = nc_file_utf8_ucs2(PyUnicode_DATA(text), n, buf)
    else:
        size = nc_file_utf8_ucs4(PyUnicode_DATA(text), n, buf)
    return text.encode("utf-8") if size < 0 else _u8_bytes(buf, size)


# ---- the WARC reader's inflate loop (newscrawl.archive.read._inflate; rebuild and replay) -------
#
# Not conversion: every gzip member of an archive is inflated once by the reader (rebuild's index
# pass, replay's index). ``read.python_inflate`` is the reference and decides everything but the
# plain case: this loop gives (end, inflated bytes) of a member that inflates whole, and None for
# anything else (a zlib error, a member cut short, a file that shrank), which the caller hands to
# the reference from the member's start, so a damaged member gets the same reason and partial
# bytes as before. It reads the steps as views of the reader's window (``FileView.memory``'s
# bytes, without its Python frame), the same steps (``first`` bytes, doubled up to ``most``).

cdef extern from "Python.h":
    object _rd_view "PyMemoryView_FromMemory"(char*, Py_ssize_t, int)
    int _RD_READ "PyBUF_READ"


def inflate_member(inflater, view, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t first, Py_ssize_t most,
                   tuple errors):
    """(end, inflated bytes) of the gzip member at ``start`` of the ``read.FileView`` ``view`` (at most
    ``stop``), fed to ``inflater`` as ``read.python_inflate`` feeds it; None where that one would not
    return (its error is left to it). ``errors``: the inflater's exceptions."""
    cdef Py_ssize_t pos = start, end, n, wstart, offset
    cdef Py_ssize_t step = first
    cdef bytes window
    cdef list out = None
    decompress = inflater.decompress
    if stop > view.size:
        stop = view.size
    window, wstart = view.window, view.window_start
    while pos < stop:
        end = pos + step if stop - pos > step else stop
        offset = pos - wstart
        if offset < 0 or end - wstart > len(window):  # outside the window: the view reads the file
            chunk = view.memory(pos, end)
            window, wstart = view.window, view.window_start
            n = len(chunk)
            if n == 0:
                return None  # the file shrank meanwhile
        else:
            n = end - pos
            chunk = _rd_view(<char*>window + offset, n, _RD_READ)  # the window is held: ``window``
        try:
            piece = decompress(chunk)
        except errors:
            return None
        if inflater.eof:
            end = pos + n - len(inflater.unused_data)
            if out is None:
                return end, piece
            out.append(piece)
            return end, b"".join(out)
        if out is None:
            out = []
        out.append(piece)
        pos += n
        step = step * 2 if step * 2 < most else most
    return None


# ---- rebuild's meta refresh check (newscrawl.archive.rebuild.refresh_in_head) -----------------
#
# Not conversion: the index pass of ``newscrawl rebuild`` asks it of every HTML page it reads, and
# this is the one compiled module. ``rebuild.python_refresh_in_head`` is the reference (tests
# compare the two): it lowercases up to 16 KB to look for one word, ~10 µs a page. Here the window
# ends where the characters Scrapy reads must end (a count of the bytes that start characters), and
# the word is looked for sixteen positions a step.

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Where the (chars + 1)-th byte of p[0:n] that is not a UTF-8 continuation byte (0x80-0xBF) is,
       else n: every such byte starts a character of the UTF-8 decoder's output ("replace" or not),
       so the first ``chars`` characters lie before it. Counted 64 bytes a step where the compiler
       has SSE2 (each lane adds one per such byte; a signed byte > -65 is one), the last step byte
       by byte. */
    static Py_ssize_t nc_chars_span(const unsigned char *p, Py_ssize_t n, Py_ssize_t chars) {
        Py_ssize_t i = 0, seen = 0, count;
        int j;
    #if defined(__SSE2__)
        const __m128i lim = _mm_set1_epi8(-65), zero = _mm_setzero_si128();
        __m128i acc, sums;
        while (i + 64 <= n) {
            acc = zero;
            for (j = 0; j < 64; j += 16)
                acc = _mm_sub_epi8(acc, _mm_cmpgt_epi8(_mm_loadu_si128((const __m128i *)(p + i + j)), lim));
            sums = _mm_sad_epu8(acc, zero);
            count = _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
            if (seen + count > chars) break;  /* it is in these 64 bytes */
            seen += count;
            i += 64;
        }
    #endif
        (void)j;
        for (; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                if (seen == chars) return i;
                seen++;
            }
        }
        return n;
    }
    /* Whether "refresh", each byte compared case-blind (``b | 0x20`` is a letter of the word only
       for that letter and its capital: bytes.lower's only change), is in p[0:n]: sixteen starts a
       step where the compiler has SSE2 ("r" at each and "h" six bytes on, then the whole word at
       those that have both), the rest one by one. */
    static inline int nc_refresh_at(const unsigned char *p) {
        return (p[0] | 0x20) == 'r' && (p[1] | 0x20) == 'e' && (p[2] | 0x20) == 'f' && (p[3] | 0x20) == 'r'
            && (p[4] | 0x20) == 'e' && (p[5] | 0x20) == 's' && (p[6] | 0x20) == 'h';
    }
    static int nc_has_refresh(const unsigned char *p, Py_ssize_t n) {
        Py_ssize_t i = 0;
    #if defined(__SSE2__) && defined(__GNUC__)
        const __m128i k20 = _mm_set1_epi8(0x20), kr = _mm_set1_epi8('r'), kh = _mm_set1_epi8('h');
        unsigned int hits;
        while (i + 22 <= n) {  /* starts i..i+15, their last letters up to i+21 */
            __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i)), k20);
            __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i + 6)), k20);
            hits = (unsigned int)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, kr), _mm_cmpeq_epi8(b, kh)));
            while (hits) {
                if (nc_refresh_at(p + i + __builtin_ctz(hits))) return 1;
                hits &= hits - 1;
            }
            i += 16;
        }
    #endif
        for (; i + 7 <= n; i++) {
            if (nc_refresh_at(p + i)) return 1;
        }
        return 0;
    }
    """
    Py_ssize_t nc_chars_span(const unsigned char*, Py_ssize_t, Py_ssize_t)
    int nc_has_refresh(const unsigned char*, Py_ssize_t)


def refresh_in_head(bytes raw, Py_ssize_t start, Py_ssize_t end, Py_ssize_t chars):
    """``b"refresh" in raw[start:stop].lower()``, without the two copies: ``stop`` is where the
    (``chars`` + 1)-th byte from ``start`` that is not a UTF-8 continuation byte is (at most ``start +
    4 * chars`` and ``end``, the end of the body): ``chars`` bytes if they are ASCII, about one more
    for each CJK character's two continuation bytes, not 4 bytes a character."""
    cdef const unsigned char* p = <const unsigned char*><char*>raw
    cdef Py_ssize_t size = len(raw)
    cdef Py_ssize_t stop
    if end > size:
        end = size
    if start < 0 or start > end or chars < 0:
        raise ValueError("bad span")
    stop = start + 4 * chars if end - start > 4 * chars else end
    stop = start + nc_chars_span(p + start, stop - start, chars)
    return nc_has_refresh(p + start, stop - start) != 0


from libc.string cimport memchr


cdef inline Py_ssize_t _crlf(const unsigned char* p, Py_ssize_t i, Py_ssize_t stop):
    """Where the first CRLF at or after ``i`` starts (both bytes before ``stop``), else ``stop``: each
    CR found by ``memchr`` (a few bytes a step), not a byte-by-byte loop."""
    cdef const unsigned char* q
    while i < stop:
        q = <const unsigned char*>memchr(p + i, 13, stop - i)
        if q == NULL:
            return stop
        i = q - p
        if i + 1 < stop and p[i + 1] == 10:
            return i
        i += 1
    return stop


cdef inline Py_ssize_t _colon(const unsigned char* p, Py_ssize_t i, Py_ssize_t stop):
    """Where the first ":" in ``p[i:stop]`` is, else ``stop``."""
    cdef const unsigned char* q = NULL
    if i < stop:
        q = <const unsigned char*>memchr(p + i, 58, stop - i)
    return stop if q == NULL else q - p


cdef dict _warc_fields(bytes data, Py_ssize_t start, Py_ssize_t stop, tuple names):
    """``warc_head``'s body (the span checked by the caller)."""
    cdef const unsigned char* p = <const unsigned char*><char*>data
    cdef Py_ssize_t line, eol, colon, a, b, i, k, length, n
    cdef const unsigned char* want
    cdef dict fields = {}
    cdef bytes name
    n = len(names)
    line = _crlf(p, start, stop)  # the version line first: skipped
    while line < stop:
        line += 2  # past the CRLF
        eol = _crlf(p, line, stop)
        colon = _colon(p, line, eol)
        if colon < eol:
            length = colon - line
            for k in range(n):
                name = <bytes>names[k]
                if len(name) != length:
                    continue
                want = <const unsigned char*><char*>name
                i = 0
                while i < length and (p[line + i] + 32 if 65 <= p[line + i] <= 90 else p[line + i]) == want[i]:
                    i += 1
                if i == length:
                    if name not in fields:
                        a, b = colon + 1, eol
                        while a < b and p[a] in b" \t\n\r\x0b\x0c":
                            a += 1
                        while b > a and p[b - 1] in b" \t\n\r\x0b\x0c":
                            b -= 1
                        fields[name] = data[a:b]
                    break
        line = eol
    return fields


def warc_head(bytes data, Py_ssize_t start, Py_ssize_t stop, tuple names):
    """The fields ``names`` (lowercase bytes) of the WARC header ``data[start:stop]`` (its version line,
    then ``Name: value`` lines split by CRLF): {name: value stripped} for those found, the first of a
    name kept; a line's name is compared lowercased, in place (no string for the other fields).
    ``rebuild._Head`` is the reference (a name looked up in the lowercased header as ``CRLF name:``),
    which the index pass asked six times a record."""
    if stop > len(data):
        stop = len(data)
    if start < 0 or start > stop:
        raise ValueError("bad span")
    return _warc_fields(data, start, stop, names)


cdef inline bint _ws(unsigned char c):
    """bytes.strip()'s whitespace: space, \\t, \\n, \\r, \\x0b, \\x0c."""
    return c == 32 or 9 <= c <= 13


cdef bint _name_is(const unsigned char* p, Py_ssize_t a, Py_ssize_t b, const char* want, Py_ssize_t n):
    """``p[a:b].lower() == want`` (``want`` lowercase ASCII, ``n`` bytes)."""
    cdef Py_ssize_t i
    if b - a != n:
        return False
    for i in range(n):
        if (p[a + i] + 32 if 65 <= p[a + i] <= 90 else p[a + i]) != <unsigned char>want[i]:
            return False
    return True


def http_head(bytes data, Py_ssize_t start, Py_ssize_t end):
    """(status, body at, Location, Content-Types, has Content-Encoding, Transfer-Encodings) of the
    HTTP response block ``data[start:end]``, as ``rebuild.python_http_head`` (its reference) reads
    them from its header lines, without a bytes object per line; None when the status is not 1-9
    plain digits between the status line's first two spaces (the reference decides those)."""
    cdef const unsigned char* p = <const unsigned char*><char*>data
    cdef Py_ssize_t size = len(data)
    cdef Py_ssize_t stop, body_at, line, eol, colon, a, b, i
    cdef long status = 0
    cdef bint encoded = False
    cdef list types = []
    cdef list transfer = []
    location = None
    if end > size:
        end = size
    if start < 0 or start > end:
        raise ValueError("bad span")
    stop = data.find(b"\r\n\r\n", start, end)
    if stop < 0:
        stop = body_at = end
    else:
        body_at = stop + 4
    # The status line: ``lines[0].split(b" ", 2)[1]``, digits only.
    eol = _crlf(p, start, stop)
    a = start
    while a < eol and p[a] != 32:
        a += 1
    a += 1
    b = a
    while b < eol and p[b] != 32:
        b += 1
    if b <= a or b - a > 9 or a > eol:
        return None
    for i in range(a, b):
        if not 48 <= p[i] <= 57:
            return None
        status = status * 10 + (p[i] - 48)
    line = eol
    while line < stop:  # each header line: ``name, _, value = line.partition(b":")``, both stripped
        line += 2
        eol = _crlf(p, line, stop)
        colon = _colon(p, line, eol)
        a, b = line, colon
        while a < b and _ws(p[a]):
            a += 1
        while b > a and _ws(p[b - 1]):
            b -= 1
        i = 0  # which of the four names: 1 Content-Type, 2 Location, 3 Content-Encoding, 4 Transfer-Encoding
        if _name_is(p, a, b, "content-type", 12):
            i = 1
        elif _name_is(p, a, b, "location", 8):
            i = 2
        elif _name_is(p, a, b, "content-encoding", 16):
            i = 3
        elif _name_is(p, a, b, "transfer-encoding", 17):
            i = 4
        if i:
            a, b = (colon + 1 if colon < eol else eol), eol
            while a < b and _ws(p[a]):
                a += 1
            while b > a and _ws(p[b - 1]):
                b -= 1
            if i == 1:
                types.append(data[a:b])
            elif i == 2:
                if location is None:
                    location = data[a:b]
            elif i == 3:
                encoded = True
            else:
                transfer.append(data[a:b])
        line = eol
    return status, body_at, b"" if location is None else location, types, encoded, transfer


def warc_records(bytes data, tuple names):
    """(fields ``names`` as ``warc_head`` reads them, block start, block end) of each WARC record of
    an inflated member, as ``rebuild.python_records`` (its reference) reads them, with the same
    ValueError where it raises one (the Content-Length read by ``int`` itself); None for a negative
    or larger than the member Content-Length (the reference decides)."""
    cdef const unsigned char* p = <const unsigned char*><char*>data
    cdef Py_ssize_t size = len(data)
    cdef Py_ssize_t pos = 0, head_end, block_start, i
    cdef dict fields
    cdef list out = []
    while pos < size:
        if not (pos + 5 <= size and p[pos] == 87 and p[pos + 1] == 65 and p[pos + 2] == 82 and p[pos + 3] == 67
                and p[pos + 4] == 47):  # "WARC/"
            for i in range(pos, size):
                if not _ws(p[i]):
                    raise ValueError("no WARC record where one should start")
            break
        head_end = data.find(b"\r\n\r\n", pos)
        if head_end < 0:
            raise ValueError("WARC headers cut short")
        fields = _warc_fields(data, pos, head_end, names)
        block_start = head_end + 4
        length = int(fields.get(b"content-length", b""))
        if length < 0 or length > size:
            return None  # beyond a Py_ssize_t's reach, or negative: the reference reads it
        pos = block_start + <Py_ssize_t>length
        if pos > size:
            raise ValueError("WARC block cut short")
        out.append((fields, block_start, pos))
        while pos + 1 < size and p[pos] == 13 and p[pos + 1] == 10:
            pos += 2
    return out


# ---- conversion after the walk: scans over the string's own storage (issue 15, round 6) --------
#
# The text step's "is this span settled" scan and the renderer's escape loop ran once per
# character through ``PyUnicode_READ`` (a switch on the string's kind per character) and, for the
# scan, ``_printable``'s range tests. Here each loop is written once per kind (a fused type: the
# compiler makes one loop for one-, two- and four-byte strings) over the characters themselves,
# and the per-character tests are one load from a table built at import from the very tests they
# replace (``_printable``, ``_special``), so the two cannot disagree. Same results as the
# functions above (the tests compare them on generated text of every kind).

ctypedef fused _uchar:
    unsigned char  # Py_UCS1
    unsigned short  # Py_UCS2
    Py_UCS4

cdef extern from "Python.h":
    const void* _data_of "PyUnicode_DATA"(object)
    int _kind_of_str "PyUnicode_KIND"(object)

# What ``_settled`` decides for each BMP character: 0 text, 1 the ASCII space, 2 not settled
# (``&`` or not printable: every whitespace character but the space is not printable).
cdef unsigned char _SETTLE[0x10000]
# What ``_escape_into`` does with each ASCII character: 0 copy, 1 a backslash before it
# (``_special``), 2 ``&`` (a backslash before an entity-like name), 3 ``-`` or ``.`` (a backslash
# when it repeats the character before it).
cdef unsigned char _ESC[0x80]


cdef bint _round6_tables() except -1:
    cdef Py_UCS4 c
    for c in range(0x10000):
        _SETTLE[c] = 1 if c == 0x20 else 2 if c == 0x26 or not _printable(c) else 0
    for c in range(0x80):
        _ESC[c] = 1 if _special(c) else 2 if c == 0x26 else 3 if c == 0x2D or c == 0x2E else 0
    return True


cdef bint _ROUND6_OK = _round6_tables()


cdef inline bint _settled_in(const _uchar* d, Py_ssize_t n):
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    cdef unsigned char v
    cdef bint space = True  # a space at the start is an edge
    for i in range(n):
        c = d[i]
        if _uchar is Py_UCS4 and c > 0xFFFF:
            v = 0 if _printable(c) else 2
        else:
            v = _SETTLE[c]
        if v == 0:
            space = False
        elif v == 2 or space:
            return False
        else:
            space = True
    return not space


cdef bint _settled_fast(str t):
    """``_settled(t)``, one loop per kind of string."""
    cdef Py_ssize_t n = len(t)
    cdef int kind = _kind_of_str(t)
    if n == 0:
        return False
    if kind == 2:
        return _settled_in(<const unsigned short*>_data_of(t), n)
    if kind == 1:
        return _settled_in(<const unsigned char*>_data_of(t), n)
    return _settled_in(<const Py_UCS4*>_data_of(t), n)


cdef inline Py_ssize_t _escape_in(Py_UCS4* out, const _uchar* d, Py_ssize_t a, Py_ssize_t z):
    """``_escape_into``'s loop from ``d[a]`` to ``d[z - 1]``, written at ``out``; returns the count
    written (at most twice ``z - a``)."""
    cdef Py_ssize_t i, j, k = 0
    cdef Py_UCS4 c, prev = 0
    cdef unsigned char v
    for i in range(a, z):
        c = d[i]
        if c < 0x80:
            v = _ESC[c]
            if v == 1:
                out[k] = 0x5C
                k += 1
            elif v == 2:  # &
                j = i + 1
                while j < z and j - i <= 33 and _ascii_alnum(d[j]):
                    j += 1
                if 1 <= j - i - 1 <= 32 and j < z and d[j] == 0x3B:
                    out[k] = 0x5C
                    k += 1
            elif v == 3 and prev == c:  # - .
                out[k] = 0x5C
                k += 1
        out[k] = c
        k += 1
        prev = c
    return k


cdef int _escape_fast(_Buf* b, str t, Py_ssize_t a, Py_ssize_t z) except -1:
    """``_escape_into(b, t, a, z)``, one loop per kind of string."""
    cdef int kind = _kind_of_str(t)
    if b.n + (z - a) * 2 > b.cap:
        _grow(b, (z - a) * 2)
    if kind == 2:
        b.n += _escape_in(b.data + b.n, <const unsigned short*>_data_of(t), a, z)
    elif kind == 1:
        b.n += _escape_in(b.data + b.n, <const unsigned char*>_data_of(t), a, z)
    else:
        b.n += _escape_in(b.data + b.n, <const Py_UCS4*>_data_of(t), a, z)
    return 0


def _settled_test(str t):
    """``(_settled(t), _settled_fast(t))`` (for the tests)."""
    return _settled(t), _settled_fast(t)


def _escape_test(str t, Py_ssize_t a, Py_ssize_t z):
    """``(_escape_into, _escape_fast)`` of ``t[a:z]`` as strings (for the tests)."""
    cdef Py_UCS4 stack[256]
    cdef _Buf b1, b2
    b1.data = b1.stack = stack
    b1.n = 0
    b1.cap = _STACK
    b2.data = b2.stack = NULL
    b2.n = 0
    b2.cap = 0
    try:
        _escape_into(&b1, t, a, z)
        _grow_empty(&b2, 1)
        _escape_fast(&b2, t, a, z)
        return PyUnicode_FromKindAndData(_KIND4, b1.data, b1.n), PyUnicode_FromKindAndData(_KIND4, b2.data, b2.n)
    finally:
        if b1.data != b1.stack:
            PyMem_Free(b1.data)
        PyMem_Free(b2.data)


cdef int _grow_empty(_Buf* b, Py_ssize_t cap) except -1:
    b.data = <Py_UCS4*>PyMem_Malloc(cap * sizeof(Py_UCS4))
    if b.data == NULL:
        raise MemoryError()
    b.cap = cap
    return 0


cdef int _line_start_at(_Buf* b, Py_ssize_t start) except -1:
    """``markdown._line_start`` on the paragraph written from ``start`` on."""
    cdef Py_UCS4 c
    cdef Py_ssize_t k = 0, n = b.n - start
    cdef Py_UCS4* d = b.data + start
    if n == 0:
        return 0
    c = d[0]
    if c == 0x2D or c == 0x2B or c == 0x3D or c == 0x3A:  # - + = :
        return _insert(b, start, 0x5C)
    if not Py_UNICODE_ISDIGIT(c):
        return 0
    while k < n and k < 10 and Py_UNICODE_ISDECIMAL(d[k]):  # the pattern's \d
        k += 1
    if 1 <= k <= 9 and k < n and (d[k] == 0x2E or d[k] == 0x29):  # . )
        _insert(b, start + k, 0x5C)
    return 0


cdef object _render_page(list blocks):
    """``_render_blocks_join(blocks)`` written into one buffer: a paragraph's Markdown goes
    straight into it (``_render_into``), not through a string of its own and the join; a block
    that comes out empty takes its separator back."""
    cdef _Buf b
    cdef Py_ssize_t mark, start
    render_block = None
    b.data = <Py_UCS4*>PyMem_Malloc(4096 * sizeof(Py_UCS4))
    if b.data == NULL:
        raise MemoryError()
    b.stack = NULL
    b.n = 0
    b.cap = 4096
    try:
        for block in blocks:
            cls = type(block)
            mark = b.n
            if mark:
                _put(&b, 0x0A)
                _put(&b, 0x0A)
            start = b.n
            if cls is _Paragraph:
                _render_into(&b, _spans_of(block, cls), False)
            elif cls is _Heading:
                text = _render(block.spans, True)
                if text:
                    _puts(&b, "#" * block.level + " " + text)
            elif cls is _ImageBlock:
                _puts(&b, "![" + _md.IMAGE_ALT + "](" + _escape_url(block.image.src) + ")")
            else:
                if render_block is None:
                    render_block = _md.render_block
                text = render_block(block)
                if type(text) is not str:
                    return _render_blocks_join(blocks)  # what the join makes of it (or its error)
                _puts(&b, <str>text)
            if b.n == start:
                b.n = mark
        return PyUnicode_FromKindAndData(_KIND4, b.data, b.n)
    finally:
        PyMem_Free(b.data)


# ``_url_safe`` for each ASCII character, read from a table (``_url_safe`` made a one-character
# string and searched the safe set with it, once per character of every image URL).
cdef bint _URL_SAFE[0x80]
for _c in range(0x80):
    _URL_SAFE[_c] = _url_safe(_c)


cdef inline bint _url_ok(Py_UCS4 c):
    """``_url_safe(c)``."""
    return c < 0x80 and _URL_SAFE[c]


cdef inline bint _plain_span(object span):
    """A ``Span`` whose fields are its slots (``span.text = x`` only stores ``x`` there)."""
    return _FAST and type(span) is _Span


def _url_safe_differs():
    """Code points where ``_url_ok`` and ``_url_safe`` disagree (for the tests: none)."""
    cdef Py_UCS4 c
    return [c for c in range(0x110000) if _url_ok(c) != _url_safe(c)]


# ``text.clean_chars`` of a printable text holding ``&``: its table changes no printable character,
# so only the entity pass can change the text, and only where ``text._ENTITY`` matches. Without a
# match the text is returned as it is; ``clean_chars`` translated it first (a dictionary lookup per
# character: ~100k instructions for a long paragraph with one "&" in it).
cdef object _entity_search = _textnorm._ENTITY.search


cdef str _clean_amp(str t, bint plain):
    """``_clean(t)`` for a ``t`` holding ``&`` and no escape or joiner; ``plain``: all printable."""
    if plain and _entity_search(t) is None:
        return t
    return _clean_chars(t)


def _clean_test(str t):
    """``(text.clean_chars(t), _clean(t))`` (for the tests)."""
    return _clean_chars(t), _clean(t)


# ---- the image step's UI-image pretest (images.may_contain) ---------------------------------------
#
# ``images.may_contain`` lower-cases each image URL (a new string) and searches it once per
# needle, twice per image (the generic and the site's UI tests). Here the URL's ASCII bytes are
# compared in place, each folded to lower case as it is read. Needles are the callers' constants
# (a few short words), so the search is linear in the URL's length.

cdef extern from "Python.h":
    const unsigned char* _ascii_data "PyUnicode_1BYTE_DATA"(object)


cdef bint _holds_folded(const unsigned char* s, Py_ssize_t n, const unsigned char* w, Py_ssize_t m):
    """``w`` in ``s`` with ASCII ``s`` lower-cased."""
    cdef Py_ssize_t i, j
    cdef unsigned char c
    for i in range(n - m + 1):
        for j in range(m):
            c = s[i + j]
            if 0x41 <= c <= 0x5A:
                c += 0x20
            if c != w[j]:
                break
        else:
            return True
    return False


def may_contain(url, needles):
    """``images.may_contain``, compiled (its Python function for anything but a string and a
    tuple of ASCII strings)."""
    if type(url) is not str or type(needles) is not tuple:
        return _images().python_may_contain(url, needles)
    for needle in <tuple>needles:
        if type(needle) is not str or not _u8_is_ascii(needle):
            return _images().python_may_contain(url, needles)
    if not _u8_is_ascii(url):
        return True
    for needle in <tuple>needles:
        if _holds_folded(_ascii_data(url), _u8_len(url), _ascii_data(needle), _u8_len(needle)):
            return True
    return False


cdef object _images():
    from newscrawl.convert import images

    return images


# ---- the front matter's date (dates.format_date, rfc3339) -----------------------------------------
#
# ``datetime.isoformat`` formats through ``PyUnicode_FromFormat`` and a second string for the
# offset (~10k instructions a page). Here the digits are written into a byte buffer. Only for a
# plain ``datetime`` with no microseconds and an offset of whole minutes (or none): anything else
# returns None and ``format_date`` calls ``isoformat`` as before.

from cpython.datetime cimport (
    PyDateTime_CheckExact,
    PyDelta_CheckExact,
    datetime_day,
    datetime_hour,
    datetime_microsecond,
    datetime_minute,
    datetime_month,
    datetime_second,
    datetime_year,
    import_datetime,
    timedelta_days,
    timedelta_microseconds,
    timedelta_seconds,
)

import_datetime()


cdef inline void _digits(char* p, int value, int width):
    cdef int i
    for i in range(width - 1, -1, -1):
        p[i] = <char>(48 + value % 10)
        value //= 10


def rfc3339(dt):
    """``dt.isoformat()`` for a plain ``datetime`` without microseconds whose offset is None or
    whole minutes; None for anything else."""
    cdef char buf[32]
    cdef long total
    cdef int n = 19
    if not PyDateTime_CheckExact(dt) or datetime_microsecond(dt) != 0:
        return None
    off = dt.utcoffset()
    if off is not None:
        if not PyDelta_CheckExact(off) or timedelta_microseconds(off) != 0:
            return None
        total = <long>timedelta_days(off) * 86400 + timedelta_seconds(off)
        if total % 60 != 0:
            return None
    _digits(buf, datetime_year(dt), 4)
    buf[4] = 45  # -
    _digits(buf + 5, datetime_month(dt), 2)
    buf[7] = 45
    _digits(buf + 8, datetime_day(dt), 2)
    buf[10] = 84  # T
    _digits(buf + 11, datetime_hour(dt), 2)
    buf[13] = 58  # :
    _digits(buf + 14, datetime_minute(dt), 2)
    buf[16] = 58
    _digits(buf + 17, datetime_second(dt), 2)
    if off is not None:
        buf[19] = 45 if total < 0 else 43  # - +
        if total < 0:
            total = -total
        _digits(buf + 20, <int>(total // 3600), 2)
        buf[22] = 58
        _digits(buf + 23, <int>(total % 3600 // 60), 2)
        n = 25
    return buf[:n].decode("ascii")


# ---- the front matter's verbatim test (frontmatter._verbatim) -------------------------------------


def verbatim(value):
    """``frontmatter._verbatim``, compiled: one pass over the string (printable, no ``"`` or
    backslash) instead of four scans and a regular expression. A string of four-byte kind holds a
    character outside the BMP, which both emitters escape."""
    cdef Py_ssize_t i, n
    cdef int kind
    cdef Py_UCS4 c
    cdef const unsigned short* d2
    cdef const unsigned char* d1
    if type(value) is not str:
        return _frontmatter().python_verbatim(value)  # its error
    kind = _kind_of_str(value)
    if kind == 4:
        return False
    n = len(<str>value)
    if kind == 2:
        d2 = <const unsigned short*>_data_of(value)
        for i in range(n):
            c = d2[i]
            if (_SETTLE[c] == 2 and c != 0x26) or c == 0x22 or c == 0x5C:
                return False
        return True
    d1 = <const unsigned char*>_data_of(value)
    for i in range(n):
        c = d1[i]
        if (_SETTLE[c] == 2 and c != 0x26) or c == 0x22 or c == 0x5C:
            return False
    return True


cdef object _frontmatter():
    from newscrawl.convert import frontmatter

    return frontmatter


# ---- rebuild's index loop (newscrawl.archive.rebuild.index_piece; issue 15, round 7) ------------
#
# Not conversion: ``rebuild.index_piece`` reads a piece's members one by one (``read.read_member``)
# and indexes each record (``rebuild._index_one`` -> ``_index_record``): that Python path is the
# reference and decides everything unusual. This loop does the same for the plain member (it
# inflates whole, starts with "WARC/", its records parse) without a Member, a generator step or a
# Python frame per member or record: warcinfo and request records, and the common response (one
# Content-Type that the reference has already found to be UTF-8 HTML, no BOM, no Content-Encoding
# or Transfer-Encoding, no "refresh" where Scrapy would read it), are indexed here; any other
# record goes to ``slow`` (the reference, one record). It stops before the first member it does not
# answer for and says where, so the reference reads that one (its damage, the resync) and hands back.

cdef dict _rx_methods = {}  # a request line's first word -> its method, as the reference spells it
cdef dict _rx_types = {}  # a Content-Type value -> the str an Entry carries


def index_run(view, Py_ssize_t pos, Py_ssize_t end_at, Py_ssize_t stop, Py_ssize_t first, Py_ssize_t most,
              tuple errors, make_inflater, tuple names, index, slow, dict utf8_types, entry_type,
              Py_ssize_t chars, Py_ssize_t left):
    """Index the plain members of the ``read.FileView`` ``view`` from ``pos`` (members read up to
    ``stop``, started before ``end_at``) into ``index`` (a ``rebuild.FileIndex``), each record as
    ``rebuild._index_one`` would; ``slow(index, start, end, fields, data, span, left) -> left`` is that
    one, for the records not decided here. A response's body as stored is kept while ``left`` bytes
    allow. Returns (where it stopped, records read, ``left`` after)."""
    cdef Py_ssize_t records = 0, end, bs, be, body_at, head_end, line_end, word_end, n
    cdef list recs
    cdef list responses = index.responses
    cdef dict requests = index.requests
    cdef dict infos = index.infos
    cdef tuple rec, head
    cdef dict fields
    cdef bytes data, kind, content_type, info_b = None
    cdef const unsigned char* p
    cdef unsigned char c
    cdef str info_s = ""
    path = index.path
    while pos < end_at:
        done = inflate_member(make_inflater(), view, pos, stop, first, most, errors)
        if done is None:
            break
        end = done[0]
        data = done[1]
        n = len(data)
        p = <const unsigned char*><char*>data
        if not (n >= 5 and p[0] == 87 and p[1] == 65 and p[2] == 82 and p[3] == 67 and p[4] == 47):  # "WARC/"
            break
        try:
            recs = warc_records(data, names)
        except (ValueError, KeyError):
            break  # the reference reports the member as damaged
        if recs is None:
            break
        for rec in recs:
            records += 1
            fields = <dict>rec[0]
            bs = rec[1]
            be = rec[2]
            kind = fields.get(b"warc-type", b"")
            if kind == b"response":
                head = http_head(data, bs, be)
                if head is None or len(<list>head[3]) != 1 or head[4] or head[5]:
                    left = slow(index, pos, end, fields, data, (bs, be), left)
                    continue
                body_at = head[1]
                if body_at < be:
                    c = p[body_at]
                    if c == 0 or c == 0xEF or c == 0xFE or c == 0xFF:  # a BOM may start here
                        left = slow(index, pos, end, fields, data, (bs, be), left)
                        continue
                content_type = <bytes>(<list>head[3])[0]
                if utf8_types.get(content_type) is not True or refresh_in_head(data, body_at, be, chars):
                    left = slow(index, pos, end, fields, data, (bs, be), left)
                    continue
                type_name = _rx_types.get(content_type)
                if type_name is None:
                    type_name = content_type.decode("latin-1")
                    if len(_rx_types) < 64:
                        _rx_types[content_type] = type_name
                info = fields.get(b"warc-warcinfo-id", b"")
                if info != info_b:  # the same warcinfo for every record of a file: decoded once
                    info_b, info_s = info, info.decode("latin-1")
                kept = None
                if left >= be - body_at:
                    kept = data[body_at:be]
                    left -= be - body_at
                responses.append(entry_type(
                    path, pos, end,
                    fields.get(b"warc-target-uri", b"").decode("utf-8", "replace"),
                    head[0],
                    (<bytes>head[2]).decode("latin-1"),
                    fields.get(b"warc-record-id", b"").decode("latin-1"),
                    fields.get(b"warc-concurrent-to", b"").decode("latin-1"),
                    info_s, "GET", b"", None, (bs, be), None, body_at, type_name, kept,
                ))
            elif kind == b"request":
                # The method (the request line's first word) and the body, as the reference reads them.
                head_end = data.find(b"\r\n\r\n", bs, be)
                if head_end < 0:
                    head_end = body_at = be
                else:
                    body_at = head_end + 4
                line_end = _crlf(p, bs, head_end)
                word_end = bs
                while word_end < line_end and p[word_end] != 32:
                    word_end += 1
                word = data[bs:word_end]
                method = _rx_methods.get(word)
                if method is None:
                    method = word.decode("latin-1").upper()
                    if len(_rx_methods) < 64:
                        _rx_methods[word] = method
                entry = (method, data[body_at:be])
                requests[fields.get(b"warc-record-id", b"").decode("latin-1")] = entry
                for other in fields.get(b"warc-concurrent-to", b"").decode("latin-1").split():
                    requests[other] = entry
            elif kind == b"warcinfo":
                infos[fields.get(b"warc-record-id", b"").decode("latin-1")] = data[bs:be]
        pos = end
    return pos, records, left


cdef Py_ssize_t _utf8_strict(const unsigned char* p, Py_ssize_t n, bint final, Py_ssize_t chars,
                             Py_ssize_t* count, Py_ssize_t* cut):
    """``codecs.utf_8_decode(p[:n], "strict", final)`` without the text: the bytes it uses (a sequence
    the end cuts, when ``final`` is false, is left over as CPython leaves it: only if what is there
    can still start a character), or -1 where it raises. ``count``: the characters decoded; ``cut``:
    where the character after the first ``chars`` starts (if there is one)."""
    cdef Py_ssize_t i = 0, k = 0, need, have, j
    cdef unsigned char c, lo, hi
    while i < n:
        c = p[i]
        if c < 0x80 and i + 8 <= n and rx_ascii8(p + i):  # eight ASCII characters a step
            if k <= chars < k + 8:
                cut[0] = i + chars - k
            i += 8
            k += 8
            continue
        if k == chars:
            cut[0] = i
        if c < 0x80:
            i += 1
            k += 1
            continue
        if c < 0xC2 or c > 0xF4:
            return -1  # a continuation byte, an overlong lead or beyond U+10FFFF: invalid start byte
        lo, hi = 0x80, 0xBF
        if c < 0xE0:
            need = 1
        elif c < 0xF0:
            need = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F  # no surrogates
        else:
            need = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        have = n - i - 1
        if have > need:
            have = need
        if c == 0xED and have == 1 and need == 2 and not final and 0xA0 <= p[i + 1] <= 0xBF:
            break  # a surrogate's first two bytes at the end: CPython leaves them over, no error
        for j in range(have):  # the second byte has its own range, the others 0x80-0xBF
            if j == 0:
                if not lo <= p[i + 1] <= hi:
                    return -1
            elif not 0x80 <= p[i + 1 + j] <= 0xBF:
                return -1
        if have < need:  # cut by the end: an error when final, else left over
            if final:
                return -1
            break
        i += need + 1
        k += 1
    count[0] = k
    return i


def utf8_head(bytes raw, Py_ssize_t start, Py_ssize_t end, Py_ssize_t chars, tuple sizes):
    """``rebuild._utf8_head`` (its reference) with ``chars`` = HEAD_CHARS and ``sizes`` = its two probe
    sizes: the bytes of the first ``chars`` characters of the UTF-8 body ``raw[start:end]`` (all of it
    if shorter), or None where a probe is not valid UTF-8; no str made (the reference decoded each
    probe and encoded the characters past the limit again)."""
    cdef const unsigned char* p = <const unsigned char*><char*>raw
    cdef Py_ssize_t stop, used, count = 0, cut = 0, size
    if end > len(raw):
        end = len(raw)
    if start < 0:
        raise ValueError("bad span")
    for size_obj in sizes:
        size = size_obj
        stop = start + size if end - start > size else end
        if stop <= start:
            return b""
        cut = -1
        used = _utf8_strict(p + start, stop - start, stop == end, chars, &count, &cut)
        if used < 0:
            return None
        if count > chars:
            return raw[start:start + cut]
        if stop == end:
            return raw[start:stop]
    return None


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    static inline int rx_refresh_at(const unsigned char *p) {
        return (p[0] | 0x20) == 'r' && (p[1] | 0x20) == 'e' && (p[2] | 0x20) == 'f' && (p[3] | 0x20) == 'r'
            && (p[4] | 0x20) == 'e' && (p[5] | 0x20) == 's' && (p[6] | 0x20) == 'h';
    }
    /* Where "refresh" (ASCII letters in any case: bytes.lower's only change) first is in p[i:n], else -1:
       sixteen starts a step where the compiler has SSE2 ("r" at each and "h" six bytes on, then the
       whole word where both are), the rest one by one. */
    static Py_ssize_t rx_refresh_from(const unsigned char *p, Py_ssize_t i, Py_ssize_t n) {
    #if defined(__SSE2__) && defined(__GNUC__)
        const __m128i k20 = _mm_set1_epi8(0x20), kr = _mm_set1_epi8('r'), kh = _mm_set1_epi8('h');
        unsigned int hits;
        while (i + 22 <= n) {
            __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i)), k20);
            __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i + 6)), k20);
            hits = (unsigned int)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, kr), _mm_cmpeq_epi8(b, kh)));
            while (hits) {
                if (rx_refresh_at(p + i + __builtin_ctz(hits))) return i + __builtin_ctz(hits);
                hits &= hits - 1;
            }
            i += 16;
        }
    #endif
        for (; i + 7 <= n; i++) {
            if (rx_refresh_at(p + i)) return i;
        }
        return -1;
    }
    /* Whether the 8 bytes at p are all ASCII. */
    static inline int rx_ascii8(const unsigned char *p) {
        uint64_t w;
        memcpy(&w, p, 8);
        return (w & 0x8080808080808080ULL) == 0;
    }
    """
    Py_ssize_t rx_refresh_from(const unsigned char*, Py_ssize_t, Py_ssize_t)
    int rx_ascii8(const unsigned char*)


cdef inline bint _rx_space(unsigned char c):
    """``\\s`` of a bytes pattern: space, \\t, \\n, \\v, \\f, \\r."""
    return c == 32 or 9 <= c <= 13


cdef inline unsigned char _rx_lower(unsigned char c):
    return c + 32 if 65 <= c <= 90 else c


cdef inline Py_ssize_t _rx_refresh_from(const unsigned char* p, Py_ssize_t i, Py_ssize_t n):
    """Where "refresh", in any case (ASCII), first is in ``p[i:n]``, else -1."""
    return rx_refresh_from(p, i, n)


def no_meta_refresh(bytes text, tuple ignored):
    """True where w3lib's ``get_meta_refresh`` on the bytes ``text`` (its first, byte scan: comments,
    then the ``ignored`` tags with their content, then ``<meta`` tags, in one pass of its pattern)
    finds no meta tag whose attributes say "refresh", so returns (None, None); False where that scan
    could find one (the caller asks w3lib). The scan is followed exactly through comments and meta
    tags; at a tag whose name starts like an ignored one it gives up (False), unless no "refresh" is
    left from there on. ``ignored``: the tag names, lowercase bytes."""
    cdef const unsigned char* p = <const unsigned char*><char*>text
    cdef Py_ssize_t n = len(text), pos = 0, i, j, k, m, found = -1
    cdef Py_ssize_t no_quote[2]  # from where no " (0) or ' (1) is left: each unclosed quote not searched again
    cdef const unsigned char* q
    cdef const unsigned char* name
    cdef unsigned char quote
    no_quote[0] = no_quote[1] = n + 1
    while True:  # linear: pos only grows, each span is searched once
        if found < pos:
            found = _rx_refresh_from(p, pos, n)
            if found < 0:
                return True  # no "refresh" left: no attributes from here on can hold it
        q = <const unsigned char*>memchr(p + pos, 60, n - pos)  # "<": where any of the pattern's branches starts
        if q == NULL:
            return True
        i = q - p
        if i + 4 <= n and p[i + 1] == 33 and p[i + 2] == 45 and p[i + 3] == 45:  # "<!--": to the first "-->" after
            j = i + 4
            while j + 3 <= n and not (p[j] == 45 and p[j + 1] == 45 and p[j + 2] == 62):
                j += 1
            pos = j + 3 if j + 3 <= n else n
            continue
        for tag in ignored:
            name = <const unsigned char*><char*><bytes>tag
            m = len(<bytes>tag)
            if i + 1 + m <= n:
                k = 0
                while k < m and _rx_lower(p[i + 1 + k]) == name[k]:
                    k += 1
                if k == m:
                    return False  # an ignored tag with its content: not followed here
        if (i + 6 <= n and _rx_lower(p[i + 1]) == 109 and _rx_lower(p[i + 2]) == 101 and _rx_lower(p[i + 3]) == 116
                and _rx_lower(p[i + 4]) == 97 and _rx_space(p[i + 5])):  # "<meta" and a space: its attributes
            j = i + 6
            while True:  # [^<>=]* then ("=" quoted value | "=" not before a quote), greedy
                while j < n and p[j] != 60 and p[j] != 62 and p[j] != 61:
                    j += 1
                if j >= n or p[j] != 61:
                    break
                k = j + 1
                while k < n and _rx_space(p[k]):
                    k += 1
                if k < n and (p[k] == 34 or p[k] == 39):
                    quote = p[k]
                    m = 0 if quote == 34 else 1
                    q = NULL
                    if k + 1 < no_quote[m] and k + 1 < n:
                        q = <const unsigned char*>memchr(p + k + 1, quote, n - k - 1)
                    if q == NULL:
                        if k + 1 < no_quote[m]:
                            no_quote[m] = k + 1
                        break  # an unclosed quote: the attributes end before this "="
                    j = (q - p) + 1
                else:
                    j += 1
            if found < i + 6:  # the first "refresh" from the attributes' start on
                found = _rx_refresh_from(p, i + 6, n)
                if found < 0:
                    return True
            if found < j:  # in these attributes
                return False  # a meta tag that may be a refresh: w3lib decides
            pos = j
            continue
        pos = i + 1
