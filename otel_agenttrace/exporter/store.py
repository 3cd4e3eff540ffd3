"""The local run store: embedded SQLite (WAL) at `$AGENTTRACE_HOME/runs.db`.

A run is one trace. Finished spans are written in batches as they end; span starts are written
by the in-flight recorder so that a process killed mid-run leaves its open steps visible as
incomplete. A `runs` table is kept up to date on every write (one upsert per trace and batch), so
listing runs never reads spans.

Layout, chosen for write throughput: a batch of finished spans of one trace is one `chunks` row
(a compact JSON array of span entries), so a batch costs a handful of SQLite statements instead of
one indexed insert per span. Start records live in their own small `starts` table, keyed by span,
and a finished write deletes the starts it completes. A run is always read whole, so nothing needs
an index on single finished spans.

Several processes may write one store at once: WAL, a busy timeout, `BEGIN IMMEDIATE` and a retry
on "database is locked". A file that is not ours (garbage, or another application's SQLite db) is
refused with a `StoreError`, never overwritten or migrated.

The store holds prompts and outputs: its directory is created 0700 and its files 0600, and a
writer tightens the modes of an existing store it opens. Readers (`read_only=True`) open the file
read-only and never create, chmod or migrate anything, so a store in a read-only place can be read.
Two side tables and a `runs` column were added after schema 1 without a version bump (older versions
ignore them): `lost` counts spans of a run that the pipeline had to drop, `origins` remembers which
`agenttrace run` invocation (AGENTTRACE_RUN_ORIGIN) wrote a run; `runs.merged` counts spans that are
one step with another's call (two instrumentations traced it: exporter/_calls.py).

This module is the store (opening, transactions, the write and read paths, retention); its parts live
beside it: _store_schema.py (tables, checks, creation, additions), _store_codec.py (span entries and
their JSON), _store_runs.py (the run summary row), _store_errors.py. Import from here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from otel_agenttrace import _settings
from otel_agenttrace._settings import parse_age
from otel_agenttrace.environment_variables import AGENTTRACE_HOME, AGENTTRACE_RUN_ORIGIN
from otel_agenttrace.exporter import _store_schema as _schema
from otel_agenttrace.exporter._calls import Calls
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter._store_codec import decode, encode, span_entry, span_record
from otel_agenttrace.exporter._store_errors import AmbiguousRunError, StoreError, UnknownRunError
from otel_agenttrace.exporter._store_runs import Run, RunSummary, summary
from otel_agenttrace.exporter._store_schema import APP_NAME, APPLICATION_ID, SCHEMA_VERSION  # noqa: F401  (re-exported)

__all__ = [
    "DB_FILE",
    "DEFAULT_HOME",
    "DEFAULT_MAX_AGE_S",
    "DEFAULT_MAX_RUNS",
    "VACUUM_STEP_PAGES",
    "AmbiguousRunError",
    "RunStore",
    "RunSummary",
    "StoreError",
    "UnknownRunError",
    "default_home",
    "origin_from_env",
    "parse_age",
    "retention_from_env",
]

_log = logging.getLogger(__name__)

DEFAULT_HOME: Final = ".agenttrace"
DB_FILE: Final = "runs.db"

DEFAULT_MAX_RUNS: Final = 1000
DEFAULT_MAX_AGE_S: Final = 30 * 86400.0
RETENTION_INTERVAL_S: Final = 60.0
# A run with open spans that was active this recently is not dropped by count retention: it is
# most likely still being written by a live process.
_ACTIVE_GRACE_NS: Final = 3600 * 1_000_000_000

_BUSY_TIMEOUT_MS: Final = 5000
_FORK_WAIT_S: Final = 10.0  # the longest a fork waits for a store write of another thread to finish
# A write waits this long in all for other writers (other processes) before it fails; see RunStore._begin.
_WRITE_WAIT_S: Final = 30.0
_BEGIN_BUSY_MS: Final = 10  # SQLite's own polls for the write lock (at 1, 2, 5 ms), then ours
_POLL_MAX_S: Final = 0.002
_MIN_PREFIX: Final = 4
_CHUNK: Final = 500  # bound parameters per IN (...) list, well under SQLite's limit
_HEX: Final = frozenset("0123456789abcdef")
_ZERO_TRACE_ID: Final = "0" * 32  # the W3C/OTel invalid trace id: never a run
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_DB_SUFFIXES: Final = ("", "-wal", "-shm", "-journal")
# Pages given back per incremental_vacuum step: small steps keep each write transaction short.
VACUUM_STEP_PAGES: Final = 512
# Runs whose decoded calls a writer keeps between batches (a batch holds spans of a few runs at a time).
_CALLS_CACHED: Final = 256

_T = TypeVar("_T")


# --- configuration ----------------------------------------------------------------------------


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    if environ is None:
        return _settings.current().home
    return Path(environ.get(AGENTTRACE_HOME) or DEFAULT_HOME)


def retention_from_env(environ: Mapping[str, str] | None = None) -> tuple[int | None, float | None]:
    """(max_runs, max_age_s) from AGENTTRACE_MAX_RUNS / AGENTTRACE_MAX_AGE; None means unlimited."""
    if environ is None:
        settings = _settings.current()
        return settings.max_runs, settings.max_age_s
    return _settings.retention(environ)


def origin_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The `agenttrace run` invocation this process belongs to (AGENTTRACE_RUN_ORIGIN), if any."""
    env = os.environ if environ is None else environ
    return env.get(AGENTTRACE_RUN_ORIGIN, "").strip() or None


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Resources:
    """Resource ids for one write transaction (ids are not cached longer: retention may drop rows)."""

    __slots__ = ("_conn", "_ids", "_last", "_last_id")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._ids: dict[str, int] = {}
        self._last: dict[str, Any] | None = None
        self._last_id = 0

    def id(self, resource: dict[str, Any]) -> int:
        # Every span of a process shares one resource (often the very same dict): check it before encoding.
        last = self._last
        if resource is last or resource == last:
            return self._last_id
        text = encode(dict(sorted(resource.items())))
        rid = self._ids.get(text)
        if rid is None:
            self._conn.execute("INSERT OR IGNORE INTO resources (json) VALUES (?)", (text,))
            rid = int(self._conn.execute("SELECT id FROM resources WHERE json = ?", (text,)).fetchone()[0])
            self._ids[text] = rid
        self._last, self._last_id = resource, rid
        return rid


