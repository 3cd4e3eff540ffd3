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
Two side tables were added after schema 1 without a version bump (older versions ignore them):
`lost` counts spans of a run that the pipeline had to drop, `origins` remembers which `agenttrace
run` invocation (AGENTTRACE_RUN_ORIGIN) wrote a run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from otel_agenttrace import _settings
from otel_agenttrace._settings import parse_age  # noqa: F401  (re-exported)
from otel_agenttrace.environment_variables import AGENTTRACE_HOME, AGENTTRACE_RUN_ORIGIN
from otel_agenttrace.exporter import _run
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
_FORK_WAIT_S: Final = 10.0  # the longest a fork waits for a store write of another thread to finish
_LOCK_RETRIES: Final = 5
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
    lost_spans: int = 0  # spans of this run the pipeline dropped (queue full at exit, writer stalled)


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


# --- encoding ---------------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    # Attribute values may be bytes (AnyValue); kept as base64 text, as the OTLP/JSON readers do.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# One pre-built encoder: the C fast path, compact separators, no ASCII escaping of content.
_encode_raw = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_jsonable).encode
_decode = json.loads
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encode(value: object) -> str:
    """JSON text that SQLite can store whatever Python strings it holds.

    A lone surrogate (a `surrogateescape`-decoded argument, say) cannot be encoded as UTF-8: it is
    replaced by U+FFFD, so a bad value spoils only its own characters, never the batch it came in.
    """
    text = _encode_raw(value)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


# Replay recordings (otel_agenttrace/replay): one compressed entry per exchange or tool result, kept
# beside the run's spans and deleted with them. Created on open too: stores made before it existed lack it.
_RECORDINGS_TABLE: Final = """CREATE TABLE IF NOT EXISTS recordings (
        id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL)"""
_RECORDINGS_INDEX: Final = """CREATE INDEX IF NOT EXISTS recordings_by_run ON recordings (trace_id)"""

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
    _RECORDINGS_TABLE,
)
# Added after schema 1; created on open by writers when missing (older versions never read them).
_SIDE_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS lost (run_id TEXT PRIMARY KEY, spans INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS origins (origin TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (origin, run_id))""",
)

_RUN_COLUMNS: Final = (
    "run_id, workflow, root_span_id, root_name, root_status, root_start_ns, root_parentless, started_ns, ended_ns,"
    " finished, open, errors, input_tokens, output_tokens, models"
)
_RUN_MARKS: Final = ",".join("?" * len(_RUN_COLUMNS.split(",")))


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _Run:
    """The `runs` row of one trace, merged in Python span by span with the rules of `_run` (the root,
    the workflow, the status, tokens and models), the ones `_assemble.assemble` uses: `list` and
    `dump` agree."""

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
        current = self.root_start_ns if self.root_span_id is not None else None
        is_root = record.span_id == self.root_span_id or _run.is_better_root(
            start, parentless, current, self.root_parentless
        )
        workflow = _run.workflow_attribute(attrs)
        if is_root:
            self.root_span_id, self.root_name, self.root_start_ns = record.span_id, record.name, start
            if record.span_id != self.root_span_id or finished:
                # A late start record of the root never undoes its finished status.
                self.root_status = record.status if finished else None
            self.root_parentless = parentless
            if workflow and parentless:
                self.workflow = workflow
        if workflow and self.workflow is None:
            self.workflow = workflow
        llm = _run.is_llm_call(attrs)
        if llm:  # the requested model is known from the start, as the assembled run's models show it
            model = _run.model_of(attrs)
            if model is not None and model not in self.models:
                self.models.append(model)
        if not finished:
            return
        self.finished += 1
        end = record.end_ns
        if end is not None and (self.ended_ns is None or end > self.ended_ns):
            self.ended_ns = end
        if record.status == "ERROR":
            self.errors += 1
        if llm:
            tokens_in, tokens_out = _run.tokens_of(attrs)
            self.input_tokens += tokens_in
            self.output_tokens += tokens_out

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
    run = _Run(row[0], row[:-1])
    started = run.started_ns or 0
    status = _run.run_status(run.root_status == "ERROR", run.open > 0)
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
        lost_spans=int(row[-1] or 0),
    )


def _valid(records: Sequence[SpanRecord]) -> Sequence[SpanRecord]:
    # The all-zero trace id is invalid (W3C Trace Context, OTel): such a span belongs to no run.
    if any(r.trace_id == _ZERO_TRACE_ID for r in records):
        _log.debug("agenttrace: skipping spans with the invalid all-zero trace id")
        return [r for r in records if r.trace_id != _ZERO_TRACE_ID]
    return records


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
            self._check_or_create(conn)
            with contextlib.suppress(sqlite3.OperationalError):  # a read-only store of an older version
                conn.execute(_RECORDINGS_TABLE)
                conn.execute(_RECORDINGS_INDEX)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                _log.debug("run store %s is in %s journal mode, not WAL", self.path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_side_tables(conn)
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
            for statement in (*_SCHEMA, *_SIDE_TABLES):
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
                if app_id != APPLICATION_ID:
                    if app_id != 0 or self._has_tables(conn):
                        raise self._foreign()
                    raise StoreError(f"{self.path} is not an agenttrace run store (it is empty)")
                self._check_version(conn)
                names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                self._side_tables = {"lost", "origins"} <= names
            except StoreError:
                conn.close()
                raise
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                continue
            return conn
        raise StoreError(f"cannot read the run store {self.path}: {last}")

    def _ensure_side_tables(self, conn: sqlite3.Connection) -> None:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if {"lost", "origins"} <= names:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SIDE_TABLES:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

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
            for statement in (*_SCHEMA, *_SIDE_TABLES):
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
                    if _is_locked(exc) and time.monotonic() < deadline:
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
                    if not _is_locked(exc) or time.monotonic() >= deadline:
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
                [(trace_id, r.span_id, resource_id, _encode(_entry(r, None))) for r in group],
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

    def _columns(self) -> str:
        lost = "(SELECT spans FROM lost WHERE lost.run_id = runs.run_id)" if self._side_tables else "0"
        return f"{_RUN_COLUMNS}, coalesce({lost}, 0)"

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
        return [_summary(row) for row in rows]

    def run(self, run_id: str) -> RunSummary | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {self._columns()} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _summary(row) if row else None

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
