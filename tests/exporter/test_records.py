"""The span readers: live SDK spans, the Collector's OTLP JSON file, Tempo's and Jaeger's trace APIs.

The bodies under tests/data/backends/ hold one agent trace (workflow -> node -> chat -> failing tool -> chat)
in each backend's own encoding; every reader must recover the same records from its body.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter._records import (
    SpanEvent,
    SpanRecord,
    TraceFormatError,
    from_readable_span,
    read_jaeger,
    read_otlp_json,
    read_tempo,
)

DATA = Path(__file__).parent.parent / "data" / "backends"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROOT, NODE, CHAT1, TOOL, CHAT2 = (
    "00f067aa0ba902b7",
    "53995c3f42cd8ad8",
    "5fb397be34d26b51",
    "6e0c63257de34c92",
    "a1b2c3d4e5f60718",
)
T0 = 1795428000000120000  # 2026-11-23T10:00:00.000120Z


def _json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _otlp_file_records() -> list[SpanRecord]:
    return [
        r
        for r in read_otlp_json((DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8"))
        if r.trace_id == TRACE_ID
    ]


SOURCES = {
    "otlp-file-exporter.jsonl": _otlp_file_records,
    "tempo-api-v2-traces.json": lambda: read_tempo(_json("tempo-api-v2-traces.json")),
    "tempo-api-traces-v1.json": lambda: read_tempo(_json("tempo-api-traces-v1.json")),
    "jaeger-api-v3-traces.json": lambda: read_jaeger(_json("jaeger-api-v3-traces.json")),
    "jaeger-api-traces.json": lambda: read_jaeger(_json("jaeger-api-traces.json")),
}


def _by_id(records: list[SpanRecord]) -> dict[str, SpanRecord]:
    out = {r.span_id: r for r in records}
    assert len(out) == len(records), "duplicate span ids"
    return out


# --- the realistic bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_backend_body_reads_into_the_agent_trace(source: str) -> None:
    spans = _by_id(SOURCES[source]())
    assert set(spans) == {ROOT, NODE, CHAT1, TOOL, CHAT2}
    assert {r.trace_id for r in spans.values()} == {TRACE_ID}
    assert {k: r.parent_id for k, r in spans.items()} == {ROOT: None, NODE: ROOT, CHAT1: NODE, TOOL: NODE, CHAT2: NODE}
    assert {k: r.kind for k, r in spans.items()} == {
        ROOT: "INTERNAL",
        NODE: "INTERNAL",
        CHAT1: "CLIENT",
        TOOL: "INTERNAL",
        CHAT2: "CLIENT",
    }

    root = spans[ROOT]
    assert root.name == "invoke_workflow whaleflow"
    assert (root.start_ns, root.end_ns) == (T0, T0 + 2_391_500_000)
    assert root.status == "UNSET" and root.status_message is None
    assert root.attributes == {sc.GEN_AI_OPERATION_NAME: "invoke_workflow", sc.GEN_AI_WORKFLOW_NAME: "whaleflow"}
    assert root.scope == "otel_agenttrace"
    assert root.resource["service.name"] == "whaleflow-agent"
    assert root.resource["telemetry.sdk.version"] == "1.45.2"

    chat = spans[CHAT1].attributes
    assert chat[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2 and isinstance(chat[sc.GEN_AI_REQUEST_TEMPERATURE], float)
    assert chat[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256 and isinstance(chat[sc.GEN_AI_REQUEST_MAX_TOKENS], int)
    assert chat[sc.SERVER_PORT] == 443
    assert chat[sc.GEN_AI_USAGE_INPUT_TOKENS] == 400
    assert json.loads(chat[sc.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "How long is a blue whale?"
    assert json.loads(chat[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["type"] == "tool_call"

    tool = spans[TOOL]
    assert tool.status == "ERROR"
    assert tool.status_message == "search backend timed out"
    assert tool.attributes[sc.ERROR_TYPE] == "TimeoutError"
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"q": "blue whale length"}
    [event] = tool.events
    assert event.name == "exception"
    assert event.time_ns == T0 + 1_815_400_000
    assert event.attributes[sc.EXCEPTION_TYPE] == "TimeoutError"
    assert event.attributes[sc.EXCEPTION_MESSAGE] == "search backend timed out"
    assert spans[CHAT2].attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 384


@pytest.mark.parametrize("source", sorted(set(SOURCES) - {"jaeger-api-v3-traces.json"}))
def test_every_body_gives_the_same_records_as_jaeger_v3(source: str) -> None:
    expected = _by_id(SOURCES["jaeger-api-v3-traces.json"]())
    got = _by_id(SOURCES[source]())
    for span_id, want in expected.items():
        have = got[span_id]
        if source == "jaeger-api-traces.json":
            # Jaeger's own model has no arrays: the OTLP->Jaeger translation writes them as JSON text.
            reasons = sc.GEN_AI_RESPONSE_FINISH_REASONS
            if reasons in want.attributes:
                assert json.loads(have.attributes[reasons]) == want.attributes[reasons]
                have.attributes[reasons] = want.attributes[reasons]
            # ... and keeps the scope version as a tag it drops here, as the OTLP readers do.
        assert have == want, span_id


def test_otlp_file_keeps_every_trace_of_the_file() -> None:
    records = read_otlp_json((DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8"))
    assert sorted({r.trace_id for r in records}) == ["0af7651916cd43dd8448eb211c80319c", TRACE_ID]
    other = next(r for r in records if r.trace_id != TRACE_ID)
    assert (other.name, other.kind, other.resource["service.name"]) == ("GET /invoices", "SERVER", "billing-api")
    assert other.attributes == {"http.request.method": "GET", "http.response.status_code": 200}


def test_otlp_json_reads_one_pretty_printed_document() -> None:
    lines = (DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8").splitlines()
    pretty = json.dumps(json.loads(lines[0]), indent=2)
    records = read_otlp_json(pretty)
    assert [r.span_id for r in records] == [CHAT1, TOOL]


def test_otlp_json_reads_concatenated_documents_blank_lines_and_a_list() -> None:
    lines = (DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]
    text = "\n\n".join(json.dumps(d, indent=1) for d in docs) + "\n\n"
    assert len(read_otlp_json(text)) == 6
    assert len(read_otlp_json(json.dumps(docs))) == 6
    assert read_otlp_json("") == [] and read_otlp_json(" \n") == []


def test_otlp_json_skips_other_signals() -> None:
    logs = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [{"body": {"stringValue": "hi"}}]}]}]}
    line = (DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert len(read_otlp_json(json.dumps(logs) + "\n" + line)) == 2


# --- ids, enums, values ------------------------------------------------------------------------------------------


def _request(**span: Any) -> str:
    base: dict[str, Any] = {"traceId": TRACE_ID, "spanId": ROOT, "name": "s", "kind": 1, "startTimeUnixNano": "5"}
    base.update(span)
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [base]}]}]})


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


@pytest.mark.parametrize(
    ("trace_id", "span_id", "parent_id"),
    [
        (TRACE_ID, ROOT, NODE),
        (TRACE_ID.upper(), ROOT.upper(), NODE.upper()),
        (_b64(TRACE_ID), _b64(ROOT), _b64(NODE)),
        (_b64(TRACE_ID).rstrip("="), _b64(ROOT).rstrip("="), _b64(NODE).rstrip("=")),  # unpadded
        (base64.urlsafe_b64encode(bytes.fromhex(TRACE_ID)).decode(), _b64(ROOT), _b64(NODE)),  # URL-safe alphabet
    ],
    ids=["hex", "upper-hex", "base64", "base64-unpadded", "base64-urlsafe"],
)
def test_ids_hex_or_base64_become_lower_hex(trace_id: str, span_id: str, parent_id: str) -> None:
    [record] = read_otlp_json(_request(traceId=trace_id, spanId=span_id, parentSpanId=parent_id))
    assert (record.trace_id, record.span_id, record.parent_id) == (TRACE_ID, ROOT, NODE)


@pytest.mark.parametrize("parent", ["", None, "0000000000000000", "AAAAAAAAAAA="])
def test_empty_or_zero_parent_is_no_parent(parent: str | None) -> None:
    [record] = read_otlp_json(_request(parentSpanId=parent))
    assert record.parent_id is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (1, "INTERNAL"),
        (2, "SERVER"),
        (3, "CLIENT"),
        (4, "PRODUCER"),
        (5, "CONSUMER"),
        (0, "INTERNAL"),
        (None, "INTERNAL"),
        ("SPAN_KIND_CLIENT", "CLIENT"),
        ("SPAN_KIND_CONSUMER", "CONSUMER"),
        ("SPAN_KIND_UNSPECIFIED", "INTERNAL"),
        ("server", "SERVER"),
        ("3", "CLIENT"),
    ],
)
def test_span_kind_as_integer_or_name(kind: Any, expected: str) -> None:
    [record] = read_otlp_json(_request(kind=kind))
    assert record.kind == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, ("UNSET", None)),
        (None, ("UNSET", None)),
        ({"code": 1}, ("OK", None)),
        ({"code": 2, "message": "boom"}, ("ERROR", "boom")),
        ({"code": "STATUS_CODE_ERROR", "message": "boom"}, ("ERROR", "boom")),
        ({"code": "STATUS_CODE_OK"}, ("OK", None)),
        ({"code": "STATUS_CODE_UNSET", "message": ""}, ("UNSET", None)),
    ],
)
def test_status_code_as_integer_or_name(status: Any, expected: tuple[str, str | None]) -> None:
    [record] = read_otlp_json(_request(status=status))
    assert (record.status, record.status_message) == expected


def test_attribute_values_become_plain_python() -> None:
    attributes = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "i_str", "value": {"intValue": "9007199254740993"}},
        {"key": "i_num", "value": {"intValue": 7}},
        {"key": "d", "value": {"doubleValue": 0.5}},
        {"key": "d_int", "value": {"doubleValue": 2}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "2"}]}}},
        {"key": "empty_arr", "value": {"arrayValue": {}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"boolValue": False}}]}}},
        {"key": "bytes", "value": {"bytesValue": "AAE="}},
        {"key": "none", "value": {}},
    ]
    [record] = read_otlp_json(_request(attributes=attributes, endTimeUnixNano=12))
    a = record.attributes
    assert a["s"] == "x"
    assert a["i_str"] == 9007199254740993 and a["i_num"] == 7
    assert a["d"] == 0.5 and a["d_int"] == 2.0 and isinstance(a["d_int"], float)
    assert a["nan"] == "NaN"  # JSON has no NaN: kept as the string proto JSON spelled it
    assert a["b"] is True
    assert a["arr"] == ["stop", 2] and a["empty_arr"] == []
    assert a["kv"] == {"a": False}
    assert a["bytes"] == "AAE="
    assert a["none"] is None
    assert (record.start_ns, record.end_ns) == (5, 12)


def test_missing_end_time_is_an_unfinished_span() -> None:
    [record] = read_otlp_json(_request())
    assert record.end_ns is None
    [record] = read_otlp_json(_request(endTimeUnixNano="0"))
    assert record.end_ns is None


def test_pre_1_0_instrumentation_library_spans_are_read() -> None:
    span = {"traceId": TRACE_ID, "spanId": ROOT, "name": "old", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    doc = {
        "resourceSpans": [
            {"instrumentationLibrarySpans": [{"instrumentationLibrary": {"name": "lib"}, "spans": [span]}]}
        ]
    }
    [record] = read_otlp_json(json.dumps(doc))
    assert (record.scope, record.name) == ("lib", "old")


# --- malformed input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"resourceSpans": [', "invalid JSON at line 1"),
        ('{"resourceSpans": []}\n{oops}\n', "invalid JSON at line 2"),
        ('"just a string"', "expected an ExportTraceServiceRequest"),
        ('{"resourceSpans": {}}', "resourceSpans must be a list"),
        ('{"resourceSpans": [7]}', "malformed span data"),
        (_request(traceId="xyz"), "traceId"),
        (_request(traceId=TRACE_ID[:30]), "traceId"),
        (_request(spanId=None), "spanId"),
        (_request(kind="SPAN_KIND_WEIRD"), "span kind"),
        (_request(kind=9), "span kind"),
        (_request(status={"code": 7}), "status code"),
        (_request(startTimeUnixNano="soon"), "startTimeUnixNano"),
        (_request(attributes={"a": 1}), "attributes must be a list"),
        (_request(attributes=[{"value": {"stringValue": "no key"}}]), "malformed span data"),
        (_request(attributes=[{"key": "k", "value": "bare"}]), "AnyValue"),
        (_request(attributes=[{"key": "k", "value": {"intValue": "1.5"}}]), "intValue"),
    ],
)
def test_malformed_otlp_json_raises_one_line_trace_format_error(text: str, fragment: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        read_otlp_json(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


# --- Tempo -----------------------------------------------------------------------------------------------------


def test_tempo_v2_uses_base64_ids_and_enum_names() -> None:
    body = _json("tempo-api-v2-traces.json")
    span = body["trace"]["resourceSpans"][1]["scopeSpans"][0]["spans"][1]
    assert span["spanId"] == _b64(TOOL) and span["kind"] == "SPAN_KIND_INTERNAL"
    assert span["status"]["code"] == "STATUS_CODE_ERROR"
    assert _by_id(read_tempo(body))[TOOL].status == "ERROR"


def test_tempo_accepts_v1_batches_v2_trace_and_empty_trace() -> None:
    assert len(read_tempo(_json("tempo-api-traces-v1.json"))) == 5
    v2 = _json("tempo-api-v2-traces.json")
    assert len(read_tempo({"trace": {"batches": v2["trace"]["resourceSpans"]}})) == 5
    assert read_tempo({"trace": {}}) == []
    assert read_tempo({"trace": None}) == []
    assert read_tempo({"trace": {"resourceSpans": []}, "status": "PARTIAL", "message": "too big"}) == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "expected a JSON object"),
        ({"data": []}, "no 'trace'"),
        ({"trace": []}, "'trace' must be an object"),
        ({"batches": [{"scopeSpans": [{"spans": [{"spanId": ROOT}]}]}]}, "traceId"),
    ],
)
def test_tempo_malformed(body: Any, fragment: str) -> None:
    with pytest.raises(TraceFormatError, match=fragment) as info:
        read_tempo(body)
    assert str(info.value).startswith("Tempo: ")


# --- Jaeger ----------------------------------------------------------------------------------------------------


def test_jaeger_legacy_maps_tags_back_to_kind_status_scope_and_resource() -> None:
    spans = _by_id(read_jaeger(_json("jaeger-api-traces.json")))
    tool = spans[TOOL]
    assert (tool.kind, tool.status, tool.status_message, tool.scope) == (
        "INTERNAL",
        "ERROR",
        "search backend timed out",
        "otel_agenttrace",
    )
    for key in (
        "span.kind",
        "error",
        "otel.status_code",
        "otel.status_description",
        "otel.scope.name",
        "otel.scope.version",
        "internal.span.format",
    ):
        assert key not in tool.attributes
    assert tool.resource == {
        "service.name": "whaleflow-agent",
        "service.version": "0.3.1",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.45.2",
    }
    assert tool.events[0].attributes.get("event") is None


def _legacy(span: dict[str, Any], **trace: Any) -> dict[str, Any]:
    base = {
        "traceID": TRACE_ID,
        "spanID": ROOT,
        "operationName": "op",
        "references": [],
        "startTime": 10,
        "duration": 3,
        "tags": [],
        "logs": [],
        "processID": "p1",
    }
    base.update(span)
    return {"data": [{"traceID": TRACE_ID, "spans": [base], "processes": {"p1": {"serviceName": "svc"}}, **trace}]}


def test_jaeger_legacy_units_short_ids_and_error_tag() -> None:
    body = _legacy(
        {
            "traceID": "a3ce929d0e0e4736",
            "spanID": "ba902b7",
            "references": [
                {"refType": "FOLLOWS_FROM", "traceID": "a3ce929d0e0e4736", "spanID": "1"},
                {"refType": "CHILD_OF", "traceID": "a3ce929d0e0e4736", "spanID": "2"},
            ],
            "tags": [
                {"key": "error", "type": "bool", "value": True},
                {"key": "n", "type": "int64", "value": "12"},
                {"key": "f", "type": "float64", "value": 1.5},
                {"key": "ok", "type": "bool", "value": "false"},
            ],
            "logs": [
                {
                    "timestamp": 11,
                    "fields": [
                        {"key": "event", "type": "string", "value": "retry"},
                        {"key": "attempt", "type": "int64", "value": 2},
                    ],
                }
            ],
        }
    )
    [record] = read_jaeger(body)
    assert record.trace_id == "0000000000000000a3ce929d0e0e4736"
    assert record.span_id == "000000000ba902b7" and record.parent_id == "0000000000000002"
    assert (record.start_ns, record.end_ns) == (10_000, 13_000)
    assert (record.kind, record.status) == ("INTERNAL", "ERROR")
    assert record.attributes == {"n": 12, "f": 1.5, "ok": False}
    assert record.events == [SpanEvent("retry", 11_000, {"attempt": 2})]
    assert record.resource == {"service.name": "svc"}


def test_jaeger_legacy_ok_status_and_library_name_and_embedded_process() -> None:
    body = _legacy(
        {
            "tags": [
                {"key": "otel.status_code", "type": "string", "value": "OK"},
                {"key": "otel.library.name", "type": "string", "value": "oldlib"},
                {"key": "span.kind", "type": "string", "value": "producer"},
            ],
            "process": {"serviceName": "embedded", "tags": [{"key": "host.name", "type": "string", "value": "h"}]},
        }
    )
    [record] = read_jaeger(body)
    assert (record.status, record.scope, record.kind) == ("OK", "oldlib", "PRODUCER")
    assert record.resource == {"service.name": "embedded", "host.name": "h"}
    assert record.attributes == {}


def test_jaeger_v3_accepts_base64_ids_and_enum_names() -> None:
    # Jaeger 1.x served api/v3 through a protobuf-JSON gateway: base64 ids, enum names.
    body = _json("jaeger-api-v3-traces.json")
    for rs in body["result"]["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _b64(span[key])
                span["kind"] = "SPAN_KIND_" + {1: "INTERNAL", 3: "CLIENT"}[span["kind"]]
    expected = _by_id(read_jaeger(_json("jaeger-api-v3-traces.json")))
    assert _by_id(read_jaeger(body)) == expected


def test_jaeger_v3_without_result_wrapper_and_empty_results() -> None:
    body = _json("jaeger-api-v3-traces.json")
    assert len(read_jaeger(body["result"])) == 5
    assert read_jaeger({"result": {"resourceSpans": []}}) == []
    assert read_jaeger({"data": None}) == []
    assert read_jaeger({"data": []}) == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"error": {"httpCode": 404, "message": "trace not found"}}, "trace not found"),
        ({"data": None, "errors": [{"code": 404, "msg": "trace not\nfound"}]}, "trace not found"),
        ({"hello": 1}, "no 'result'"),
        ({"result": []}, "'result' must be an object"),
        ({"data": {}}, "'data' must be a list"),
        (_legacy({"startTime": "later"}), "startTime"),
        (_legacy({"spanID": "nothex!"}), "spanID"),
        (_legacy({"tags": [{"type": "string", "value": "no key"}]}), "malformed span data"),
        ("[]", "expected a JSON object"),
    ],
)
def test_jaeger_malformed(body: Any, fragment: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        read_jaeger(body)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# --- live SDK spans --------------------------------------------------------------------------------------------


@pytest.fixture
def tracer_and_spans() -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "live-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("otel_agenttrace", "0.1.0"), exporter
    provider.shutdown()


def test_from_readable_span_reads_a_finished_sdk_span(tracer_and_spans: Any) -> None:
    tracer, exporter = tracer_and_spans
    with (
        tracer.start_as_current_span("invoke_agent planner") as parent,
        tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span,
    ):
        span.set_attribute(sc.GEN_AI_RESPONSE_FINISH_REASONS, ("stop", "length"))
        span.set_attribute(sc.GEN_AI_USAGE_INPUT_TOKENS, 12)
        span.set_attribute(sc.GEN_AI_REQUEST_TEMPERATURE, 0.5)
        span.set_attribute(sc.GEN_AI_REQUEST_STREAM, True)
        span.add_event("chunk", {"index": 1, "ids": (1, 2)}, timestamp=1234)
        span.set_status(Status(StatusCode.ERROR, "rate limited"))
    child_sdk, parent_sdk = exporter.get_finished_spans()
    record = from_readable_span(child_sdk)
    ctx = child_sdk.context
    assert record.trace_id == f"{ctx.trace_id:032x}" and len(record.trace_id) == 32
    assert record.span_id == f"{ctx.span_id:016x}" and len(record.span_id) == 16
    assert record.parent_id == f"{parent.get_span_context().span_id:016x}"
    assert (record.name, record.kind, record.status, record.status_message) == (
        "chat gpt-4o",
        "CLIENT",
        "ERROR",
        "rate limited",
    )
    assert record.start_ns == child_sdk.start_time and record.end_ns == child_sdk.end_time
    assert record.attributes == {
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop", "length"],
        sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        sc.GEN_AI_REQUEST_STREAM: True,
    }
    assert record.events == [SpanEvent("chunk", 1234, {"index": 1, "ids": [1, 2]})]
    assert record.resource["service.name"] == "live-agent"
    assert record.scope == "otel_agenttrace"

    root = from_readable_span(parent_sdk)
    assert root.parent_id is None and root.kind == "INTERNAL" and root.status == "UNSET" and root.status_message is None
    assert root.events == [] and root.attributes == {}


def test_from_readable_span_copies_attributes(tracer_and_spans: Any) -> None:
    tracer, exporter = tracer_and_spans
    with tracer.start_as_current_span("s", attributes={"a": 1}):
        pass
    [sdk_span] = exporter.get_finished_spans()
    record = from_readable_span(sdk_span)
    record.attributes["a"] = 2
    assert sdk_span.attributes["a"] == 1


def test_from_readable_span_reads_a_span_still_in_flight(tracer_and_spans: Any) -> None:
    tracer, _ = tracer_and_spans
    span = tracer.start_span("execute_tool search", attributes={sc.GEN_AI_TOOL_NAME: "search"})
    try:
        record = from_readable_span(span)  # type: ignore[arg-type]  # the SDK Span is a ReadableSpan
        assert record.end_ns is None
        assert record.start_ns > 0
        assert record.attributes == {sc.GEN_AI_TOOL_NAME: "search"}
    finally:
        span.end()


def test_from_readable_span_works_on_a_hand_made_readable_span() -> None:
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import SpanContext

    ctx = SpanContext(int(TRACE_ID, 16), int(ROOT, 16), is_remote=False)
    span = ReadableSpan(
        name="hand",
        context=ctx,
        attributes={"list": ("a",)},
        events=[Event("e", {"k": "v"}, timestamp=5)],
        start_time=1,
        end_time=2,
    )
    record = from_readable_span(span)
    assert (record.trace_id, record.span_id, record.parent_id) == (TRACE_ID, ROOT, None)
    assert record.attributes == {"list": ["a"]}
    assert record.events == [SpanEvent("e", 5, {"k": "v"})]
    assert record.scope is None
