"""RunStore: round trips, run summaries, abbreviations, retention, refusing foreign files, concurrent writers."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_agenttrace import semconv as sc
from otel_agenttrace.environment_variables import AGENTTRACE_HOME, AGENTTRACE_MAX_AGE, AGENTTRACE_MAX_RUNS
from otel_agenttrace.exporter._records import SpanEvent, SpanRecord
from otel_agenttrace.exporter.store import (
    DEFAULT_MAX_AGE_S,
    DEFAULT_MAX_RUNS,
    AmbiguousRunError,
    RunStore,
    StoreError,
    UnknownRunError,
    parse_age,
    retention_from_env,
)

REPO = Path(__file__).resolve().parents[2]
NOW = time.time_ns()
MS = 1_000_000


def span(
    trace_id: str,
    span_id: str,
    parent_id: str | None = None,
    *,
    name: str = "step",
    start: int = 0,
    duration: int | None = 10,
    status: str = "UNSET",
    attributes: dict[str, object] | None = None,
) -> SpanRecord:
    start_ns = NOW + start * MS
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind="INTERNAL",
        start_ns=start_ns,
        end_ns=None if duration is None else start_ns + duration * MS,
        status=status,
        attributes=dict(attributes or {}),
        resource={"service.name": "test-agent"},
        scope="tests",
    )


def llm(trace_id: str, span_id: str, parent_id: str, *, start: int, tin: int, tout: int, model: str) -> SpanRecord:
    record = span(trace_id, span_id, parent_id, name=f"chat {model}", start=start)
    record.kind = "CLIENT"
    record.attributes = {
        sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: tin,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: tout,
    }
    return record


def tid(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    # No automatic retention: the tests that want it call apply_retention themselves.
    monkeypatch.setenv(AGENTTRACE_MAX_RUNS, "0")
    monkeypatch.setenv(AGENTTRACE_MAX_AGE, "0")
    with RunStore(tmp_path / "home") as s:
        yield s


def test_round_trip_keeps_every_field(store: RunStore) -> None:
    trace = tid(1)
    record = SpanRecord(
        trace_id=trace,
        span_id="00f067aa0ba902b7",
        parent_id=None,
        name="invoke_workflow whaleflow",
        kind="INTERNAL",
        start_ns=NOW,
        end_ns=NOW + 5 * MS,
        status="ERROR",
        status_message="boom",
        attributes={
            sc.GEN_AI_WORKFLOW_NAME: "whaleflow",
            "flag": True,
            "count": 3,
            "ratio": 0.25,
            "tags": ["a", "b"],
            "text": 'naïve ☃ "quoted"\nline',
        },
        events=[SpanEvent("exception", NOW + MS, {"exception.type": "ValueError"}), SpanEvent("mark", NOW + 2 * MS)],
        resource={"service.name": "svc", "service.version": "1.0"},
        scope="otel_agenttrace",
    )
    child = span(trace, "1111111111111111", "00f067aa0ba902b7", start=1)
    store.write_spans([record, child])

    got = store.spans(trace)
    assert got == [record, child]
    assert store.spans(tid(99)) == []


def test_a_finished_span_replaces_its_start_and_a_late_start_changes_nothing(store: RunStore) -> None:
    trace = tid(2)
    root = span(trace, "a" * 16, name="invoke_workflow wf", start=0, duration=100)
    child = span(trace, "b" * 16, "a" * 16, start=1, duration=5)
    store.write_starts([root, child])
    store.write_starts([root])  # the same start twice is one step

    (summary,) = store.list_runs()
    assert (summary.status, summary.steps, summary.duration_ms) == ("incomplete", 2, None)
    assert [r.end_ns for r in store.spans(trace)] == [None, None]

    store.write_spans([child])
    store.write_spans([root])
    assert [r.end_ns for r in store.spans(trace)] == [root.end_ns, child.end_ns]
    (summary,) = store.list_runs()
    assert (summary.status, summary.steps, summary.duration_ms) == ("ok", 2, 100.0)

    store.write_starts([child])
    assert [r.end_ns for r in store.spans(trace)] == [root.end_ns, child.end_ns]


def test_spans_still_open_stay_incomplete(store: RunStore) -> None:
    trace = tid(3)
    store.write_starts([span(trace, "a" * 16, name="invoke_workflow wf")])
    store.write_spans([span(trace, "b" * 16, "a" * 16, start=1)])
    records = {r.span_id: r for r in store.spans(trace)}
    assert records["a" * 16].end_ns is None
    assert records["b" * 16].end_ns is not None
    assert store.list_runs()[0].status == "incomplete"


def test_list_is_newest_first_with_summaries(store: RunStore) -> None:
    old, new = tid(10), tid(11)
    store.write_spans(
        [
            span(
                old,
                "a" * 16,
                name="invoke_workflow first",
                start=0,
                duration=50,
                attributes={sc.GEN_AI_WORKFLOW_NAME: "first"},
            ),
            llm(old, "b" * 16, "a" * 16, start=1, tin=100, tout=10, model="gpt-4o"),
            llm(old, "c" * 16, "a" * 16, start=2, tin=50, tout=5, model="claude-sonnet"),
            llm(old, "d" * 16, "a" * 16, start=3, tin=7, tout=3, model="gpt-4o"),
        ]
    )
    # The second run fails at its root; its agent span's usage totals are not counted twice.
    store.write_spans(
        [
            span(new, "e" * 16, name="my_script.py", start=1000, duration=20, status="ERROR"),
            span(
                new,
                "f" * 16,
                "e" * 16,
                start=1001,
                attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_AGENT, sc.GEN_AI_USAGE_INPUT_TOKENS: 9},
            ),
            llm(new, "1" * 16, "f" * 16, start=1002, tin=9, tout=1, model="gpt-4o-mini"),
        ]
    )

    runs = store.list_runs()
    assert [r.run_id for r in runs] == [new, old]
    assert runs[0].workflow == "my_script.py"
    assert (runs[0].status, runs[0].steps, runs[0].input_tokens, runs[0].output_tokens) == ("error", 3, 9, 1)
    assert runs[0].models == ["gpt-4o-mini"]
    assert runs[1].workflow == "first"
    assert (runs[1].status, runs[1].steps, runs[1].input_tokens, runs[1].output_tokens) == ("ok", 4, 157, 18)
    assert runs[1].models == ["gpt-4o", "claude-sonnet"]
    assert runs[1].duration_ms == 50.0
    assert runs[1].started_ns == NOW
    assert store.list_runs(limit=1) == runs[:1]
    assert store.last_run_id() == new


def test_children_written_before_their_root_give_the_same_summary(store: RunStore) -> None:
    trace = tid(12)
    store.write_spans([llm(trace, "b" * 16, "a" * 16, start=1, tin=1, tout=2, model="m")])
    store.write_spans(
        [span(trace, "a" * 16, name="invoke_workflow wf", duration=30, attributes={sc.GEN_AI_WORKFLOW_NAME: "wf"})]
    )
    (run,) = store.list_runs()
    assert (run.workflow, run.status, run.steps, run.duration_ms) == ("wf", "ok", 2, 30.0)


def test_the_summary_agrees_with_the_assembled_run_trace(store: RunStore) -> None:
    from otel_agenttrace.exporter._assemble import assemble

    trace = tid(13)
    store.write_starts([span(trace, "a" * 16, name="invoke_workflow wf", attributes={sc.GEN_AI_WORKFLOW_NAME: "wf"})])
    store.write_spans(
        [
            llm(trace, "b" * 16, "a" * 16, start=1, tin=10, tout=2, model="gpt-4o"),
            span(
                trace,
                "c" * 16,
                "a" * 16,
                start=2,
                status="ERROR",
                attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL},
            ),
        ]
    )
    doc = assemble(store.spans(trace))
    (run,) = store.list_runs()
    assert (run.workflow, run.status, run.models) == (doc["workflow"], doc["status"], doc["models"])
    assert (run.input_tokens, run.output_tokens) == (doc["usage"]["input_tokens"], doc["usage"]["output_tokens"])
    assert run.steps == len(doc["steps"])


def test_empty_store(store: RunStore) -> None:
    assert store.list_runs() == []
    assert store.last_run_id() is None
    with pytest.raises(UnknownRunError):
        store.resolve("abcd")


def test_resolve_full_and_abbreviated_ids(store: RunStore) -> None:
    a, b, c = "4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f35aaaaaaaaaaaaaaaaaaaaaaaa", "0123456789abcdef0123456789abcdef"
    store.write_spans([span(a, "1" * 16), span(b, "2" * 16, start=5), span(c, "3" * 16, start=9)])

    assert store.resolve(a) == a
    assert store.resolve("4bf92f357") == a
    assert store.resolve("4BF92F35A") == b
    assert store.resolve("  0123 ") == c

    with pytest.raises(AmbiguousRunError) as ambiguous:
        store.resolve("4bf9")
    message = str(ambiguous.value)
    assert "\n" not in message and "4bf92f3577b3" in message and "4bf92f35aaaa" in message

    with pytest.raises(UnknownRunError) as unknown:
        store.resolve("ffff")
    assert "ffff" in str(unknown.value)
    for bad in ("abc", "xyz123", "", "0" * 33):
        with pytest.raises(UnknownRunError, match="at least 4"):
            store.resolve(bad)
    assert issubclass(AmbiguousRunError, StoreError) and issubclass(UnknownRunError, StoreError)


def test_retention_by_count_keeps_the_newest(store: RunStore) -> None:
    traces = [tid(100 + i) for i in range(6)]
    for i, trace in enumerate(traces):
        store.write_spans([span(trace, "a" * 16, start=i * 10), span(trace, "b" * 16, "a" * 16, start=i * 10 + 1)])
    assert store.apply_retention(max_runs=4, max_age_s=None) == 2
    assert [r.run_id for r in store.list_runs()] == traces[:1:-1]
    assert store.spans(traces[0]) == [] and store.spans(traces[1]) == []
    assert len(store.spans(traces[2])) == 2
    assert store.apply_retention(max_runs=None, max_age_s=None) == 0


def test_retention_by_count_spares_a_run_still_being_written(store: RunStore) -> None:
    live, done = tid(200), tid(201)
    store.write_starts([span(live, "a" * 16, start=0)])
    store.write_spans([span(done, "b" * 16, start=10)])
    assert store.apply_retention(max_runs=1, max_age_s=None) == 0
    assert {r.run_id for r in store.list_runs()} == {live, done}


def test_retention_by_age(store: RunStore) -> None:
    # Age counts from the spans' own (wall clock) times.
    day_ms = 86400 * 1000
    old, fresh = tid(300), tid(301)
    store.write_spans([span(old, "a" * 16, start=-40 * day_ms)])
    store.write_spans([span(fresh, "b" * 16, start=-1 * day_ms)])
    assert store.apply_retention(max_runs=None, max_age_s=parse_age("30d")) == 1
    assert [r.run_id for r in store.list_runs()] == [fresh]


def test_the_writer_applies_retention_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AGENTTRACE_MAX_RUNS, "2")
    seed = RunStore(tmp_path)
    for i in range(4):  # only the first write of a store applies retention (then once a minute)
        seed.write_spans([span(tid(400 + i), "a" * 16, start=i)])
    seed.close()
    with RunStore(tmp_path) as reader:
        assert len(reader.list_runs()) == 4
    # The next writer trims on its first write.
    with RunStore(tmp_path) as writer:
        writer.write_spans([span(tid(500), "a" * 16, start=100)])
        assert [r.run_id for r in writer.list_runs()] == [tid(500), tid(403)]


def test_retention_settings_from_the_environment() -> None:
    assert retention_from_env({}) == (DEFAULT_MAX_RUNS, DEFAULT_MAX_AGE_S)
    assert retention_from_env({AGENTTRACE_MAX_RUNS: "50", AGENTTRACE_MAX_AGE: "12h"}) == (50, 12 * 3600.0)
    assert retention_from_env({AGENTTRACE_MAX_RUNS: "0", AGENTTRACE_MAX_AGE: "0"}) == (None, None)
    assert retention_from_env({AGENTTRACE_MAX_RUNS: "many", AGENTTRACE_MAX_AGE: "soon"}) == (
        DEFAULT_MAX_RUNS,
        DEFAULT_MAX_AGE_S,
    )
    assert parse_age("3600s") == parse_age("3600") == parse_age("60m") == parse_age("1h") == 3600.0
    assert parse_age("2w") == 14 * 86400.0
    with pytest.raises(ValueError):
        parse_age("30 days")


def test_home_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AGENTTRACE_HOME, str(tmp_path / "elsewhere"))
    with RunStore() as s:
        assert s.path == tmp_path / "elsewhere" / "runs.db"
        assert s.path.exists()
    monkeypatch.delenv(AGENTTRACE_HOME)
    monkeypatch.chdir(tmp_path)
    with RunStore() as s:
        assert s.path.resolve() == (tmp_path / ".agenttrace" / "runs.db").resolve()


def test_the_store_is_in_wal_mode_and_reopens(tmp_path: Path) -> None:
    with RunStore(tmp_path) as s:
        s.write_spans([span(tid(600), "a" * 16)])
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with RunStore(tmp_path) as s:
        assert [r.run_id for r in s.list_runs()] == [tid(600)]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    db.write_bytes(os.urandom(8192))
    before = _digest(db)
    with pytest.raises(StoreError) as error:
        RunStore(tmp_path)
    assert str(db) in str(error.value) and "\n" not in str(error.value)
    assert _digest(db) == before


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    before = _digest(db)
    with pytest.raises(StoreError, match="another application") as error:
        RunStore(tmp_path)
    assert "\n" not in str(error.value)
    assert _digest(db) == before


def test_a_store_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    RunStore(tmp_path).close()
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer otel-agenttrace"):
        RunStore(tmp_path)


def test_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    s = RunStore(tmp_path)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.write_spans([span(tid(700), "a" * 16)])
    with pytest.raises(StoreError, match="closed"):
        s.list_runs()


def test_an_unwritable_home_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create"):
        RunStore(blocker / "home")


_WRITER = textwrap.dedent(
    """
    import sys, time
    from otel_agenttrace.exporter._records import SpanRecord
    from otel_agenttrace.exporter.store import RunStore

    home, worker, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    shared, own = "5" * 32, f"{worker + 1:032x}"
    store = RunStore(home)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # both writers start together
    now = time.time_ns()
    for b in range(batches):
        records = []
        for i in range(size):
            n = b * size + i
            trace = shared if i % 2 else own
            records.append(SpanRecord(trace, f"{worker:04x}{n:012x}", None if n == 0 and trace == own else "f" * 16,
                                      "step", "INTERNAL", now + n, now + n + 1,
                                      attributes={"worker": worker, "n": n}))
        store.write_spans(records)
    store.close()
    """
)


def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    batches, size = 40, 50
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    RunStore(tmp_path).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(w), str(batches), str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for w in range(2)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        assert writer.wait(timeout=120) == 0

    total = batches * size
    with RunStore(tmp_path) as s:
        shared = s.spans("5" * 32)
        own = [s.spans(f"{w + 1:032x}") for w in range(2)]
        assert len(shared) == total  # half of each writer's spans
        assert [len(spans) for spans in own] == [total // 2, total // 2]
        assert len({r.span_id for r in shared}) == total
        runs = {r.run_id: r for r in s.list_runs()}
        assert runs["5" * 32].steps == total
        assert [runs[f"{w + 1:032x}"].steps for w in range(2)] == [total // 2, total // 2]
