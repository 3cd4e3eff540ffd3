"""The run context crosses `multiprocessing` into spawn and forkserver children.

A forked child inherits the parent's context (the current span), so its steps land in the
parent's run by themselves. A spawned or forkserver child starts a fresh interpreter: without help
it would become a run of its own. `Process.start()` therefore stores the current span context as
a W3C `traceparent` carrier on the Process object (which multiprocessing pickles into the child),
and the child's `_bootstrap` (which calls `run()`, overridden or not) attaches it when the child
has no current span of its own. A pool's workers are processes too: they take the context in
which the pool was created.

Code that starts workers another way (subprocess, a job queue) passes the carrier itself:
`otel_agenttrace.run_context()` in the parent, `with otel_agenttrace.attach_run_context(carrier):`
in the worker (see docs/api.md).

A pool worker (`multiprocessing.Pool`, `concurrent.futures.ProcessPoolExecutor`) hands each result
back through one queue, and the parent may end the worker the moment it has the last one
(`Pool.terminate()`, SIGTERM: no exit hook runs). So in the worker's `_bootstrap` that queue is
wrapped: its `put` first writes every finished span (`exporter._batch.flush_finished`). A task's steps
are then in the store before its result can reach the parent. `RunSpanProcessor` asks for this hook
(`install_result_flush()`); it costs nothing in a process that is not a pool worker.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_log = logging.getLogger(__name__)
_ATTR = "_agenttrace_carrier"
_propagator = TraceContextTextMapPropagator()
_installed = False  # the run context crosses into children (install/uninstall)
_bootstrap_wrapped = False
_result_flush = False  # pool workers write their finished spans before handing back a result


def run_context() -> dict[str, str]:
    """The current run context as a small dict of strings (W3C traceparent/tracestate): pass it to a worker."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


@contextlib.contextmanager
def attach_run_context(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make the steps inside this block part of the run `carrier` (from `run_context()`) came from."""
    token = None
    if carrier and not trace.get_current_span().get_span_context().is_valid:
        token = otel_context.attach(_propagator.extract(dict(carrier)))
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


def _start(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        carrier = run_context()
        if carrier:
            setattr(instance, _ATTR, carrier)
    except Exception as exc:  # never stop the user's process from starting
        _log.debug("agenttrace: cannot pass the run context to %r: %s", instance, exc)
    return wrapped(*args, **kwargs)


def _flush_finished() -> None:
    batch = sys.modules.get("otel_agenttrace.exporter._batch")
    if batch is None:  # no RunSpanProcessor was ever made here: nothing to write
        return
    try:
        batch.flush_finished()
    except Exception as exc:  # the result goes back whatever happens
        _log.debug("agenttrace: cannot write finished spans before a pool result: %s", exc)


class _FlushingResultQueue(wrapt.ObjectProxy):  # type: ignore[misc]
    """A pool worker's result queue: the finished spans are written before a result is put."""

    def put(self, *args: Any, **kwargs: Any) -> Any:
        _flush_finished()
        return self.__wrapped__.put(*args, **kwargs)


def _result_queue_index(target: Any) -> int | None:
    """Where a pool worker function takes its result queue: `worker(inqueue, outqueue, ...)` and
    `_process_worker(call_queue, result_queue, ...)`. Both are passed positionally by their pools."""
    if target is None:
        return None
    pool = sys.modules.get("multiprocessing.pool")
    if pool is not None and target is getattr(pool, "worker", None):
        return 1
    futures = sys.modules.get("concurrent.futures.process")
    if futures is not None and target is getattr(futures, "_process_worker", None):
        return 1
    return None


def _flush_results_of(process: Any) -> None:
    # In the worker, after unpickling (spawn) or fork: the parent's Process object is never changed.
    try:
        index = _result_queue_index(getattr(process, "_target", None))
        worker_args = getattr(process, "_args", None)
        if index is None or not isinstance(worker_args, tuple) or len(worker_args) <= index:
            return
        queue = worker_args[index]
        if not isinstance(queue, _FlushingResultQueue):
            process._args = (*worker_args[:index], _FlushingResultQueue(queue), *worker_args[index + 1 :])
    except Exception as exc:
        _log.debug("agenttrace: cannot hook the result queue of %r: %s", process, exc)


def _bootstrap(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if _result_flush:
        _flush_results_of(instance)
    carrier = getattr(instance, _ATTR, None) if _installed else None
    if not carrier:
        return wrapped(*args, **kwargs)
    with attach_run_context(carrier):
        return wrapped(*args, **kwargs)


def _wrap_bootstrap() -> None:
    global _bootstrap_wrapped
    if not _bootstrap_wrapped:
        wrapt.wrap_function_wrapper("multiprocessing.process", "BaseProcess._bootstrap", _bootstrap)
        _bootstrap_wrapped = True


def install_result_flush() -> None:
    """Pool workers write their finished spans before they hand a result back (asked for by RunSpanProcessor)."""
    global _result_flush
    if not _result_flush:
        _wrap_bootstrap()
        _result_flush = True


def install() -> None:
    global _installed
    if _installed:
        return
    wrapt.wrap_function_wrapper("multiprocessing.process", "BaseProcess.start", _start)
    _wrap_bootstrap()
    _installed = True


def uninstall() -> None:
    """Stop passing the run context. The result flush stays while a RunSpanProcessor wants it."""
    global _installed, _bootstrap_wrapped
    if not _installed:
        return
    from multiprocessing.process import BaseProcess

    unwrap(BaseProcess, "start")
    if _bootstrap_wrapped and not _result_flush:
        unwrap(BaseProcess, "_bootstrap")
        _bootstrap_wrapped = False
    _installed = False
