"""The in-process replay API, and the replay a `agenttrace replay` child process runs from its environment."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from otel_agenttrace.environment_variables import (
    AGENTTRACE_REPLAY,
    AGENTTRACE_REPLAY_MODE,
    AGENTTRACE_REPLAY_REPORT,
    AGENTTRACE_REPLAY_STRICT,
    AGENTTRACE_REPLAY_TOOLS,
)
from otel_agenttrace.replay import _http
from otel_agenttrace.replay._engine import ReplayEngine
from otel_agenttrace.replay._runtime import RUNTIME
from otel_agenttrace.replay.errors import Divergence, NotReproduced


class NoRecordingError(Exception):
    """The run has no recording to replay (recorded with NO_CONTENT, or before recording existed)."""


def _policy() -> Any:
    if RUNTIME.policy is not None:
        return RUNTIME.policy
    from otel_agenttrace._capture import policy_from_env

    return policy_from_env()


def load_document(source: Any, home: str | None = None) -> dict[str, Any]:
    """A run-trace document with its recording: a dict, a file, or a run id in the store."""
    if isinstance(source, dict):
        return source
    path = Path(os.fspath(source))
    if path.is_file():
        from otel_agenttrace.exporter._schema import check_run_trace

        doc: dict[str, Any] = check_run_trace(json.loads(path.read_text(encoding="utf-8")))
        return doc
    from otel_agenttrace.exporter.store import RunStore
    from otel_agenttrace.replay._document import from_store

    with RunStore(home) as store:
        return from_store(store, store.resolve(str(source).lower()), with_recording=True)


def engine_for(doc: dict[str, Any], mode: str, tools: str, strict: bool) -> ReplayEngine:
    recording = doc.get("recording")
    if not isinstance(recording, dict):
        raise NoRecordingError(
            f"run {doc.get('run_id', '?')} has no recording (recorded with NO_CONTENT, without the agenttrace"
            " exporter, or dumped without --with-recording)"
        )
    return ReplayEngine(
        recording,
        mode=mode,
        tools=tools,
        strict=strict,
        policy=_policy(),
        replay_of=doc.get("run_id"),
        steps=doc.get("steps"),
    )


class Replay:
    """`with otel_agenttrace.replay(...) as r:` — the program's LLM calls and tool calls inside the block are
    answered from the recording (model mode) or sent for real with tool results replayed (live mode)."""

    def __init__(
        self, source: Any, mode: str = "model", tools: str = "replay", strict: bool = False, home: str | None = None
    ) -> None:
        self.document = load_document(source, home)
        self.engine = engine_for(self.document, mode, tools, strict)
        self._previous: ReplayEngine | None = None
        self._divergences: list[Divergence] | None = None

    def __enter__(self) -> Replay:
        _http.install()
        self._previous, RUNTIME.engine = RUNTIME.engine, self.engine
        return self

    def __exit__(self, *exc: object) -> None:
        RUNTIME.engine = self._previous
        self._divergences = self.engine.finish()

    @property
    def divergences(self) -> list[Divergence]:
        """Every divergence so far (after the block: with recorded calls that were never made)."""
        return list(self._divergences if self._divergences is not None else self.engine.divergences)

    @property
    def trace_ids(self) -> list[str]:
        return list(self.engine.trace_ids)

    def assert_reproduced(self) -> None:
        """Raise NotReproduced naming the first divergence, if there is one."""
        found = self.divergences
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise NotReproduced(f"run {self.document.get('run_id')} not reproduced: {found[0].message}{more}")


def _write_report(engine: ReplayEngine, path: str) -> None:
    report = {
        "divergences": [d.to_dict() for d in engine.finish()],
        "trace_ids": engine.trace_ids,
        "served": engine.served,
        "replayed_spans": engine.replayed_spans,
    }
    with contextlib.suppress(OSError):
        Path(path).write_text(json.dumps(report), encoding="utf-8")


def install(tel: Any) -> None:
    RUNTIME.policy = tel.policy
    _http.install()
    source = os.environ.get(AGENTTRACE_REPLAY)
    if not source or RUNTIME.engine is not None:
        return
    doc = load_document(source)
    engine = engine_for(
        doc,
        os.environ.get(AGENTTRACE_REPLAY_MODE) or "model",
        os.environ.get(AGENTTRACE_REPLAY_TOOLS) or "replay",
        os.environ.get(AGENTTRACE_REPLAY_STRICT, "").lower() in ("1", "true", "yes"),
    )
    RUNTIME.engine = engine
    report = os.environ.get(AGENTTRACE_REPLAY_REPORT)
    if report:
        atexit.register(_write_report, engine, report)


def uninstall() -> None:
    RUNTIME.engine = None
    RUNTIME.policy = None
    _http.uninstall()
