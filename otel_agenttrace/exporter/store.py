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
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from otel_agenttrace import _settings, semconv
from otel_agenttrace._settings import parse_age  # noqa: F401  (re-exported)
from otel_agenttrace.environment_variables import AGENTTRACE_HOME
from otel_agenttrace.exporter._records import SpanEvent, SpanRecord

_log = logging.getLogger(__name__)

DEFAULT_HOME: Final = ".agenttrace"
DB_FILE: Final = "runs.db"
SCHEMA_VERSION: Final = 1
# "AgTr": PRAGMA application_id marks the file as ours, so a foreign SQLite db is never touched.
APPLICATION_ID: Final = 0x41675472
APP_NAME: Final = "otel-agenttrace"

DEFAULT_MAX_RUNS: Final = 1000
DEFAULT_MAX_AGE_S: Final = 30 * 86400.0
RETENTION_INTERVAL_S: Final = 60.0
# A run with open spans that was active this recently is not dropped by count retention: it is
# most likely still being written by a live process.
_ACTIVE_GRACE_NS: Final = 3600 * 1_000_000_000

_BUSY_TIMEOUT_MS: Final = 5000
_LOCK_RETRIES: Final = 5
_MIN_PREFIX: Final = 4
_CHUNK: Final = 500  # bound parameters per IN (...) list, well under SQLite's limit
_HEX: Final = frozenset("0123456789abcdef")

_T = TypeVar("_T")


class StoreError(Exception):
    """The run store cannot be used (not ours, corrupt, newer schema, I/O error)."""


class UnknownRunError(StoreError):
    """No run matches the given id or prefix."""


class AmbiguousRunError(StoreError):
    """More than one run matches the given prefix."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    workflow: str | None
    status: str  # ok | error | incomplete
    started_ns: int
    duration_ms: float | None  # None while nothing of the run has ended
    steps: int
    input_tokens: int
    output_tokens: int
    models: list[str] = field(default_factory=list)


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


# --- encoding ---------------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    # Attribute values may be bytes (AnyValue); kept as base64 text, as the OTLP/JSON readers do.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# One pre-built encoder: the C fast path, compact separators, no ASCII escaping of content.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_jsonable).encode
_decode = json.loads

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS resources (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE)""",
    # entry: [span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, attributes, events, scope]
    """CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL,
        resource_id INTEGER,
        count INTEGER NOT NULL,
        spans TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS chunks_by_run ON chunks (trace_id)""",
    """CREATE TABLE IF NOT EXISTS starts (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        resource_id INTEGER,
        span TEXT NOT NULL)""",
    """CREATE UNIQUE INDEX IF NOT EXISTS starts_by_span ON starts (trace_id, span_id)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        workflow TEXT,
        root_span_id TEXT,
        root_name TEXT,
        root_status TEXT,
        root_start_ns INTEGER NOT NULL DEFAULT 0,
        root_parentless INTEGER NOT NULL DEFAULT 0,
        started_ns INTEGER NOT NULL,
        ended_ns INTEGER,
        finished INTEGER NOT NULL DEFAULT 0,
        open INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        models TEXT NOT NULL DEFAULT '[]')""",
    """CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_ns)""",
)

