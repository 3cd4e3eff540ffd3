"""Run-trace documents with what replay needs (schema_version 2): the recording and the command."""

from __future__ import annotations

from typing import Any

from otel_agenttrace.replay._format import decode_rows


def add_recording(doc: dict[str, Any], store: Any, with_recording: bool) -> dict[str, Any]:
    """Add `command` (always, when recorded) and `recording` (with_recording) from the store to `doc`."""
    rows = store.recordings(doc["run_id"])
    if not with_recording:
        rows = [row for row in rows if row[0] == "process"]
    recording, command = decode_rows(rows)
    if command is not None:
        doc["command"] = command
    if with_recording and recording is not None:
        doc["recording"] = recording
    return doc


def from_store(store: Any, run_id: str, with_recording: bool = True) -> dict[str, Any]:
    from otel_agenttrace.exporter._assemble import assemble

    records = store.spans(run_id)
    if not records:
        from otel_agenttrace.exporter.store import UnknownRunError

        raise UnknownRunError(f"run {run_id} has no spans in {store.home}")
    return add_recording(assemble(records), store, with_recording)
