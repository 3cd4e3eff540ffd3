"""`agenttrace profile`: where a run's time, tokens and cost went (otel_agenttrace/_profile.py computes it)."""

from __future__ import annotations

import json
from typing import Any

import click

from otel_agenttrace._profile import DEFAULT_TOP, profile
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, home_option, pass_app
from otel_agenttrace.cli._sources import Selection, load_run_trace, source_options


@click.command("profile")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON (the bundle's profile_summary.json).")
@click.option(
    "--top", type=click.IntRange(min=0), default=DEFAULT_TOP, show_default=True, help="How many slowest steps to list."
)
@home_option
@pass_app
def profile_command(app: App, ids: tuple[str, ...], source: str | None, last: bool, as_json: bool, top: int) -> None:
    """Where a run's time, tokens and cost went.

    \b
    Time by component (llm, tool, mcp, node, http, db, ...), by model, tool and node; self time
    (a step's time minus its children's) and wall time (how long any was in flight); the slowest
    steps; the critical path (the chain that set the run's duration, parallel branches included);
    concurrency; tokens and cost per model; errors and retries.
      agenttrace profile --last
      agenttrace profile 4bf92f35 --top 20
      agenttrace profile --from run.json --json
    """
    result = profile(load_run_trace(app, Selection(source, ids, last)), top)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo("\n".join(render(result, app.style)), color=app.color)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _money(cost: Any) -> str:
    return _format.money(cost.get("amount"), cost.get("currency")) if isinstance(cost, dict) else "-"


def _tokens(row: dict[str, Any]) -> str:
    if not row.get("input_tokens") and not row.get("output_tokens"):
        return "-"
    return _format.tokens(row.get("input_tokens"), row.get("output_tokens"))


PATH_LINES = 40


def render(p: dict[str, Any], style: Any = None) -> list[str]:
    """The profile as terminal lines; every recorded name goes through `printable`."""
    paint = style or (lambda text, **_: text)
    text = _format.printable
    ms = _format.duration
    whole = float(p.get("duration_ms") or 0)
    usage = p.get("usage") or {}
    lines = [
        "  ".join(
            [
                f"{paint('run', bold=True)} {text(p.get('run_id'))}",
                paint(text(p.get("workflow")), bold=True),
                text(p.get("status")),
                ms(p.get("duration_ms")),
                f"{p.get('steps')} steps",
                f"tokens in/out {_format.tokens(usage.get('input_tokens'), usage.get('output_tokens'))}",
                f"cost {_format.run_cost(p.get('cost'))}",
            ]
        ),
        "",
    ]

    def section(title: str, headers: list[str], rows: list[list[str]], right: tuple[int, ...]) -> None:
        if not rows:
            return
        lines.append(paint(title, bold=True))
        lines.extend("  " + line for line in _format.table(headers, rows, right=right))
        lines.append("")

    section(
        "time by component",
        ["component", "steps", "wall", "of run", "total", "self", "tokens in/out", "cost", "errors", "retries"],
        [
            [
                text(r["name"]),
                str(r["count"]),
                ms(r["wall_ms"]),
                _pct(r["wall_ms"], whole),
                ms(r["total_ms"]),
                ms(r["self_ms"]),
                _tokens(r),
                _money(r.get("cost")),
                str(r["errors"]),
                str(r["retries"]),
            ]
            for r in p["components"]
        ],
        (1, 2, 3, 4, 5, 6, 7, 8, 9),
    )
    section(
        "by model",
        ["model", "calls", "total", "max", "tokens in/out", "cost", "errors"],
        [
            [
                text(r["name"]),
                str(r["count"]),
                ms(r["total_ms"]),
                ms(r["max_ms"]),
                _format.tokens(r["input_tokens"], r["output_tokens"]),
                _money(r.get("cost")),
                str(r["errors"]),
            ]
            for r in p["models"]
        ],
        (1, 2, 3, 4, 5, 6),
    )
    section(
        "by tool",
        ["tool", "calls", "total", "max", "errors"],
        [[text(r["name"]), str(r["count"]), ms(r["total_ms"]), ms(r["max_ms"]), str(r["errors"])] for r in p["tools"]],
        (1, 2, 3, 4),
    )
    section(
        "by node",
        ["node", "runs", "total", "self", "llm", "tools", "tokens in/out", "cost", "errors"],
        [
            [
                text(r["name"]),
                str(r["count"]),
                ms(r["total_ms"]),
                ms(r["self_ms"]),
                str(r["llm_calls"]),
                str(r["tool_calls"]),
                _tokens(r),
                _money(r.get("cost")),
                str(r["errors"]),
            ]
            for r in p["nodes"]
        ],
        (1, 2, 3, 4, 5, 6, 7, 8),
    )
    section(
        f"slowest {len(p['slowest'])} steps",
        ["#", "took", "self", "type", "node", "step"],
        [
            [
                str(r["index"]),
                ms(r["duration_ms"]),
                ms(r["self_ms"]),
                text(r["component"]),
                text(r.get("node") or ""),
                _format.clip(str(r["name"]) + (" ✗" if r["status"] == "error" else ""), 60),
            ]
            for r in p["slowest"]
        ],
        (0, 1, 2),
    )
    shares = ", ".join(f"{text(k)} {_pct(v, whole)}" for k, v in p["critical_path_by_component"].items())
    section(
        f"critical path ({shares})" if shares else "critical path",
        ["#", "at", "on path", "type", "node", "step"],
        [
            [
                str(r["index"]),
                _format.offset(r["start_ms"]),
                ms(r["duration_ms"]),
                text(r["component"]),
                text(r.get("node") or ""),
                _format.clip(str(r["name"]), 60),
            ]
            for r in p["critical_path"][:PATH_LINES]
        ],
        (0, 1, 2),
    )
    if len(p["critical_path"]) > PATH_LINES:
        lines.insert(-1, f"  … {len(p['critical_path']) - PATH_LINES} more segments (--json has them all)")
    c = p["concurrency"]
    lines.append(paint("concurrency", bold=True))
    lines.append(
        f"  {c['work_steps']} llm/tool/other calls; in flight {ms(c['busy_ms'])}"
        f" ({_pct(c['busy_ms'], whole)} of the run),"
        f" more than one at once {ms(c['parallel_ms'])}, at most {c['max_in_flight']};"
        f" no call in flight {ms(c['idle_ms'])}"
    )
    if p["errors"] or p["retries"]:
        lines.append("")
        lines.append(paint("errors and retries", bold=True))
        for r in p["errors"]:
            lines.append(f"  ✗ #{r['index']} {text(r['component'])} {_format.clip(str(r['name']), 60)}")
        for r in p["retries"]:
            of = f" (retry of {text(r['retry_of'])[:8]})" if r.get("retry_of") else " (resend)"
            lines.append(f"  ↻ #{r['index']} {text(r['component'])} {_format.clip(str(r['name']), 60)}{of}")
    return lines