_RUN_COLUMNS: Final = (
    "run_id, workflow, root_span_id, root_name, root_status, root_start_ns, root_parentless, started_ns, ended_ns,"
    " finished, open, errors, input_tokens, output_tokens, models"
)
_RUN_MARKS: Final = ",".join("?" * len(_RUN_COLUMNS.split(",")))
# generate_content is an LLM operation of the GenAI conventions that semconv.Operation lacks (as in _assemble).
_LLM_OPERATIONS: Final = semconv.LLM_OPERATIONS | {"generate_content"}


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _Run:
    """The `runs` row of one trace, merged in Python; the rules follow `_assemble.assemble` so that
    `list` and `dump` agree: the root is the parentless span (else the earliest one), the workflow
    is the root's workflow attribute (else any span's, else the root's name), models and usage come
    from LLM calls only."""

    __slots__ = (
        "ended_ns",
        "errors",
        "finished",
        "input_tokens",
        "models",
        "open",
        "output_tokens",
        "root_name",
        "root_parentless",
        "root_span_id",
        "root_start_ns",
        "root_status",
        "run_id",
        "started_ns",
        "workflow",
    )

    def __init__(self, run_id: str, row: Sequence[Any] | None) -> None:
        self.run_id = run_id
        self.workflow: str | None = None
        self.root_span_id: str | None = None
        self.root_name: str | None = None
        self.root_status: str | None = None
        self.root_start_ns = 0
        self.root_parentless = False
        self.started_ns: int | None = None
        self.ended_ns: int | None = None
        self.finished = self.open = self.errors = self.input_tokens = self.output_tokens = 0
        self.models: list[str] = []
        if row is not None:
            (
                _,
                self.workflow,
                self.root_span_id,
                self.root_name,
                self.root_status,
                self.root_start_ns,
                root_parentless,
                self.started_ns,
                self.ended_ns,
                self.finished,
                self.open,
                self.errors,
                self.input_tokens,
                self.output_tokens,
                models,
            ) = row
            self.root_parentless = bool(root_parentless)
            self.models = _decode(models)

    def add(self, record: SpanRecord, finished: bool) -> None:
        attrs = record.attributes
        start = record.start_ns
        if self.started_ns is None or start < self.started_ns:
            self.started_ns = start
        parentless = record.parent_id is None
        if record.span_id == self.root_span_id:
            is_root = True
        elif parentless:
            is_root = not self.root_parentless or start < self.root_start_ns
        else:
            is_root = not self.root_parentless and (self.root_span_id is None or start < self.root_start_ns)
        workflow = attrs.get(semconv.GEN_AI_WORKFLOW_NAME)
        if is_root:
            self.root_span_id, self.root_name, self.root_start_ns = record.span_id, record.name, start
            if record.span_id != self.root_span_id or finished:
                # A late start record of the root never undoes its finished status.
                self.root_status = record.status if finished else None
            self.root_parentless = parentless
            if workflow and parentless:
                self.workflow = str(workflow)
        if workflow and self.workflow is None:
            self.workflow = str(workflow)
        if not finished:
            return
        self.finished += 1
        end = record.end_ns
        if end is not None and (self.ended_ns is None or end > self.ended_ns):
            self.ended_ns = end
        if record.status == "ERROR":
            self.errors += 1
        if attrs.get(semconv.GEN_AI_OPERATION_NAME) in _LLM_OPERATIONS:
            tokens = attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
            if isinstance(tokens, int) and tokens > 0:
                self.input_tokens += tokens
            tokens = attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
            if isinstance(tokens, int) and tokens > 0:
                self.output_tokens += tokens
            model = attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)
            if isinstance(model, str) and model and model not in self.models:
                self.models.append(model)

    def row(self) -> tuple[Any, ...]:
        return (
            self.run_id,
            self.workflow,
            self.root_span_id,
            self.root_name,
            self.root_status,
            self.root_start_ns,
            int(self.root_parentless),
            self.started_ns,
            self.ended_ns,
            self.finished,
            self.open,
            self.errors,
            self.input_tokens,
            self.output_tokens,
            _encode(self.models),
        )


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
        text = _encode(dict(sorted(resource.items())))
        rid = self._ids.get(text)
        if rid is None:
            self._conn.execute("INSERT OR IGNORE INTO resources (json) VALUES (?)", (text,))
            rid = int(self._conn.execute("SELECT id FROM resources WHERE json = ?", (text,)).fetchone()[0])
            self._ids[text] = rid
        self._last, self._last_id = resource, rid
        return rid


