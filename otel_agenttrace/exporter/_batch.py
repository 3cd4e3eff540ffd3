"""The span processor `agenttrace run` puts in front of the run-trace exporter: batches without loss.

The SDK's BatchSpanProcessor drops spans when its queue (2048) is full, which a program making
tool calls in a tight loop reaches in milliseconds, and says so only in a log line. This one:

- queues up to `max_queue_size` spans (default 65,536) and exports in large batches, so the store
  (one transaction per batch) keeps up with far more spans per second than a program makes;
- applies backpressure when the queue is full anyway: the thread ending a span waits for room (at
  most `BLOCK_LIMIT_S` per span), instead of dropping it. It never waits on the export thread
  itself, after shutdown, or when the export thread is gone;
- counts every span it still has to drop, per run, and hands the counts to the exporter, which
  stores them: `list`, `show` and `dump` then say "lost N spans" for that run;
- survives `fork`: the child gets an empty queue and its own export thread. Python has no exit hook
  for `os._exit` (which multiprocessing uses to end its children) nor for a pool worker that
  `Pool.terminate()` kills, so in a forked child: a span that ends with no parent started in that
  child (a pool task, the work of a forked child) is exported at once, on the ending thread (at
  most once per `CHILD_FLUSH_INTERVAL_S`; in a burst the export thread takes the rest right away);
  `os._exit` flushes first (the child's `os._exit` is wrapped); and a multiprocessing child also
  flushes through `multiprocessing.util.Finalize`;
- writes a pool worker's finished spans before the worker hands a task's result back (fork, spawn
  or forkserver; `multiprocessing.Pool` and `concurrent.futures.ProcessPoolExecutor`): `_mp` gives
  the worker a result queue whose `put` calls `flush_finished()` first. So once the parent holds a
  result, the task's steps are in the store, and `Pool.terminate()` (SIGTERM, no exit hook) can no
  longer beat them. Nothing runs outside pool workers: a program without one pays nothing.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Final, NoReturn

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from otel_agenttrace import _mp
from otel_agenttrace.exporter._quiet import instrumentation_suppressed

_log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUE_SIZE: Final = 65_536
DEFAULT_MAX_EXPORT_BATCH_SIZE: Final = 4096
DEFAULT_SCHEDULE_DELAY_S: Final = 0.2
# The longest a span's end waits for room in a full queue before the span is dropped (and counted).
BLOCK_LIMIT_S: Final = 10.0
# In a forked child: the least time between two exports on the thread that ends a local root.
CHILD_FLUSH_INTERVAL_S: Final = 0.02
# How long a forked child's os._exit may spend writing what is queued.
EXIT_FLUSH_BUDGET_S: Final = 2.0
# How long a pool worker handing back a result waits for an export already under way on the export thread.
HANDOFF_WAIT_S: Final = 10.0

LostCallback = Callable[[Mapping[str, int]], None]


class RunSpanProcessor(SpanProcessor):
    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_export_batch_size: int = DEFAULT_MAX_EXPORT_BATCH_SIZE,
        schedule_delay_s: float = DEFAULT_SCHEDULE_DELAY_S,
        block_limit_s: float = BLOCK_LIMIT_S,
        on_lost: LostCallback | None = None,
    ) -> None:
        self.exporter = exporter
        self._max_queue = max(1, max_queue_size)
        self._batch_size = max(1, min(max_export_batch_size, self._max_queue))
        self._delay_s = max(0.0, schedule_delay_s)
        self._block_limit_s = block_limit_s
        self._on_lost = on_lost
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._export_lock = threading.Lock()  # one export at a time: the worker's or a synchronous flush
        self._busy = False
        self._shutdown = False
        self._lost: dict[str, int] = {}
        self.dropped_spans = 0
        self._forked = False
        self._started_here: set[int] = set()
        self._next_child_flush = 0.0
        self._thread = self._start_thread()
        _live.add(self)
        _mp.install_result_flush()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork() -> None:
                processor = ref()
                if processor is not None:
                    processor._after_fork_in_child()

            os.register_at_fork(after_in_child=_after_fork)

    def _start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="AgentTraceSpanProcessor", daemon=True)
        thread.start()
        return thread

    # -- SpanProcessor ------------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._forked:
            context = span.context
            if context is not None:
                self._started_here.add(context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        local_root = False
        if self._forked:
            self._started_here.discard(context.span_id)
            parent = span.parent
            local_root = parent is None or parent.span_id not in self._started_here
        with self._cond:
            if self._shutdown:
                self._drop(span)
                return
            if len(self._queue) >= self._max_queue and not self._wait_for_room():
                self._drop(span)
                return
            self._queue.append(span)
            if len(self._queue) >= self._batch_size:
                self._cond.notify_all()
        if local_root:
            # A forked child may vanish at any moment after its work (os._exit, Pool.terminate): write it now.
            now = time.monotonic()
            if now >= self._next_child_flush:
                self._next_child_flush = now + CHILD_FLUSH_INTERVAL_S
                self._flush_here()
            else:
                with self._cond:
                    self._cond.notify_all()

    def _wait_for_room(self) -> bool:
        """Called holding the condition with a full queue: backpressure, where it is safe."""
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return False
        deadline = time.monotonic() + self._block_limit_s
        self._cond.notify_all()
        while len(self._queue) >= self._max_queue and not self._shutdown:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._cond.wait(remaining)
        return not self._shutdown

    def _drop(self, span: ReadableSpan) -> None:
        self.dropped_spans += 1
        trace_id = format(span.context.trace_id, "032x") if span.context is not None else ""
        self._lost[trace_id] = self._lost.get(trace_id, 0) + 1

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            self._cond.notify_all()
            while (self._queue or self._busy) and self._thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        if self._queue:  # no worker (it died, or we are it): export here
            self._flush_here()
        self._report_lost()
        return bool(self.exporter.force_flush(max(0, int((deadline - time.monotonic()) * 1000))))

    def shutdown(self) -> None:
        with self._cond:
            if self._shutdown:
                return
            self._shutdown = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._flush_here()
        self._report_lost()
        if self.dropped_spans:
            _log.warning(
                "agenttrace: %d spans were dropped before reaching the run store (marked as lost on their runs)",
                self.dropped_spans,
            )
        self.exporter.shutdown()

    # -- the export thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._shutdown and len(self._queue) < self._batch_size:
                    # In a forked child a local root's end wakes us early: export what is there.
                    self._cond.wait(self._delay_s)
                if self._shutdown:
                    return  # shutdown() exports what is left
                batch = self._take()
                self._busy = bool(batch)
            try:
                if batch:
                    self._export(batch)
                self._report_lost()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _take(self) -> list[ReadableSpan]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(len(queue), self._batch_size))]

    def _export(self, batch: Sequence[ReadableSpan]) -> None:
        with self._export_lock, instrumentation_suppressed():
            try:
                self.exporter.export(batch)
            except Exception as exc:  # the exporter logs its own failures; never kill this thread
                _log.debug("agenttrace: export failed: %s", exc)

    def _flush_here(self) -> None:
        """Export everything queued on the calling thread."""
        while True:
            with self._cond:
                batch = self._take()
                if batch:
                    self._cond.notify_all()
            if not batch:
                return
            self._export(batch)

    def _flush_finished(self, deadline: float) -> None:
        """Export what is queued here, then wait for an export the worker thread has under way: on return,
        every span that ended before the call is written (or the deadline passed)."""
        if self._shutdown:
            return
        self._flush_here()
        with self._cond:
            while self._busy and self._thread.is_alive() and threading.current_thread() is not self._thread:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)
        self._report_lost()

    def _report_lost(self) -> None:
        with self._cond:
            lost, self._lost = self._lost, {}
        if lost and self._on_lost is not None:
            try:
                self._on_lost(lost)
            except Exception as exc:
                _log.debug("agenttrace: cannot record lost spans: %s", exc)

    # -- fork ---------------------------------------------------------------------------------

    def _after_fork_in_child(self) -> None:
        # The parent's queued spans are the parent's to export; the child starts empty, with its own thread.
        self._cond = threading.Condition(threading.Lock())
        self._export_lock = threading.Lock()
        self._queue.clear()
        self._busy = False
        self._lost = {}
        self.dropped_spans = 0
        self._forked = True
        self._started_here = set()
        if self._shutdown:
            return
        self._thread = self._start_thread()
        _flush_before_os_exit(self)
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            # multiprocessing ends its children with os._exit after running its finalizers.
            mp_util.Finalize(self, RunSpanProcessor._flush_at_exit, args=(weakref.ref(self),), exitpriority=100)

    @staticmethod
    def _flush_at_exit(ref: weakref.ref[RunSpanProcessor]) -> None:
        processor = ref()
        if processor is not None and not processor._shutdown:
            processor._flush_here()
            processor._report_lost()


_live: weakref.WeakSet[RunSpanProcessor] = weakref.WeakSet()


def flush_finished(wait_s: float = HANDOFF_WAIT_S) -> None:
    """Write every span that has ended so far, on the calling thread, through every RunSpanProcessor.

    A pool worker calls this (through `_mp`) before it hands a result back: the parent may end the
    worker (`Pool.terminate()`) as soon as it has the result."""
    deadline = time.monotonic() + wait_s
    for processor in list(_live):
        processor._flush_finished(deadline)


_exit_flushers: weakref.WeakSet[RunSpanProcessor] = weakref.WeakSet()
_real_os_exit = os._exit


def _os_exit_flushing(status: int) -> NoReturn:
    try:
        deadline = time.monotonic() + EXIT_FLUSH_BUDGET_S
        for processor in list(_exit_flushers):
            if not processor._shutdown and time.monotonic() < deadline:
                processor._flush_here()
                processor._report_lost()
    except BaseException:  # nothing may stop the exit the program asked for
        pass
    _real_os_exit(status)


def _flush_before_os_exit(processor: RunSpanProcessor) -> None:
    """In a forked child: os._exit writes the child's queued spans first (it has no hook of its own)."""
    _exit_flushers.add(processor)
    if os._exit is not _os_exit_flushing:
        os._exit = _os_exit_flushing


def _env_number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        _log.warning("agenttrace: %s=%r is not a number; using %s", name, raw, default)
        return default
    return value if value > 0 else default


def processor_for(exporter: SpanExporter, environ: Mapping[str, str] | None = None) -> RunSpanProcessor:
    """A RunSpanProcessor for `exporter`, sized by OTEL_BSP_* where the user set them, else by our defaults."""
    env = os.environ if environ is None else environ
    on_lost = getattr(exporter, "record_lost", None)
    return RunSpanProcessor(
        exporter,
        max_queue_size=int(_env_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE)),
        max_export_batch_size=int(_env_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_MAX_EXPORT_BATCH_SIZE)),
        schedule_delay_s=_env_number(env, "OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY_S * 1000) / 1000,
        on_lost=on_lost if callable(on_lost) else None,
    )


__all__ = [
    "DEFAULT_MAX_EXPORT_BATCH_SIZE",
    "DEFAULT_MAX_QUEUE_SIZE",
    "RunSpanProcessor",
    "flush_finished",
    "processor_for",
]
