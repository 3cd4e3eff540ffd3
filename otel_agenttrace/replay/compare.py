"""The comparison engine: two run traces, step by step. Replay uses it to find the first divergent
step; `agenttrace diff`, `agenttrace bisect`, fixture checks and the pytest plugin are built on the same
functions (the text they print is in `_report`).

Steps are aligned by sequence alignment on (type, node, name), not by index, so one inserted step
does not misalign the rest; inside a replaced stretch, steps of the same type and node are paired as
changed (a changed model renames an LLM step). Each pair is compared field by field: model, request
parameters, input, output (text, tool calls with arguments; tool arguments and results), status and
error. Durations, tokens and cost are reported as deltas, never as a difference unless a tolerance
says so (`--tolerance duration=50%`). Tool calls of one turn that ran in parallel (overlapping in time)
are compared as a set: the order parallel calls finish in is not the agent's behaviour.

A turn is an LLM call, the tool calls that follow it and the workflow, node and agent steps that led
to it; `bisect` reports the first turn holding a divergent step.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

COMPARED_FIELDS: tuple[str, ...] = (
    "provider",
    "model",
    "request",
    "system_instructions",
    "tool_definitions",
    "input",
    "output",
    "status",
    "error",
)
METRICS: tuple[str, ...] = ("duration_ms", "input_tokens", "output_tokens", "cost")
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
    deltas: dict[str, float] = field(default_factory=dict)  # the whole run's, b - a
    turns_a: dict[int, int] = field(default_factory=dict)  # step index -> turn number
    turns_b: dict[int, int] = field(default_factory=dict)

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
            "deltas": self.deltas,
            "steps": [p.to_dict() for p in self.pairs],
        }


# --- what to leave out, what to tolerate --------------------------------------------------------------------------


def _without(value: Any, parts: Sequence[str]) -> Any:
    """`value` without the JSON path `parts` (`*` matches every list item or key); the input is not changed."""
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head]
        out = dict(value)
        for key in keys:
            if key in out:
                if rest:
                    out[key] = _without(out[key], rest)
                else:
                    del out[key]
        return out
    if isinstance(value, list):
        if head == "*":
            return [_without(v, rest) for v in value] if rest else []
        if head.isdigit() and int(head) < len(value):
            out_list = list(value)
            if rest:
                out_list[int(head)] = _without(value[int(head)], rest)
            else:
                del out_list[int(head)]
            return out_list
    return value


class ToleranceError(ValueError):
    """A `--tolerance` that cannot be read: the message says what is expected."""


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move before it counts as a difference: an absolute amount or a percentage."""

    metric: str  # one of METRICS
    limit: float
    relative: bool

    _ALIASES = {"duration": ("duration_ms",), "tokens": ("input_tokens", "output_tokens")}

    @classmethod
    def parse(cls, text: str) -> list[Tolerance]:
        """`duration=50%`, `duration_ms=200`, `tokens=10` (input and output), `output_tokens=5%`, `cost=0.001`."""
        name, sep, raw = text.partition("=")
        name, raw = name.strip().lower(), raw.strip()
        metrics = cls._ALIASES.get(name, (name,) if name in METRICS else ())
        if not sep or not metrics:
            raise ToleranceError(
                f"{text!r}: expected METRIC=LIMIT, METRIC one of duration, tokens, {', '.join(METRICS)}"
            )
        relative = raw.endswith("%")
        try:
            limit = float(raw[:-1] if relative else raw)
        except ValueError:
            raise ToleranceError(f"{text!r}: the limit is a number or a percentage, e.g. {name}=10%") from None
        if limit < 0 or limit != limit:
            raise ToleranceError(f"{text!r}: the limit cannot be negative")
        return [cls(m, limit, relative) for m in metrics]

    def exceeded(self, a: float, b: float) -> bool:
        allowed = abs(a) * self.limit / 100 if self.relative else self.limit
        return abs(b - a) > allowed + 1e-12


