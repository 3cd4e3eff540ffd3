"""One LLM step per call, whoever made the span; any recorded content assembles into a valid document."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._check import check_before_write
from otel_agenttrace.exporter._records import SpanRecord, TraceFormatError

from .test_assemble import llm, msgs, rec, run, sid

OURS = "otel_agenttrace"


def usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {sc.GEN_AI_USAGE_INPUT_TOKENS: tokens_in, sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens_out}


def ours(record: SpanRecord) -> SpanRecord:
    record.scope = OURS
    return record


def theirs(record: SpanRecord, scope: str = "pydantic-ai") -> SpanRecord:
    record.scope = scope
    return record


def agent(n: int, parent: int | None, start: float, end: float) -> SpanRecord:
    record = rec(n, parent, start, end, "invoke_agent agent", gen_ai__operation__name="invoke_agent")
    record.attributes[sc.GEN_AI_AGENT_NAME] = "agent"
    return theirs(record)


def test_our_sdk_span_inside_a_peer_llm_span_is_one_step_counted_once() -> None:
    # Pydantic AI with instrument_all(): its `chat` span, our SDK span inside, 2 turns.
    records = [
        agent(1, None, 0, 100),
        theirs(llm(2, 1, 1, 40, **usage(61, 7), model_request_parameters="{}")),
        ours(llm(3, 2, 2, 39, **usage(61, 7), **{sc.GEN_AI_RESPONSE_ID: "chatcmpl-1"})),
        theirs(rec(4, 1, 41, 42, "execute_tool get_weather", gen_ai__operation__name="execute_tool")),
        theirs(llm(5, 1, 43, 90, **usage(83, 9))),
        ours(llm(6, 5, 44, 89, **usage(83, 9), **{sc.GEN_AI_OUTPUT_MESSAGES: msgs("assistant", "done")})),
    ]
    doc = run(records)
    llm_steps = [s for s in doc["steps"] if s["type"] == "llm_call"]
    assert [s["id"] for s in llm_steps] == [sid(3), sid(6)]  # ours: it saw the exact request and response
    assert doc["usage"] == {"input_tokens": 144, "output_tokens": 16}
    assert all(s["parent_id"] == sid(1) for s in doc["steps"][1:])  # in the peer's place in the tree
    assert llm_steps[0]["attributes"]["model_request_parameters"] == "{}"  # the peer's attributes are kept
    assert doc["final_output"] == "done"
    assert [s["index"] for s in doc["steps"]] == list(range(len(doc["steps"])))


def test_the_merged_step_covers_the_whole_call() -> None:
    # The peer's span around ours starts 1 ms earlier and ends 1 ms later: the call's one step spans both views.
    records = [
        agent(1, None, 0, 100),
        theirs(llm(2, 1, 10, 50, **usage(61, 7))),
        ours(llm(3, 2, 11, 49, **usage(61, 7))),
    ]
    doc = run(records)
    (step,) = [s for s in doc["steps"] if s["type"] == "llm_call"]
    assert step["id"] == sid(3)
    assert (step["relative_ms"], step["duration_ms"]) == (10.0, 40.0)
    started = datetime.fromisoformat(step["started_at"].replace("Z", "+00:00"))
    assert round(started.timestamp() * 1e6) == records[1].start_ns // 1000  # the peer's start, to the microsecond


def test_a_peer_span_inside_ours_is_merged_too_and_fills_what_ours_lacks() -> None:
    # e.g. OpenLLMetry or openai-v2 patched inside our wrapper; our span has no usage (a raw response).
    records = [
        ours(rec(1, None, 0, 50, "invoke_workflow w", gen_ai__operation__name="invoke_workflow")),
        ours(llm(2, 1, 1, 40)),
        theirs(llm(3, 2, 2, 39, **usage(10, 2), **{sc.GEN_AI_OUTPUT_MESSAGES: msgs("assistant", "hi")}), "openllmetry"),
    ]
    doc = run(records)
    (step,) = [s for s in doc["steps"] if s["type"] == "llm_call"]
    assert step["id"] == sid(2)
    assert step["usage"] == {"input_tokens": 10, "output_tokens": 2}
    assert step["output"][0]["parts"][0]["content"] == "hi"
    assert doc["usage"] == {"input_tokens": 10, "output_tokens": 2}


@pytest.mark.parametrize(
    "marker",
    [
        {"openinference.span.kind": "LLM", "llm.token_count.prompt": 10, "llm.token_count.completion": 2},
        {"llm.request.type": "chat", "gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 2},
    ],
    ids=["openinference", "openllmetry-legacy"],
)
def test_peers_without_gen_ai_operation_are_recognised(marker: dict[str, Any]) -> None:
    outer = theirs(rec(2, 1, 1, 40, "ChatCompletion"), "peer")
    outer.attributes.update(marker)
    records = [ours(rec(1, None, 0, 50, "invoke_workflow w", gen_ai__operation__name="invoke_workflow")), outer]
    alone = run(records)
    assert [s["type"] for s in alone["steps"]] == ["workflow", "llm_call"]
    assert alone["usage"] == {"input_tokens": 10, "output_tokens": 2}
    doc = run([*records, ours(llm(3, 2, 2, 39, **usage(10, 2)))])
    assert [s["id"] for s in doc["steps"]] == [sid(1), sid(3)]
    assert doc["usage"] == {"input_tokens": 10, "output_tokens": 2}


def test_several_calls_inside_one_peer_span_stay_several_steps() -> None:
    records = [
        ours(rec(1, None, 0, 50, "invoke_workflow w", gen_ai__operation__name="invoke_workflow")),
        theirs(llm(2, 1, 1, 40, **usage(20, 4))),  # a peer's span around two attempts
        ours(llm(3, 2, 2, 10, **usage(10, 2))),
        ours(llm(4, 2, 11, 39, **usage(10, 2))),
    ]
    doc = run(records)
    assert [(s["id"], s["type"]) for s in doc["steps"]] == [
        (sid(1), "workflow"),
        (sid(2), "span"),
        (sid(3), "llm_call"),
        (sid(4), "llm_call"),
    ]
    assert doc["usage"] == {"input_tokens": 20, "output_tokens": 4}


def test_a_root_llm_span_keeps_its_place() -> None:
    doc = run([theirs(llm(1, None, 0, 10)), ours(llm(2, 1, 1, 9, **usage(3, 1)))])
    assert [s["id"] for s in doc["steps"]] == [sid(1)]
    assert doc["steps"][0]["usage"] == {"input_tokens": 3, "output_tokens": 1}
    assert doc["otel"]["root_span_id"] == sid(1)


# --- any content assembles into a valid document ---------------------------------------------------------------


def test_a_message_with_no_role_gets_the_unknown_role() -> None:
    # An llm target reading LangChain message objects (no .role attribute) recorded "role": null.
    content = json.dumps([{"role": None, "parts": [{"type": "text", "content": "hi"}]}, {"role": "human"}])
    doc = run([llm(1, None, 0, 1, **{sc.GEN_AI_INPUT_MESSAGES: content})])
    assert doc["steps"][0]["input"] == [
        {"role": "unknown", "parts": [{"type": "text", "content": "hi"}]},
        {"role": "human", "parts": []},
    ]


KEYS = st.sampled_from(["role", "parts", "type", "name", "finish_reason", "content"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    operation=st.sampled_from(["chat", "invoke_agent", "invoke_workflow", "execute_tool", None]),
    content=st.dictionaries(
        st.sampled_from(sorted(sc.CONTENT_ATTRIBUTES)), json_values.map(json.dumps) | json_values, max_size=4
    ),
)
def test_any_recorded_content_assembles_into_a_valid_document(operation: str | None, content: dict[str, Any]) -> None:
    record = rec(1, None, 0, 1)
    if operation:
        record.attributes[sc.GEN_AI_OPERATION_NAME] = operation
    record.attributes.update(content)
    run([record])  # validates against the schema


def test_the_write_check_refuses_an_invalid_document_in_one_line() -> None:
    doc = assemble([llm(1, None, 0, 1)])
    check_before_write(doc)
    doc["steps"][0]["output"] = [{"role": None, "parts": []}]
    with pytest.raises(TraceFormatError) as caught:
        check_before_write(doc)
    assert "steps/0/output" in str(caught.value)
    assert "\n" not in str(caught.value)
