"""Issue 9 item 3: a run that lost spans says so in `list`, `show` and `dump` (and the document still validates);
issue 9 item 13: the reading commands work on a store they may not write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_agenttrace.cli import cli
from otel_agenttrace.exporter.store import RunStore
from tests.adversarial.test_store_hardening import TRACE, record


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with RunStore(path) as store:
        store.write_spans([record(), record(span_id="00f067aa0ba902b8", parent="00f067aa0ba902b7")])
        store.add_lost({TRACE: 3})
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_list_marks_the_run(home: Path) -> None:
    code, out = invoke("list", "--home", str(home))
    assert code == 0 and "ok, lost 3 spans" in out
    code, out = invoke("list", "--home", str(home), "--json")
    assert json.loads(out)[0]["lost_spans"] == 3


def test_show_and_dump_mark_the_run(home: Path) -> None:
    code, out = invoke("show", "--home", str(home), "--last")
    assert code == 0 and "lost 3 spans" in out
    code, out = invoke("dump", "--home", str(home), "--last")
    assert code == 0, out
    assert json.loads(out)["otel"]["lost_spans"] == 3  # dump validates its output against the schema


def test_a_complete_run_has_no_mark(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_spans([record()])
    code, out = invoke("dump", "--home", str(tmp_path), "--last")
    assert code == 0 and "lost_spans" not in json.loads(out)["otel"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_reading_commands_work_on_a_read_only_store(home: Path) -> None:
    os.chmod(home, 0o500)
    try:
        for args in (["list"], ["show", "--last"], ["dump", "--last"]):
            code, out = invoke(*args, "--home", str(home))
            assert code == 0, (args, out)
    finally:
        os.chmod(home, 0o700)


def test_reading_commands_leave_the_store_untouched(home: Path) -> None:
    before = (home / "runs.db").stat().st_mtime_ns
    for args in (["list"], ["show", "--last"], ["dump", "--last"]):
        assert invoke(*args, "--home", str(home))[0] == 0
    assert (home / "runs.db").stat().st_mtime_ns == before
    # SQLite's read-only connection may make the WAL index files; they get the database file's private mode.
    assert {p.name for p in home.iterdir()} <= {"runs.db", "runs.db-wal", "runs.db-shm"}
    if os.name == "posix":
        assert all(p.stat().st_mode & 0o077 == 0 for p in home.iterdir())


def test_run_reports_only_the_runs_of_its_own_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from otel_agenttrace.cli._app import App
    from otel_agenttrace.cli.run import _report

    monkeypatch.setenv("AGENTTRACE_RUN_ORIGIN", "ours")
    with RunStore(tmp_path) as store:
        store.write_spans([record()])
    monkeypatch.setenv("AGENTTRACE_RUN_ORIGIN", "someone-elses")  # a concurrent program, same store, same time
    with RunStore(tmp_path) as store:
        store.write_spans([record(trace_id="5" * 32)])
    _report(App(tmp_path), "ours", "agenttrace")
    err = capsys.readouterr().err
    assert f"run {TRACE[:12]}" in err and "5555" not in err
