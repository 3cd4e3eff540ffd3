"""The check every command runs on a run trace before it writes one (`dump`, and any later writer).

A document that does not match semconv/run-trace.schema.json is a bug of ours, not bad input: the
writer refuses it with one line. The check runs on every dump, so it uses jsonschema-rs (a 10,000-step
run checks in about 0.1 s; the pure-Python jsonschema takes tens of seconds); the pure-Python
validator, when installed, only words the message of a failure (its best_match is the clearer one).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Any

from otel_agenttrace.exporter._records import TraceFormatError
from otel_agenttrace.exporter._schema import SCHEMA_VERSION, check_run_trace, load_schema, validate


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(load_schema())


def check_before_write(doc: Any) -> None:
    """Raise TraceFormatError (one line, naming where) unless `doc` matches the run-trace schema."""
    check_run_trace(doc)
    validator = _validator()
    if validator.is_valid(doc):
        return
    with contextlib.suppress(RuntimeError):  # jsonschema is not installed: jsonschema-rs words it
        validate(doc)  # raises the precise message
    error = next(iter(validator.iter_errors(doc)))
    where = "/".join(str(p) for p in error.instance_path) or "(root)"
    message = " ".join(str(error.message).split())
    if len(message) > 200:
        message = message[:197] + "..."
    raise TraceFormatError(f"run trace does not match schema v{SCHEMA_VERSION} at {where}: {message}")
