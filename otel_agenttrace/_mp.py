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
"""

from __future__ import annotations

import contextlib
import logging
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
_installed = False


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


def _bootstrap(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    carrier = getattr(instance, _ATTR, None)
    if not carrier:
        return wrapped(*args, **kwargs)
    with attach_run_context(carrier):
        return wrapped(*args, **kwargs)


def install() -> None:
    global _installed
    if _installed:
        return
    wrapt.wrap_function_wrapper("multiprocessing.process", "BaseProcess.start", _start)
    wrapt.wrap_function_wrapper("multiprocessing.process", "BaseProcess._bootstrap", _bootstrap)
    _installed = True


def uninstall() -> None:
    global _installed
    if not _installed:
        return
    from multiprocessing.process import BaseProcess

    unwrap(BaseProcess, "start")
    unwrap(BaseProcess, "_bootstrap")
    _installed = False
