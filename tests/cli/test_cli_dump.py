"""`agenttrace dump` from the store and from files: the run-trace JSON, abbreviations, and every bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace.exporter._schema import SCHEMA_VERSION

from .cli_helpers import BACKENDS, CRASHED_RUN, NIGHTLY_RUN, WHALE_RUN, Invoke, otlp_line, whale_run

SAMPLE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _dump(invoke: Invoke, *args: str, home: Path | None = None) -> dict[str, Any]:
    result = invoke("dump", *args, home=home)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('{\n  "schema_version": 2,\n')  # indent 2
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_dump_a_run_by_full_and_abbreviated_id(invoke: Invoke, home: Path, schema_validator: Any) -> None:
    full = _dump(invoke, WHALE_RUN, home=home)
    schema_validator.validate(full)
    assert full["run_id"] == WHALE_RUN
    assert full["workflow"] == "whaleflow"
    assert [s["type"] for s in full["steps"]] == ["workflow", "node", "llm_call", "tool_call", "llm_call"]
    assert full["usage"] == {"input_tokens": 812, "output_tokens": 95}
    assert full["steps"][3]["error"] == {"type": "TimeoutError", "message": "search backend timed out"}
    assert _dump(invoke, "abcd1", home=home) == full
    assert _dump(invoke, WHALE_RUN[:8].upper(), home=home) == full


def test_last_is_the_newest_run(invoke: Invoke, home: Path, schema_validator: Any) -> None:
    doc = _dump(invoke, "--last", home=home)
    schema_validator.validate(doc)
    assert doc["run_id"] == CRASHED_RUN
    assert doc["status"] == "incomplete"
    assert {s["status"] for s in doc["steps"]} == {"incomplete", "ok"}


def test_error_run(invoke: Invoke, home: Path, schema_validator: Any) -> None:
    doc = _dump(invoke, NIGHTLY_RUN[:10], home=home)
    schema_validator.validate(doc)
    assert doc["status"] == "error"
    assert doc["models"] == ["claude-sonnet-4"]


def test_output_file(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    result = invoke("dump", "--last", "-o", str(target), home=home)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8"))["run_id"] == CRASHED_RUN
    assert target.read_text(encoding="utf-8").endswith("}\n")
    assert json.loads(invoke("dump", "--last", "-o", "-", home=home).stdout)["run_id"] == CRASHED_RUN


def test_store_errors_are_one_line(
    invoke: Invoke, home: Path, empty_home: Path, tmp_path: Path, one_line_error
) -> None:
    one_line_error(invoke("dump", "abcd", home=home), 1, "ambiguous", WHALE_RUN[:12], NIGHTLY_RUN[:12])
    one_line_error(invoke("dump", "ffff0000", home=home), 1, "no run 'ffff0000'")
    one_line_error(invoke("dump", "not-hex", home=home), 1, "not a run id")
    one_line_error(invoke("dump", "--last", home=empty_home), 1, "no runs recorded yet")
    one_line_error(invoke("dump", "--last", home=tmp_path / "nowhere"), 1, "no runs recorded yet")
    one_line_error(invoke("dump", WHALE_RUN, home=tmp_path / "nowhere"), 1, "no runs recorded yet")
    assert not (tmp_path / "nowhere").exists()


def test_a_store_that_is_not_ours(invoke: Invoke, tmp_path: Path, one_line_error) -> None:
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "runs.db").write_bytes(b"this is not a database at all" * 100)
    one_line_error(invoke("dump", "--last", home=garbage), 1, "runs.db")
    one_line_error(invoke("list", home=garbage), 1, "runs.db")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "runs.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    one_line_error(invoke("show", "--last", home=foreign), 1, "another application")


def test_unwritable_output(invoke: Invoke, home: Path, tmp_path: Path, one_line_error) -> None:
    one_line_error(
        invoke("dump", "--last", "-o", str(tmp_path / "no" / "such" / "dir.json"), home=home), 1, "cannot write"
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "give a RUN_ID"),
        (("--last", WHALE_RUN), "not both"),
        ((WHALE_RUN, NIGHTLY_RUN), "at most one RUN_ID"),
        (("--from", "tempo", "http://127.0.0.1:9"), "URL TRACE_ID"),
        (("--from", "jaeger", "--last", "http://127.0.0.1:9", SAMPLE_TRACE), "--last does not apply"),
        (("--bogus",), "No such option"),
    ],
)
def test_usage_errors_exit_2(invoke: Invoke, home: Path, one_line_error, args: tuple[str, ...], fragment: str) -> None:
    line = one_line_error(invoke("dump", *args, home=home), 2, fragment)
    assert line.endswith("(see 'agenttrace dump --help')")


# --- --from FILE ------------------------------------------------------------------------------------------------


def test_from_collector_file_with_several_traces(invoke: Invoke, one_line_error, schema_validator: Any) -> None:
    path = str(BACKENDS / "otlp-file-exporter.jsonl")
    one_line_error(invoke("dump", "--from", path), 1, "holds 2 traces", SAMPLE_TRACE[:12], OTHER_TRACE[:12])
    doc = _dump(invoke, "--from", path, "4bf9")
    schema_validator.validate(doc)
    assert doc["run_id"] == SAMPLE_TRACE
    assert doc["workflow"] == "whaleflow"
    assert _dump(invoke, "--from", path, SAMPLE_TRACE) == doc
    # --last: the trace that started last (GET /invoices, 0.5 s after whaleflow), not the first in the file
    assert _dump(invoke, "--from", path, "--last")["run_id"] == OTHER_TRACE
    one_line_error(invoke("dump", "--from", path, "ffff"), 1, "no trace 'ffff'", "2 traces")


def test_from_file_ambiguous_and_single(invoke: Invoke, tmp_path: Path, one_line_error) -> None:
    path = tmp_path / "spans.jsonl"
    other = "abcd1111" + "f" * 24  # shares its first 8 characters with WHALE_RUN
    path.write_text(otlp_line(whale_run()) + "\n" + otlp_line(whale_run(other), base64_ids=True) + "\n")
    one_line_error(invoke("dump", "--from", str(path), "abcd1111"), 1, "ambiguous", "2 trace ids")
    assert _dump(invoke, "--from", str(path), "abcd1111f")["run_id"] == other
    single = tmp_path / "one.jsonl"
    single.write_text(otlp_line(whale_run()) + "\n")
    assert _dump(invoke, "--from", str(single))["run_id"] == WHALE_RUN


def test_from_stdin(invoke: Invoke) -> None:
    result = invoke("dump", "--from", "-", input=otlp_line(whale_run()) + "\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["run_id"] == WHALE_RUN


def test_from_a_run_trace_file(invoke: Invoke, home: Path, tmp_path: Path, one_line_error) -> None:
    saved = tmp_path / "run.json"
    assert invoke("dump", WHALE_RUN, "-o", str(saved), home=home).exit_code == 0
    assert _dump(invoke, "--from", str(saved)) == json.loads(saved.read_text())
    assert _dump(invoke, "--from", str(saved), "abcd11")["run_id"] == WHALE_RUN
    one_line_error(invoke("dump", "--from", str(saved), "ffff"), 1, f"holds run {WHALE_RUN}")


def test_bad_files_are_one_line_errors(invoke: Invoke, home: Path, tmp_path: Path, one_line_error) -> None:
    one_line_error(invoke("dump", "--from", str(tmp_path / "missing.jsonl")), 1, "cannot read", "missing.jsonl")
    one_line_error(invoke("dump", "--from", str(tmp_path)), 1, "is a directory")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("  \n")
    one_line_error(invoke("dump", "--from", str(empty)), 1, "empty file")
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text(otlp_line(whale_run()) + '\n{"resourceSpans": [\n')
    one_line_error(invoke("dump", "--from", str(malformed)), 1, "malformed.jsonl", "invalid JSON")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    one_line_error(invoke("dump", "--from", str(binary)), 1, "not UTF-8")
    no_spans = tmp_path / "metrics.jsonl"
    no_spans.write_text('{"resourceMetrics": []}\n')
    one_line_error(invoke("dump", "--from", str(no_spans)), 1, "no spans")
    wrong_shape = tmp_path / "wrong.jsonl"
    wrong_shape.write_text('{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]}\n')
    one_line_error(invoke("dump", "--from", str(wrong_shape)), 1, "wrong.jsonl")


def test_newer_schema_version_is_refused(invoke: Invoke, home: Path, tmp_path: Path, one_line_error) -> None:
    newer = json.loads(invoke("dump", WHALE_RUN, home=home).stdout)
    newer["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(newer, indent=2))
    one_line_error(invoke("dump", "--from", str(path)), 1, f"schema_version {SCHEMA_VERSION + 1}", "upgrade")
    one_line_error(invoke("show", "--from", str(path)), 1, f"schema_version {SCHEMA_VERSION + 1}")
    newer["schema_version"] = "one"
    path.write_text(json.dumps(newer))
    one_line_error(invoke("dump", "--from", str(path)), 1, "invalid schema_version")
    path.write_text('{"schema_version": 1}')
    one_line_error(invoke("show", "--from", str(path)), 1, "not a run trace")
