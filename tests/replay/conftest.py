"""A recording setup: the real SDK TracerProvider with the run-trace exporter on a temporary store,
the instrumentor on it, and helpers to read a run back with its recording and replay it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace._capture import CapturePolicy, ContentMode, policy_from_env
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore
from otel_agenttrace.replay._document import from_store


class Recorder:
    def __init__(self, home: Path, policy: CapturePolicy) -> None:
        self.store = RunStore(home)
        self.exporter = RunTraceExporter(self.store, forward=None, inflight=False)
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.instrumentor = AgentTraceInstrumentor()
        self.instrumentor.instrument(tracer_provider=self.provider, capture_policy=policy, run_root=False)

    def flush(self) -> None:
        self.provider.force_flush()
        self.exporter.force_flush()

    def run(self, run_id: str | None = None, with_recording: bool = True) -> dict[str, Any]:
        """The newest run (or `run_id`) as a run-trace document with its recording."""
        self.flush()
        run_id = run_id or self.store.last_run_id()
        assert run_id is not None, "no run recorded"
        return from_store(self.store, run_id, with_recording)

    def close(self) -> None:
        self.instrumentor.uninstrument()
        self.provider.shutdown()
        self.store.close()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "home", policy_from_env({}))
    yield rec
    rec.close()


@pytest.fixture
def no_content_recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "home", CapturePolicy(mode=ContentMode.NO_CONTENT))
    yield rec
    rec.close()
