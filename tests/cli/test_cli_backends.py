"""`dump --from tempo|jaeger URL TRACE_ID` against a real HTTP server on 127.0.0.1 serving recorded bodies."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from .cli_helpers import BACKENDS, Invoke, Routes, backend

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _body(name: str) -> Any:
    return json.loads((BACKENDS / name).read_text(encoding="utf-8"))


def _from_file(invoke: Invoke) -> dict[str, Any]:
    result = invoke("dump", "--from", str(BACKENDS / "otlp-file-exporter.jsonl"), TRACE)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _dump(invoke: Invoke, *args: str) -> dict[str, Any]:
    result = invoke("dump", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _same_run(a: dict[str, Any], b: dict[str, Any]) -> None:
    # Every source reads into the same records: the steps agree (attributes aside: backends add their own tags).
    def core(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(s["id"], s["parent_id"], s["type"], s["name"], s["status"], s["usage"]) for s in doc["steps"]]

    assert a["run_id"] == b["run_id"] == TRACE
    assert core(a) == core(b)
    assert a["usage"] == b["usage"]


def test_tempo(invoke: Invoke, schema_validator: Any) -> None:
    routes = Routes()
    routes.json(f"/api/v2/traces/{TRACE}", _body("tempo-api-v2-traces.json"))
    with backend(routes) as url:
        doc = _dump(invoke, "--from", "tempo", url, TRACE)
        upper = _dump(invoke, "--from", "tempo", url + "/", TRACE.upper())
    schema_validator.validate(doc)
    _same_run(doc, _from_file(invoke))
    assert upper == doc
    assert routes.requests == [f"/api/v2/traces/{TRACE}"] * 2


def test_tempo_behind_a_path_prefix(invoke: Invoke) -> None:
    routes = Routes()
    routes.json(f"/tempo/api/v2/traces/{TRACE}", _body("tempo-api-v2-traces.json"))
    with backend(routes) as url:
        assert _dump(invoke, "--from", "tempo", url + "/tempo", TRACE)["run_id"] == TRACE


def test_jaeger_v3(invoke: Invoke, schema_validator: Any) -> None:
    routes = Routes()
    routes.json(f"/api/v3/traces/{TRACE}", _body("jaeger-api-v3-traces.json"))
    with backend(routes) as url:
        doc = _dump(invoke, "--from", "jaeger", url, TRACE)
    schema_validator.validate(doc)
    _same_run(doc, _from_file(invoke))
    assert routes.requests == [f"/api/v3/traces/{TRACE}"]


def test_jaeger_falls_back_to_the_legacy_api_on_404(invoke: Invoke, schema_validator: Any) -> None:
    routes = Routes()
    routes.json(f"/api/traces/{TRACE}", _body("jaeger-api-traces.json"))
    with backend(routes) as url:
        doc = _dump(invoke, "--from", "jaeger", url, TRACE)
    schema_validator.validate(doc)
    _same_run(doc, _from_file(invoke))
    assert routes.requests == [f"/api/v3/traces/{TRACE}", f"/api/traces/{TRACE}"]


def test_show_from_a_backend(invoke: Invoke) -> None:
    routes = Routes()
    routes.json(f"/api/v2/traces/{TRACE}", _body("tempo-api-v2-traces.json"))
    with backend(routes) as url:
        result = invoke("show", "--from", "tempo", url, TRACE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"run {TRACE}  whaleflow  ok")


def test_trace_not_found(invoke: Invoke, one_line_error) -> None:
    routes = Routes()
    with backend(routes) as url:
        one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, f"trace {TRACE} not found in tempo")
        one_line_error(invoke("dump", "--from", "jaeger", url, TRACE), 1, f"trace {TRACE} not found in jaeger")
    # Tempo and Jaeger each fall back to their older API (Tempo v1, Jaeger v1) on a 404.
    tempo = [f"/api/v2/traces/{TRACE}", f"/api/traces/{TRACE}"]
    jaeger = [f"/api/v3/traces/{TRACE}", f"/api/traces/{TRACE}"]
    assert routes.requests == [*tempo, *jaeger]


def test_empty_answers_are_not_found(invoke: Invoke, one_line_error) -> None:
    routes = Routes()
    routes.json(f"/api/v2/traces/{TRACE}", {"trace": None})
    routes.json(f"/api/v3/traces/{TRACE}", {"result": {"resourceSpans": []}})
    with backend(routes) as url:
        one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, "not found in tempo", "no spans")
        one_line_error(invoke("dump", "--from", "jaeger", url, TRACE), 1, "not found in jaeger", "no spans")


def test_http_errors(invoke: Invoke, one_line_error) -> None:
    routes = Routes()
    routes.raw(f"/api/v2/traces/{TRACE}", b"upstream\nexploded", status=500)
    routes.raw(f"/api/v3/traces/{TRACE}", b"<html>not json</html>", content_type="text/html")
    with backend(routes) as url:
        one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, "HTTP 500", "upstream exploded")
        one_line_error(invoke("dump", "--from", "jaeger", url, TRACE), 1, "not JSON")


def test_unexpected_bodies(invoke: Invoke, one_line_error) -> None:
    routes = Routes()
    routes.json(f"/api/v2/traces/{TRACE}", [1, 2, 3])
    routes.json(f"/api/v3/traces/{TRACE}", {"error": {"code": 500, "message": "storage\nunavailable"}})
    with backend(routes) as url:
        one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, "not a JSON object")
        one_line_error(invoke("dump", "--from", "jaeger", url, TRACE), 1, "storage unavailable")


def test_unreachable_backend(invoke: Invoke, one_line_error) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    one_line_error(invoke("dump", "--from", "tempo", f"http://127.0.0.1:{port}", TRACE), 1, "cannot reach")
    one_line_error(invoke("show", "--from", "jaeger", f"http://127.0.0.1:{port}", TRACE), 1, "cannot reach")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("tempo:3200", "bad URL"),
        ("ftp://127.0.0.1/", "bad URL"),
        ("http://", "bad URL"),
        ("http://127.0.0.1:99999", "bad URL"),
        ("http://127.0.0.1:3200?x=1", "no query"),
    ],
)
def test_bad_urls(invoke: Invoke, one_line_error, url: str, fragment: str) -> None:
    one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, fragment)


def test_bad_trace_id(invoke: Invoke, one_line_error) -> None:
    one_line_error(invoke("dump", "--from", "tempo", "http://127.0.0.1:1", "not-a-trace"), 1, "bad trace id")
    one_line_error(invoke("dump", "--from", "jaeger", "http://127.0.0.1:1", "a" * 33), 1, "bad trace id")


def test_a_file_named_like_a_backend_needs_a_path(invoke: Invoke, tmp_path: Path, one_line_error) -> None:
    (tmp_path / "tempo").write_text("{}")
    one_line_error(invoke("dump", "--from", "tempo"), 2, "URL TRACE_ID")
    one_line_error(invoke("dump", "--from", "./tempo"), 1, "./tempo")
