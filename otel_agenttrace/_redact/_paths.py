"""JSON paths of a redaction policy: `$.arguments.password`, `$..api_key` select values to drop or mask."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"\.\.(?P<deep>[A-Za-z_][\w-]*|\*)|\.(?P<key>[A-Za-z_][\w-]*|\*)|\[(?P<index>\*|\d+|'[^']*'|\"[^\"]*\")\]"
)
ROOTS = ("input", "output", "system", "tools", "arguments", "result")


@dataclass(frozen=True)
class PathRule:
    """`$.arguments.password`, `$..api_key`, `$.input[*].parts[*].content` — drop or mask what they select.

    The first step names the content it applies to: input (messages sent), output (messages
    returned), system (instructions), tools (definitions), arguments and result (of tool calls);
    a path starting with `..` applies to all of them."""

    path: str
    action: str  # drop | mask
    steps: tuple[tuple[str, str], ...] = field(default=())

    @staticmethod
    def parse(path: str, action: str) -> PathRule:
        if action not in ("drop", "mask"):
            raise ValueError(f"action must be 'drop' or 'mask', got {action!r}")
        if not path.startswith("$"):
            raise ValueError(f"a JSON path starts with '$': {path!r}")
        steps: list[tuple[str, str]] = []
        rest = path[1:]
        while rest:
            m = _TOKEN.match(rest)
            if m is None:
                raise ValueError(f"cannot parse JSON path {path!r} at {rest!r}")
            if m.group("deep") is not None:
                steps.append(("deep", m.group("deep")))
            elif m.group("key") is not None:
                steps.append(("key", m.group("key")))
            else:
                index = m.group("index")
                steps.append(("key", index[1:-1]) if index[0] in "'\"" else ("index", index))
            rest = rest[m.end() :]
        if not steps:
            raise ValueError(f"JSON path {path!r} selects the whole document")
        if steps[0][0] == "key" and steps[0][1] not in (*ROOTS, "*"):
            raise ValueError(f"JSON path {path!r} must start with one of {', '.join(ROOTS)} or '..'")
        return PathRule(path, action, tuple(steps))

    def apply(self, root: str, value: Any) -> tuple[Any, int]:
        """The value with what the path selects dropped or masked (a copy when anything changed)."""
        doc = {root: value}
        hits = self._walk(doc, self.steps, probe=True)
        if not hits:
            return value, 0
        doc = {root: copy.deepcopy(value)}
        count = self._walk(doc, self.steps, probe=False)
        return doc.get(root), count  # None: the path dropped the whole value (`$.*`)

    def _edit(self, container: Any, key: Any, probe: bool) -> int:
        if not probe:
            if self.action == "drop":
                del container[key]
            else:
                container[key] = f"[REDACTED:{self.path}]"
        return 1

    def _children(self, node: Any) -> list[tuple[Any, Any]]:
        if isinstance(node, dict):
            return list(node.items())
        if isinstance(node, list):
            return list(enumerate(node))
        return []

    def _walk(self, node: Any, steps: tuple[tuple[str, str], ...], probe: bool) -> int:
        kind, arg = steps[0]
        last = len(steps) == 1
        count = 0
        if kind == "deep":
            # `..name`: this level's match, then the same step again below every child
            count += self._walk(node, (("key", arg), *steps[1:]), probe)
            for _, child in self._children(node):
                if isinstance(child, (dict, list)):
                    count += self._walk(child, steps, probe)
            return count
        keys: list[Any]
        if kind == "key" and isinstance(node, dict):
            keys = list(node) if arg == "*" else ([arg] if arg in node else [])
        elif kind == "index" and isinstance(node, list):
            keys = list(range(len(node)))[::-1] if arg == "*" else ([int(arg)] if int(arg) < len(node) else [])
        elif kind == "key" and arg == "*" and isinstance(node, list):
            keys = list(range(len(node)))[::-1]
        else:
            return 0
        for key in keys:
            if last:
                count += self._edit(node, key, probe)
            else:
                count += self._walk(node[key], steps[1:], probe)
        return count


def apply_paths(rules: Iterable[PathRule], root: str, value: Any) -> tuple[Any, int]:
    total = 0
    for rule in rules:
        value, count = rule.apply(root, value)
        total += count
    return value, total
