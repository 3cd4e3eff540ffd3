"""Forwarding to a backend: a thin wrapper that runs a real OTLP (or console) exporter on its own thread.

The exporter's `export()` only appends the batch to a bounded queue, so a backend that is down,
slow or refusing never delays the local store or the instrumented program. When the queue is full
the oldest batch is dropped and counted. Shutdown takes at most `SHUTDOWN_BUDGET_S` (2 s) in all,
however dead or slow the backend, and ends with one line saying how many spans were not forwarded
(failed, dropped or still queued). Forwarded copies have content attributes stripped unless
the user opted in to content (SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT: see docs/privacy.md); span
start records are never forwarded.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
)
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agenttrace import _settings, semconv
from otel_agenttrace._capture import forward_content
from otel_agenttrace.environment_variables import AGENTTRACE_FORWARD
from otel_agenttrace.exporter._quiet import instrumentation_suppressed
from otel_agenttrace.exporter._records import copy_span
from otel_agenttrace.exporter._streak import FailureStreak

_log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUED_SPANS: Final = 8192
# The whole of shutdown (draining the queue, stopping the exporter, joining its thread) fits in this:
# a backend that is down or never answers must not hold up the program's exit.
SHUTDOWN_BUDGET_S: Final = 2.0
SHUTDOWN_DRAIN_S: Final = SHUTDOWN_BUDGET_S  # the former name
WARN_INTERVAL_S: Final = 60.0

_OWN_NAME: Final = "agenttrace"  # our own entry point: forwarding to it would loop
_OTLP_NAMES: Final = frozenset({"otlp", "otlp_proto_http", "otlp_proto_grpc"})
_CONTENT: Final = semconv.CONTENT_ATTRIBUTES


# --- choosing the exporter --------------------------------------------------------------------


def forward_name_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The forward target AGENTTRACE_FORWARD names, or its default: `otlp` when an OTLP endpoint is set."""
    settings = _settings.current() if environ is None else None
    env = settings.environ if settings is not None else environ or {}
    name = settings.forward if settings is not None else env.get(AGENTTRACE_FORWARD, "").strip().lower()
    if name:
        return name
    if not (env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or env.get(OTEL_EXPORTER_OTLP_ENDPOINT)):
        return "none"
    sdk_exporters = {n.strip().lower() for n in env.get(OTEL_TRACES_EXPORTER, "").split(",")}
    if sdk_exporters & _OTLP_NAMES:
        # OTEL_TRACES_EXPORTER=agenttrace,otlp: the SDK ships to the endpoint itself; a second copy would duplicate.
        # Content the user kept local is beside the span, not on it: that exporter sends metadata only.
        return "none"
    return "otlp"


