"""`agenttrace show`: a run as a terminal timeline, one line per step, optionally filtered.

Every piece of recorded text goes through `_format.printable` (directly or through `clip`): a
model's output can hold terminal escape sequences, and they are shown escaped, never obeyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, home_option, pass_app
from otel_agenttrace.cli._sources import Selection, load_run_trace, source_options
from otel_agenttrace.exporter._run import step_depths

SUMMARY_WIDTH = 72
TYPE_LABELS = {"workflow": "workflow", "node": "node", "llm_call": "llm", "tool_call": "tool", "span": "span"}
TYPE_COLORS = {"workflow": "bright_white", "node": "magenta", "llm_call": "cyan", "tool_call": "blue"}
STATUS_COLORS = {"ok": "green", "error": "red", "incomplete": "yellow"}
ERROR_MARK = "✗"
INCOMPLETE_MARK = "…"


# --type takes the labels show prints, and the run trace's own type names.
TYPE_CHOICES = {**{label: name for name, label in TYPE_LABELS.items()}, **{name: name for name in TYPE_LABELS}}


@dataclass(frozen=True)
class StepFilter:
    """Which steps to show: all of them unless a criterion is given; criteria combine with AND."""

    errors: bool = False
    nodes: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return self.errors or bool(self.nodes) or bool(self.types)

    def __call__(self, step: dict[str, Any]) -> bool:
        if self.errors and step.get("status") != "error":
            return False
        if self.nodes and step.get("node") not in self.nodes:
            return False
        return not self.types or step.get("type") in self.types


@click.command("show")
@source_options
@click.option("--errors", is_flag=True, help="Only the failed steps.")
@click.option(
    "--spans/--no-spans",
    default=True,
    help="Show other instrumentations' spans (HTTP, DB, ...) as `span` steps, or fold each into the step around it.",
)
@click.option("--node", "nodes", multiple=True, metavar="NAME", help="Only the steps of node NAME (repeatable).")
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(sorted(TYPE_CHOICES)),
    help="Only steps of this type (repeatable).",
)
@home_option
@pass_app
def show_command(
    app: App,
    ids: tuple[str, ...],
    source: str | None,
    last: bool,
    errors: bool,
    spans: bool,
    nodes: tuple[str, ...],
    types: tuple[str, ...],
) -> None:
    """Show a run as a timeline, one line per step.

    \b
    Each line: start (since the run began), duration, type (indented by
    depth in the tree), node, a summary, tokens in/out, cost. Failed steps are marked ✗ with their error.
      agenttrace show --last
      agenttrace show 4bf92f35 --errors
      agenttrace show --last --node executor --type tool
      agenttrace show --last --no-spans              # fold HTTP/DB spans into their steps
      agenttrace show --from run.json
    """
    doc = load_run_trace(app, Selection(source, ids, last))
    wanted = StepFilter(errors, frozenset(nodes), frozenset(TYPE_CHOICES[t] for t in types))
    # One write for the whole timeline rather than one click.echo (and its flush) per line.
    click.echo("\n".join(render(doc, app.style, wanted, spans)), color=app.color)


def render(doc: dict[str, Any], style: Any = None, wanted: StepFilter | None = None, spans: bool = True) -> list[str]:
    """The header and timeline lines of a run-trace document; `style(text, **click_styles)` colors.
    spans=False folds every `span` step (another instrumentation's: HTTP, DB) into the nearest step
    shown above it, which is marked `+N spans`."""
    paint = style or (lambda text, **_: text)
    lines = _header(doc, paint)
    steps: list[dict[str, Any]] = doc.get("steps") or []
    depths = step_depths(steps)
    folded = {} if spans else _folded(steps)
    shown = 0
    for step in steps:
        if not spans and step.get("type") == "span":
            continue
        if wanted and not wanted(step):
            continue
        shown += 1
        line = _step_line(step, depths.get(str(step.get("id")), 0), paint)
        count = folded.get(str(step.get("id")))
        if count:
            line += " " + paint(f"+{count} span" + ("s" if count > 1 else ""), dim=True)
        lines.append(line)
    hidden = sum(1 for s in steps if s.get("type") == "span") if not spans else 0
    if hidden:
        lines.append("")
        lines.append(paint(f"{hidden} span{'s' if hidden > 1 else ''} folded (--spans shows them)", dim=True))
    if wanted:
        lines.append("")
        lines.append(paint(f"{shown} of {len(steps)} steps shown ({_describe(wanted)})", dim=True))
    final = doc.get("final_output")
    if final and not wanted:
        lines.append("")
        lines.append(f"{paint('final output', bold=True)}  {_format.clip(final, SUMMARY_WIDTH + 20)}")
    return lines


def _folded(steps: list[dict[str, Any]]) -> dict[str, int]:
    """step id -> how many `span` steps fold into it (each into its nearest ancestor that is not a span)."""
    by_id = {str(s.get("id")): s for s in steps}
    counts: dict[str, int] = {}
    for step in steps:
        if step.get("type") != "span":
            continue
        seen: set[str] = set()
        parent = step.get("parent_id")
        while parent is not None and str(parent) in by_id and by_id[str(parent)].get("type") == "span":
            if parent in seen:
                break
            seen.add(parent)
            parent = by_id[str(parent)].get("parent_id")
        if parent is not None and str(parent) in by_id:
            counts[str(parent)] = counts.get(str(parent), 0) + 1
    return counts


def _describe(wanted: StepFilter) -> str:
    parts = []
    if wanted.errors:
        parts.append("errors")
    if wanted.nodes:
        parts.append("node " + ", ".join(sorted(_format.printable(n) for n in wanted.nodes)))
    if wanted.types:
        parts.append("type " + ", ".join(sorted(TYPE_LABELS.get(t, t) for t in wanted.types)))
    return "; ".join(parts)


def _header(doc: dict[str, Any], paint: Any) -> list[str]:
    text = _format.printable
    status = text(doc.get("status"))
    usage = doc.get("usage") or {}
    models = text(", ".join(str(m) for m in doc.get("models") or [])) or "-"
    service = (doc.get("service") or {}).get("name")
    fields = [
        f"{paint('run', bold=True)} {text(doc.get('run_id'))}",
        f"{paint(text(doc.get('workflow')), bold=True)}",
        paint(status, fg=STATUS_COLORS.get(status)),
        _format.duration(doc.get("duration_ms")),
        f"tokens in/out {_format.tokens(usage.get('input_tokens'), usage.get('output_tokens'))}",
    ]
    cost = doc.get("cost")
    if isinstance(cost, dict):
        fields.append(f"cost {_format.run_cost(cost)}")
    fields.append(f"models {models}")
    if service and service != doc.get("workflow"):
        fields.append(f"service {text(service)}")
    lost = (doc.get("otel") or {}).get("lost_spans")
    if lost:
        fields.append(paint(f"lost {text(lost)} spans", fg="red"))
    return ["  ".join(fields), ""]


def _step_line(step: dict[str, Any], depth: int, paint: Any) -> str:
    step_type = str(step.get("type"))
    status = step.get("status")
    start = _format.offset(step.get("relative_ms"))
    took = _format.duration(step.get("duration_ms")) if status != "incomplete" else INCOMPLETE_MARK
    label = TYPE_LABELS.get(step_type) or _format.printable(step_type)
    node = step.get("node")
    parts = [
        paint(f"{start:>9}  {took:>7}", dim=True),
        "  " + "  " * depth + paint(f"{label:<4}", fg=TYPE_COLORS.get(step_type)),
    ]
    if node and step_type != "node":
        parts.append(paint(f"[{_format.printable(node)}]", fg="magenta"))
    parts.append(summary(step))
    usage = step.get("usage") or {}
    if usage:
        parts.append(paint(_format.tokens(usage.get("input_tokens"), usage.get("output_tokens")), dim=True))
    cost = step.get("cost")
    if isinstance(cost, dict):
        parts.append(paint(_format.money(cost.get("amount"), cost.get("currency")), dim=True))
    if status == "error":
        error = step.get("error") or {}
        message = error.get("message")
        text = f"{ERROR_MARK} {error.get('type') or 'error'}" + (f": {message}" if message else "")  # clip escapes
        parts.append(paint(_format.clip(text, SUMMARY_WIDTH), fg="red", bold=True))
    elif status == "incomplete":
        parts.append(paint("incomplete (never ended)", fg="yellow"))
    return " ".join(parts)


def summary(step: dict[str, Any]) -> str:
    """One line on what the step did."""
    step_type = step.get("type")
    attrs = step.get("attributes") or {}
    if step_type == "llm_call":
        return _format.clip(_llm_summary(step), SUMMARY_WIDTH)
    if step_type == "tool_call":
        name = attrs.get(sc.GEN_AI_TOOL_NAME) or _strip_operation(str(step.get("name")))
        text = _format.call(str(name), step.get("input"), width=SUMMARY_WIDTH // 2)
        output = step.get("output")
        if output is not None and step.get("status") != "error":
            text += " → " + _format.short_value(output, width=SUMMARY_WIDTH // 2)
        return _format.clip(text, SUMMARY_WIDTH)
    if step_type == "workflow":
        return _format.clip(str(attrs.get(sc.GEN_AI_WORKFLOW_NAME) or _strip_operation(str(step.get("name")))), 60)
    if step_type == "node":
        return _format.clip(str(step.get("node") or _strip_operation(str(step.get("name")))), 60)
    if step_type == "span":
        return _format.clip(_span_summary(step), SUMMARY_WIDTH)
    return _format.clip(str(step.get("name")), 60)


def _span_summary(step: dict[str, Any]) -> str:
    """Another instrumentation's span: `GET host/path → 404`, `postgresql: SELECT …`, else its name."""
    attrs = step.get("attributes") or {}
    method = attrs.get("http.request.method") or attrs.get("http.method")
    if method:
        url = str(attrs.get("url.full") or attrs.get("http.url") or attrs.get("url.path") or "")
        url = url.split("://", 1)[-1].split("?", 1)[0]
        status = attrs.get("http.response.status_code") or attrs.get("http.status_code")
        return f"{method} {url}" + (f" → {status}" if status is not None else "")
    system = attrs.get("db.system.name") or attrs.get("db.system")
    if system:
        query = attrs.get("db.query.text") or attrs.get("db.statement") or step.get("name")
        return f"{system}: {query}"
    return str(step.get("name"))


def _llm_summary(step: dict[str, Any]) -> str:
    model = _format.printable(step.get("model") or "?")
    calls: list[str] = []
    texts: list[str] = []
    output = step.get("output")
    if isinstance(output, str):
        texts.append(output)
    elif isinstance(output, list):
        for message in output:
            for part in (message.get("parts") or []) if isinstance(message, dict) else []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "tool_call":
                    calls.append(_format.call(str(part.get("name")), part.get("arguments"), width=40))
                elif part.get("type") == "text" and isinstance(part.get("content"), str):
                    texts.append(part["content"])
    if calls:
        return f"{model} → " + ", ".join(calls)
    text = " ".join(" ".join(texts).split())
    if text:
        return f'{model}: "{_format.clip(text, SUMMARY_WIDTH - len(model) - 4)}"'
    return str(model)


def _strip_operation(span_name: str) -> str:
    """`invoke_workflow whaleflow` -> `whaleflow`: the span name repeats the operation the type column shows."""
    operation, _, rest = span_name.partition(" ")
    return rest if rest and operation in _OPERATIONS else span_name


_OPERATIONS = frozenset(
    {sc.Operation.INVOKE_WORKFLOW, sc.Operation.INVOKE_AGENT, sc.Operation.EXECUTE_TOOL, *sc.LLM_OPERATIONS}
)
