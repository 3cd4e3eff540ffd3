"""Two runs for the commands that compare them (`diff`, `bisect`): the shared sources, one per side.

    CMD A B                                 run ids (prefixes) in the store, or files (run-trace JSON, OTLP lines)
    CMD --from FILE A B                     two traces in one OTLP JSON lines file
    CMD --from tempo|jaeger|phoenix URL A B two trace ids in one backend
    CMD A --from-b tempo|jaeger|phoenix URL B   each side from its own source (--from-a, --from-b)

Every failure to read a side is trouble: exit code 2, as diff(1), never 1 (which means "they differ").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from otel_agenttrace.cli._app import App, abort
from otel_agenttrace.cli._sources import BACKENDS, Selection, backend_options, load_run_trace

EXIT_SAME, EXIT_DIFFERENT, EXIT_TROUBLE = 0, 1, 2


def pair_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = backend_options(f)
    f = click.argument("ids", nargs=-1, metavar="A B")(f)
    for side in ("b", "a"):
        f = click.option(
            f"--from-{side}",
            f"source_{side}",
            nargs=2,
            metavar="tempo|jaeger|phoenix URL",
            help=f"Read {side.upper()} from a backend (its trace id is {side.upper()}).",
        )(f)
    f = click.option(
        "--from",
        "source",
        metavar="FILE|tempo|jaeger|phoenix",
        help="Read both runs from one OTLP JSON lines FILE or one backend (--from tempo URL A B). "
        "Default: the store, or A and B as files when they are files.",
    )(f)
    return f


def _side(source: str | None, backend: tuple[str, str] | None, run: str) -> Selection:
    if backend:
        kind, url = backend
        if kind not in BACKENDS:
            raise click.UsageError(f"--from-a/--from-b take {'|'.join(BACKENDS)} URL, not {kind!r}")
        return Selection(kind, (url, run), False)
    if source is None and Path(run).is_file():
        return Selection(run, (), False)
    return Selection(source, (run,), False)


def selections(
    source: str | None, ids: tuple[str, ...], source_a: tuple[str, str] | None, source_b: tuple[str, str] | None
) -> list[Selection]:
    if source in BACKENDS:
        if source_a or source_b:
            raise click.UsageError("--from KIND URL names both sides' backend; --from-a/--from-b cannot be added")
        if len(ids) != 3:
            raise click.UsageError(f"--from {source} takes URL A B (two trace ids)")
        return [Selection(source, (ids[0], run), False) for run in ids[1:]]
    if len(ids) != 2:
        raise click.UsageError(f"expected two runs A B, got {len(ids)}")
    return [_side(source, source_a, ids[0]), _side(source, source_b, ids[1])]


def load_pair(app: App, selected: list[Selection]) -> list[dict[str, Any]]:
    """Both documents; any failure to read one exits 2 with one line."""
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter.store import StoreError

    docs: list[dict[str, Any]] = []
    for selection in selected:
        try:
            docs.append(load_run_trace(app, selection))
        except SystemExit as exc:  # load_run_trace's one-line abort (already printed): trouble, as diff(1)
            sys.exit(EXIT_TROUBLE if exc.code else 0)
        except (StoreError, TraceFormatError) as exc:
            abort(exc, EXIT_TROUBLE)
        except json.JSONDecodeError as exc:
            abort(f"malformed JSON: {exc}", EXIT_TROUBLE)
        except OSError as exc:
            abort(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", EXIT_TROUBLE)
    return docs


def tolerance_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--tolerance",
        "tolerances",
        multiple=True,
        metavar="METRIC=LIMIT",
        help="Count a duration, token or cost delta over LIMIT as a difference: duration=50%, tokens=10, "
        "cost=0.001 (repeatable). Without it deltas are shown, never judged.",
    )(f)


def ignore_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--ignore",
        "ignore",
        multiple=True,
        metavar="FIELD",
        help="Leave a step field out of the comparison: model, request, input, output, status, error, ... "
        "or a path inside one, e.g. request/temperature or output/*/id (repeatable).",
    )(f)


def parse_tolerances(texts: tuple[str, ...]) -> list[Any]:
    from otel_agenttrace.replay.compare import Tolerance, ToleranceError

    out: list[Any] = []
    for text in texts:
        try:
            out.extend(Tolerance.parse(text))
        except ToleranceError as exc:
            raise click.BadParameter(str(exc), param_hint="--tolerance") from None
    return out
