"""Hugo front matter: YAML written by PyYAML, in the users' style.

Strings double-quoted, keys plain, lists as indented block sequences, booleans bare.
PyYAML does all the quoting, so any title (quotes, backslashes, ``: ``, ``---``,
newlines, control characters, ``true``, ``null``) loads back as exactly the same string.

Speed: every article passes through here. PyYAML's pure-Python emitter costs ~0.4 ms
per article (it analyses each scalar character by character), so the emitter is
libyaml's (``CSafeDumper``) when PyYAML has it, and the YAML of each constant field
(``comments: false``, ``widgets: [...]``) is produced once and reused. libyaml cannot
indent block sequences under their key, so its ``- item`` lines get the two spaces the
users' files have; both forms are the same YAML.
"""

from __future__ import annotations

import io
import re
from typing import Any

import yaml

from newscrawl.convert.htmlblocks import COMPILED

_STR = "tag:yaml.org,2002:str"


def _represent_str(dumper: yaml.BaseDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, value, style='"')


def _represent_mapping(self, tag, mapping, flow_style=None):  # type: ignore[no-untyped-def]
    node = yaml.representer.SafeRepresenter.represent_mapping(self, tag, mapping, flow_style)
    for key, _ in node.value:
        key.style = None  # keys plain: title, not "title"
    return node


class FrontMatterDumper(yaml.SafeDumper):
    """Pure-Python dumper: double-quoted string values, plain keys, ``  - item`` lists."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


FrontMatterDumper.add_representer(str, _represent_str)
FrontMatterDumper.represent_mapping = _represent_mapping  # type: ignore[method-assign]

try:  # libyaml's bare emitter: events in, text out, no Python-side dumper to set up
    from yaml._yaml import CEmitter as _CEmitter
except ImportError:  # PyYAML built without libyaml
    _CEmitter = None
_CDumper = getattr(yaml, "CSafeDumper", None)
if _CDumper is not None:

    class _FastDumper(_CDumper):  # type: ignore[misc, valid-type]
        """libyaml's emitter with the same representers."""

    _FastDumper.add_representer(str, _represent_str)
    _FastDumper.represent_mapping = _represent_mapping  # type: ignore[method-assign]
    _DUMPER: type = _FastDumper
else:  # PyYAML built without libyaml
    _DUMPER = FrontMatterDumper

_SEQUENCE_ITEM = re.compile(r"^- ", re.M)
_TOP_LEVEL_KEY = re.compile(r"^(?=[^\s-])", re.M)
# A character outside the BMP. One scan (``max(value)`` made a string of each CJK character it
# compared: ~2 µs for a title, twice per article). Written as the range above the BMP: the negated
# BMP class, "[^\x00-\uffff]", takes ~8 ms to compile (a 65,536-entry character map in Python).
_OUTSIDE_BMP = re.compile("[\U00010000-\U0010ffff]")
# Fragments of constant fields, keyed by (key, value); bounded so unique titles can't grow it.
_CACHE: dict[tuple[str, Any], str] = {}
_CACHE_LIMIT = 256


def _scalar_events(value: Any) -> list[yaml.Event] | None:
    """Events of a str, bool or list of str value; None for anything else."""
    if isinstance(value, bool):
        return [yaml.ScalarEvent(None, None, (True, False), "true" if value else "false")]
    if isinstance(value, str):
        return [yaml.ScalarEvent(None, None, (False, True), value, style='"')]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [
            yaml.SequenceStartEvent(None, None, True, flow_style=False),
            *(yaml.ScalarEvent(None, None, (False, True), item, style='"') for item in value),
            yaml.SequenceEndEvent(),
        ]
    return None


# A key the emitter may write plain: a word that reads back as the same string. Any other key
# (``a: b``, ``yes``, ``~``, a number) goes through PyYAML's representer, which quotes it.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML11_WORDS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))


def _plain_key(key: Any) -> bool:
    return isinstance(key, str) and _PLAIN_KEY.match(key) is not None and key.lower() not in _YAML11_WORDS