def _summary(row: Sequence[Any]) -> RunSummary:
    run = _Run(row[0], row)
    started = run.started_ns or 0
    if run.root_status == "ERROR":
        status = "error"
    elif run.open > 0:
        status = "incomplete"
    else:
        status = "ok"
    return RunSummary(
        run_id=run.run_id,
        workflow=run.workflow or run.root_name,
        status=status,
        started_ns=started,
        duration_ms=None if run.ended_ns is None else round(max(0, run.ended_ns - started) / 1e6, 3),
        steps=run.finished + run.open,
        input_tokens=run.input_tokens,
        output_tokens=run.output_tokens,
        models=run.models,
    )


def _entry(r: SpanRecord, end_ns: int | None) -> list[Any]:
    events = [[e.name, e.time_ns, e.attributes or None] for e in r.events] if r.events else None
    return [
        r.span_id,
        r.parent_id,
        r.name,
        r.kind,
        r.start_ns,
        end_ns,
        r.status,
        r.status_message,
        r.attributes,
        events,
        r.scope,
    ]


def _record(trace_id: str, entry: list[Any], resource: dict[str, Any]) -> SpanRecord:
    span_id, parent_id, name, kind, start_ns, end_ns, status, message, attributes, events, scope = entry
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=message,
        attributes=attributes or {},
        events=[SpanEvent(n, t, a or {}) for n, t, a in events] if events else [],
        resource=resource,
        scope=scope,
    )