def _valid(records: Sequence[SpanRecord]) -> Sequence[SpanRecord]:
    # The all-zero trace id is invalid (W3C Trace Context, OTel): such a span belongs to no run.
    if any(r.trace_id == _ZERO_TRACE_ID for r in records):
        _log.debug("agenttrace: skipping spans with the invalid all-zero trace id")
        return [r for r in records if r.trace_id != _ZERO_TRACE_ID]
    return records


class RunStore:
    """The embedded run store. Thread-safe; one SQLite connection per process and store.

    `read_only=True` (the reading commands): the file is opened read-only; a missing file reads as
    an empty store; nothing is created or changed.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, read_only: bool = False) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_FILE
        self.read_only = read_only
        self._lock = threading.RLock()
        self._held_for_fork = False
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._side_tables = True
        self._call_columns = True
        # run id -> ((finished, open) of its row as this process wrote it, its newest chunk id, its calls)
        self._calls_cache: dict[str, tuple[tuple[int, int], int, Calls]] = {}
        self._seen: dict[str, int] = {}  # run id -> its newest chunk id, during one write
        self._retention = retention_from_env()
        self._origin = None if read_only else origin_from_env()
        self._next_retention = 0.0  # the first write of a process applies retention
        self._pid = os.getpid()
        self._conn = self._open()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _before_fork() -> None:
                store = ref()
                if store is not None:
                    store._hold_for_fork()

            def _after_fork_in_parent() -> None:
                store = ref()
                if store is not None:
                    store._release_after_fork()

            def _after_fork() -> None:
                store = ref()
                if store is not None:
                    store._reset_after_fork()

            os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork)

    # -- lifecycle --------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            return self._open_read_only()
        created = not self.home.exists()
        try:
            self.home.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run store directory {self.home}: {exc.strerror or exc}") from None
        self._tighten_modes(created)
        try:
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            _schema.check_or_create(conn, self.path)
            with contextlib.suppress(sqlite3.OperationalError):  # a read-only store of an older version
                conn.execute(_schema.RECORDINGS_TABLE)
                conn.execute(_schema.RECORDINGS_INDEX)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                _log.debug("run store %s is in %s journal mode, not WAL", self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            _schema.ensure_additions(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a usable agenttrace run store: {exc}") from None
        # SQLite creates -wal and -shm with the database file's mode; fix ones an older version left.
        self._tighten_files()
        return conn

    def _tighten_modes(self, created: bool) -> None:
        """Directory 0700 (when we made it, or it holds nothing but a store), database file 0600."""
        try:
            ours = created or set(os.listdir(self.home)) <= {DB_FILE + suffix for suffix in _DB_SUFFIXES}
            if ours and os.stat(self.home).st_mode & 0o077:
                os.chmod(self.home, DIR_MODE)
            # Create the file ourselves, 0600 whatever the umask: SQLite would create it 0644.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        except OSError as exc:  # not ours to change (another user's store, a read-only mount): open as it is
            _log.debug("cannot set the modes of the run store %s: %s", self.home, exc)
        self._tighten_files()

    def _tighten_files(self) -> None:
        for suffix in _DB_SUFFIXES:
            path = f"{self.path}{suffix}"
            try:
                if os.stat(path).st_mode & 0o077:
                    os.chmod(path, FILE_MODE)
            except OSError:
                continue

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.exists():
            # Nothing recorded yet: an empty schema in memory reads like an empty store.
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            for statement in (*_schema.SCHEMA, *_schema.SIDE_TABLES):
                conn.execute(statement)
            return conn
        uri = self.path.resolve().as_uri()
        last: sqlite3.Error | None = None
        # mode=ro first (sees other writers' live WAL); immutable=1 when even the -shm cannot be made
        # (a read-only directory): then the file is read as it is on disk.
        for query in ("?mode=ro", "?immutable=1"):
            try:
                conn = sqlite3.connect(
                    uri + query,
                    uri=True,
                    timeout=_BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                last = exc
                continue
            try:
                if app_id != _schema.APPLICATION_ID:
                    if app_id != 0 or _schema.has_tables(conn):
                        raise _schema.foreign(self.path)
                    raise StoreError(f"{self.path} is not an agenttrace run store (it is empty)")
                _schema.check_version(conn, self.path)
                names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                self._side_tables = {"lost", "origins"} <= names
                self._call_columns = "merged" in _schema.column_names(conn, "runs")
            except StoreError:
                conn.close()
                raise
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                continue
            return conn
        raise StoreError(f"cannot read the run store {self.path}: {last}")

    def _hold_for_fork(self) -> None:
        # No thread of ours may be inside SQLite when the process forks: a SQLite mutex held at that
        # moment stays held forever in the child, whose first store write would then hang.
        self._held_for_fork = self._lock.acquire(timeout=_FORK_WAIT_S)

    def _release_after_fork(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def _reset_after_fork(self) -> None:
        # A SQLite connection must not be used (or closed) in a forked child: abandon it.
        self._held_for_fork = False
        self._lock = threading.RLock()
        self._conn = None
        self._pid = os.getpid()
        self._next_retention = 0.0
        self._calls_cache = {}
        self._seen = {}

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the run store {self.path} is closed")
        if self._conn is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._conn = self._open()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------------

    def _write(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `body` in one IMMEDIATE transaction, retrying when another writer holds the lock."""
        if self.read_only:
            raise StoreError(f"the run store {self.path} is open read-only")
        with self._lock:
            conn = self._connection()
            deadline = time.monotonic() + _WRITE_WAIT_S
            while True:
                try:
                    self._begin(conn, deadline)
                    try:
                        result = body(conn)
                        conn.execute("COMMIT")
                        return result
                    except BaseException:
                        if conn.in_transaction:
                            with contextlib.suppress(sqlite3.Error):
                                conn.execute("ROLLBACK")
                        raise
                except sqlite3.OperationalError as exc:
                    if _schema.is_locked(exc) and time.monotonic() < deadline:
                        time.sleep(random.uniform(0.0005, _POLL_MAX_S))
                        continue
                    raise StoreError(f"cannot write the run store {self.path}: {exc}") from None
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"cannot write the run store {self.path}: {exc}") from None

    @staticmethod
    def _begin(conn: sqlite3.Connection, deadline: float) -> None:
        """BEGIN IMMEDIATE: wait for the write lock, polling every 0.5-2 ms (jittered) until `deadline`.

        SQLite's own busy handler backs off to one try per 100 ms, so under several busy writers one
        that has waited long loses every gap to fresh ones, for longer than the busy timeout ("database
        is locked", the batch lost). Short jittered polls give each waiter the same chance at each gap."""
        conn.execute(f"PRAGMA busy_timeout = {_BEGIN_BUSY_MS}")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _schema.is_locked(exc) or time.monotonic() >= deadline:
                        raise
                time.sleep(random.uniform(0.0005, _POLL_MAX_S))
        finally:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot read the run store {self.path}: {exc}") from None

    # -- writing ----------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held by every read and write. The in-flight recorder holds it while it decides which spans are
        still open, so that no finished write of this process can slip between that check and its starts."""
        return self._lock

    def write_spans(self, records: Sequence[SpanRecord]) -> None:
        """Write finished spans (one transaction). A finished span replaces its start record."""
        records = _valid(records)
        if records:
            self._write(lambda conn: self._write_finished(conn, records))
            self._maybe_apply_retention()

    def write_recordings(self, entries: Sequence[tuple[str, str, bytes]]) -> None:
        """Replay recording entries (trace_id, kind, compressed data), in one transaction."""
        if entries:
            self._write(
                lambda conn: conn.executemany("INSERT INTO recordings (trace_id, kind, data) VALUES (?, ?, ?)", entries)
            )

    def recordings(self, run_id: str) -> list[tuple[str, bytes]]:
        """The run's replay recording entries (kind, compressed data), in the order they were written."""
        with self._read() as conn:
            try:
                rows = conn.execute(
                    "SELECT kind, data FROM recordings WHERE trace_id = ? ORDER BY id", (run_id,)
                ).fetchall()
            except sqlite3.OperationalError:  # no such table: a read-only store made before recordings
                return []
        return [(kind, bytes(data)) for kind, data in rows]

    def write_starts(self, records: Sequence[SpanRecord]) -> None:
        """Write start records of in-flight spans (end_ns is ignored); a span already started is kept."""
        records = _valid(records)
        if records:
            self._write(lambda conn: self._write_starts(conn, records))
            self._maybe_apply_retention()

    def add_lost(self, counts: Mapping[str, int]) -> None:
        """Count spans of runs (trace id -> spans) that were dropped before they reached the store."""
        rows = [(trace_id, n) for trace_id, n in counts.items() if n > 0 and trace_id != _ZERO_TRACE_ID]
        if rows:
            self._write(
                lambda conn: conn.executemany(
                    "INSERT INTO lost (run_id, spans) VALUES (?, ?)"
                    " ON CONFLICT (run_id) DO UPDATE SET spans = spans + excluded.spans",
                    rows,
                )
            )

    def _note_origin(self, conn: sqlite3.Connection, trace_ids: Iterator[str]) -> None:
        if self._origin is not None:
            conn.executemany(
                "INSERT OR IGNORE INTO origins (origin, run_id) VALUES (?, ?)", [(self._origin, t) for t in trace_ids]
            )

    @staticmethod
    def _group(conn: sqlite3.Connection, records: Sequence[SpanRecord]) -> dict[tuple[str, int | None], list[Any]]:
        resources = _Resources(conn)
        groups: dict[tuple[str, int | None], list[SpanRecord]] = {}
        for record in records:
            key = (record.trace_id, resources.id(record.resource) if record.resource else None)
            group = groups.get(key)
            if group is None:
                groups[key] = group = []
            group.append(record)
        return groups

    def _load_runs(self, conn: sqlite3.Connection, trace_ids: Iterator[str]) -> dict[str, Run]:
        runs = {}
        cache = self._calls_cache
        for trace_id in trace_ids:
            if trace_id in runs:
                continue
            row = conn.execute(f"SELECT {_schema.WRITE_COLUMNS} FROM runs WHERE run_id = ?", (trace_id,)).fetchone()
            if row is None:
                runs[trace_id] = Run(trace_id, None)
                continue
            # The run's calls as this process left them, caught up with what other writers wrote since; read
            # whole from its spans the first time. Taken out of the cache while in use: a write that fails
            # leaves nothing half-applied there.
            version, merged = (row[9], row[10]), row[-1]
            cached = cache.pop(trace_id, None)
            if cached is None or merged is None:  # new to this process, or last written by an older version
                cached = (version, 0, Calls())
            seen, calls = cached[1], cached[2]
            if cached[0] != version or seen == 0:
                seen = self._catch_up(conn, trace_id, calls, seen)
            run = runs[trace_id] = Run(trace_id, row[:-1], merged or 0, calls)
            self._seen[trace_id] = seen
            run.settle()
        return runs

    @staticmethod
    def _catch_up(conn: sqlite3.Connection, trace_id: str, calls: Calls, seen: int) -> int:
        """Add to `calls` the run's chunks after chunk `seen` (0: all) and its start records; the newest chunk id."""
        for chunk_id, text in conn.execute(
            "SELECT id, spans FROM chunks WHERE trace_id = ? AND id > ? ORDER BY id", (trace_id, seen)
        ):
            for entry in decode(text):
                calls.add(span_record(trace_id, entry, {}), finished=True)
            seen = chunk_id
        for (text,) in conn.execute("SELECT span FROM starts WHERE trace_id = ? ORDER BY id", (trace_id,)):
            calls.add(span_record(trace_id, decode(text), {}), finished=False)
        return seen

    def _save_runs(self, conn: sqlite3.Connection, runs: dict[str, Run]) -> None:
        rows = [run.row() for run in runs.values()]
        conn.executemany(f"INSERT OR REPLACE INTO runs ({_schema.WRITE_COLUMNS}) VALUES ({_schema.WRITE_MARKS})", rows)
        cache, seen = self._calls_cache, self._seen
        for run in runs.values():
            if run.calls is not None:
                cache[run.run_id] = ((run.finished, run.open), seen.pop(run.run_id, 0), run.calls)
        seen.clear()
        while len(cache) > _CALLS_CACHED:
            del cache[next(iter(cache))]

    def _write_finished(self, conn: sqlite3.Connection, records: Sequence[SpanRecord]) -> None:
        groups = self._group(conn, records)
        runs = self._load_runs(conn, (trace_id for trace_id, _ in groups))
        for (trace_id, resource_id), group in groups.items():
            run = runs[trace_id]
            if run.open > 0:
                for chunk in _chunks([r.span_id for r in group]):
                    deleted = conn.execute(
                        f"DELETE FROM starts WHERE trace_id = ? AND span_id IN ({','.join('?' * len(chunk))})",
                        (trace_id, *chunk),
                    ).rowcount
                    run.open -= max(0, deleted)
            entries = []
            for record in group:
                run.add(record, finished=True)
                entries.append(span_entry(record, record.end_ns))
            cursor = conn.execute(
                "INSERT INTO chunks (trace_id, resource_id, count, spans) VALUES (?, ?, ?, ?)",
                (trace_id, resource_id, len(entries), encode(entries)),
            )
            self._seen[trace_id] = cursor.lastrowid or 0
        self._save_runs(conn, runs)
        self._note_origin(conn, iter(runs))

    def _write_starts(self, conn: sqlite3.Connection, records: Sequence[SpanRecord]) -> None:
        groups = self._group(conn, records)
        runs = self._load_runs(conn, (trace_id for trace_id, _ in groups))
        for (trace_id, resource_id), group in groups.items():
            run = runs[trace_id]
            for record in group:
                run.add(record, finished=False)
            inserted = conn.executemany(
                "INSERT OR IGNORE INTO starts (trace_id, span_id, resource_id, span) VALUES (?, ?, ?, ?)",
                [(trace_id, r.span_id, resource_id, encode(span_entry(r, None))) for r in group],
            ).rowcount
            run.open += max(0, inserted)
        self._save_runs(conn, runs)
        self._note_origin(conn, iter(runs))

    # -- reading ----------------------------------------------------------------------------

    def spans(self, run_id: str) -> list[SpanRecord]:
        """Every stored span of a run (finished ones and starts never finished), by start time.

        A span stored twice (its start and its end, or the same end twice) is returned once, ended.
        """
        with self._read() as conn:
            starts = conn.execute(
                "SELECT resource_id, span FROM starts WHERE trace_id = ? ORDER BY id", (run_id,)
            ).fetchall()
            chunks = conn.execute(
                "SELECT resource_id, spans FROM chunks WHERE trace_id = ? ORDER BY id", (run_id,)
            ).fetchall()
            resources: dict[int | None, dict[str, Any]] = {None: {}}
            for rid in {row[0] for row in (*starts, *chunks)} - {None}:
                found = conn.execute("SELECT json FROM resources WHERE id = ?", (rid,)).fetchone()
                resources[rid] = decode(found[0]) if found else {}
        by_id: dict[str, SpanRecord] = {}
        for rid, text in starts:
            record = span_record(run_id, decode(text), resources.get(rid, {}))
            by_id[record.span_id] = record
        for rid, text in chunks:
            resource = resources.get(rid, {})
            for entry in decode(text):
                record = span_record(run_id, entry, resource)
                by_id[record.span_id] = record
        # Each record gets its own resource dict: callers may change a record without touching others.
        for record in by_id.values():
            record.resource = dict(record.resource)
        return sorted(by_id.values(), key=lambda r: r.start_ns)

    def _columns(self) -> str:
        lost = "(SELECT spans FROM lost WHERE lost.run_id = runs.run_id)" if self._side_tables else "0"
        merged = "coalesce(merged, 0)" if self._call_columns else "0"
        return f"{_schema.RUN_COLUMNS}, {merged}, coalesce({lost}, 0)"

    def list_runs(self, limit: int = 20, *, origin: str | None = None) -> list[RunSummary]:
        """The newest runs first (by start time); with `origin`, only runs that `agenttrace run` invocation wrote."""
        limit = max(0, min(limit, 2**62))
        with self._read() as conn:
            if origin is None:
                rows = conn.execute(
                    f"SELECT {self._columns()} FROM runs ORDER BY started_ns DESC, run_id DESC LIMIT ?", (limit,)
                ).fetchall()
            elif not self._side_tables:
                rows = []
            else:
                rows = conn.execute(
                    f"SELECT {self._columns()} FROM runs WHERE run_id IN (SELECT run_id FROM origins WHERE origin = ?)"
                    " ORDER BY started_ns DESC, run_id DESC LIMIT ?",
                    (origin, limit),
                ).fetchall()
        return [summary(row) for row in rows]

    def run(self, run_id: str) -> RunSummary | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {self._columns()} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return summary(row) if row else None

    def last_run_id(self) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT run_id FROM runs ORDER BY started_ns DESC, run_id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def resolve(self, prefix: str) -> str:
        """A full or abbreviated (at least 4 hex characters) run id -> the full run id."""
        text = prefix.strip().lower()
        if len(text) < _MIN_PREFIX or len(text) > 32 or not _HEX.issuperset(text) or text == _ZERO_TRACE_ID:
            raise UnknownRunError(
                f"not a run id: {prefix!r} (give at least {_MIN_PREFIX} of its 32 hexadecimal characters)"
            )
        with self._read() as conn:
            # Hex digits all sort below "g": the prefix range is [text, text + "g").
            rows = conn.execute(
                "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY started_ns DESC LIMIT 6",
                (text, text + "g"),
            ).fetchall()
        if not rows:
            raise UnknownRunError(f"no run {prefix!r} in {self.path}")
        if len(rows) > 1:
            from otel_agenttrace._ids import distinct_prefixes

            shown = distinct_prefixes([row[0] for row in rows[:5]]) + (", ..." if len(rows) > 5 else "")
            raise AmbiguousRunError(f"run id {prefix!r} is ambiguous: it matches {shown}; give more characters")
        return str(rows[0][0])

    # -- retention --------------------------------------------------------------------------

    def _maybe_apply_retention(self) -> None:
        now = time.monotonic()
        if now < self._next_retention:
            return
        self._next_retention = now + RETENTION_INTERVAL_S
        try:
            self.apply_retention(*self._retention)
        except StoreError as exc:
            # Retention is housekeeping: a failure must not fail the write that triggered it.
            _log.debug("run store retention failed: %s", exc)

    def apply_retention(self, max_runs: int | None, max_age_s: float | None) -> int:
        """Drop runs beyond the newest `max_runs` and runs older than `max_age_s` (None or 0: no limit).

        Age counts from a run's last activity (its latest span end, else its start). Returns the
        number of runs dropped.
        """
        now_ns = time.time_ns()
        doomed: list[str] = []
        with self._read() as conn:
            if max_age_s:
                cutoff = now_ns - int(max_age_s * 1e9)
                doomed += [
                    row[0]
                    for row in conn.execute(
                        "SELECT run_id FROM runs WHERE started_ns < ? AND coalesce(ended_ns, started_ns) < ?",
                        (cutoff, cutoff),
                    )
                ]
            if max_runs:
                active_since = now_ns - _ACTIVE_GRACE_NS
                doomed += [
                    run_id
                    for run_id, open_, last in conn.execute(
                        "SELECT run_id, open, coalesce(ended_ns, started_ns) FROM runs"
                        " ORDER BY started_ns DESC, run_id DESC LIMIT -1 OFFSET ?",
                        (max_runs,),
                    )
                    if not (open_ > 0 and last > active_since)
                ]
        doomed = list(dict.fromkeys(doomed))
        if not doomed:
            return 0

        def delete(conn: sqlite3.Connection, chunk: Sequence[str]) -> None:
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM chunks WHERE trace_id IN ({marks})", tuple(chunk))
            conn.execute(f"DELETE FROM starts WHERE trace_id IN ({marks})", tuple(chunk))
            conn.execute(f"DELETE FROM recordings WHERE trace_id IN ({marks})", tuple(chunk))
            conn.execute(f"DELETE FROM runs WHERE run_id IN ({marks})", tuple(chunk))
            conn.execute(f"DELETE FROM lost WHERE run_id IN ({marks})", tuple(chunk))
            conn.execute(f"DELETE FROM origins WHERE run_id IN ({marks})", tuple(chunk))

        # Small transactions: other writers are never held up for long.
        for chunk in _chunks(doomed, 50):
            self._write(lambda conn, chunk=chunk: delete(conn, chunk))  # type: ignore[misc]
        self._write(
            lambda conn: conn.execute(
                "DELETE FROM resources WHERE id NOT IN (SELECT resource_id FROM chunks WHERE resource_id IS NOT NULL"
                " UNION SELECT resource_id FROM starts WHERE resource_id IS NOT NULL)"
            )
        )
        self.vacuum()
        return len(doomed)

    def vacuum(self, max_steps: int | None = None) -> int:
        """Give free pages back to the file system, `VACUUM_STEP_PAGES` per short write transaction.

        Needs a store created with auto_vacuum=INCREMENTAL (every store this version creates);
        returns the number of pages given back.
        """
        if self.read_only:
            return 0
        freed = 0
        steps = 0
        with self._lock:
            while max_steps is None or steps < max_steps:
                steps += 1
                try:
                    conn = self._connection()
                    before = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
                    if before == 0:
                        break
                    # Through executescript: sqlite3's execute() steps this pragma once, freeing one page.
                    conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({VACUUM_STEP_PAGES}); COMMIT;")
                    done = before - int(conn.execute("PRAGMA freelist_count").fetchone()[0])
                except sqlite3.Error as exc:  # housekeeping: another writer busy, disk trouble — next time
                    if self._conn is not None and self._conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._conn.execute("ROLLBACK")
                    _log.debug("run store vacuum stopped: %s", exc)
                    break
                freed += done
                if done < VACUUM_STEP_PAGES:
                    break
        return freed
