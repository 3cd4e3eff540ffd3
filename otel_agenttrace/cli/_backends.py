"""What each trace backend's query API looks like: reading one trace, and finding recent runs.

Tempo (`/api/v2/traces/{id}`, TraceQL `/api/search`), Jaeger (`/api/v3/...`, falling back to the
legacy `/api/...` of Jaeger v1) and Phoenix (`/v1/projects/{project}/spans/otlpv1`, cursor-paged).
Every body goes through the readers of exporter/_records.py into span records; callers assemble.
Transport, timeouts and size limits are _http's.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli._http import BackendError, Client, NotFoundError, safe_url
from otel_agenttrace.exporter._records import SpanRecord, TraceFormatError, read_jaeger, read_phoenix, read_tempo

KINDS = ("tempo", "jaeger", "phoenix")
DEFAULT_PROJECT = "default"
_PHOENIX_PAGE = 1000  # the API's maximum page size
_MAX_PAGES = 1000  # a cursor that never ends is a broken server; the deadline would stop it too
_RUN_ROOT_PREFIX = f"{sc.Operation.INVOKE_WORKFLOW} "
_FETCH_THREADS = 4


@dataclass(frozen=True)
class Backend:
    """One backend as the command line named it: `--from KIND URL [--project P]`."""

    kind: str
    url: str  # the base URL, checked, without trailing slash (may hold user:password; never shown)
    client: Client
    project: str = DEFAULT_PROJECT

    @property
    def shown(self) -> str:
        return safe_url(self.url)

    def describe(self) -> str:
        where = f"{self.kind} at {self.shown}"
        return f"{where} (project {self.project})" if self.kind == "phoenix" else where


@dataclass(frozen=True)
class RunQuery:
    """`list --from`: what runs to look for."""

    limit: int
    since_ns: int
    until_ns: int
    service: str | None = None
    errors_only: bool = False


# --- one trace ------------------------------------------------------------------------------------------------------


def fetch_trace(backend: Backend, trace_id: str) -> list[SpanRecord]:
    """The spans of one trace ([] when the backend has none); BackendError/TraceFormatError in one line."""
    reader = {"tempo": _tempo_trace, "jaeger": _jaeger_trace, "phoenix": _phoenix_trace}[backend.kind]
    return reader(backend, trace_id)


def _tempo_trace(backend: Backend, trace_id: str) -> list[SpanRecord]:
    try:
        body = backend.client.get_json(f"{backend.url}/api/v2/traces/{trace_id}")
    except NotFoundError:
        try:
            # Tempo before 2.5 has only the v1 API ({"batches": ...}).
            body = backend.client.get_json(f"{backend.url}/api/traces/{trace_id}")
        except NotFoundError:
            return []
    return read_tempo(_object(body, backend))


def _jaeger_trace(backend: Backend, trace_id: str) -> list[SpanRecord]:
    try:
        body = backend.client.get_json(f"{backend.url}/api/v3/traces/{trace_id}")
    except NotFoundError:
        try:
            # Jaeger before v2 has only the v1-style JSON API.
            body = backend.client.get_json(f"{backend.url}/api/traces/{trace_id}")
        except NotFoundError:
            return []
    return read_jaeger(_object(body, backend))


def _phoenix_trace(backend: Backend, trace_id: str) -> list[SpanRecord]:
    return list(_phoenix_spans(backend, {"trace_id": trace_id}))


def _phoenix_spans(backend: Backend, params: dict[str, Any], want: int | None = None) -> Iterator[SpanRecord]:
    """Spans of a project matching `params`, following `next_cursor` (newest first), at most `want` of them."""
    base = f"{backend.url}/v1/projects/{urllib.parse.quote(backend.project, safe='')}/spans/otlpv1"
    page = min(want, _PHOENIX_PAGE) if want else _PHOENIX_PAGE
    cursor: str | None = None
    seen = 0
    for _ in range(_MAX_PAGES):
        query = {**params, "limit": page, **({"cursor": cursor} if cursor else {})}
        try:
            body = backend.client.get_json(f"{base}?{urllib.parse.urlencode(query, doseq=True)}")
        except NotFoundError as exc:
            raise BackendError(f"{exc} (is there a Phoenix project {backend.project!r}? see --project)") from None
        records, cursor = read_phoenix(body)
        for record in records:
            yield record
            seen += 1
            if want is not None and seen >= want:
                return
        if cursor is None:
            return
    raise BackendError(f"{backend.describe()}: more than {_MAX_PAGES} pages of spans; narrow the query")


def _object(body: Any, backend: Backend) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BackendError(f"{backend.describe()} answered {type(body).__name__}, not a JSON object")
    return body


# --- recent runs ----------------------------------------------------------------------------------------------------


def find_runs(backend: Backend, query: RunQuery) -> list[list[SpanRecord]]:
    """The recent runs matching `query`, each as its spans (newest first by the backend's order, ≤ limit)."""
    finder: Callable[[Backend, RunQuery], list[list[SpanRecord]]] = {
        "tempo": _tempo_runs,
        "jaeger": _jaeger_runs,
        "phoenix": _phoenix_runs,
    }[backend.kind]
    return finder(backend, query)


def _fetch_all(backend: Backend, trace_ids: list[str]) -> list[list[SpanRecord]]:
    """Each trace's spans, a few requests at a time (the client's deadline bounds them all)."""
    if not trace_ids:
        return []
    with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(trace_ids))) as pool:
        return [spans for spans in pool.map(lambda t: fetch_trace(backend, t), trace_ids) if spans]


