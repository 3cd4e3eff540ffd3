"""The GenAI histograms, recorded off the caller's thread.

One histogram record in the OpenTelemetry SDK costs about as much as a third of a whole span
(attribute cleaning and hashing per record), and an LLM call makes three. The call hands its
measurements to a deque (one append) and a daemon thread records them in batches, so the
instrumented call pays for the span only. `flush()` records whatever is queued; it runs before the
SDK's own exit hook (atexit is LIFO and ours registers later), on `uninstrument()`, and when asked.

One call, measured once: when our SDK span starts inside another instrumentation's LLM span for the
same call (the current span is that instrumentation's GenAI LLM span: Pydantic AI's `chat` span with
`Agent.instrument_all()`, openai-v2 patched around ours), the metrics that instrumentation records for
the call are not recorded by ours as well; the ones it does not record still are. Which peer records
which metric is the table PEER_METRICS (docs/configuration.md lists it): an instrumentation not in it
keeps ours (a metric is never lost). A peer's span inside ours is not seen when ours starts: then both
record (documented).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Histogram
from opentelemetry.trace import Span, get_current_span

from otel_agenttrace import semconv

# The thread records what is queued when a call that took `_SLOW_S` or more (its caller waited in it, and will
# likely wait again, so the thread runs then) or the `_WAKE_AT`-th queued measurement wakes it, and every
# `_IDLE_S` otherwise. Not on a short timer: a thread that wakes while the caller never blocks waits for the
# GIL, and is woken again at each of the caller's brief releases of it (the SDKs' one `getrandom` a call), a
# futex wake on the caller's thread every time: 3541-5145 of them on the caller's thread in 6000 OpenAI chat
# calls over a mock transport with a 0.5 s timer, 749-1354 without it.
_IDLE_S = 5.0
_SLOW_S = 0.01
_WAKE_AT = 1024
_MAX_QUEUED = 65536  # beyond this the oldest measurements are dropped (a stuck SDK must not grow memory)

NONE: frozenset[str] = frozenset()
# Instrumentation scope of another GenAI instrumentation -> the gen_ai.client.* metrics it records per call.
PEER_METRICS: dict[str, frozenset[str]] = {
    # pydantic_ai/models/instrumented.py: gen_ai.client.token.usage (and its own operation.cost), no duration
    "pydantic-ai": frozenset({semconv.Metric.TOKEN_USAGE}),
    # opentelemetry-instrumentation-openai-v2 (instruments.py): both histograms
    "opentelemetry.instrumentation.openai_v2": frozenset(
        {semconv.Metric.TOKEN_USAGE, semconv.Metric.OPERATION_DURATION}
    ),
}
_LLM_OPERATIONS = frozenset({*semconv.LLM_OPERATIONS, "generate_content"})


def measured_by_peer(span: Span) -> frozenset[str]:
    """The metrics another instrumentation records for the call whose span `span` is, when it is that
    instrumentation's GenAI LLM span (call it with the current span as ours starts); else none."""
    scope = getattr(span, "instrumentation_scope", None)  # SDK spans; a non-recording span has none
    metrics = PEER_METRICS.get(scope.name) if scope is not None else None
    if not metrics:
        return NONE
    attributes = getattr(span, "attributes", None) or {}
    return metrics if attributes.get(semconv.GEN_AI_OPERATION_NAME) in _LLM_OPERATIONS else NONE


def _held() -> threading.Lock:
    """The recorder's wake-up: a lock held while there is nothing new, released by a call to wake the thread,
    which waits by acquiring it. A call's `release()` is one C call, where `Event.set()` takes a Condition's
    lock and notifies in Python (~20 lines: a few thousand instructions on every call of 10 ms or more)."""
    lock = threading.Lock()
    lock.acquire()
    return lock


def _wake(lock: threading.Lock) -> None:
    if lock.locked():
        try:  # noqa: SIM105 - contextlib.suppress is two Python calls more on every slow call
            lock.release()
        except RuntimeError:  # another call released it first: the thread is woken already
            pass


class MetricsRecorder:
    def __init__(self, duration: Histogram, tokens: Histogram, keys: tuple[str, ...] | None = None) -> None:
        self._duration = duration
        self._tokens = tokens
        # The metric attributes among a call's span attributes: picked here, on the recording thread,
        # from the mapping the call handed over (it no longer changes once the span has ended).
        self._keys = keys
        self._queue: deque[tuple[float | None, Mapping[str, Any], Context | None]] = deque(maxlen=_MAX_QUEUED)
        self._wake = _held()
        self._lock = threading.Lock()  # one drain at a time
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(self.close)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def record(self, seconds: float, attrs: Mapping[str, Any], outer: Context | None = None) -> None:
        """One call's measurements: its duration and its final span attributes (token counts among them).
        `outer`: the context the call started in, whose span may be another instrumentation's for the same
        call (`measured_by_peer`: its metrics are not recorded again here), looked at on the recording thread."""
        queue = self._queue
        queue.append((seconds, attrs, outer))
        if self._thread is None:
            if not self._closed:
                self._start()
        elif seconds >= _SLOW_S or len(queue) >= _WAKE_AT:
            _wake(self._wake)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="agenttrace-metrics", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.acquire(timeout=_IDLE_S)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            queue, duration, tokens, keys = self._queue, self._duration, self._tokens, self._keys
            while queue:
                try:
                    seconds, attrs, outer = queue.popleft()
                except IndexError:
                    return
                input_tokens = attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
                output_tokens = attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
                peer = measured_by_peer(get_current_span(outer)) if outer is not None else NONE
                if peer:
                    if semconv.Metric.TOKEN_USAGE in peer:
                        input_tokens = output_tokens = None
                    if semconv.Metric.OPERATION_DURATION in peer:
                        seconds = None
                if keys is not None:
                    attrs = {k: attrs[k] for k in keys if k in attrs}
                if seconds is not None:
                    duration.record(seconds, attrs)
                if input_tokens is not None:
                    tokens.record(input_tokens, {**attrs, semconv.GEN_AI_TOKEN_TYPE: "input"})
                if output_tokens is not None:
                    tokens.record(output_tokens, {**attrs, semconv.GEN_AI_TOKEN_TYPE: "output"})

    def close(self) -> None:
        self._closed = True
        _wake(self._wake)
        self.flush()

    def _after_fork(self) -> None:
        self._thread = None
        self._lock = threading.Lock()
        self._wake = _held()  # the parent's thread may have been waiting on it
        self._queue.clear()