def exporter_from_env(environ: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The exporter to forward to, built the way OTel builds it (the OTLP exporters read OTEL_EXPORTER_OTLP_*)."""
    env = _settings.current().environ if environ is None else environ
    name = forward_name_from_env(environ)
    if name == "none":
        return None
    if name == "otlp":
        protocol = (env.get(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) or env.get(OTEL_EXPORTER_OTLP_PROTOCOL) or "").strip()
        if protocol.lower() == "grpc":
            name = "otlp_proto_grpc"
        else:
            if protocol and protocol.lower() != "http/protobuf":
                _log.warning(
                    "agenttrace: OTLP protocol %r is not supported here; forwarding with http/protobuf", protocol
                )
            name = "otlp_proto_http"
    try:
        return _build(name)
    except Exception as exc:
        _log.warning("agenttrace: cannot forward spans with %s=%s: %s", AGENTTRACE_FORWARD, name, exc)
        return None


def _build(name: str) -> SpanExporter | None:
    # Imported only when chosen: the gRPC stack is slow to import.
    if name == "otlp_proto_http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter

        return HTTPExporter()
    if name == "otlp_proto_grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter

        return GRPCExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != _OWN_NAME:
        # Any other installed traces exporter (zipkin, ...), found the way the SDK configurator finds it.
        from opentelemetry.util._importlib_metadata import entry_points

        for entry_point in entry_points(group="opentelemetry_traces_exporter", name=name):
            exporter = entry_point.load()()
            if isinstance(exporter, SpanExporter):
                return exporter
    _log.warning(
        "agenttrace: %s=%r is not one of none, otlp, otlp_proto_http, otlp_proto_grpc, console; not forwarding",
        AGENTTRACE_FORWARD,
        name,
    )
    return None


def forward_content_from_env() -> bool:
    """Whether content may be forwarded: only on an explicit SPAN_ONLY, EVENT_ONLY or SPAN_AND_EVENT."""
    return forward_content()


# --- stripping --------------------------------------------------------------------------------


def strip_content(span: ReadableSpan) -> ReadableSpan:
    """The span itself when it carries no content, else a lightweight copy without content attributes.

    The copy shares everything but the attribute dicts, so the original (which the store path
    reads) is never touched.
    """
    attributes = span.attributes or {}
    events = span.events
    strip_attributes = not _CONTENT.isdisjoint(attributes)
    strip_events = any(e.attributes and not _CONTENT.isdisjoint(e.attributes) for e in events)
    if not (strip_attributes or strip_events):
        return span
    return copy_span(
        span,
        attributes={k: v for k, v in attributes.items() if k not in _CONTENT} if strip_attributes else None,
        events=[_strip_event(e) for e in events] if strip_events else None,
    )


def _strip_event(event: Event) -> Event:
    attributes = event.attributes
    if not attributes or _CONTENT.isdisjoint(attributes):
        return event
    return Event(event.name, {k: v for k, v in attributes.items() if k not in _CONTENT}, event.timestamp)


def _clean(value: object) -> object:
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, (tuple, list)):
        return tuple(_clean(v) for v in value)
    return value


def _encodable_text(value: object) -> bool:
    if isinstance(value, str):
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, (tuple, list)):
        return all(_encodable_text(v) for v in value)
    return True


def _encodable_attributes(attributes: Mapping[str, object] | None) -> bool:
    return not attributes or all(_encodable_text(k) and _encodable_text(v) for k, v in attributes.items())


def _clean_attributes(attributes: Mapping[str, object] | None) -> dict[str, Any]:
    return {str(_clean(k)): _clean(v) for k, v in (attributes or {}).items()}


def encodable(span: ReadableSpan) -> ReadableSpan:
    """The span, or a copy whose strings are valid UTF-8 (a lone surrogate becomes `?`).

    Protobuf refuses a string with a lone surrogate, and one such value would fail the whole batch;
    this way it spoils only itself. Only the name, attributes and event attributes are checked: those
    are where program data goes.
    """
    if (
        _encodable_text(span.name)
        and _encodable_attributes(span.attributes)
        and all(_encodable_attributes(e.attributes) for e in span.events)
    ):
        return span
    return copy_span(
        span,
        name=str(_clean(span.name)),
        attributes=_clean_attributes(span.attributes),
        events=[Event(str(_clean(e.name)), _clean_attributes(e.attributes), e.timestamp) for e in span.events],
    )


def _is_start_record(span: ReadableSpan) -> bool:
    attributes = span.attributes
    return bool(attributes and attributes.get(semconv.AGENTTRACE_SPAN_STARTED))


# --- the forwarder ----------------------------------------------------------------------------


class Forwarder:
    """Runs `exporter` on a daemon thread behind a bounded queue; `submit` never blocks."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        forward_content: bool,
        max_queued_spans: int = DEFAULT_MAX_QUEUED_SPANS,
        drain_timeout_s: float = SHUTDOWN_BUDGET_S,
    ) -> None:
        self.exporter = exporter
        self.forward_content = forward_content
        self._max_queued = max(1, max_queued_spans)
        self._drain_timeout_s = drain_timeout_s
        self._queue: collections.deque[Sequence[ReadableSpan]] = collections.deque()
        self._queued = 0
        self._busy = 0  # spans of the batch being exported, 0 when idle
        self._closed = False
        self._cond = threading.Condition()
        self.dropped_spans = 0
        self.failed_spans = 0
        self._unreported = 0
        self._next_warning = 0.0
        self._failures = FailureStreak(_log)
        self._thread = self._start_thread()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:
                forwarder = ref()
                if forwarder is not None and not forwarder._closed:
                    forwarder._cond = threading.Condition()
                    forwarder._queue.clear()
                    forwarder._queued = 0
                    forwarder._busy = 0
                    forwarder.dropped_spans = forwarder.failed_spans = forwarder._unreported = 0
                    forwarder._thread = forwarder._start_thread()

            os.register_at_fork(after_in_child=_after_fork)

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="AgentTraceForwarder", daemon=True)
        thread.start()
        return thread

    def submit(self, spans: Sequence[ReadableSpan]) -> None:
        """Queue a batch for the backend; drops the oldest batches when the queue is full."""
        if not spans:
            return
        dropped = 0
        with self._cond:
            if self._closed:
                return
            self._queue.append(spans)
            self._queued += len(spans)
            # The newest batch always stays, even when it alone is larger than the bound.
            while self._queued > self._max_queued and len(self._queue) > 1:
                old = self._queue.popleft()
                self._queued -= len(old)
                dropped += len(old)
            self._cond.notify()
        if dropped:
            self._count_dropped(dropped)

    def _count_dropped(self, count: int) -> None:
        with self._cond:
            self.dropped_spans += count
            self._unreported += count
            now = time.monotonic()
            if now < self._next_warning:
                return
            self._next_warning = now + WARN_INTERVAL_S
            count, self._unreported = self._unreported, 0
        _log.warning(
            "agenttrace: the OTLP backend is not keeping up; dropped %d spans not yet forwarded"
            " (%d in total; the local run store has them all)",
            count,
            self.dropped_spans,
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue.popleft()
                self._queued -= len(batch)
                self._busy = len(batch)
            failed = 0
            try:
                failed = self._export(batch)
            finally:
                with self._cond:
                    self._busy = 0
                    self.failed_spans += failed
                    self._cond.notify_all()

    def _export(self, batch: Sequence[ReadableSpan]) -> int:
        """Export one batch; the number of spans that did not reach the backend."""
        spans: list[ReadableSpan] = []
        try:
            spans = [s for s in batch if not _is_start_record(s)]
            if not self.forward_content:
                spans = [strip_content(s) for s in spans]
            spans = [encodable(s) for s in spans]
            if not spans:
                return 0
            with instrumentation_suppressed():
                result = self.exporter.export(spans)
        except Exception as exc:  # the real exporters log their own failures; this is for the unexpected
            self._failures.failed("agenttrace: forwarding spans failed: %s", exc)
            return len(spans)
        if result is not SpanExportResult.SUCCESS:
            return len(spans)
        self._failures.succeeded()
        return 0

    def force_flush(self, timeout_millis: float = 30000) -> bool:
        """Wait until everything queued has been handed to the exporter (or the timeout passes)."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        try:
            return bool(self.exporter.force_flush(int(max(0.0, deadline - time.monotonic()) * 1000)))
        except Exception:
            return False

    def shutdown(self, timeout_millis: float = 30000) -> None:
        """Give the backend what is left of the shutdown budget, then stop; one line on what was not forwarded."""
        deadline = time.monotonic() + min(timeout_millis / 1000, self._drain_timeout_s)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            # Keep a quarter of the budget for stopping the exporter and its thread.
            drain_until = deadline - self._drain_timeout_s / 4
            while (self._queue or self._busy) and self._thread.is_alive():
                remaining = drain_until - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            left = self._queued
            self._queue.clear()
            self._queued = 0
        # The OTLP exporters abort their retry back-off on shutdown, which frees the thread; a request
        # stuck on a socket is not waited for (the threads are daemons).
        stopper = threading.Thread(target=self._stop_exporter, name="AgentTraceForwarderShutdown", daemon=True)
        stopper.start()
        stopper.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not threading.current_thread():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            in_flight = self._busy
            lost = left + in_flight + self.failed_spans + self.dropped_spans
        if lost:
            _log.warning(
                "agenttrace: %d spans could not be forwarded to the OTLP backend (the local run store has them all)",
                lost,
            )
        self._unreported = 0

    def _stop_exporter(self) -> None:
        try:
            with instrumentation_suppressed():  # a shutdown may still send
                self.exporter.shutdown()
        except Exception as exc:
            _log.debug("agenttrace: forward exporter shutdown failed: %s", exc)
