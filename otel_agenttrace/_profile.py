"""Where a run's time, tokens and cost went: a pure function of the run-trace document.

Times are intervals on the run's clock (`relative_ms`, `duration_ms`). A step still in flight (no
duration) is taken to run to the end of the run. Three notions of time per group of steps:

- `total_ms`: the sum of the steps' durations (nested or parallel steps count each time);
- `self_ms`: the sum of each step's duration minus the union of its children's intervals;
- `wall_ms`: the union of the steps' intervals: how long at least one of them was in flight.

The critical path is the chain of steps that set the run's duration, found as Jaeger does: from the
root's end, walk back into the child that finished last, recursively; the time no child covers
belongs to the parent. Its segments add up to the run's duration. Concurrency counts the outermost
"work" steps (LLM calls, tool calls, other spans such as HTTP or DB), not the nodes around them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from otel_agenttrace import semconv as sc

DEFAULT_TOP = 10
WORK_TYPES = frozenset({"llm_call", "tool_call", "span"})
# Attributes that say what another instrumentation's span is (the OTel semantic conventions, old and new).
_KIND_BY_ATTRIBUTE = (
    ("http.request.method", "http"),
    ("http.method", "http"),
    ("db.system.name", "db"),
    ("db.system", "db"),
    ("rpc.system", "rpc"),
    ("messaging.system", "messaging"),
)
_RESEND = "http.request.resend_count"

Interval = tuple[float, float]


def component(step: dict[str, Any]) -> str:
    """llm, tool, mcp, node, workflow, http, db, rpc, messaging or other."""
    attrs = step.get("attributes") or {}
    step_type = step.get("type")
    if sc.MCP_METHOD_NAME in attrs or sc.MCP_SESSION_ID in attrs:
        return "mcp"
    if step_type == "llm_call":
        return "llm"
    if step_type == "tool_call":
        return "tool"
    if step_type in ("node", "workflow"):
        return str(step_type)
    for key, kind in _KIND_BY_ATTRIBUTE:
        if key in attrs:
            return kind
    return "other"


def tool_name(step: dict[str, Any]) -> str:
    attrs = step.get("attributes") or {}
    name = attrs.get(sc.GEN_AI_TOOL_NAME)
    if isinstance(name, str) and name:
        return name
    text = str(step.get("name") or "")
    operation, _, rest = text.partition(" ")
    return rest if rest and operation == sc.Operation.EXECUTE_TOOL else text


def _union(intervals: Iterable[Interval]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _r(ms: float) -> float:
    return round(ms, 3)


class _Run:
    """The steps as intervals, with their children; what every part of the profile reads."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.steps: list[dict[str, Any]] = [s for s in doc.get("steps") or [] if isinstance(s, dict)]
        ends = [float(s.get("relative_ms") or 0) + float(s.get("duration_ms") or 0) for s in self.steps]
        duration = doc.get("duration_ms")
        self.duration = float(duration) if isinstance(duration, (int, float)) else max(ends, default=0.0)
        self.by_id = {str(s.get("id")): s for s in self.steps}
        self.span: dict[str, Interval] = {}
        for s in self.steps:
            start = float(s.get("relative_ms") or 0)
            took = s.get("duration_ms")
            end = start + float(took) if isinstance(took, (int, float)) else max(self.duration, start)
            self.span[str(s.get("id"))] = (start, end)
        self.children: dict[str | None, list[dict[str, Any]]] = {}
        for s in self.steps:
            parent = s.get("parent_id")
            self.children.setdefault(parent if parent in self.by_id else None, []).append(s)
        self.self_ms = {sid: self._self_time(sid) for sid in self.by_id}

    def interval(self, step: dict[str, Any]) -> Interval:
        return self.span[str(step.get("id"))]

    def length(self, step: dict[str, Any]) -> float:
        a, b = self.interval(step)
        return b - a

    def _self_time(self, sid: str) -> float:
        a, b = self.span[sid]
        inside = [(max(a, x), min(b, y)) for x, y in (self.span[str(c.get("id"))] for c in self.children.get(sid, []))]
        return max(0.0, (b - a) - _union((x, y) for x, y in inside if y > x))


def _group(run: _Run, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "count": len(steps),
        "total_ms": _r(sum(run.length(s) for s in steps)),
        "self_ms": _r(sum(run.self_ms[str(s.get("id"))] for s in steps)),
        "wall_ms": _r(_union(run.interval(s) for s in steps)),
        "errors": sum(1 for s in steps if s.get("status") == "error"),
    }


