"""Render S3 keys as the user guide draws the archive: ``├──``/``└──`` with folders first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _insert(tree: dict[str, Any], parts: list[str]) -> None:
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part + "/", {})
    node[parts[-1]] = None


def render_tree(root_label: str, keys: Iterable[str], prefix: str = "") -> str:
    """Draw the keys under ``prefix`` (removed from each) as a tree headed by ``root_label``."""
    tree: dict[str, Any] = {}
    for key in sorted(keys):
        if key.startswith(prefix) and key != prefix:
            _insert(tree, key[len(prefix):].split("/"))
    lines = [root_label]

    def walk(node: dict[str, Any], indent: str) -> None:
        names = sorted(node, key=lambda n: (not n.endswith("/"), n))
        for i, name in enumerate(names):
            last = i == len(names) - 1
            lines.append(f"{indent}{'└── ' if last else '├── '}{name}")
            child = node[name]
            if child is not None:
                walk(child, indent + ("    " if last else "│   "))

    walk(tree, "")
    return "\n".join(lines)
