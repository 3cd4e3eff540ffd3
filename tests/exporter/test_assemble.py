"""assemble(): span records of one trace -> run-trace JSON (schema_version 2).

Every document assembled here is also validated against semconv/run-trace.schema.json.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._records import SpanEvent, SpanRecord, TraceFormatError, read_jaeger, read_otlp_json
from otel_agenttrace.exporter._schema import validate

DATA = Path(__file__).parent.parent / "data" / "backends"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
MS = 1_000_000
T0 = 1795428000000120000


def sid(n: int) -> str:
    return f"{n:016x}"


def rec(
    n: int,
    parent: int | None,
    start_ms: float,
    end_ms: float | None,
    name: str = "span",
    *,
    status: str = "UNSET",
    message: str | None = None,
    events: list[SpanEvent] | None = None,
    resource: dict[str, Any] | None = None,
    trace_id: str = TRACE,
    **attributes: Any,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=sid(n),
        parent_id=sid(parent) if parent is not None else None,
        name=name,
        kind="INTERNAL",
        start_ns=T0 + int(start_ms * MS),
        end_ns=T0 + int(end_ms * MS) if end_ms is not None else None,
        status=status,
        status_message=message,
        attributes={k.replace("__", "."): v for k, v in attributes.items()},
        events=events or [],
        resource=resource or {},
    )


def attrs(**pairs: Any) -> dict[str, Any]:
    return pairs


def run(records: list[SpanRecord]) -> dict[str, Any]:
    doc = assemble(records)
    validate(doc)
    json.dumps(doc, allow_nan=False)  # plain JSON, nothing a consumer cannot read
    return doc


def with_attrs(record: SpanRecord, **extra: Any) -> SpanRecord:
    record.attributes.update(extra)
    return record


def msgs(role: str, *texts: str, finish: str | None = None) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": t} for t in texts]}
    if finish:
        message["finish_reason"] = finish
    return json.dumps([message])


def llm(n: int, parent: int | None, start: float, end: float | None, **extra: Any) -> SpanRecord:
    record = rec(n, parent, start, end, "chat m")
    record.kind = "CLIENT"
    record.attributes.update({sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT, sc.GEN_AI_PROVIDER_NAME: "openai"})
    record.attributes.update(extra)
    return record


def steps_by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["steps"]}


# --- the realistic trace ---------------------------------------------------------------------------------------


@pytest.fixture
def agent_doc() -> dict[str, Any]:
    return run(read_jaeger(json.loads((DATA / "jaeger-api-v3-traces.json").read_text(encoding="utf-8"))))


def test_run_level_fields_of_the_agent_trace(agent_doc: dict[str, Any]) -> None:
    doc = agent_doc
    assert doc["schema_version"] == 2
    assert doc["run_id"] == TRACE
    assert doc["workflow"] == "whaleflow"
    assert doc["status"] == "ok"  # the tool failed, the run recovered: the root did not error
    assert doc["started_at"] == "2026-11-23T10:00:00.000120Z"
    assert doc["ended_at"] == "2026-11-23T10:00:02.391620Z"
    assert doc["duration_ms"] == 2391.5
    assert doc["model"] == "gpt-4o-2024-08-06"
    assert doc["models"] == ["gpt-4o-2024-08-06"]
    assert doc["usage"] == {"input_tokens": 812, "output_tokens": 95, "cache_read_input_tokens": 384}
    assert doc["service"] == {"name": "whaleflow-agent"}
    assert doc["final_output"] == "Blue whales grow up to about 30 m (98 ft) long."
    assert doc["otel"] == {"trace_id": TRACE, "root_span_id": "00f067aa0ba902b7"}
    assert list(doc) == [
        "schema_version", "run_id", "workflow", "status", "started_at", "ended_at", "duration_ms", "model", "models",
        "usage", "service", "steps", "final_output", "otel",
    ]  # fmt: skip


def test_steps_of_the_agent_trace(agent_doc: dict[str, Any]) -> None:
    steps = agent_doc["steps"]
    assert [(s["index"], s["type"], s["name"], s["node"], s["status"]) for s in steps] == [
        (0, "workflow", "invoke_workflow whaleflow", None, "ok"),
        (1, "node", "invoke_agent planner", "planner", "ok"),
        (2, "llm_call", "chat gpt-4o", "planner", "ok"),
        (3, "tool_call", "execute_tool search", "planner", "error"),
        (4, "llm_call", "chat gpt-4o", "planner", "ok"),
    ]
    assert [s["parent_id"] for s in steps] == [None] + ["00f067aa0ba902b7"] + ["53995c3f42cd8ad8"] * 3
    assert [s["relative_ms"] for s in steps] == [0.0, 1.25, 3.2, 815.0, 1816.0]
    assert [s["duration_ms"] for s in steps] == [2391.5, 2388.75, 810.0, 1000.5, 573.0]

    chat = steps[2]
    assert chat["started_at"] == "2026-11-23T10:00:00.003320Z"
    assert (chat["provider"], chat["model"]) == ("openai", "gpt-4o-2024-08-06")
    assert chat["request"] == {"temperature": 0.2, "max_tokens": 256}
    assert chat["input"] == [{"role": "user", "parts": [{"type": "text", "content": "How long is a blue whale?"}]}]
    assert chat["output"][0]["parts"][0] == {
        "type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "blue whale length"}
    }  # fmt: skip
    assert chat["output"][0]["finish_reason"] == "tool_call"
    assert chat["system_instructions"][0]["content"].startswith("You are a marine biology assistant")
    assert chat["tool_definitions"][0]["name"] == "search"
    assert chat["usage"] == {"input_tokens": 400, "output_tokens": 40}
    assert chat["error"] is None
    # What no other field carries: the request model (it differs from the response model), ids, server.
    assert chat["attributes"] == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.SERVER_ADDRESS: "api.openai.com",
        sc.SERVER_PORT: 443,
        sc.GEN_AI_RESPONSE_ID: "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ["tool_calls"],
    }

    tool = steps[3]
    assert tool["input"] == {"q": "blue whale length"}
    assert tool["output"] is None
    assert tool["error"] == {"type": "TimeoutError", "message": "search backend timed out"}
    assert tool["usage"] is None and tool["provider"] is None and tool["model"] is None and tool["request"] == {}
    assert tool["attributes"] == {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: "search",
        sc.GEN_AI_TOOL_CALL_ID: "call_1",
        sc.GEN_AI_TOOL_TYPE: "function",
    }
    assert steps[4]["usage"] == {"input_tokens": 412, "output_tokens": 55, "cache_read_input_tokens": 384}
    assert steps[1]["attributes"] == {
        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
        sc.GEN_AI_AGENT_NAME: "planner",
        sc.AGENTTRACE_NODE_TYPE: "planner",
    }


def test_content_attributes_never_reach_step_attributes(agent_doc: dict[str, Any]) -> None:
    for step in agent_doc["steps"]:
        assert not sc.CONTENT_ATTRIBUTES & set(step["attributes"])
        assert not {sc.GEN_AI_PROVIDER_NAME, sc.AGENTTRACE_NODE_NAME, sc.ERROR_TYPE} & set(step["attributes"])
        assert not any(k.startswith("gen_ai.usage.") for k in step["attributes"])
        assert not any(k.startswith("gen_ai.request.") and k != sc.GEN_AI_REQUEST_MODEL for k in step["attributes"])


def test_record_order_does_not_matter(agent_doc: dict[str, Any]) -> None:
    records = [
        r
        for r in read_otlp_json((DATA / "otlp-file-exporter.jsonl").read_text(encoding="utf-8"))
        if r.trace_id == TRACE
    ]
    for seed in range(5):
        random.Random(seed).shuffle(records)
        assert run(records) == agent_doc


# --- ordering --------------------------------------------------------------------------------------------------


def test_steps_are_chronological_across_branches() -> None:
    records = [
        rec(1, None, 0, 100, "root"),
        rec(2, 1, 1, 50, "a"),
        rec(3, 1, 2, 90, "b"),
        rec(4, 2, 3, 10, "a.1"),
        rec(5, 3, 4, 20, "b.1"),
        rec(6, 2, 30, 40, "a.2"),
    ]
    doc = run(list(reversed(records)))
    assert [s["name"] for s in doc["steps"]] == ["root", "a", "b", "a.1", "b.1", "a.2"]
    assert [s["index"] for s in doc["steps"]] == list(range(6))


def test_ties_parent_before_child_then_sibling_start_order() -> None:
    # Everything starts at the same instant: the tree order decides (depth first, siblings in start order).
    records = [
        rec(5, 3, 0, 1, "b.1"),
        rec(3, 1, 0, 1, "b"),
        rec(4, 2, 0, 1, "a.1"),
        rec(2, 1, 0, 1, "a"),
        rec(1, None, 0, 1, "root"),
    ]
    doc = run(records)
    # Siblings of equal start keep their input order (b was given before a).
    assert [s["name"] for s in doc["steps"]] == ["root", "b", "b.1", "a", "a.1"]


def test_a_child_starting_with_its_parent_follows_it_even_when_given_first() -> None:
    records = [rec(2, 1, 5, 6, "child"), rec(1, None, 0, 10, "root"), rec(3, 1, 5, 7, "parent-of-4"), rec(4, 3, 5, 6)]
    names = [s["name"] for s in run(records)["steps"]]
    assert names.index("parent-of-4") < names.index("span")


def test_deep_nesting_does_not_recurse() -> None:
    depth = 1500  # deeper than the default recursion limit
    records = [rec(i + 1, i if i else None, i * 0.001, 10_000 - i * 0.001, f"n{i}") for i in range(depth)]
    doc = run(records[::-1])
    assert [s["name"] for s in doc["steps"]][:3] == ["n0", "n1", "n2"]
    assert doc["steps"][-1]["parent_id"] == sid(depth - 1)


# --- roots -----------------------------------------------------------------------------------------------------


def test_multiple_roots_the_earliest_is_the_run_root() -> None:
    records = [
        rec(10, None, 5, 20, "late orphan root"),
        rec(1, 99, 0, 30, "root whose parent is elsewhere"),  # parent 99 is not in the trace
        rec(2, 1, 1, 2),
        rec(11, 10, 6, 7),
    ]
    doc = run(records)
    assert doc["otel"]["root_span_id"] == sid(1)
    assert doc["workflow"] == "root whose parent is elsewhere"
    by_id = steps_by_id(doc)
    assert by_id[sid(1)]["parent_id"] is None and by_id[sid(10)]["parent_id"] is None
    assert by_id[sid(11)]["parent_id"] == sid(10)
    assert [s["id"] for s in doc["steps"]] == [sid(1), sid(2), sid(10), sid(11)]


def test_a_parent_cycle_is_cut_at_its_earliest_span() -> None:
    records = [rec(1, None, 0, 10, "root"), rec(2, 3, 1, 5, "x"), rec(3, 2, 2, 5, "y"), rec(4, 4, 3, 4, "self")]
    doc = run(records)
    by_id = steps_by_id(doc)
    assert by_id[sid(2)]["parent_id"] is None and by_id[sid(3)]["parent_id"] == sid(2)
    assert by_id[sid(4)]["parent_id"] is None
    assert doc["otel"]["root_span_id"] == sid(1)


def test_start_and_end_record_of_one_span_count_once() -> None:
    started = rec(2, 1, 1, None, "tool", **{"agenttrace.span.started": True})
    ended = rec(2, 1, 1, 3, "tool")
    for records in ([rec(1, None, 0, 5), started, ended], [rec(1, None, 0, 5), ended, started]):
        doc = run(records)
        assert len(doc["steps"]) == 2
        assert doc["steps"][1]["status"] == "ok" and doc["steps"][1]["duration_ms"] == 2.0
        assert doc["status"] == "ok"
        assert sc.AGENTTRACE_SPAN_STARTED not in doc["steps"][1]["attributes"]


def test_empty_input_is_refused() -> None:
    with pytest.raises(TraceFormatError, match="no spans"):
        assemble([])


def test_records_of_two_traces_are_refused() -> None:
    with pytest.raises(TraceFormatError, match="more than one trace") as info:
        assemble([rec(1, None, 0, 1), rec(2, None, 0, 1, trace_id="0af7651916cd43dd8448eb211c80319c")])
    assert "\n" not in str(info.value)


# --- types and nodes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (sc.Operation.INVOKE_WORKFLOW, "workflow"),
        (sc.Operation.INVOKE_AGENT, "node"),
        (sc.Operation.CHAT, "llm_call"),
        (sc.Operation.TEXT_COMPLETION, "llm_call"),
        (sc.Operation.EMBEDDINGS, "llm_call"),
        ("generate_content", "llm_call"),
        (sc.Operation.EXECUTE_TOOL, "tool_call"),
        ("create_agent", "span"),
        (None, "span"),
        (7, "span"),
    ],
)
def test_step_type_from_operation(operation: Any, expected: str) -> None:
    record = rec(1, None, 0, 1)
    if operation is not None:
        record.attributes[sc.GEN_AI_OPERATION_NAME] = operation
    assert run([record])["steps"][0]["type"] == expected


def test_the_process_run_root_is_a_workflow_step() -> None:
    root = rec(1, None, 0, 1, "agenttrace run", **{sc.AGENTTRACE_RUN_ROOT: True, sc.AGENTTRACE_RUN_SCRIPT: "a.py"})
    doc = run([root])
    assert doc["steps"][0]["type"] == "workflow"
    assert doc["steps"][0]["attributes"] == {sc.AGENTTRACE_RUN_SCRIPT: "a.py"}
    assert doc["workflow"] == "agenttrace run"


def test_workflow_name_from_the_root_else_any_span_else_the_root_name() -> None:
    root = rec(1, None, 0, 10, "root")
    child = rec(2, 1, 1, 2, **{sc.GEN_AI_WORKFLOW_NAME: "inner"})
    assert run([root, child])["workflow"] == "inner"
    root.attributes[sc.GEN_AI_WORKFLOW_NAME] = "outer"
    assert run([root, child])["workflow"] == "outer"


def test_node_is_inherited_from_the_nearest_ancestor_or_self() -> None:
    records = [
        rec(1, None, 0, 100, "root"),
        rec(2, 1, 1, 50, "planner", **{sc.AGENTTRACE_NODE_NAME: "planner", sc.GEN_AI_AGENT_NAME: "planner-agent"}),
        rec(3, 2, 2, 10, "in planner"),
        rec(4, 3, 3, 4, "deeper in planner"),
        rec(5, 2, 11, 40, "sub agent", **{sc.GEN_AI_AGENT_NAME: "researcher"}),
        rec(6, 5, 12, 13, "in researcher"),
        rec(7, 1, 60, 70, "executor", **{sc.AGENTTRACE_NODE_NAME: "executor"}),
        rec(8, 7, 61, 62, "in executor"),
        rec(9, 1, 80, 81, "outside any node"),
    ]
    nodes = {s["name"]: s["node"] for s in run(records[::-1])["steps"]}
    assert nodes == {
        "root": None,
        "planner": "planner",  # its own node name wins over its agent name
        "in planner": "planner",
        "deeper in planner": "planner",
        "sub agent": "researcher",  # the agent name when no node name
        "in researcher": "researcher",
        "executor": "executor",
        "in executor": "executor",
        "outside any node": None,
    }


# --- status, errors, incomplete --------------------------------------------------------------------------------


def test_an_unfinished_step_is_incomplete_and_so_is_the_run() -> None:
    doc = run([rec(1, None, 0, None, "root"), llm(2, 1, 1, 5), rec(3, 1, 6, None, "stuck tool")])
    by_id = steps_by_id(doc)
    assert by_id[sid(1)]["status"] == "incomplete" and by_id[sid(1)]["duration_ms"] is None
    assert by_id[sid(3)]["status"] == "incomplete" and by_id[sid(3)]["error"] is None
    assert by_id[sid(2)]["status"] == "ok"
    assert doc["status"] == "incomplete"
    assert doc["ended_at"] == "2026-11-23T10:00:00.005120Z" and doc["duration_ms"] == 5.0


def test_a_run_where_nothing_ended() -> None:
    doc = run([rec(1, None, 0, None)])
    assert (doc["status"], doc["ended_at"], doc["duration_ms"]) == ("incomplete", None, None)


def test_a_failed_root_is_a_failed_run_even_with_incomplete_steps() -> None:
    doc = run([rec(1, None, 0, 9, status="ERROR", message="crashed"), rec(2, 1, 1, None)])
    assert doc["status"] == "error"
    assert doc["steps"][0]["error"] == {"type": "_OTHER", "message": "crashed"}


def test_a_failed_child_does_not_fail_the_run() -> None:
    doc = run([rec(1, None, 0, 9, status="OK"), rec(2, 1, 1, 2, status="ERROR", **{sc.ERROR_TYPE: "429"})])
    assert doc["status"] == "ok"
    assert doc["steps"][1]["error"] == {"type": "429", "message": None}


def test_error_from_the_exception_event() -> None:
    event = SpanEvent("exception", T0, {sc.EXCEPTION_TYPE: "ValueError", sc.EXCEPTION_MESSAGE: "bad arg"})
    doc = run([rec(1, None, 0, 1, status="ERROR", events=[SpanEvent("log", T0, {}), event])])
    assert doc["steps"][0]["error"] == {"type": "ValueError", "message": "bad arg"}
    # error.type and the status message win over the event.
    doc = run([rec(1, None, 0, 1, status="ERROR", message="top", events=[event], **{sc.ERROR_TYPE: "invalid_request"})])
    assert doc["steps"][0]["error"] == {"type": "invalid_request", "message": "top"}


def test_ok_and_unset_status_are_ok() -> None:
    doc = run([rec(1, None, 0, 1, status="OK"), rec(2, 1, 0, 1)])
    assert [s["status"] for s in doc["steps"]] == ["ok", "ok"] and doc["status"] == "ok"


# --- llm calls: models, usage, request, content, final output --------------------------------------------------


def test_models_usage_and_request() -> None:
    records = [
        rec(1, None, 0, 100),
        llm(2, 1, 1, 2, **{sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
                          sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3, sc.GEN_AI_REQUEST_TOP_P: 0.9,
                          sc.GEN_AI_REQUEST_STOP_SEQUENCES: ["\n"], sc.GEN_AI_REQUEST_CHOICE_COUNT: 2}),
        llm(3, 1, 3, 4, **{sc.GEN_AI_REQUEST_MODEL: "claude-x", sc.GEN_AI_RESPONSE_MODEL: "claude-x-2025",
                          sc.GEN_AI_USAGE_INPUT_TOKENS: 100, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
                          sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 60,
                          sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 20}),
        llm(4, 1, 5, 6, **{sc.GEN_AI_REQUEST_MODEL: "gpt-4o", sc.GEN_AI_RESPONSE_MODEL: "gpt-4o",
                          sc.GEN_AI_USAGE_INPUT_TOKENS: "5", sc.GEN_AI_USAGE_OUTPUT_TOKENS: "many"}),
        llm(5, 1, 7, None, **{sc.GEN_AI_REQUEST_MODEL: "late-model"}),  # in flight: no usage yet
        # An agent span may total its calls' usage: it must not be counted twice.
        rec(6, 1, 8, 9, **{sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_AGENT, sc.GEN_AI_USAGE_INPUT_TOKENS: 115}),
    ]  # fmt: skip
    doc = run(records)
    by_id = steps_by_id(doc)
    assert doc["model"] == "gpt-4o"
    assert doc["models"] == ["gpt-4o", "claude-x-2025", "late-model"]
    assert doc["usage"] == {
        "input_tokens": 115, "output_tokens": 10, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 20
    }  # fmt: skip
    assert by_id[sid(2)]["request"] == {"top_p": 0.9, "stop_sequences": ["\n"], "choice.count": 2}
    assert by_id[sid(2)]["model"] == "gpt-4o" and sc.GEN_AI_REQUEST_MODEL not in by_id[sid(2)]["attributes"]
    assert by_id[sid(3)]["model"] == "claude-x-2025"
    assert by_id[sid(3)]["attributes"][sc.GEN_AI_REQUEST_MODEL] == "claude-x"
    assert sc.GEN_AI_RESPONSE_MODEL not in by_id[sid(3)]["attributes"]
    assert by_id[sid(4)]["usage"] == {"input_tokens": 5}  # a count that is not a number is dropped
    assert by_id[sid(5)]["usage"] is None and by_id[sid(5)]["status"] == "incomplete"
    assert by_id[sid(6)]["usage"] == {"input_tokens": 115}


def test_a_run_without_llm_calls() -> None:
    doc = run([rec(1, None, 0, 1)])
    assert (doc["model"], doc["models"], doc["final_output"]) == (None, [], None)
    assert doc["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert doc["service"] == {"name": None}


def test_service_name_from_the_root_resource() -> None:
    root = rec(1, None, 0, 1, resource={"service.name": "agent"})
    child = rec(2, 1, 0, 1, resource={"service.name": "other"})
    assert run([child, root])["service"] == {"name": "agent"}
    assert run([rec(1, None, 0, 1), child])["service"] == {"name": "other"}


def test_final_output_is_the_text_of_the_last_llm_call() -> None:
    first = llm(2, 1, 1, 2, **{sc.GEN_AI_OUTPUT_MESSAGES: msgs("assistant", "first", finish="stop")})
    last = llm(3, 1, 3, 4, **{sc.GEN_AI_OUTPUT_MESSAGES: msgs("assistant", "Hello, ", "world.", finish="stop")})
    assert run([rec(1, None, 0, 9), first, last])["final_output"] == "Hello, world."

    # The last call asked for a tool and said nothing: there is no final text.
    tool_only = json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "id": "c", "name": "t"}]}])
    asks_tool = llm(3, 1, 3, 4, **{sc.GEN_AI_OUTPUT_MESSAGES: tool_only})
    assert run([rec(1, None, 0, 9), first, asks_tool])["final_output"] is None

    # A last call without recorded output (content off, or died in flight) is skipped.
    in_flight = llm(3, 1, 3, None)
    assert run([rec(1, None, 0, 9), first, in_flight])["final_output"] == "first"


def test_content_is_parsed_json_or_kept_as_text() -> None:
    truncated = '[{"role": "user", "parts": [{"type": "text", "content": "aaaa…[truncated]'
    tool = rec(2, 1, 1, 2, **{sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL,
                              sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city": "Oslo"}',
                              sc.GEN_AI_TOOL_CALL_RESULT: "sunny, 21 C"})  # fmt: skip
    chat = llm(3, 1, 3, 4, **{sc.GEN_AI_INPUT_MESSAGES: truncated, sc.GEN_AI_SYSTEM_INSTRUCTIONS: "be brief"})
    by_id = steps_by_id(run([rec(1, None, 0, 9), tool, chat]))
    assert by_id[sid(2)]["input"] == {"city": "Oslo"}
    assert by_id[sid(2)]["output"] == "sunny, 21 C"
    assert by_id[sid(3)]["input"] == truncated
    assert by_id[sid(3)]["system_instructions"] == "be brief"
    assert by_id[sid(3)]["output"] is None and by_id[sid(3)]["tool_definitions"] is None


def test_content_recorded_on_an_event_is_read_too() -> None:
    # OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=EVENT_ONLY puts content on an event.
    event = SpanEvent("gen_ai.client.inference.operation.details", T0, {
        sc.GEN_AI_INPUT_MESSAGES: msgs("user", "hi"), sc.GEN_AI_OUTPUT_MESSAGES: msgs("assistant", "hello"),
    })  # fmt: skip
    chat = llm(1, None, 0, 1)
    chat.events = [event]
    doc = run([chat])
    assert doc["steps"][0]["input"][0]["parts"][0]["content"] == "hi"
    assert doc["final_output"] == "hello"


def test_node_spans_carry_their_messages() -> None:
    agent = rec(1, None, 0, 1, **{sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_AGENT,
                                  sc.GEN_AI_INPUT_MESSAGES: msgs("user", "plan it")})  # fmt: skip
    assert run([agent])["steps"][0]["input"][0]["parts"][0]["content"] == "plan it"


# --- invariants over random trees ------------------------------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn) -> list[SpanRecord]:
    count = draw(st.integers(min_value=1, max_value=40))
    records = []
    for n in range(1, count + 1):
        parent = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=count + 3)))
        start = draw(st.integers(min_value=0, max_value=20))
        length = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=20)))
        operation = draw(st.sampled_from([None, "chat", "execute_tool", "invoke_agent", "invoke_workflow"]))
        status = draw(st.sampled_from(["UNSET", "OK", "ERROR"]))
        record = rec(n, parent, start, start + length if length is not None else None, status=status)
        if operation:
            record.attributes[sc.GEN_AI_OPERATION_NAME] = operation
        if draw(st.booleans()):
            record.attributes[sc.AGENTTRACE_NODE_NAME] = f"node{n}"
        records.append(record)
    return records


@settings(max_examples=100, deadline=None)
@given(trees())
def test_random_traces_assemble_into_valid_ordered_documents(records: list[SpanRecord]) -> None:
    doc = run(records)
    steps = doc["steps"]
    # Only an LLM span nested in another one is merged away (one step per model call).
    merged = {r.span_id for r in records} - {s["id"] for s in steps}
    assert all(r.attributes.get(sc.GEN_AI_OPERATION_NAME) == "chat" for r in records if r.span_id in merged)
    assert len(steps) == len({r.span_id for r in records}) - len(merged)
    assert [s["index"] for s in steps] == list(range(len(steps)))
    assert [s["relative_ms"] for s in steps] == sorted(s["relative_ms"] for s in steps)
    # the run starts with its first step, even when that span was merged away (its survivor covers the call)
    assert min(s["relative_ms"] for s in steps) == 0.0
    position = {s["id"]: s["index"] for s in steps}
    for step in steps:
        parent = step["parent_id"]
        if parent is not None:
            assert parent in position  # every parent link points inside the document
            if steps[position[parent]]["started_at"] == step["started_at"]:
                assert position[parent] < step["index"]
    assert doc["otel"]["root_span_id"] in position
    assert steps_by_id(doc)[doc["otel"]["root_span_id"]]["parent_id"] is None
    by_id = steps_by_id(doc)
    for step in steps:
        if step["type"] == "llm_call":
            parent = by_id.get(step["parent_id"])
            while parent is not None and parent["type"] == "span":
                parent = by_id.get(parent["parent_id"])
            assert parent is None or parent["type"] != "llm_call"
