"""The text of a comparison: `agenttrace diff` (like `git diff`, one line per step, changed fields under
it), `agenttrace bisect`, fixture checks and the pytest plugin's failure report.

Pure: lines in, lines out; colour through the `style` callable the caller passes (click.style on a
terminal, the identity otherwise). Every recorded value passes `printable` before it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from otel_agenttrace.cli._format import clip, duration, money, printable
from otel_agenttrace.replay.compare import ADDED, CHANGED, REMOVED, SAME, Bisection, Comparison, StepPair

Style = Callable[..., str]
WIDTH = 100


def plain(text: str, **_styles: Any) -> str:
    return text


def value_text(value: Any, width: int = WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return clip(printable(text), width)


def pair_text(a: Any, b: Any, width: int = WIDTH) -> tuple[str, str]:
    """Both values on one line each; two long strings are shown from a little before where they part."""
    if isinstance(a, str) and isinstance(b, str):
        a, b = printable(" ".join(a.split())), printable(" ".join(b.split()))
        same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        start = max(0, same - 30) if max(len(a), len(b)) > width else 0
        cut = "…" if start else ""
        return clip(cut + a[start:], width), clip(cut + b[start:], width)
    return value_text(a, width), value_text(b, width)


def _signed(value: float, unit: str = "") -> str:
    return f"{'+' if value >= 0 else '-'}{abs(value):,.0f}{unit}"


def delta_text(deltas: dict[str, float]) -> str:
    """`+12ms, +30/-2 tokens, +$0.0004`: what moved, never a verdict."""
    parts: list[str] = []
    if deltas.get("duration_ms"):
        ms = deltas["duration_ms"]
        parts.append(("+" if ms >= 0 else "-") + duration(abs(ms)))
    tokens_in, tokens_out = deltas.get("input_tokens"), deltas.get("output_tokens")
    if tokens_in or tokens_out:
        parts.append(f"{_signed(tokens_in or 0)}/{_signed(tokens_out or 0)} tokens")
    if deltas.get("cost"):
        cost = deltas["cost"]
        parts.append(("+" if cost >= 0 else "-") + money(abs(cost)))
    return ", ".join(parts)


def _index(pair: StepPair) -> str:
    a = pair.a.get("index") if pair.a is not None else None
    b = pair.b.get("index") if pair.b is not None else None
    if a is None:
        return f"   #{b}"
    if b is None or a == b:
        return f"#{a}"
    return f"#{a}→#{b}"


def step_line(pair: StepPair, style: Style) -> str:
    marks = {SAME: " ", CHANGED: "~", ADDED: "+", REMOVED: "-"}
    colours = {CHANGED: "yellow", ADDED: "green", REMOVED: "red"}
    text = f"{marks[pair.kind]} {_index(pair)} {printable(pair.label())}"
    if pair.kind != SAME:
        text += f" ({pair.kind})"
    moved = delta_text({k: v for k, v in pair.deltas.items() if k != "duration_ms" or pair.kind != SAME})
    if moved and pair.kind == CHANGED:
        text += f"  [{moved}]"
    return style(text, fg=colours[pair.kind], bold=pair.kind == CHANGED) if pair.kind in colours else text


def change_lines(pair: StepPair, style: Style, names: tuple[str, str] = ("a", "b"), limit: int = 0) -> list[str]:
    lines: list[str] = []
    width = max(len(n) for n in names) + 1
    changes = pair.changes[:limit] if limit else pair.changes
    for change in changes:
        a, b = pair_text(change.a, change.b)
        lines.append(f"      {printable(change.field)}")
        lines.append(style(f"        - {(names[0] + ':').ljust(width)} {a}", fg="red"))
        lines.append(style(f"        + {(names[1] + ':').ljust(width)} {b}", fg="green"))
    if limit and len(pair.changes) > limit:
        lines.append(f"      … {len(pair.changes) - limit} more changed fields")
    return lines


def run_label(doc: dict[str, Any]) -> str:
    run_id = str(doc.get("run_id") or "?")[:12]
    steps = len(doc.get("steps") or [])
    return f"run {printable(run_id)} ({printable(doc.get('workflow') or '-')}, {steps} steps, {doc.get('status')})"


def summary_line(comparison: Comparison) -> str:
    c = comparison.counts()
    verdict = "equivalent" if comparison.equivalent else "different"
    text = f"{verdict}: {c[SAME]} identical, {c[CHANGED]} changed, {c[ADDED]} added, {c[REMOVED]} removed"
    moved = delta_text(comparison.deltas)
    return text + (f"; deltas: {moved}" if moved else "")


def diff_lines(
    comparison: Comparison, a: dict[str, Any], b: dict[str, Any], context: int = 3, style: Style = plain
) -> list[str]:
    """`git diff` for runs: a header, every differing step with `context` identical steps around it."""
    lines = [style(f"--- a: {run_label(a)}", bold=True), style(f"+++ b: {run_label(b)}", bold=True)]
    pairs = comparison.pairs
    near = [False] * len(pairs)
    for i, pair in enumerate(pairs):
        if pair.kind != SAME:
            for j in range(max(0, i - context), min(len(pairs), i + context + 1)):
                near[j] = True
    hidden = 0
    for pair, shown in zip(pairs, near, strict=True):
        if not shown:
            hidden += 1
            continue
        if hidden:
            lines.append(style(f"  … {hidden} identical steps", fg="cyan"))
            hidden = 0
        lines.append(step_line(pair, style))
        lines.extend(change_lines(pair, style))
    if hidden:
        lines.append(style(f"  … {hidden} identical steps", fg="cyan"))
    lines.append(summary_line(comparison))
    return lines


def bisect_lines(
    result: Bisection, names: tuple[str, str] = ("baseline", "failing"), style: Style = plain
) -> list[str]:
    """The first divergent turn: where, after how much identical prefix, both sides, the node."""
    pair = result.pair
    if pair is None:
        return [f"no divergence: {len(result.comparison.pairs)} steps identical"]
    turn = result.turn
    where = f"turn {turn}"
    node = f" in node {printable(result.node)}" if result.node else ""
    lines = [
        style(f"first divergent {where}{node}", bold=True),
        f"  identical before it: {result.identical_turns} turns, {result.identical_steps} steps",
        f"  {names[0]} turn {result.turn_a}, {names[1]} turn {result.turn_b}",
        step_line(pair, style),
    ]
    lines.extend(change_lines(pair, style, names, limit=5))
    if pair.kind == ADDED:
        lines.append(f"      only in {names[1]}: {value_text(pair.step.get('input') or pair.step.get('output'))}")
    elif pair.kind == REMOVED:
        lines.append(f"      only in {names[0]}: {value_text(pair.step.get('input') or pair.step.get('output'))}")
    others = [p for p in result.steps_a if p is not pair]
    if others:
        lines.append("  the turn:")
        lines.extend("  " + step_line(p, style) for p in result.steps_a)
    return lines
