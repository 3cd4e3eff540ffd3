"""Exports run with instrumentation suppressed, as the OTel SDK's own processors do.

Without it, an HTTP client instrumentation in the same process (requests, urllib3, httpx) traces the
OTLP exporter's own requests, and every batch we forward shows up as spans of a new run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value


@contextmanager
def instrumentation_suppressed() -> Iterator[None]:
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        detach(token)
