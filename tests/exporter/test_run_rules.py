"""One module owns what a run is (exporter/_run.py): the store's summary (`list`), the assembled run trace
(`dump`) and the comparisons agree on the root, workflow, status, tokens, models and step count, whatever
order the spans arrive in, `generate_content` included, and when two instrumentations traced one call
(a peer's LLM span around ours or inside it: one step, tokens counted once)."""

from __future__ import annotations

import dataclasses
import itertools
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter import _run
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.store import RunStore, RunSummary
from tests.exporter.test_assemble import TRACE, rec

LLM = {sc.GEN_AI_OPERATION_NAME: "generate_content", sc.GEN_AI_RESPONSE_MODEL: "gemini-2.0-flash"}


def spans(root_status: str = "OK", open_child: bool = False) -> list:
    return [
        rec(1, None, 0, 100, "invoke_workflow w", status=root_status, **{sc.GEN_AI_WORKFLOW_NAME: "w"}),
        rec(2, 1, 1, 50, "agent", **{sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.GEN_AI_WORKFLOW_NAME: "inner"}),
        rec(3, 2, 2, 20, "generate", **LLM, **{sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4}),
        rec(
            4,
            2,
            21,
            None if open_child else 40,
            "chat",
            **{sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o"},
            **({} if open_child else {sc.GEN_AI_USAGE_INPUT_TOKENS: 5}),
        ),
    ]


@pytest.mark.parametrize(
    ("root_status", "open_child", "status"),
    [("OK", False, "ok"), ("ERROR", False, "error"), ("OK", True, "incomplete")],
)
def test_store_summary_and_assembled_run_agree_in_any_arrival_order(
    tmp_path: Path, root_status: str, open_child: bool, status: str
) -> None:
    records = spans(root_status, open_child)
    doc = assemble(records)
    assert (doc["workflow"], doc["status"]) == ("w", status)
    assert doc["models"] == ["gemini-2.0-flash", "gpt-4o"]
    tokens = (10, 4) if open_child else (15, 4)  # an LLM call still going has reported no usage
    assert (doc["usage"]["input_tokens"], doc["usage"]["output_tokens"]) == tokens
    for n, order in enumerate(itertools.permutations(records)):
        if n % 5:
            continue
        with RunStore(tmp_path / f"{status}-{n}") as store:
            finished = [r for r in order if r.end_ns is not None]
            store.write_starts([r for r in order if r.end_ns is None])
            for record in finished:  # one batch per span: the summary is merged span by span
                store.write_spans([record])
            summary = store.run(TRACE)
            assert summary is not None
            assert (summary.workflow, summary.status) == (doc["workflow"], doc["status"])
            assert sorted(summary.models) == sorted(doc["models"])
            assert (summary.input_tokens, summary.output_tokens) == tokens


def test_the_rules() -> None:
    assert _run.is_llm_call({sc.GEN_AI_OPERATION_NAME: "generate_content"})
    assert not _run.is_llm_call({sc.GEN_AI_OPERATION_NAME: "execute_tool"})
    assert _run.model_of({sc.GEN_AI_REQUEST_MODEL: "a", sc.GEN_AI_RESPONSE_MODEL: "b"}) == "b"
    assert _run.tokens_of({sc.GEN_AI_USAGE_INPUT_TOKENS: -3, sc.GEN_AI_USAGE_OUTPUT_TOKENS: True}) == (0, 0)
    assert _run.workflow_name({}, "root span", [{}, {sc.GEN_AI_WORKFLOW_NAME: "found"}]) == "found"
    assert _run.workflow_name({}, "root span", []) == "root span"
    # parentless beats earlier; among equals the earlier wins
    assert _run.is_better_root(50, True, 10, False) and not _run.is_better_root(5, False, 10, True)
    assert _run.is_better_root(5, True, 10, True) and not _run.is_better_root(15, True, 10, True)
    assert [_run.run_status(f, i) for f, i in [(True, True), (False, True), (False, False)]] == [
        "error",
        "incomplete",
        "ok",
    ]


# --- two instrumentations, one call ------------------------------------------------------------------------------

OURS = "otel_agenttrace"


def call_span(
    n: int, parent: int | None, start: float, end: float | None, scope: str, tokens: Any, model: str
) -> SpanRecord:
    """An LLM span of `scope`; `tokens` (input, output), None (no usage), or "peer" keys of OpenInference."""
    if scope == "openinference":  # no gen_ai.operation.name: recognised by its own marker and token keys
        record = rec(n, parent, start, end, "ChatCompletion", **{"openinference.span.kind": "LLM"})
        if tokens is not None:
            record.attributes.update({"llm.token_count.prompt": tokens[0], "llm.token_count.completion": tokens[1]})
        record.attributes[sc.GEN_AI_REQUEST_MODEL] = model
    else:
        record = rec(n, parent, start, end, f"chat {model}", **{sc.GEN_AI_OPERATION_NAME: "chat"})
        record.attributes[sc.GEN_AI_RESPONSE_MODEL if scope == OURS else sc.GEN_AI_REQUEST_MODEL] = model
        if tokens is not None:
            record.attributes.update(
                {sc.GEN_AI_USAGE_INPUT_TOKENS: tokens[0], sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1]}
            )
    record.scope = scope
    return record