class RunStore:
    """The embedded run store. Thread-safe; one SQLite connection per process and store."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_FILE
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._retention = retention_from_env()
        self._next_retention = 0.0  # the first write of a process applies retention
        self._pid = os.getpid()
        self._conn = self._open()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:
                store = ref()
                if store is not None:
                    store._reset_after_fork()

            os.register_at_fork(after_in_child=_after_fork)

    # -- lifecycle --------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the run store directory {self.home}: {exc.strerror or exc}") from None
        try:
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._check_or_create(conn)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                _log.debug("run store %s is in %s journal mode, not WAL", self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not a usable agenttrace run store: {exc}") from None
        return conn

    def _check_or_create(self, conn: sqlite3.Connection) -> None:
        for attempt in range(_LOCK_RETRIES):
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                if app_id == APPLICATION_ID:
                    self._check_version(conn)
                    return
                if app_id != 0 or self._has_tables(conn):
                    raise self._foreign()
                self._create(conn)
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or attempt == _LOCK_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _foreign(self) -> StoreError:
        return StoreError(
            f"{self.path} is a SQLite database of another application, not an agenttrace run store;"
            f" set {AGENTTRACE_HOME} to another directory"
        )

    @staticmethod
    def _has_tables(conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0

    def _check_version(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer otel-agenttrace (store schema {version},"
                f" this one reads {SCHEMA_VERSION}); upgrade otel-agenttrace"
            )
        if version < SCHEMA_VERSION:
            raise StoreError(f"{self.path} has an unknown store schema version {version}")

    def _create(self, conn: sqlite3.Connection) -> None:
        # auto_vacuum must be chosen before the first table exists; it lets retention give space back.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created the schema while we waited for the lock.
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id == APPLICATION_ID:
                conn.execute("COMMIT")
                self._check_version(conn)
                return
            if app_id != 0 or self._has_tables(conn):
                raise self._foreign()
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("app", APP_NAME), ("schema_version", str(SCHEMA_VERSION)), ("created_ns", str(time.time_ns()))],
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _reset_after_fork(self) -> None:
        # A SQLite connection must not be used (or closed) in a forked child: abandon it.
        self._lock = threading.RLock()
        self._conn = None
        self._pid = os.getpid()
        self._next_retention = 0.0

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
        with self._lock:
            conn = self._connection()
            for attempt in range(_LOCK_RETRIES):
                try:
                    conn.execute("BEGIN IMMEDIATE")
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
                    if _is_locked(exc) and attempt < _LOCK_RETRIES - 1:
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    raise StoreError(f"cannot write the run store {self.path}: {exc}") from None
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"cannot write the run store {self.path}: {exc}") from None
            raise AssertionError("unreachable")

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
        if records:
            self._write(lambda conn: self._write_finished(conn, records))
            self._maybe_apply_retention()

    def write_starts(self, records: Sequence[SpanRecord]) -> None:
        """Write start records of in-flight spans (end_ns is ignored); a span already started is kept."""
        if records:
            self._write(lambda conn: self._write_starts(conn, records))
            self._maybe_apply_retention()

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

    @staticmethod
    def _load_runs(conn: sqlite3.Connection, trace_ids: Iterator[str]) -> dict[str, _Run]:
        runs = {}
        for trace_id in trace_ids:
            if trace_id not in runs:
                row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (trace_id,)).fetchone()
                runs[trace_id] = _Run(trace_id, row)
        return runs

    @staticmethod
    def _save_runs(conn: sqlite3.Connection, runs: dict[str, _Run]) -> None:
        conn.executemany(
            f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}) VALUES ({_RUN_MARKS})", [run.row() for run in runs.values()]
        )

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
                entries.append(_entry(record, record.end_ns))
            conn.execute(
                "INSERT INTO chunks (trace_id, resource_id, count, spans) VALUES (?, ?, ?, ?)",
                (trace_id, resource_id, len(entries), _encode(entries)),
            )
        self._save_runs(conn, runs)

    def _write_starts(self, conn: sqlite3.Connection, records: Sequence[SpanRecord]) -> None:
        groups = self._group(conn, records)
        runs = self._load_runs(conn, (trace_id for trace_id, _ in groups))
        for (trace_id, resource_id), group in groups.items():
            run = runs[trace_id]
            for record in group:
                run.add(record, finished=False)
            inserted = conn.executemany(
                "INSERT OR IGNORE INTO starts (trace_id, span_id, resource_id, span) VALUES (?, ?, ?, ?)",
                [(trace_id, r.span_id, resource_id, _encode(_entry(r, None))) for r in group],
            ).rowcount
            run.open += max(0, inserted)
        self._save_runs(conn, runs)

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
                resources[rid] = _decode(found[0]) if found else {}
        by_id: dict[str, SpanRecord] = {}
        for rid, text in starts:
            record = _record(run_id, _decode(text), resources.get(rid, {}))
            by_id[record.span_id] = record
        for rid, text in chunks:
            resource = resources.get(rid, {})
            for entry in _decode(text):
                record = _record(run_id, entry, resource)
                by_id[record.span_id] = record
        # Each record gets its own resource dict: callers may change a record without touching others.
        for record in by_id.values():
            record.resource = dict(record.resource)
        return sorted(by_id.values(), key=lambda r: r.start_ns)

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest runs first (by start time)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_ns DESC, run_id DESC LIMIT ?", (max(0, limit),)
            ).fetchall()
        return [_summary(row) for row in rows]

    def run(self, run_id: str) -> RunSummary | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _summary(row) if row else None

    def last_run_id(self) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT run_id FROM runs ORDER BY started_ns DESC, run_id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def resolve(self, prefix: str) -> str:
        """A full or abbreviated (at least 4 hex characters) run id -> the full run id."""
        text = prefix.strip().lower()
        if len(text) < _MIN_PREFIX or len(text) > 32 or not _HEX.issuperset(text):
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
            shown = ", ".join(row[0][:12] for row in rows[:5]) + (", ..." if len(rows) > 5 else "")
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
            conn.execute(f"DELETE FROM runs WHERE run_id IN ({marks})", tuple(chunk))

        # Small transactions: other writers are never held up for long.
        for chunk in _chunks(doomed, 50):
            self._write(lambda conn, chunk=chunk: delete(conn, chunk))  # type: ignore[misc]
        self._write(
            lambda conn: conn.execute(
                "DELETE FROM resources WHERE id NOT IN (SELECT resource_id FROM chunks WHERE resource_id IS NOT NULL"
                " UNION SELECT resource_id FROM starts WHERE resource_id IS NOT NULL)"
            )
        )
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._connection().execute("PRAGMA incremental_vacuum").fetchall()  # it frees pages as it steps
        return len(doomed)
