"""The run-trace JSON Schema: its version, the packaged copy, and the checks a reader runs.

semconv/run-trace.schema.json is the published file; the package ships a byte-identical copy
(run-trace.schema.json next to this module, kept equal by a test) because semconv/ is not installed.
jsonschema is imported only by validate(): reading and writing run traces does not need it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from otel_agenttrace.exporter._records import TraceFormatError

SCHEMA_VERSION = 2
_SCHEMA_FILE = "run-trace.schema.json"


class SchemaVersionError(TraceFormatError):
    """A run trace written by a newer otel-agenttrace than this one."""


def load_schema() -> dict[str, Any]:
    """The run-trace JSON Schema (a fresh dict each call)."""
    text = resources.files(__package__ or "otel_agenttrace.exporter").joinpath(_SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def check_run_trace(doc: Any) -> dict[str, Any]:
    """Return `doc` if this version can read it; refuse a newer schema_version or a document without one."""
    if not isinstance(doc, dict):
        raise TraceFormatError(f"a run trace is a JSON object, got {type(doc).__name__}")
    version = doc.get("schema_version")
    if version is None:
        raise TraceFormatError("not a run trace: no schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TraceFormatError(f"invalid schema_version {version!r:.40}: expected a positive integer")
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"run trace has schema_version {version}, this otel-agenttrace reads up to {SCHEMA_VERSION}: upgrade it"
        )
    return doc


def validate(doc: Any) -> None:
    """Check `doc` against the schema; raise TraceFormatError naming the first violation. Needs jsonschema."""
    check_run_trace(doc)
    error = next(iter(_validator().iter_errors(doc)), None)
    if error is None:
        return
    # best_match picks the most specific violation among oneOf/anyOf branches.
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc)) or error
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    message = " ".join(error.message.split())
    if len(message) > 200:
        message = message[:197] + "..."
    raise TraceFormatError(f"run trace does not match schema v{SCHEMA_VERSION} at {where}: {message}")


@lru_cache(maxsize=1)
def _validator() -> Any:
    try:
        import jsonschema
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("validating a run trace needs the jsonschema package: pip install jsonschema") from exc
    schema = load_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)