def _retry_key(step: dict[str, Any]) -> tuple[Any, ...]:
    kind = component(step)
    if kind in ("tool", "mcp"):
        arguments = step.get("input")
        try:
            text = json.dumps(arguments, sort_keys=True, default=str)
        except (TypeError, ValueError):
            text = str(arguments)
        return (kind, tool_name(step), text)
    if kind == "llm":
        return (kind, step.get("model"), step.get("node"))
    return (kind, step.get("name"))


def retries(run: _Run) -> list[dict[str, Any]]:
    """Steps that repeat a failed sibling (same parent, same model / tool and arguments / span name),
    and spans that say they are a resend (`http.request.resend_count`)."""
    found: list[dict[str, Any]] = []
    for siblings in run.children.values():
        failed: dict[tuple[Any, ...], dict[str, Any]] = {}
        for step in siblings:  # chronological: steps are
            key = _retry_key(step)
            earlier = failed.get(key)
            attrs = step.get("attributes") or {}
            resend = attrs.get(_RESEND)
            if earlier is not None and run.interval(earlier)[1] <= run.interval(step)[0] + 1e-6:
                found.append({**_ref(run, step), "retry_of": earlier.get("id")})
            elif isinstance(resend, int) and not isinstance(resend, bool) and resend > 0:
                found.append({**_ref(run, step), "retry_of": None})
            if step.get("status") == "error":
                failed[key] = step
            else:
                failed.pop(key, None)
    found.sort(key=lambda r: r["index"])
    return found


def _ref(run: _Run, step: dict[str, Any]) -> dict[str, Any]:
    """What the profile says about one step."""
    a, b = run.interval(step)
    out: dict[str, Any] = {
        "index": step.get("index"),
        "id": step.get("id"),
        "type": step.get("type"),
        "component": component(step),
        "name": step.get("name"),
        "node": step.get("node"),
        "start_ms": _r(a),
        "duration_ms": _r(b - a),
        "self_ms": _r(run.self_ms[str(step.get("id"))]),
        "status": step.get("status"),
    }
    if step.get("type") == "tool_call":
        out["tool"] = tool_name(step)
    if step.get("model"):
        out["model"] = step.get("model")
    return out


def critical_path(run: _Run) -> list[dict[str, Any]]:
    """Chronological segments {id, name, type, component, start_ms, duration_ms} that add up to the run."""
    roots = run.children.get(None, [])
    if not roots:
        return []
    root = max(roots, key=lambda s: (run.length(s), -int(s.get("index") or 0)))
    segments: list[tuple[str, float, float]] = []
    # Iterative (traces can nest past the recursion limit); segments come out latest first.
    todo: list[tuple[str, float]] = [(str(root.get("id")), run.span[str(root.get("id"))][1])]
    while todo:
        sid, until = todo.pop()
        start = run.span[sid][0]
        best: tuple[float, float, str] | None = None
        for child in run.children.get(sid, []):
            cid = str(child.get("id"))
            c_start, c_end = run.span[cid]
            if c_start >= until or c_end <= start:
                continue
            candidate = (min(c_end, until), -c_start, cid)
            if best is None or candidate > best:
                best = candidate
        if best is None:
            if until > start:
                segments.append((sid, start, until))
            continue
        c_end, _, cid = best
        if until > c_end:
            segments.append((sid, c_end, until))
        c_start = max(run.span[cid][0], start)
        if c_start > start:
            todo.append((sid, c_start))  # the parent's earlier part, after the child's
        todo.append((cid, c_end))
    merged: list[list[Any]] = []
    for sid, a, b in reversed(segments):
        if merged and merged[-1][0] == sid and abs(merged[-1][2] - a) < 1e-9:
            merged[-1][2] = b
        else:
            merged.append([sid, a, b])
    out = []
    for sid, a, b in merged:
        step = run.by_id[sid]
        out.append(
            {
                "index": step.get("index"),
                "id": sid,
                "type": step.get("type"),
                "component": component(step),
                "name": step.get("name"),
                "node": step.get("node"),
                "start_ms": _r(a),
                "duration_ms": _r(b - a),
            }
        )
    return out


