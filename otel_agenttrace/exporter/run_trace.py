"""RunTraceExporter: the `agenttrace` traces exporter (entry point `opentelemetry_traces_exporter`).

Every batch is written to the local run store synchronously (the local record is never delayed by
a backend), then handed to the forwarder, which ships a content-stripped copy to an OTLP backend on
its own thread. Nothing here raises into the instrumented program: failures are logged once.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agenttrace import _logging, semconv
from otel_agenttrace._beside import CHANNEL
from otel_agenttrace.exporter._forward import Forwarder, exporter_from_env, forward_content_from_env
from otel_agenttrace.exporter._inflight import InFlightRecorder, install_inflight_recorder
from otel_agenttrace.exporter._records import SpanRecord, from_readable_span
from otel_agenttrace.exporter._streak import FailureStreak
from otel_agenttrace.exporter.store import RunStore
from otel_agenttrace.replay._channel import CHANNEL as RECORDINGS
from otel_agenttrace.replay._channel import write_pending as write_recordings

_log = logging.getLogger(__name__)


class _Default(enum.Enum):
    FROM_ENV = "from_env"


FROM_ENV: Final = _Default.FROM_ENV
"""`forward=FROM_ENV` (the default): choose the forward target from AGENTTRACE_FORWARD / OTEL_EXPORTER_OTLP_*."""


class RunTraceExporter(SpanExporter):
    """Writes spans to the local run store and forwards them to an OTLP backend.

    With no arguments (as `opentelemetry-instrument` builds it) everything comes from the
    environment: the store from AGENTTRACE_HOME, the forward target from AGENTTRACE_FORWARD and
    the standard OTEL_EXPORTER_OTLP_* variables, content forwarding from
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT; and an InFlightRecorder is installed on the
    global SDK TracerProvider so that a killed process leaves its open steps as incomplete.

    Args:
        store: a RunStore (not closed by this exporter), or a directory for one (closed on shutdown).
        forward: the exporter to forward to, None for no forwarding, or FROM_ENV.
        forward_content: forward content attributes (True) or strip them (False); None: from the env.
        inflight: install the start recorder on the global TracerProvider; None: only when `store`
            is None (the configurator's path). Code that wires a provider by hand calls
            `install_inflight_recorder(provider, exporter.store)` instead.
    """

    def __init__(
        self,
        store: RunStore | str | os.PathLike[str] | None = None,
        forward: SpanExporter | Literal[_Default.FROM_ENV] | None = FROM_ENV,
        forward_content: bool | None = None,
        *,
        inflight: bool | None = None,
    ) -> None:
        self._shutdown_done = False
        _logging.install()
        # Content beside the span (the switch unset) flows only while a run-trace exporter is open.
        CHANNEL.open()
        self._store_failures = FailureStreak(_log)
        self._owns_store = not isinstance(store, RunStore)
        self.store: RunStore | None
        if isinstance(store, RunStore):
            self.store = store
        else:
            try:
                self.store = RunStore(store)
            except Exception as exc:
                # Forwarding still works; the user learns why nothing is recorded locally.
                _log.error("agenttrace: runs are not recorded locally: %s", exc)
                self.store = None
        self.recorder: InFlightRecorder | None = None
        if self.store is not None and (inflight if inflight is not None else store is None):
            try:
                self.recorder = install_inflight_recorder(trace.get_tracer_provider(), self.store)
            except Exception as exc:
                _log.warning("agenttrace: cannot record span starts: %s", exc)
        if self.store is not None:
            RECORDINGS.attach()  # replay recordings now have a store to go to
        target = exporter_from_env() if forward is FROM_ENV else forward
        self.forwarder: Forwarder | None = None
        if target is not None:
            content = forward_content if forward_content is not None else forward_content_from_env()
            self.forwarder = Forwarder(target, forward_content=content)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown_done:
            return SpanExportResult.FAILURE
        ok = self._record(spans)
        if self.forwarder is not None:
            try:
                self.forwarder.submit(spans)
            except Exception as exc:
                _log.debug("agenttrace: cannot queue spans for forwarding: %s", exc)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def _record(self, spans: Sequence[ReadableSpan]) -> bool:
        store = self.store
        if store is None:
            for span in spans:
                CHANNEL.take(span)  # nothing leaves it behind
            return True
        try:
            finished: list[SpanRecord] = []
            starts: list[SpanRecord] = []
            for span in spans:
                content = CHANNEL.take(span)
                try:
                    record = from_readable_span(span)
                except Exception as exc:
                    _log.debug("agenttrace: skipping unreadable span %r: %s", getattr(span, "name", span), exc)
                    continue
                # A start record emitted as a span (agenttrace.span.started) stays incomplete in the store.
                if record.attributes.get(semconv.AGENTTRACE_SPAN_STARTED):
                    record.end_ns = None
                    starts.append(record)
                else:
                    if content:
                        record.attributes.update(content)
                    finished.append(record)
            # Starts first: a span whose start record and end share a batch must end up finished.
            if starts:
                store.write_starts(starts)
            store.write_spans(finished)
            write_recordings(store)
        except Exception as exc:
            self._store_failures.failed("agenttrace: cannot record spans in %s: %s", store.path, exc)
            return False
        self._store_failures.succeeded("agenttrace: recording spans in %s again", store.path)
        return True

    def record_lost(self, counts: Mapping[str, int]) -> None:
        """Spans of these runs (trace id -> count) were dropped before they reached us: the store marks the runs."""
        if self.store is not None and counts:
            try:
                self.store.add_lost(counts)
            except Exception as exc:
                self._store_failures.failed("agenttrace: cannot record lost spans in %s: %s", self.store.path, exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        ok = True
        try:
            if self.recorder is not None:
                ok = self.recorder.flush()
            if self.store is not None:
                write_recordings(self.store)
            if self.forwarder is not None:
                ok = self.forwarder.force_flush(timeout_millis) and ok
        except Exception as exc:
            _log.debug("agenttrace: flush failed: %s", exc)
            return False
        return ok

    def shutdown(self, timeout_millis: float = 30000) -> None:
        if self._shutdown_done:
            return
        self._shutdown_done = True
        CHANNEL.close()
        try:
            if self.recorder is not None:
                # Before the store closes: spans still open now are recorded as incomplete.
                self.recorder.shutdown()
            if self.forwarder is not None:
                self.forwarder.shutdown(timeout_millis)
            if self.store is not None:
                RECORDINGS.detach()
                write_recordings(self.store, final=True)
            if self.store is not None and self._owns_store:
                self.store.close()
        except Exception as exc:
            _log.debug("agenttrace: shutdown failed: %s", exc)


__all__ = ["FROM_ENV", "RunTraceExporter"]
