"""One module owns what a run is (exporter/_run.py): the store's summary (`list`), the assembled run trace
(`dump`) and the comparisons agree on the root, workflow, status, tokens and models, whatever order the
spans arrive in, `generate_content` included."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter import _run
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter.store import RunStore
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