def concurrency(run: _Run) -> dict[str, Any]:
    """How long 0, 1 and more outermost work steps were in flight, and the most at once."""
    work = [s for s in run.steps if s.get("type") in WORK_TYPES and not _has_work_ancestor(run, s)]
    events: list[tuple[float, int]] = []
    for step in work:
        a, b = run.interval(step)
        if b > a:
            events += [(a, 1), (b, -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    busy = parallel = 0.0
    level = peak = 0
    last = 0.0
    for t, delta in events:
        if level >= 1:
            busy += t - last
        if level >= 2:
            parallel += t - last
        level += delta
        peak = max(peak, level)
        last = t
    total = sum(run.length(s) for s in work)
    return {
        "work_steps": len(work),
        "busy_ms": _r(busy),
        "idle_ms": _r(max(0.0, run.duration - busy)),
        "parallel_ms": _r(parallel),
        "max_in_flight": peak,
        "mean_in_flight": round(total / busy, 3) if busy else 0.0,
    }


def _has_work_ancestor(run: _Run, step: dict[str, Any]) -> bool:
    seen: set[str] = set()
    parent = step.get("parent_id")
    while parent in run.by_id and parent not in seen:
        seen.add(parent)
        ancestor = run.by_id[parent]
        if ancestor.get("type") in WORK_TYPES:
            return True
        parent = ancestor.get("parent_id")
    return False


def _usage_cost(steps: list[dict[str, Any]]) -> dict[str, Any]:
    tokens = {"input_tokens": 0, "output_tokens": 0}
    amount, currency, priced = 0.0, None, 0
    for step in steps:
        usage = step.get("usage") or {}
        for key in tokens:
            value = usage.get(key)
            if isinstance(value, int):
                tokens[key] += value
        cost = step.get("cost")
        if isinstance(cost, dict) and isinstance(cost.get("amount"), (int, float)):
            amount += float(cost["amount"])
            currency = currency or cost.get("currency")
            priced += 1
    out: dict[str, Any] = dict(tokens)
    out["cost"] = {"amount": round(amount, 10), "currency": currency} if priced else None
    return out


def _by(run: _Run, steps: list[dict[str, Any]], key: Any, with_usage: bool = False) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        name = key(step)
        if name is not None:
            groups.setdefault(str(name), []).append(step)
    rows = []
    for name, members in groups.items():
        row = {"name": name, **_group(run, members)}
        row["max_ms"] = _r(max(run.length(s) for s in members))
        if with_usage:
            row.update(_usage_cost(members))
        rows.append(row)
    rows.sort(key=lambda r: (-r["total_ms"], r["name"]))
    return rows


def profile(doc: dict[str, Any], top: int = DEFAULT_TOP) -> dict[str, Any]:
    """The profile of a run-trace document (with costs, when `_cost.annotate` ran on it)."""
    run = _Run(doc)
    steps = run.steps
    found_retries = retries(run)
    retried = {r["id"] for r in found_retries}
    components = _by(run, steps, component, with_usage=True)
    for row in components:
        row["retries"] = sum(1 for s in steps if component(s) == row["name"] and s.get("id") in retried)
    llm = [s for s in steps if s.get("type") == "llm_call"]
    tools = [s for s in steps if component(s) in ("tool", "mcp")]
    nodes = [s for s in steps if s.get("type") == "node"]
    slowest = sorted(
        (s for s in steps if s.get("parent_id") in run.by_id),  # not a root: that is the run itself
        key=lambda s: (-run.length(s), int(s.get("index") or 0)),
    )[: max(0, top)]
    path = critical_path(run)
    on_path: dict[str, float] = {}
    for segment in path:
        on_path[segment["component"]] = on_path.get(segment["component"], 0.0) + segment["duration_ms"]
    usage = doc.get("usage") or {}
    return {
        "run_id": doc.get("run_id"),
        "workflow": doc.get("workflow"),
        "status": doc.get("status"),
        "duration_ms": _r(run.duration),
        "steps": len(steps),
        "usage": {"input_tokens": usage.get("input_tokens", 0), "output_tokens": usage.get("output_tokens", 0)},
        "cost": doc.get("cost"),
        "components": components,
        "models": _by(run, llm, lambda s: s.get("model") or "?", with_usage=True),
        "tools": _by(run, tools, tool_name),
        "nodes": [
            {**row, **_node_work(run, name)}
            for row, name in ((r, r["name"]) for r in _by(run, nodes, lambda s: s.get("node") or s.get("name")))
        ],
        "slowest": [_ref(run, s) for s in slowest],
        "critical_path": path,
        "critical_path_by_component": {k: _r(v) for k, v in sorted(on_path.items(), key=lambda kv: (-kv[1], kv[0]))},
        "concurrency": concurrency(run),
        "errors": [_ref(run, s) for s in steps if s.get("status") == "error"],
        "retries": found_retries,
    }


def _node_work(run: _Run, node: str) -> dict[str, Any]:
    """The LLM and tool calls made in a node (by the node each step belongs to), with tokens and cost."""
    inside = [s for s in run.steps if s.get("node") == node and s.get("type") in ("llm_call", "tool_call")]
    usage = _usage_cost([s for s in inside if s.get("type") == "llm_call"])
    return {
        "llm_calls": sum(1 for s in inside if s.get("type") == "llm_call"),
        "tool_calls": sum(1 for s in inside if s.get("type") == "tool_call"),
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "cost": usage["cost"],
    }
