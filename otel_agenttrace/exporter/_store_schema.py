"""The run store's schema: its tables, the check that a file is ours and of this schema, creation, and
the additions made after schema 1 without a version bump (older versions ignore them)."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from otel_agenttrace.environment_variables import AGENTTRACE_HOME
from otel_agenttrace.exporter._store_errors import StoreError

SCHEMA_VERSION: Final = 1
# "AgTr": PRAGMA application_id marks the file as ours, so a foreign SQLite db is never touched.
APPLICATION_ID: Final = 0x41675472
APP_NAME: Final = "otel-agenttrace"
LOCK_RETRIES: Final = 5

# Replay recordings (otel_agenttrace/replay): one compressed entry per exchange or tool result, kept
# beside the run's spans and deleted with them. Created on open too: stores made before it existed lack it.
RECORDINGS_TABLE: Final = """CREATE TABLE IF NOT EXISTS recordings (
        id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL)"""
RECORDINGS_INDEX: Final = """CREATE INDEX IF NOT EXISTS recordings_by_run ON recordings (trace_id)"""

SCHEMA: Final = (
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
        models TEXT NOT NULL DEFAULT '[]',
        merged INTEGER)""",
    """CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_ns)""",
    RECORDINGS_TABLE,
)
# Added after schema 1; created on open by writers when missing (older versions never read them).
SIDE_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS lost (run_id TEXT PRIMARY KEY, spans INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS origins (origin TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (origin, run_id))""",
)

RUN_COLUMNS: Final = (
    "run_id, workflow, root_span_id, root_name, root_status, root_start_ns, root_parentless, started_ns, ended_ns,"
    " finished, open, errors, input_tokens, output_tokens, models"
)
# Added after schema 1 (ALTER TABLE on open by writers, older versions never read it): spans that are one
# step with another's call; NULL in a row that an older version wrote (a writer then re-counts the run).
CALL_COLUMNS: Final = (("runs", "merged", "INTEGER"),)
WRITE_COLUMNS: Final = RUN_COLUMNS + ", merged"
WRITE_MARKS: Final = ",".join("?" * len(WRITE_COLUMNS.split(",")))


def is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def column_names(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def missing_columns(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return [c for c in CALL_COLUMNS if c[1] not in column_names(conn, c[0])]


def ensure_additions(conn: sqlite3.Connection) -> None:
    """Create the side tables and columns added after schema 1 when an older version made the store."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if {"lost", "origins"} <= names and not missing_columns(conn):
        return
    with _immediate(conn):
        for statement in SIDE_TABLES:
            conn.execute(statement)
        # Another writer may have added them while we waited for the lock.
        for table, name, declaration in missing_columns(conn):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def check_or_create(conn: sqlite3.Connection, path: Path) -> None:
    """Check that the database is an agenttrace store of this schema, or make it one when it is empty."""
    for attempt in range(LOCK_RETRIES):
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id == APPLICATION_ID:
                check_version(conn, path)
                return
            if app_id != 0 or has_tables(conn):
                raise foreign(path)
            _create(conn, path)
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or attempt == LOCK_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def foreign(path: Path) -> StoreError:
    return StoreError(
        f"{path} is a SQLite database of another application, not an agenttrace run store;"
        f" set {AGENTTRACE_HOME} to another directory"
    )


def has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer otel-agenttrace (store schema {version},"
            f" this one reads {SCHEMA_VERSION}); upgrade otel-agenttrace"
        )
    if version < SCHEMA_VERSION:
        raise StoreError(f"{path} has an unknown store schema version {version}")


def _create(conn: sqlite3.Connection, path: Path) -> None:
    # auto_vacuum must be chosen before the first table exists; it lets retention give space back.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    with _immediate(conn):
        # Another process may have created the schema while we waited for the lock.
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        created_elsewhere = app_id == APPLICATION_ID
        if not created_elsewhere:
            if app_id != 0 or has_tables(conn):
                raise foreign(path)
            for statement in (*SCHEMA, *SIDE_TABLES):
                conn.execute(statement)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("app", APP_NAME), ("schema_version", str(SCHEMA_VERSION)), ("created_ns", str(time.time_ns()))],
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    if created_elsewhere:
        check_version(conn, path)


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One IMMEDIATE transaction: committed when the body ends, rolled back when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
