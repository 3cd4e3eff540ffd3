"""`agenttrace bisect BASELINE FAILING`: the first turn (an LLM call and the tool calls it led to) where a
failing run parts from a good one. Exit codes as diff(1): 0 no divergence, 1 diverged, 2 trouble."""

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


@click.command("bisect")
@pair_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@ignore_option
@tolerance_option
@home_option
@pass_app
def bisect_command(
    app: App,
    ids: tuple[str, ...],
    source: str | None,
    source_a: tuple[str, str] | None,
    source_b: tuple[str, str] | None,
    as_json: bool,
    ignore: tuple[str, ...],
    tolerances: tuple[str, ...],
) -> None:
    """Find the first divergent turn of FAILING against BASELINE.

    \b
    Prints the turn (an LLM call and the tool calls it led to), how many
    turns and steps were identical before it, both sides of the first
    difference and the node it happened in. Same sources and exit codes
    as `agenttrace diff`.
      agenttrace bisect 4bf92f35 9a1c07e2
      agenttrace bisect good.json bad.json --json
    """
    from otel_agenttrace.replay._report import bisect_lines
    from otel_agenttrace.replay.compare import bisect, compare_runs

    limits = parse_tolerances(tolerances)
    a, b = load_pair(app, selections(source, ids, source_a, source_b))
    result = bisect(compare_runs(a, b, ignore, limits))
    if as_json:
        data = {"baseline": a.get("run_id"), "failing": b.get("run_id"), **result.to_dict()}
        click.echo(json.dumps(data, ensure_ascii=False, default=str, indent=2))
    else:
        for line in bisect_lines(result, style=app.style):
            app.out(line)
    sys.exit(EXIT_DIFFERENT if result.found else EXIT_SAME)
