# cython: language_level=3
"""Compiled replacement for ``htmlblocks._walk`` that reads libxml2's nodes directly.

lxml builds a Python proxy object for every element a Python loop touches (``for child in el``)
and decodes a new string for each ``.tag``, ``.text`` and ``.tail``. This walker follows the C
nodes (``child.next``) through lxml's public C API (``lxml.includes.etreepublic``: the same
``namespacedName``, ``textOf``, ``tailOf``, ``hasChild`` and ``attributeValueFromNsName`` that
lxml's own properties call, so every string is the one Python would see) and makes a proxy
only for the elements it hands back to ``htmlblocks._element`` (images, lists, tables, headings,
widgets: the rare kinds). Paragraph text, inline styles and plain blocks, most of a page, never
leave C until their ``Span`` is built. The logic is ``htmlblocks._walk``'s, line for line; the
tests convert the corpus with and without this module and compare the bytes.

Optional: built by setup.py when Cython, lxml's headers and a C compiler are there; htmlblocks
uses it unless ``NEWSCRAWL_PURE_PYTHON`` is set, and falls back to its own ``_walk`` otherwise.
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

cdef dict _KIND = _hb._KIND
cdef int _SKIP = _hb._SKIP
cdef int _BLOCK = _hb._BLOCK
cdef int _INLINE = _hb._INLINE
cdef int _STYLED = _hb._STYLED
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
        if css and "font-weight" in css and _BOLD_STYLE.search(css):
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


cdef bint _special_div(tree.xmlNode* c_node, object markup) except -1:
    """``htmlblocks._special_div``, reading attributes from the C node."""
    if markup.video_attribute and _attr(c_node, markup.video_attribute) == markup.video_value:
        return True
    cls = _get(c_node, "class")
    return bool(cls and _has_class(cls, markup.subhead_classes))


def walk(_Element el not None, b, tuple style, int depth):
    """``htmlblocks._walk(el, b, style, depth)``."""
    _walk(el._doc, el._c_node, b, style, depth)


cdef int _walk(_Document doc, tree.xmlNode* c_el, object b, tuple style, int depth) except -1:
    cdef tree.xmlNode* c_child
    cdef int kind
    if depth > MAX_DEPTH:
        raise TooDeep("HTML nested deeper than the converter follows")
    inline = b.inline
    bold, italic, code, href = style
    c_child = c_el.children
    while c_child is not NULL:
        # lxml's iteration: elements, comments, entity references and PIs; text is .text/.tail.
        if c_child.type == tree.XML_ELEMENT_NODE:
            tag = namespacedName(c_child)
            kind = _KIND.get(tag, _INLINE)
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
            inner = _style_for(tag, c_child, style, b.markup) if kind == _STYLED else style
            text = textOf(c_child)
            if text:
                inline.append(Span(text, inner[0], inner[1], inner[2], inner[3]))
            if hasChild(c_child):
                _walk(doc, c_child, b, inner, depth + 1)
                inline = b.inline  # a nested block may have flushed
        elif kind == _BLOCK and not b.in_cell and (tag != "div" or not _special_div(c_child, b.markup)):
            if inline:
                b.flush()
            text = textOf(c_child)
            if not hasChild(c_child):  # a leaf block: its text is the whole paragraph
                if text and not text.isspace():
                    span = Span(text, bold, italic, code, href)
                    b.blocks.append(Heading(b.heading, [span]) if b.heading else Paragraph([span]))
            else:
                if text:
                    b.inline.append(Span(text, bold, italic, code, href))
                _walk(doc, c_child, b, style, depth + 1)
                if b.inline:
                    b.flush()
            inline = b.inline
        elif kind != _SKIP:
            _element(elementFactory(doc, c_child), kind, tag, b, style, depth + 1)
            inline = b.inline
        tail = tailOf(c_child)
        if tail:
            inline.append(Span(tail, bold, italic, code, href))
        c_child = c_child.next
    return 0
