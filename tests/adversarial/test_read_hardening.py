"""Issue 9, items 10 and 11: reading runs is bounded and every bad input is one line, never a traceback.

Each test is the regression test of one input the hardening pass found (files, backend answers, content).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import cli
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import RunStore

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
BASE_NS = 1_795_428_000_000_000_000


def run_cli(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def one_line(result: Result, *fragments: str, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agenttrace: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AGENTTRACE_HOME", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _span(attributes: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    span = {
        "traceId": TRACE,
        "spanId": "00f067aa0ba902b7",
        "name": "invoke_workflow w",
        "kind": 1,
        "startTimeUnixNano": str(BASE_NS),
        "endTimeUnixNano": str(BASE_NS + 10**9),
        "attributes": attributes or [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_workflow"}}],
    }
    span.update(fields)
    return span


def _otlp(*spans: dict[str, Any]) -> str:
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": list(spans)}]}]})


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- item 11: files -----------------------------------------------------------------------------------------------


def test_json_nested_100k_deep(tmp_path: Path) -> None:
    deep = _write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    one_line(run_cli("dump", "--from", deep), "nested too deeply")
    lines = _write(tmp_path, "deep.jsonl", _otlp(_span()) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    one_line(run_cli("dump", "--from", lines), "nested too deeply")


def test_5000_digit_schema_version(tmp_path: Path) -> None:
    path = _write(tmp_path, "v.json", '{"schema_version": ' + "9" * 5000 + ', "run_id": "x", "steps": []}')
    one_line(run_cli("show", "--from", path), "invalid JSON")


@pytest.mark.parametrize("key", [7, None], ids=["int", "null"])
def test_otlp_attribute_keys_that_are_not_strings(tmp_path: Path, key: Any) -> None:
    path = _write(tmp_path, "k.jsonl", _otlp(_span([{"key": key, "value": {"stringValue": "x"}}])))
    one_line(run_cli("dump", "--from", path), "attribute key must be a string")


def test_30_digit_timestamp(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.jsonl", _otlp(_span(startTimeUnixNano="1" * 30)))
    one_line(run_cli("dump", "--from", path), "startTimeUnixNano", "out of range")


def test_infinity_token_counts(tmp_path: Path) -> None:
    bare = _otlp(_span()).replace(
        '"attributes": [', '"attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": Infinity}}, '
    )
    one_line(run_cli("dump", "--from", _write(tmp_path, "bare.jsonl", bare)), "Infinity is not a JSON number")
    usage = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": "Infinity"}},
    ]
    result = run_cli("dump", "--from", _write(tmp_path, "str.jsonl", _otlp(_span(usage))))
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # still valid JSON: no bare Infinity written out


def test_escaped_lone_surrogate(tmp_path: Path) -> None:
    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_workflow"}},
        {"key": "gen_ai.workflow.name", "value": {"stringValue": "bad\\ud800name"}},
    ]
    text = _otlp(_span(attributes)).replace("bad\\\\ud800name", "bad\\ud800name")
    path = _write(tmp_path, "s.jsonl", text)
    for command in ("dump", "show"):
        result = run_cli(command, "--from", path)
        assert result.exit_code == 0, result.stderr
        assert "bad\ufffdname" in result.stdout


def _run_trace(tmp_path: Path) -> dict[str, Any]:
    path = _write(tmp_path, "ok.jsonl", _otlp(_span()))
    result = run_cli("dump", "--from", path)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


WRONG_SHAPES = {
    "steps not a list": lambda d: d.update(steps={"0": {}}),
    "step not an object": lambda d: d.update(steps=[1]),
    "step id a number": lambda d: d["steps"][0].update(id=5),
    "step usage a list": lambda d: d["steps"][0].update(usage=[1, 2]),
    "step error a string": lambda d: d["steps"][0].update(error="boom"),
    "run usage a string": lambda d: d.update(usage="lots"),
    "models not a list": lambda d: d.update(models=3),
    "service a list": lambda d: d.update(service=["x"]),
    "attributes a list": lambda d: d["steps"][0].update(attributes=[["k", "v"]]),
}


@pytest.mark.parametrize("change", list(WRONG_SHAPES.values()), ids=list(WRONG_SHAPES))
def test_run_files_with_wrong_inner_shapes(tmp_path: Path, change: Any) -> None:
    doc = _run_trace(tmp_path)
    change(doc)
    path = _write(tmp_path, "bad.json", json.dumps(doc, indent=2))
    for command in ("show", "dump"):
        one_line(run_cli(command, "--from", path), "not a run trace")


def test_a_deeply_nested_tool_result_leaves_the_run_readable(tmp_path: Path) -> None:
    home = tmp_path / "store"
    start = BASE_NS
    tool = SpanRecord(
        trace_id=TRACE,
        span_id="b7ad6b7169203331",
        parent_id=None,
        name="execute_tool nest",
        kind="INTERNAL",
        start_ns=start,
        end_ns=start + 1000,
        attributes={
            sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: "nest",
            sc.GEN_AI_TOOL_CALL_RESULT: "[" * 5000 + "]" * 5000,
        },
    )
    with RunStore(home=home) as store:
        store.write_spans([tool])
    for command in ("dump", "show"):
        result = run_cli("--home", str(home), command, TRACE[:8])
        assert result.exit_code == 0, result.stderr
    doc = json.loads(run_cli("--home", str(home), "dump", TRACE[:8]).stdout)
    assert doc["steps"][0]["output"] == "[" * 5000 + "]" * 5000  # kept as text, past the depth cap


# --- item 10: bounded reading -------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /dev/zero and /proc (Linux)")
def test_dump_from_dev_zero_stops_at_once_without_growing() -> None:
    # The peak RSS of this process's own memory (VmHWM): ru_maxrss would also count the memory of the
    # test process it was forked from, which Linux carries across exec.
    code = (
        "import re, sys\n"
        "from otel_agenttrace.cli import cli\n"
        "try:\n"
        "    cli.main(['dump', '--from', '/dev/zero'], standalone_mode=True)\n"
        "except SystemExit as e:\n"
        "    peak = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
        "    print(e.code, peak, file=sys.stdout)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    exit_code, max_rss_kb = done.stdout.split()
    assert exit_code == "1", done.stderr
    assert "binary data" in done.stderr and len(done.stderr.splitlines()) == 1
    assert int(max_rss_kb) < 200 * 1024  # about 30 MB: the interpreter and the CLI: far from the 4.8 GB it once took


def test_a_file_document_over_the_size_limit(tmp_path: Path) -> None:
    big = {"schema_version": 1, "run_id": TRACE, "steps": [], "pad": "x" * (2 * 1024 * 1024)}
    path = _write(tmp_path, "big.json", json.dumps(big, indent=1))
    one_line(run_cli("dump", "--from", path, "--max-size", "1"), "over the 1 MiB limit", "--max-size")
    endless_line = _write(tmp_path, "line.jsonl", "x" * (3 * 1024 * 1024))
    one_line(run_cli("dump", "--from", endless_line, "--max-size", "1"), "over the 1 MiB limit")


# --- item 11: backend answers -------------------------------------------------------------------------------------


@contextmanager
def answering(body: bytes, status: int = 200) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("errors", [{"code": 500, "msg": "boom"}, 42], ids=["dict", "int"])
def test_jaeger_errors_as_dict_or_int(errors: Any) -> None:
    body = json.dumps({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": errors}).encode()
    with answering(body) as url:
        one_line(run_cli("dump", "--from", "jaeger", url, TRACE), "Jaeger:")


def test_200k_deep_answer() -> None:
    with answering(b"[" * 200_000 + b"]" * 200_000) as url:
        one_line(run_cli("dump", "--from", "tempo", url, TRACE), "nested too deeply")


def test_bad_ipv6_url() -> None:
    one_line(run_cli("dump", "--from", "tempo", "http://[bad", TRACE), "bad URL", "Invalid IPv6")


def test_list_limit_of_thirty_digits() -> None:
    one_line(run_cli("list", "--limit", str(10**30)), "--limit", "range", code=2)
