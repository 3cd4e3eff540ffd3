"""`agenttrace diff A B`: two runs step by step, like `git diff` for runs. Exit codes as diff(1):
0 equivalent, 1 different, 2 trouble."""

from __future__ import annotations

import json
import sys

import click

from otel_agenttrace.cli._app import App, home_option, pass_app
from otel_agenttrace.cli._pair import (
    EXIT_DIFFERENT,
    EXIT_SAME,
    ignore_option,
    load_pair,
    pair_options,
    parse_tolerances,
    selections,
    tolerance_option,
)


@click.command("diff")
@pair_options
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option(
    "-U",
    "--context",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    metavar="N",
    help="Identical steps shown around each difference.",
)
@ignore_option
@tolerance_option
@home_option
@pass_app
def diff_command(
    app: App,
    ids: tuple[str, ...],
    source: str | None,
    source_a: tuple[str, str] | None,
    source_b: tuple[str, str] | None,
    as_json: bool,
    context: int,
    ignore: tuple[str, ...],
    tolerances: tuple[str, ...],
) -> None:
    """Compare two runs step by step: what changed between A and B.

    \b
    Steps are aligned by (type, node, name), so one inserted step does not
    misalign the rest; each pair is compared field by field (model, request,
    prompts, output, tool arguments and results, status, error). Durations,
    tokens and cost are shown as deltas. Exit codes: 0 equivalent, 1 different,
    2 trouble (bad input, unknown run).
      agenttrace diff 4bf92f35 9a1c07e2
      agenttrace diff before.json after.json --json
      agenttrace diff 4bf92f35 --from-b tempo http://localhost:3200 77aa01…
      agenttrace diff A B --ignore request/temperature --tolerance duration=50%
    """
    from otel_agenttrace.replay._report import diff_lines
    from otel_agenttrace.replay.compare import compare_runs

    limits = parse_tolerances(tolerances)
    a, b = load_pair(app, selections(source, ids, source_a, source_b))
    comparison = compare_runs(a, b, ignore, limits)
    if as_json:
        data = {"a": a.get("run_id"), "b": b.get("run_id"), **comparison.to_dict()}
        click.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))
    else:
        for line in diff_lines(comparison, a, b, context, app.style):
            app.out(line)
    sys.exit(EXIT_SAME if comparison.equivalent else EXIT_DIFFERENT)
