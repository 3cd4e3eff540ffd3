"""The comparison engine: two run traces, step by step. Replay uses it to find the first divergent
step; `diff` and `bisect` are built on the same functions.

Steps are aligned by sequence alignment on (type, node, name), not by index, so one inserted step
does not misalign the rest; inside a replaced stretch, steps of the same type and node are paired as
changed (a changed model renames an LLM step). Each pair is compared field by field: model, request
parameters, input, output (text, tool calls with arguments; tool arguments and results), status and
error. Durations and tokens are reported as deltas, never as a difference.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

COMPARED_FIELDS: tuple[str, ...] = ("model", "request", "input", "output", "status", "error")
SAME, CHANGED, ADDED, REMOVED = "same", "changed", "added", "removed"


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ: (JSON path, a's value, b's value), or None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}/{key}", a.get(key), b.get(key)
            found = first_difference(a[key], b[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}/{i}")
            if found:
                return found
        if len(a) != len(b):
            i = min(len(a), len(b))
            return f"{path}/{i}", a[i] if i < len(a) else None, b[i] if i < len(b) else None
        return None
    return None if a == b else (path or "/", a, b)


def step_key(step: dict[str, Any]) -> tuple[Any, Any, Any]:
    return step.get("type"), step.get("node"), step.get("name")


@dataclass
class FieldChange:
    field: str  # the step field, then the JSON path inside it: "input/0/parts/0/content"
    a: Any
    b: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "a": self.a, "b": self.b}


@dataclass
class StepPair:
    kind: str  # same | changed | added (only in b) | removed (only in a)
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    changes: list[FieldChange] = field(default_factory=list)
    deltas: dict[str, float] = field(default_factory=dict)

    @property
    def step(self) -> dict[str, Any]:
        step = self.a if self.a is not None else self.b
        assert step is not None
        return step

    def label(self) -> str:
        s = self.step
        where = f" in {s['node']}" if s.get("node") else ""
        return f"{s.get('type')} {s.get('name')!r}{where}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "type": self.step.get("type"),
            "name": self.step.get("name"),
            "node": self.step.get("node"),
            "a_index": self.a.get("index") if self.a is not None else None,
            "b_index": self.b.get("index") if self.b is not None else None,
        }
        if self.changes:
            out["changes"] = [c.to_dict() for c in self.changes]
        if self.deltas:
            out["deltas"] = self.deltas
        return out


@dataclass
class Comparison:
    pairs: list[StepPair]

    def count(self, kind: str) -> int:
        return sum(1 for p in self.pairs if p.kind == kind)

    @property
    def equivalent(self) -> bool:
        return all(p.kind == SAME for p in self.pairs)

    @property
    def first_divergence(self) -> StepPair | None:
        return next((p for p in self.pairs if p.kind != SAME), None)

    def counts(self) -> dict[str, int]:
        return {kind: self.count(kind) for kind in (SAME, CHANGED, ADDED, REMOVED)}

    def to_dict(self) -> dict[str, Any]:
        first = self.first_divergence
        return {
            "equivalent": self.equivalent,
            "counts": self.counts(),
            "first_divergence": first.to_dict() if first is not None else None,
            "steps": [p.to_dict() for p in self.pairs],
        }


def compare_steps(a: dict[str, Any], b: dict[str, Any], ignore: Iterable[str] = ()) -> list[FieldChange]:
    """The differing fields of two aligned steps, each at its first differing JSON path."""
    skip = set(ignore)
    changes: list[FieldChange] = []
    for name in COMPARED_FIELDS:
        if name in skip:
            continue
        found = first_difference(a.get(name), b.get(name))
        if found is not None:
            path, x, y = found
            changes.append(FieldChange(name + (path if path != "/" else ""), x, y))
    return changes


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(a.get("duration_ms"), (int, float)) and isinstance(b.get("duration_ms"), (int, float)):
        out["duration_ms"] = round(b["duration_ms"] - a["duration_ms"], 3)
    for key in ("input_tokens", "output_tokens"):
        x, y = (a.get("usage") or {}).get(key), (b.get("usage") or {}).get(key)
        if isinstance(x, int) and isinstance(y, int) and x != y:
            out[key] = y - x
    return out


def align(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """Pairs of indices into a and b (None: no partner) in order, by sequence alignment on step_key."""
    keys_a, keys_b = [step_key(s) for s in a], [step_key(s) for s in b]
    out: list[tuple[int | None, int | None]] = []
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        # A replaced stretch: pair steps of the same type and node in order, the rest are removed/added.
        rest_b = list(range(j1, j2))
        for i in range(i1, i2):
            partner = next((j for j in rest_b if keys_b[j][:2] == keys_a[i][:2]), None)
            if partner is None:
                out.append((i, None))
                continue
            for j in rest_b[: rest_b.index(partner)]:
                out.append((None, j))
            rest_b = rest_b[rest_b.index(partner) + 1 :]
            out.append((i, partner))
        out.extend((None, j) for j in rest_b)
    return out


def compare_runs(a: dict[str, Any], b: dict[str, Any], ignore: Iterable[str] = ()) -> Comparison:
    """Align the steps of two run traces and compare each pair."""
    steps_a, steps_b = list(a.get("steps") or []), list(b.get("steps") or [])
    skip = tuple(ignore)
    pairs: list[StepPair] = []
    for i, j in align(steps_a, steps_b):
        if i is None:
            assert j is not None
            pairs.append(StepPair(ADDED, None, steps_b[j]))
        elif j is None:
            pairs.append(StepPair(REMOVED, steps_a[i], None))
        else:
            x, y = steps_a[i], steps_b[j]
            changes = compare_steps(x, y, skip)
            if step_key(x) != step_key(y):
                changes.insert(0, FieldChange("name", x.get("name"), y.get("name")))
            pairs.append(StepPair(CHANGED if changes else SAME, x, y, changes, _deltas(x, y)))
    return Comparison(pairs)