def _tempo_runs(backend: Backend, query: RunQuery) -> list[list[SpanRecord]]:
    # A run root is the span whose operation is invoke_workflow (docs/backends.md); TraceQL finds them.
    conditions = [f'span.{sc.GEN_AI_OPERATION_NAME} = "{sc.Operation.INVOKE_WORKFLOW}"']
    if query.service:
        conditions.append(f"resource.service.name = {json.dumps(query.service)}")
    if query.errors_only:
        conditions.append("status = error")
    params = {
        "q": "{ " + " && ".join(conditions) + " }",
        "limit": query.limit,
        "start": query.since_ns // 1_000_000_000,
        "end": query.until_ns // 1_000_000_000 + 1,
        "spss": 1,
    }
    body = _object(backend.client.get_json(f"{backend.url}/api/search?{urllib.parse.urlencode(params)}"), backend)
    traces = body.get("traces") or []
    if not isinstance(traces, list):
        raise TraceFormatError(f"Tempo search: 'traces' must be a list, got {type(traces).__name__}")
    found = [t for t in traces if isinstance(t, dict) and isinstance(t.get("traceID"), str)]
    found.sort(key=lambda t: _start_key(t.get("startTimeUnixNano")), reverse=True)
    return _fetch_all(backend, [_trace_id(t["traceID"]) for t in found[: query.limit]])


def _jaeger_runs(backend: Backend, query: RunQuery) -> list[list[SpanRecord]]:
    try:
        known = _jaeger_list(backend, "/api/v3/services", "services")
        v3 = True
    except NotFoundError:
        known = _jaeger_list(backend, "/api/services", "data")  # Jaeger v1
        v3 = False
    services = [query.service] if query.service else known
    runs: dict[str, list[SpanRecord]] = {}
    for service in services:
        if not isinstance(service, str):
            continue
        quoted = urllib.parse.quote(service, safe="")
        if v3:
            operations = _jaeger_list(backend, f"/api/v3/operations?service={quoted}", "operations")
        else:
            operations = _jaeger_list(backend, f"/api/services/{quoted}/operations", "data")
        for operation in operations:
            name = operation.get("name") if isinstance(operation, dict) else operation
            if isinstance(name, str) and name.startswith(_RUN_ROOT_PREFIX):
                for record in _jaeger_search(backend, query, service, name, v3):
                    runs.setdefault(record.trace_id, []).append(record)
    return list(runs.values())


def _jaeger_list(backend: Backend, path: str, key: str) -> list[Any]:
    body = _object(backend.client.get_json(f"{backend.url}{path}"), backend)
    items = body.get(key) or []
    if not isinstance(items, list):
        raise TraceFormatError(f"Jaeger {path}: {key!r} must be a list, got {type(items).__name__}")
    return items


def _jaeger_search(backend: Backend, query: RunQuery, service: str, operation: str, v3: bool) -> list[SpanRecord]:
    if v3:
        params: dict[str, Any] = {
            "query.service_name": service,
            "query.operation_name": operation,
            "query.start_time_min": _rfc3339(query.since_ns),
            "query.start_time_max": _rfc3339(query.until_ns),
            "query.search_depth": query.limit,
        }
        path = "/api/v3/traces"
    else:
        params = {
            "service": service,
            "operation": operation,
            "start": query.since_ns // 1000,
            "end": query.until_ns // 1000,
            "limit": query.limit,
        }
        if query.errors_only:
            params["tags"] = json.dumps({"error": "true"})
        path = "/api/traces"
    try:
        body = backend.client.get_json(f"{backend.url}{path}?{urllib.parse.urlencode(params)}")
    except NotFoundError:
        return []  # Jaeger v2 answers "no traces found" with a 404
    return read_jaeger(_object(body, backend))


def _phoenix_runs(backend: Backend, query: RunQuery) -> list[list[SpanRecord]]:
    params: dict[str, Any] = {"parent_id": "null", "start_time": _rfc3339(query.since_ns)}
    if query.errors_only:
        params["status_code"] = "ERROR"
    roots = list(_phoenix_spans(backend, params, want=query.limit))
    return _fetch_all(backend, [r.trace_id for r in roots])


def _trace_id(value: str) -> str:
    text = value.strip().lower()
    if not text or len(text) > 32 or any(c not in "0123456789abcdef" for c in text):
        raise TraceFormatError(f"search answer holds a bad trace id {value!r:.40}")
    return text.rjust(32, "0")  # Tempo drops leading zeros


def _start_key(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
