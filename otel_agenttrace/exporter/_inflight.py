"""Records span starts, so a process killed mid-run leaves its open steps in the store as incomplete.

`on_start` only appends the span to a deque (it runs on the instrumented program's thread); a
daemon thread, woken by the first start since its last write, waits ~100 ms and writes start records
of the spans that are still open. A span that has already ended by then is skipped: the exporter
writes its finished form, and a start record would only double the store's write load. Nothing else
is written here. A process that starts no span never wakes the thread (it used to poll every 100 ms:
ten wake-ups a second, each taking the GIL, in every idle process that loaded the exporter).

How the recorder gets onto the TracerProvider: `opentelemetry-instrument` builds the SDK
TracerProvider, makes it global, and only then constructs the exporter (with no arguments) for its
BatchSpanProcessor. So a `RunTraceExporter()` built without an explicit store installs a recorder
on the global SDK provider from its constructor; code that wires the SDK by hand calls
`install_inflight_recorder(provider, store)` (or passes `inflight=True`). One recorder per
provider and store, however often it is asked for.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
import weakref
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from otel_agenttrace._forksafe import renew_after_fork
from otel_agenttrace.exporter._records import SpanRecord, from_readable_span
from otel_agenttrace.exporter._streak import FailureStreak
from otel_agenttrace.exporter.store import RunStore

_log = logging.getLogger(__name__)

FLUSH_INTERVAL_S: Final = 0.1
# Far more spans than any agent starts in 100 ms; the bound only guards memory if writes stall.
MAX_PENDING: Final = 100_000


class InFlightRecorder(SpanProcessor):
    """A SpanProcessor that writes start records of still-open spans to a RunStore."""

    def __init__(self, store: RunStore, *, interval_s: float = FLUSH_INTERVAL_S, max_pending: int = MAX_PENDING):
        self.store = store
        self._interval_s = interval_s
        self._pending: collections.deque[Span] = collections.deque(maxlen=max_pending)
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()  # set by a span start the thread has not yet written (or by shutdown)
        self._stopping = threading.Event()
        self._stopped = False
        self._failures = FailureStreak(_log)
        self._thread = self._start_thread()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:
                recorder = ref()
                if recorder is not None and not recorder._stopped:
                    # Threads do not survive fork: start the child's own, with the parent's spans dropped.
                    recorder._pending.clear()
                    recorder._flush_lock = threading.Lock()
                    recorder._wake = threading.Event()
                    recorder._stopping = threading.Event()
                    recorder._thread = recorder._start_thread()

            os.register_at_fork(after_in_child=_after_fork)

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="AgentTraceInFlightRecorder", daemon=True)
        thread.start()
        return thread

    # -- SpanProcessor ------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        context = span.context
        # Unsampled spans are never exported: recording their start would leave them incomplete forever.
        if not self._stopped and context is not None and context.trace_flags.sampled:
            self._pending.append(span)
            # After the append: a flush that cleared the flag before it either drains this span or is
            # followed by this set (one syscall-free read a span; a wake-up at most once a flush).
            if not self._wake.is_set():
                self._wake.set()

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        # Spans still open now never end in this process: their starts are what the store keeps.
        self.flush()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.flush()

    # -- writing ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopped:
                break
            # Starts gather for an interval; a span that ends within it is never written here.
            if self._stopping.wait(self._interval_s):
                break
            self._wake.clear()  # before the drain: a start from now on sets it again
            self.flush()

    def flush(self) -> bool:
        """Write start records of the spans started since the last flush that are still open."""
        with self._flush_lock:
            pending = self._pending
            spans = [pending.popleft() for _ in range(len(pending))]
            if not spans:
                return True
            store = self.store
            try:
                # Under the store's lock no finished write can land between "still open?" and the write,
                # so a span that ends meanwhile never leaves a stale start behind.
                with store.lock:
                    records = [r for r in map(_start_record, spans) if r is not None]
                    if records:
                        store.write_starts(records)
            except Exception as exc:  # never into the instrumented program, never kill this thread
                self._failures.failed("agenttrace: cannot record span starts in %s: %s", store.path, exc)
                return False
            self._failures.succeeded("agenttrace: recording span starts in %s again", store.path)
            return True


def _start_record(span: Span) -> SpanRecord | None:
    if span.end_time is not None:
        return None  # ended: the exporter writes it whole
    # The span is live: another thread may be setting attributes while we read them.
    for _ in range(3):
        try:
            record = from_readable_span(span)
        except RuntimeError:
            continue
        except Exception as exc:
            _log.debug("agenttrace: cannot read span start %r: %s", span.name, exc)
            return None
        record.end_ns = None
        return record
    return None


_installed: weakref.WeakKeyDictionary[Any, dict[str, InFlightRecorder]] = weakref.WeakKeyDictionary()
_installed_lock = threading.Lock()
renew_after_fork(sys.modules[__name__], _installed_lock=threading.Lock)


def install_inflight_recorder(tracer_provider: Any, store: RunStore) -> InFlightRecorder | None:
    """Add an InFlightRecorder for `store` to an SDK TracerProvider (once per provider and store).

    Returns the recorder, or None when the provider is not an SDK TracerProvider (the API's no-op
    or proxy provider has no span processors to add to).
    """
    add = getattr(tracer_provider, "add_span_processor", None)
    if add is None:
        _log.debug("agenttrace: %r takes no span processors; span starts are not recorded", tracer_provider)
        return None
    key = str(store.path.resolve())
    with _installed_lock:
        try:
            recorders = _installed.setdefault(tracer_provider, {})
        except TypeError:  # not weak-referenceable: install without remembering
            recorders = {}
        recorder = recorders.get(key)
        if recorder is not None and not recorder._stopped and recorder.store is store:
            return recorder
        recorder = InFlightRecorder(store)
        add(recorder)
        recorders[key] = recorder
        return recorder


__all__ = ["FLUSH_INTERVAL_S", "InFlightRecorder", "install_inflight_recorder"]