TOKENS = st.one_of(st.none(), st.tuples(st.integers(0, 500), st.integers(0, 80)))
PEERS = st.sampled_from(["pydantic-ai", "openai-v2", "openinference"])
MODELS = st.sampled_from(["gpt-4o", "gpt-4o-2024-08-06"])
# One model call, as the program's instrumentations trace it.
SHAPES = st.sampled_from(["ours", "peer-around-ours", "ours-around-peer", "peer-http-ours", "peer-around-two", "peer"])


@st.composite
def traces(draw: st.DrawFn) -> list[SpanRecord]:
    """A workflow (ours) with an agent and tool steps and 1-4 calls, each in one of SHAPES."""
    spans = [rec(1, None, 0, 1000, "invoke_workflow w", **{sc.GEN_AI_WORKFLOW_NAME: "w"})]
    spans.append(rec(2, 1, 1, 990, "invoke_agent a", **{sc.GEN_AI_OPERATION_NAME: "invoke_agent"}))
    for record in spans:
        record.scope = OURS
    n, t = 3, 10.0
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(SHAPES)
        peer = draw(PEERS)
        model = draw(MODELS)
        same = draw(TOKENS)  # what a call reports; each view may also report something else, or nothing

        def tokens(same: Any = same) -> Any:
            return same if draw(st.booleans()) else draw(TOKENS)

        if shape == "ours":
            spans.append(call_span(n, 2, t, t + 50, OURS, tokens(), model))
            n += 1
        elif shape == "peer":
            spans.append(call_span(n, 2, t, t + 50, peer, tokens(), model))
            n += 1
        elif shape == "peer-around-ours":  # Pydantic AI's `chat` span, our SDK span inside
            spans.append(call_span(n, 2, t, t + 50, peer, tokens(), model))
            spans.append(call_span(n + 1, n, t + 1, t + 49, OURS, tokens(), draw(MODELS)))
            n += 2
        elif shape == "ours-around-peer":  # openai-v2 / OpenInference patched inside our wrapper
            spans.append(call_span(n, 2, t, t + 50, OURS, tokens(), model))
            spans.append(call_span(n + 1, n, t + 1, t + 49, peer, tokens(), draw(MODELS)))
            n += 2
        elif shape == "peer-http-ours":  # a plain span between the two views, and an HTTP span under ours
            spans.append(call_span(n, 2, t, t + 50, peer, tokens(), model))
            spans.append(rec(n + 1, n, t + 1, t + 49, "retry wrapper"))
            spans.append(call_span(n + 2, n + 1, t + 2, t + 48, OURS, tokens(), model))
            spans.append(rec(n + 3, n + 2, t + 3, t + 47, "POST", **{"http.request.method": "POST"}))
            n += 4
        else:  # a peer's span around two attempts: two calls, the outer one is not a call
            spans.append(call_span(n, 2, t, t + 50, peer, tokens(), model))
            spans.append(call_span(n + 1, n, t + 1, t + 20, OURS, tokens(), model))
            spans.append(call_span(n + 2, n, t + 21, t + 49, OURS, tokens(), model))
            n += 3
        spans.append(rec(n, 2, t + 51, t + 60, "execute_tool f", **{sc.GEN_AI_OPERATION_NAME: "execute_tool"}))
        n += 1
        t += 100
    return spans