def metric(step: dict[str, Any], name: str) -> float | None:
    """A step's duration, tokens or cost (None when it has none)."""
    if name == "duration_ms":
        value = step.get("duration_ms")
    elif name == "cost":
        value = (step.get("cost") or {}).get("amount")
    else:
        value = (step.get("usage") or {}).get(name)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in METRICS:
        x, y = metric(a, name), metric(b, name)
        if x is not None and y is not None and (x != y or name == "duration_ms"):
            out[name] = round(y - x, 10 if name == "cost" else 3)
    return out


def compare_steps(
    a: dict[str, Any], b: dict[str, Any], ignore: Iterable[str] = (), tolerances: Iterable[Tolerance] = ()
) -> list[FieldChange]:
    """The differing fields of two aligned steps, each at its first differing JSON path. `ignore` holds
    field names or paths inside them (`request/temperature`, `output/*/id`)."""
    paths = [tuple(p.strip("/").split("/")) for p in ignore if p.strip("/")]
    changes: list[FieldChange] = []
    for name in COMPARED_FIELDS:
        inside = [p[1:] for p in paths if p[0] == name]
        if () in inside:
            continue
        x, y = a.get(name), b.get(name)
        for parts in inside:
            x, y = _without(x, parts), _without(y, parts)
        found = first_difference(x, y)
        if found is not None:
            where, x, y = found
            changes.append(FieldChange(name + (where if where != "/" else ""), x, y))
    for tolerance in tolerances:
        x, y = metric(a, tolerance.metric), metric(b, tolerance.metric)
        if x is not None and y is not None and tolerance.exceeded(x, y):
            changes.append(FieldChange(tolerance.metric, x, y))
    return changes


# --- alignment ------------------------------------------------------------------------------------------------------


def _start(step: dict[str, Any]) -> float:
    value = step.get("relative_ms")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _end(step: dict[str, Any]) -> float:
    value = step.get("duration_ms")
    return _start(step) + (float(value) if isinstance(value, (int, float)) else 0.0)


