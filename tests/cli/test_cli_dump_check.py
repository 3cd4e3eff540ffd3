"""`dump` checks the document against the run-trace schema before writing: a failure is one line, exit 1,
and nothing is written (an invalid document is a bug of ours, never output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_agenttrace.cli import cli
from otel_agenttrace.cli import dump as dump_module
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._records import SpanRecord

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _doc() -> dict[str, Any]:
    record = SpanRecord(
        TRACE, "00f067aa0ba902b7", None, "chat m", "CLIENT", 1, 2, attributes={"gen_ai.operation.name": "chat"}
    )
    return assemble([record])


@pytest.mark.parametrize("to_file", [False, True])
def test_an_invalid_document_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, to_file: bool
) -> None:
    doc = _doc()
    doc["steps"][0]["output"] = [{"role": None, "parts": []}]
    monkeypatch.setattr(dump_module, "load_run_trace", lambda app, selection: doc)
    target = tmp_path / "run.json"
    args = ["dump", "--last", "--home", str(tmp_path)] + (["-o", str(target)] if to_file else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert not target.exists()
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "steps/0/output" in lines[0] and "Traceback" not in result.stderr


def test_a_valid_document_is_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dump_module, "load_run_trace", lambda app, selection: _doc())
    result = CliRunner().invoke(cli, ["dump", "--last", "--home", str(tmp_path)])
    assert result.exit_code == 0 and result.stdout.startswith("{")