def agrees(summary: RunSummary | None, doc: dict[str, Any]) -> None:
    assert summary is not None
    usage = doc["usage"]
    assert (summary.input_tokens, summary.output_tokens) == (usage["input_tokens"], usage["output_tokens"])
    assert sorted(summary.models) == sorted(doc["models"])
    assert summary.steps == len(doc["steps"])
    assert (summary.workflow, summary.status) == (doc["workflow"], doc["status"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), st.randoms(use_true_random=False), st.data())
def test_store_summary_counts_each_call_once_in_any_arrival_order(
    records: list[SpanRecord], rng: random.Random, data: st.DataObject
) -> None:
    """Spans arrive shuffled, in batches of any size; some first as start records (the in-flight
    recorder), some never end. After every batch, the store's summary is what the assembled run of the
    spans stored so far says."""
    order = list(records)
    rng.shuffle(order)
    with tempfile.TemporaryDirectory() as home, RunStore(home) as store:
        stored: dict[str, SpanRecord] = {}
        while order:
            size = data.draw(st.integers(1, len(order)), label="batch")
            batch, order = order[:size], order[size:]
            starts, ends = [], []
            for record in batch:
                how = data.draw(st.sampled_from(["end", "end", "start+end", "start"]), label="write")
                if how != "end":
                    starts.append(dataclasses.replace(record, end_ns=None))
                if how != "start":
                    ends.append(record)
            if starts:
                store.write_starts(starts)
                for record in starts:
                    stored.setdefault(record.span_id, record)
            if ends:
                store.write_spans(ends)
                for record in ends:
                    stored[record.span_id] = record
            doc = assemble(list(stored.values()))
            agrees(store.run(TRACE), doc)
            assert doc == assemble(store.spans(TRACE))


def test_a_pydantic_ai_call_counts_once_in_the_store_whichever_span_comes_first(tmp_path: Path) -> None:
    # Pydantic AI's `chat` span (instrument_all) around our SDK span: 249/30 once, never 498/60.
    workflow = rec(1, None, 0, 100, "invoke_workflow w", **{sc.GEN_AI_WORKFLOW_NAME: "w"})
    theirs = call_span(2, 1, 1, 90, "pydantic-ai", (249, 30), "gpt-4o")
    ours = call_span(3, 2, 2, 89, OURS, (249, 30), "gpt-4o")
    orders = (([ours], [theirs], [workflow]), ([workflow, theirs], [ours]), ([theirs, ours, workflow],))
    for n, order in enumerate(orders):
        with RunStore(tmp_path / str(n)) as store:
            for batch in order:
                store.write_spans(batch)
            summary = store.run(TRACE)
            assert summary is not None
            assert (summary.input_tokens, summary.output_tokens, summary.steps) == (249, 30, 2)
            assert summary.models == ["gpt-4o"]


def test_two_writers_of_one_run_keep_its_calls_right(tmp_path: Path) -> None:
    # Each writer keeps the run's calls decoded between batches; the other writer's batches must not be lost.
    workflow = rec(1, None, 0, 100, "invoke_workflow w", **{sc.GEN_AI_WORKFLOW_NAME: "w"})
    spans = [
        call_span(2, 1, 1, 40, "pydantic-ai", (10, 1), "gpt-4o"),
        call_span(3, 2, 2, 39, OURS, (10, 1), "gpt-4o"),
        call_span(4, 1, 41, 80, "pydantic-ai", (20, 2), "gpt-4o"),
        call_span(5, 4, 42, 79, OURS, (20, 2), "gpt-4o"),
        workflow,
    ]
    with RunStore(tmp_path) as first, RunStore(tmp_path) as second:
        for n, record in enumerate(spans):
            (first if n % 2 else second).write_spans([record])
        for store in (first, second):
            summary = store.run(TRACE)
            assert summary is not None
            assert (summary.input_tokens, summary.output_tokens, summary.steps) == (30, 3, 3)
            agrees(summary, assemble(store.spans(TRACE)))
