"""Issue 9, store side: modes (item 6), read-only stores (13), lone surrogates (2), the all-zero trace id (15),
lost-span counts (3), runs by origin (15) and incremental vacuum (14)."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import RunStore, StoreError, UnknownRunError

NOW = time.time_ns()
MS = 1_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def record(trace_id: str = TRACE, span_id: str = "00f067aa0ba902b7", *, parent: str | None = None, **attrs: object):
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent,
        name="execute_tool search",
        kind="INTERNAL",
        start_ns=NOW,
        end_ns=NOW + MS,
        attributes=dict(attrs),
        resource={"service.name": "adversarial"},
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
def test_a_new_store_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        home = tmp_path / "store"
        with RunStore(home) as store:
            store.write_spans([record()])
            assert mode(home) == 0o700
            for suffix in ("", "-wal", "-shm"):
                path = Path(f"{store.path}{suffix}")
                if path.exists():
                    assert mode(path) == 0o600, suffix
    finally:
        os.umask(old)


@posix_only
def test_a_writer_tightens_an_existing_world_readable_store(tmp_path: Path) -> None:
    home = tmp_path / "store"
    with RunStore(home) as store:
        store.write_spans([record()])
    os.chmod(home, 0o755)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{home}/runs.db{suffix}").exists():
            os.chmod(f"{home}/runs.db{suffix}", 0o644)
    with RunStore(home) as store:
        store.write_spans([record(span_id="00f067aa0ba902b8")])
    assert mode(home) == 0o700
    assert mode(home / "runs.db") == 0o600


@posix_only
def test_a_shared_directory_of_the_users_is_left_alone(tmp_path: Path) -> None:
    # AGENTTRACE_HOME pointed at a directory holding other things: only our files are tightened.
    home = tmp_path / "project"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    (home / "notes.txt").write_text("mine")
    with RunStore(home):
        pass
    assert mode(home) == 0o755
    assert mode(home / "runs.db") == 0o600


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_store_in_a_read_only_directory_can_be_read(tmp_path: Path) -> None:
    home = tmp_path / "store"
    with RunStore(home) as store:
        store.write_spans([record()])
    os.chmod(home, 0o500)
    os.chmod(home / "runs.db", 0o400)
    try:
        with RunStore(home, read_only=True) as store:
            assert [r.run_id for r in store.list_runs()] == [TRACE]
            assert len(store.spans(TRACE)) == 1
            with pytest.raises(StoreError, match="read-only"):
                store.write_spans([record(span_id="00f067aa0ba902b9")])
    finally:
        os.chmod(home, 0o700)


def test_a_read_only_store_opens_the_file_read_only(tmp_path: Path) -> None:
    # Readable as root too: SQLite refuses writes on a read-only connection whatever the permissions.
    home = tmp_path / "store"
    with RunStore(home) as store:
        store.write_spans([record()])
    before = (home / "runs.db").stat().st_mtime_ns
    with RunStore(home, read_only=True) as store:
        assert store.run(TRACE) is not None
        with pytest.raises(Exception, match=r"readonly|read-only"):
            store._connection().execute("DELETE FROM runs")
    assert (home / "runs.db").stat().st_mtime_ns == before


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "nothing-here"
    with RunStore(home, read_only=True) as store:
        assert store.list_runs() == []
        assert store.last_run_id() is None
    assert not home.exists()


def test_a_lone_surrogate_spoils_only_its_own_value(tmp_path: Path) -> None:
    bad = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # a tool argument decoded with surrogateescape
    batch = [record(span_id=f"{i:016x}", parent=None if i == 0 else f"{0:016x}") for i in range(400)]
    batch[200].attributes["gen_ai.tool.call.arguments"] = bad
    batch[201].attributes["\udcff key"] = "fine"
    with RunStore(tmp_path) as store:
        store.write_spans(batch)
        spans = {r.span_id: r for r in store.spans(TRACE)}
        summary = store.run(TRACE)
    assert len(spans) == 400
    assert summary is not None and summary.steps == 400 and summary.status == "ok"
    assert spans[f"{200:016x}"].attributes["gen_ai.tool.call.arguments"] == "caf\ufffd \ufffd"
    assert spans[f"{201:016x}"].attributes == {"\ufffd key": "fine"}


def test_the_all_zero_trace_id_is_no_run(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_spans([record(trace_id="0" * 32), record()])
        store.write_starts([record(trace_id="0" * 32, span_id="00000000000000aa")])
        assert [r.run_id for r in store.list_runs()] == [TRACE]
        with pytest.raises(UnknownRunError, match="not a run id"):
            store.resolve("0" * 32)


def test_lost_spans_are_counted_per_run(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_spans([record()])
        store.add_lost({TRACE: 3})
        store.add_lost({TRACE: 2, "0" * 32: 9})
        summary = store.run(TRACE)
        assert summary is not None and summary.lost_spans == 5
        assert store.list_runs()[0].lost_spans == 5
    with RunStore(tmp_path, read_only=True) as store:
        assert store.list_runs()[0].lost_spans == 5


def test_runs_are_listed_by_the_invocation_that_wrote_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTTRACE_RUN_ORIGIN", "mine")
    with RunStore(tmp_path) as store:
        store.write_spans([record()])
    monkeypatch.setenv("AGENTTRACE_RUN_ORIGIN", "another")
    with RunStore(tmp_path) as store:
        store.write_spans([record(trace_id="1" * 32)])
    monkeypatch.delenv("AGENTTRACE_RUN_ORIGIN")
    with RunStore(tmp_path) as store:
        store.write_starts([record(trace_id="2" * 32)])
    with RunStore(tmp_path, read_only=True) as store:
        assert [r.run_id for r in store.list_runs(origin="mine")] == [TRACE]
        assert len(store.list_runs()) == 3


def test_an_older_store_without_the_side_tables_still_reads(tmp_path: Path) -> None:
    with RunStore(tmp_path) as store:
        store.write_spans([record()])
        conn = store._connection()
        conn.execute("DROP TABLE lost")
        conn.execute("DROP TABLE origins")
    with RunStore(tmp_path, read_only=True) as store:
        assert store.list_runs()[0].lost_spans == 0
        assert store.list_runs(origin="x") == []
    with RunStore(tmp_path) as store:  # a writer adds them back
        store.add_lost({TRACE: 1})
        assert store.list_runs()[0].lost_spans == 1


def test_retention_gives_the_space_back(tmp_path: Path) -> None:
    payload = "x" * 4000
    with RunStore(tmp_path) as store:
        for i in range(300):
            store.write_spans([record(trace_id=f"{i + 1:032x}", payload=payload)])
        size_full = os.path.getsize(store.path)
        assert store.apply_retention(10, None) == 290
        conn = store._connection()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size_after = os.path.getsize(store.path)
    assert free < 50, free
    assert size_after < size_full / 5, (size_full, size_after)


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX only")
