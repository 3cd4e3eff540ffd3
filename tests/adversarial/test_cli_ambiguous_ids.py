"""Issue 9, item 15: an ambiguity error lists prefixes that tell the runs apart, not identical 12-character ones."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from otel_agenttrace._ids import distinct_prefixes
from otel_agenttrace.cli import cli
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import RunStore

A = "abcdef0123456" + "7" + "0" * 18  # A and B share their first 13 characters
B = "abcdef0123456" + "8" + "0" * 18
BASE_NS = 1_795_428_000_000_000_000


def _root(trace_id: str, offset: int) -> SpanRecord:
    start = BASE_NS + offset
    return SpanRecord(trace_id, "00f067aa0ba902b7", None, "invoke_workflow w", "INTERNAL", start, start + 10)


def _error(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "ambiguous" in lines[0], result.stderr
    return lines[0]


def test_store_ambiguity_lists_distinguishing_prefixes(tmp_path: Path) -> None:
    with RunStore(home=tmp_path) as store:
        store.write_spans([_root(A, 0), _root(B, 1)])
    line = _error(["--home", str(tmp_path), "dump", "abcd"])
    assert A[:14] in line and B[:14] in line


def test_file_ambiguity_lists_distinguishing_prefixes(tmp_path: Path) -> None:
    def line_of(trace_id: str) -> str:
        span = {"traceId": trace_id, "spanId": "00f067aa0ba902b7", "name": "x", "startTimeUnixNano": str(BASE_NS)}
        return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})

    path = tmp_path / "two.jsonl"
    path.write_text(line_of(A) + "\n" + line_of(B) + "\n")
    line = _error(["dump", "--from", str(path), "abcdef"])
    assert A[:14] in line and B[:14] in line


def test_distinct_prefixes() -> None:
    assert distinct_prefixes([A, B]) == f"{A[:14]}, {B[:14]}"
    assert distinct_prefixes(["1" * 32, "2" * 32]) == f"{'1' * 12}, {'2' * 12}"  # never shorter than 12
    assert distinct_prefixes([f"{i:032x}" for i in range(7)]).endswith(", … 2 more")