def canonical_order(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`steps` with every group of parallel tool calls (consecutive tool steps of one parent, each starting
    before the ones before it ended) sorted by name and arguments: their finishing order is noise."""
    out: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []

    def flush() -> None:
        group.sort(key=lambda s: (str(s.get("name")), _sort_text(s.get("input"))))
        out.extend(group)
        group.clear()

    for step in steps:
        parallel = (
            group
            and step.get("type") == "tool_call"
            and step.get("parent_id") == group[0].get("parent_id")
            and _start(step) < max(_end(s) for s in group)
        )
        if not parallel:
            flush()
        if step.get("type") == "tool_call":
            group.append(step)
        else:
            out.append(step)
    flush()
    return out


def _sort_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


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


def run_deltas(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Whole-run deltas (b - a): duration, tokens, cost."""
    out: dict[str, float] = {}
    pairs = {
        "duration_ms": (a.get("duration_ms"), b.get("duration_ms")),
        "input_tokens": ((a.get("usage") or {}).get("input_tokens"), (b.get("usage") or {}).get("input_tokens")),
        "output_tokens": ((a.get("usage") or {}).get("output_tokens"), (b.get("usage") or {}).get("output_tokens")),
        "cost": ((a.get("cost") or {}).get("amount"), (b.get("cost") or {}).get("amount")),
    }
    for name, (x, y) in pairs.items():
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            out[name] = round(y - x, 10 if name == "cost" else 3)
    return out


def compare_runs(
    a: dict[str, Any], b: dict[str, Any], ignore: Iterable[str] = (), tolerances: Iterable[Tolerance] = ()
) -> Comparison:
    """Align the steps of two run traces and compare each pair."""
    steps_a = canonical_order([s for s in a.get("steps") or [] if isinstance(s, dict)])
    steps_b = canonical_order([s for s in b.get("steps") or [] if isinstance(s, dict)])
    skip, limits = tuple(ignore), tuple(tolerances)
    pairs: list[StepPair] = []
    for i, j in align(steps_a, steps_b):
        if i is None:
            assert j is not None
            pairs.append(StepPair(ADDED, None, steps_b[j]))
        elif j is None:
            pairs.append(StepPair(REMOVED, steps_a[i], None))
        else:
            x, y = steps_a[i], steps_b[j]
            changes = compare_steps(x, y, skip, limits)
            if step_key(x) != step_key(y) and "name" not in skip:
                changes.insert(0, FieldChange("name", x.get("name"), y.get("name")))
            pairs.append(StepPair(CHANGED if changes else SAME, x, y, changes, _deltas(x, y)))
    return Comparison(pairs, run_deltas(a, b), _turns(steps_a), _turns(steps_b))


# --- turns and bisect -----------------------------------------------------------------------------------------------


def _turns(steps: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Step index -> turn number (from 1). Each LLM call opens a turn; tool calls belong to the turn they
    follow; workflow, node and agent steps to the turn they lead to (the next LLM call's)."""
    turn = 0
    out: dict[int, int] = {}
    pending: list[int] = []
    for step in steps:
        index = step.get("index")
        if not isinstance(index, int):
            continue
        kind = step.get("type")
        if kind == "llm_call":
            turn += 1
            out.update(dict.fromkeys(pending, turn))
            pending.clear()
            out[index] = turn
        elif kind == "tool_call":
            out[index] = max(turn, 1)
        else:
            pending.append(index)
    out.update(dict.fromkeys(pending, turn + 1 if turn == 0 else turn))
    return out


@dataclass
class Bisection:
    """The first divergent turn of `failing` against `baseline`."""

    comparison: Comparison
    pair: StepPair | None  # the first divergent step pair
    turn_a: int | None = None  # its turn in the baseline (for a step only in failing: the turn it falls in)
    turn_b: int | None = None
    identical_steps: int = 0  # aligned identical steps before it
    steps_a: list[StepPair] = field(default_factory=list)  # the divergent turn, aligned
    node: str | None = None

    @property
    def found(self) -> bool:
        return self.pair is not None

    @property
    def turn(self) -> int | None:
        return self.turn_a if self.pair is not None and self.pair.a is not None else self.turn_b

    @property
    def identical_turns(self) -> int:
        """Whole turns (LLM call and its tool calls) identical before the divergent one."""
        turn = self.turn
        return max(0, turn - 1) if turn else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "equivalent": self.pair is None,
            "turn": self.turn,
            "baseline_turn": self.turn_a,
            "failing_turn": self.turn_b,
            "identical_turns": self.identical_turns,
            "identical_steps": self.identical_steps,
            "node": self.node,
            "first_divergence": self.pair.to_dict() if self.pair is not None else None,
            "turn_steps": [p.to_dict() for p in self.steps_a],
        }


def bisect(comparison: Comparison) -> Bisection:
    """Where two compared runs first part: the turn, the identical prefix, both sides, the node."""
    first = comparison.first_divergence
    if first is None:
        return Bisection(comparison, None)
    turn_a = turn_b = 0
    identical = 0
    for pair in comparison.pairs:
        if pair.a is not None:
            turn_a = comparison.turns_a.get(pair.a.get("index"), turn_a)  # type: ignore[arg-type]
        if pair.b is not None:
            turn_b = comparison.turns_b.get(pair.b.get("index"), turn_b)  # type: ignore[arg-type]
        if pair is first:
            break
        identical += 1
    result = Bisection(comparison, first, turn_a, turn_b, identical, node=first.step.get("node"))

    def in_turn(p: StepPair) -> bool:
        if p.a is not None:
            return comparison.turns_a.get(p.a.get("index")) == turn_a  # type: ignore[arg-type]
        return p.b is not None and comparison.turns_b.get(p.b.get("index")) == turn_b  # type: ignore[arg-type]

    result.steps_a = [p for p in comparison.pairs if in_turn(p)]
    return result