def _yaml(fields: dict[str, Any]) -> str:
    """YAML of a mapping. The usual values (strings, booleans, lists of strings) go straight
    to the emitter as events, which skips PyYAML's representer; anything else is dumped."""
    events: list[yaml.Event] = [
        yaml.StreamStartEvent(),
        yaml.DocumentStartEvent(explicit=False),
        yaml.MappingStartEvent(None, None, True, flow_style=False),
    ]
    for key, value in fields.items():
        value_events = _scalar_events(value)
        if value_events is None or not _plain_key(key):
            events = []
            break
        events.append(yaml.ScalarEvent(None, None, (True, False), key))
        events.extend(value_events)
    if events:
        events += [yaml.MappingEndEvent(), yaml.DocumentEndEvent(explicit=False), yaml.StreamEndEvent()]
        if _CEmitter is not None:
            stream = io.StringIO()
            emitter = _CEmitter(stream, allow_unicode=True, width=1 << 30)
            for event in events:
                emitter.emit(event)
            return _SEQUENCE_ITEM.sub("  - ", stream.getvalue())
        text = yaml.emit(events, Dumper=_DUMPER, allow_unicode=True, width=1 << 30)
    else:
        text = yaml.dump(
            fields, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 30
        )
    return _SEQUENCE_ITEM.sub("  - ", text) if _DUMPER is not FrontMatterDumper else text


# Keys whose string values change with every article (the constants are cached instead).
_QUOTED_KEYS = frozenset(("title", "date", "summary", "thumbnail"))


def _verbatim(value: str) -> bool:
    """True when both emitters write ``value`` double-quoted as it is: no quote or backslash,
    and only characters both print unescaped. Python's printable characters are a subset of
    libyaml's, except outside the BMP (libyaml writes ``\\U0001f600``, PyYAML too)."""
    return (
        value.isprintable()
        and '"' not in value
        and "\\" not in value
        and (value.isascii() or _OUTSIDE_BMP.search(value) is None)
    )


# The compiled form (newscrawl/convert/_cwalk.pyx: one pass over the string), when the compiled
# module runs; the Python function stays the reference and the pure path.
python_verbatim = _verbatim
_verbatim = getattr(COMPILED, "verbatim", None) or python_verbatim


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def dump(fields: dict[str, Any]) -> str:
    """The front matter block, ``---`` lines included, keys in the given order."""
    keys = [(key, _frozen(value)) for key, value in fields.items()]
    try:
        missing = {key: fields[key] for key, frozen in keys if (key, frozen) not in _CACHE}
    except TypeError:  # a value no cache key can hold (a mapping, a list holding one): not cached
        return "---\n" + _yaml(fields) + "---\n"
    fresh: dict[str, str] = {}
    for key in _QUOTED_KEYS.intersection(missing):
        value = missing[key]
        if value.__class__ is str and _verbatim(value):
            fresh[key] = f'{key}: "{value}"\n'  # what the emitter writes for it, without the emitter
            del missing[key]
    if missing:
        # One emitter run for every field not cached; split back per key (each top-level
        # key starts a line; scalars never wrap, the width is unbounded).
        for chunk in _TOP_LEVEL_KEY.split(_yaml(missing))[1:]:
            fresh[chunk.split(":", 1)[0]] = chunk
        if not all(key in fresh for key in missing):
            # A key the emitter quotes ('a: b', 'yes') or that is no string: its line does not
            # start with the key as given, so the block is emitted whole, nothing cached.
            return "---\n" + _yaml(fields) + "---\n"
        for key, frozen in keys:
            if key in fresh and len(_CACHE) < _CACHE_LIMIT:
                _CACHE[key, frozen] = fresh[key]  # the first articles fill it with the constants
    return "---\n" + "".join(fresh[key] if key in fresh else _CACHE[key, frozen] for key, frozen in keys) + "---\n"


def load(document: str) -> dict[str, Any]:
    """The front matter of a written file, parsed (for tests and incremental checks)."""
    if not document.startswith("---\n"):
        raise ValueError("no front matter")
    end = document.index("\n---\n", 3)
    return yaml.safe_load(document[4 : end + 1])
