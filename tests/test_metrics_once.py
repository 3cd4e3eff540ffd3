"""One call, measured once: when our SDK span starts inside another instrumentation's GenAI LLM span for
the same call, the gen_ai.client.* metrics that instrumentation records are not recorded by ours too
(otel_agenttrace/_metrics.py, PEER_METRICS); the ones it does not record still are."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import fake_transport, json_response, openai_client
from opentelemetry.trace import SpanKind

from otel_agenttrace import semconv as sc
from otel_agenttrace._metrics import PEER_METRICS

USER = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}


def token_sums(tel: Any) -> dict[tuple[str, str], int]:
    """(scope, token type) -> tokens recorded, from every instrumentation that shares the MeterProvider."""
    from tests.oteltest import flush_metrics

    flush_metrics()
    sums: dict[tuple[str, str], int] = {}
    data = tel.metric_reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == sc.Metric.TOKEN_USAGE:
                    for p in metric.data.data_points:
                        key = (sm.scope.name, p.attributes[sc.GEN_AI_TOKEN_TYPE])
                        sums[key] = sums.get(key, 0) + p.sum
    return sums


def call_inside(tel: Any, scope: str | None) -> None:
    """One chat call of the real SDK (faked transport), inside an LLM span of `scope` when given."""
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    if scope is None:
        client.chat.completions.create(model="gpt-4o", messages=USER)
        return
    tracer = tel.tracer_provider.get_tracer(scope)
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
        client.chat.completions.create(model="gpt-4o", messages=USER)


@pytest.mark.parametrize("scope", [None, "opentelemetry.instrumentation.openai_v2", "pydantic-ai", "some-other-peer"])
def test_ours_records_what_the_current_peer_does_not(tel: Any, scope: str | None) -> None:
    call_inside(tel, scope)
    peer = PEER_METRICS.get(scope or "", frozenset())
    durations = tel.metric_points(sc.Metric.OPERATION_DURATION)
    tokens = tel.metric_points(sc.Metric.TOKEN_USAGE)
    assert sum(p.count for p in durations) == (0 if sc.Metric.OPERATION_DURATION in peer else 1)
    assert sum(p.sum for p in tokens) == (0 if sc.Metric.TOKEN_USAGE in peer else 1536 + 8)


def test_a_plain_or_non_llm_current_span_changes_nothing(tel: Any) -> None:
    # A Pydantic AI span that is not an LLM span (its agent run) does not measure the call.
    tracer = tel.tracer_provider.get_tracer("pydantic-ai")
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    with tracer.start_as_current_span("invoke_agent agent", attributes={sc.GEN_AI_OPERATION_NAME: "invoke_agent"}):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert sum(p.count for p in tel.metric_points(sc.Metric.OPERATION_DURATION)) == 1
    assert sum(p.sum for p in tel.metric_points(sc.Metric.TOKEN_USAGE)) == 1536 + 8


def test_pydantic_ai_instrumented_counts_each_call_s_tokens_once(tel: Any) -> None:
    """The real Pydantic AI agent with its instrumentation on, the same providers as ours, against the
    loopback scenario (3 calls): its token histogram and ours together hold each call's tokens once,
    and the duration (which Pydantic AI does not record) is ours, once per call."""
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings, InstrumentedModel
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from tests.frameworks.scenario_server import MODEL, QUESTION, TOTAL_INPUT, TOTAL_OUTPUT, ScenarioServer, get_weather

    settings = InstrumentationSettings(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider)
    with ScenarioServer() as server:
        provider = OpenAIProvider(base_url=server.base_url, api_key="test")
        # What Agent.instrument_all(settings) does for every agent, with this test's providers.
        agent = Agent(InstrumentedModel(OpenAIChatModel(MODEL, provider=provider), settings))
        agent.tool_plain(get_weather)
        result = asyncio.run(agent.run(QUESTION))
    usage: Any = result.usage  # a property in Pydantic AI 2 (still callable, deprecated), a method before
    if not hasattr(usage, "input_tokens"):
        usage = usage()
    assert (usage.input_tokens, usage.output_tokens) == (TOTAL_INPUT, TOTAL_OUTPUT)
    llm_spans = [s for s in tel.spans() if (s.attributes or {}).get(sc.GEN_AI_OPERATION_NAME) == "chat"]
    scopes = {s.instrumentation_scope.name for s in llm_spans if s.instrumentation_scope}
    assert {"pydantic-ai", "otel_agenttrace"} <= scopes  # both instrumentations made the call's span
    sums = token_sums(tel)
    assert sum(v for (_, kind), v in sums.items() if kind == "input") == TOTAL_INPUT
    assert sum(v for (_, kind), v in sums.items() if kind == "output") == TOTAL_OUTPUT
    assert sum(p.count for p in tel.metric_points(sc.Metric.OPERATION_DURATION)) == 3
