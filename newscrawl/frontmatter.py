"""Hugo front matter: YAML written by PyYAML, in the users' style.

Strings double-quoted, keys plain, lists as indented block sequences, booleans bare.
PyYAML does the quoting, so any title (quotes, backslashes, ``: ``, ``---``, newlines,
control characters, ``true``, ``null``) loads back as exactly the same string.
"""

from __future__ import annotations

from typing import Any

import yaml


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


class FrontMatterDumper(yaml.SafeDumper):
    """Double-quoted string values, plain keys, ``  - item`` lists."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent block sequences under their key, as the users' files do.
        return super().increase_indent(flow, False)

    def represent_mapping(self, tag, mapping, flow_style=None):  # type: ignore[override]
        node = super().represent_mapping(tag, mapping, flow_style)
        for key, _ in node.value:
            key.style = None  # keys plain: title, not "title"
        return node


FrontMatterDumper.add_representer(str, _str)


def dump(fields: dict[str, Any]) -> str:
    """The front matter block, ``---`` lines included, keys in the given order."""
    text = yaml.dump(
        fields,
        Dumper=FrontMatterDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 30,
    )
    return f"---\n{text}---\n"


def load(document: str) -> dict[str, Any]:
    """The front matter of a written file, parsed (for tests and incremental checks)."""
    if not document.startswith("---\n"):
        raise ValueError("no front matter")
    end = document.index("\n---\n", 3)
    return yaml.safe_load(document[4 : end + 1])
