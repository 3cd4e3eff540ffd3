"""Context and metrics: the LLM span is current during the call (so HTTP spans nest under it) and only then;
parents are right under asyncio and threads, with and without the process-level run root; the GenAI
metrics carry the spec's units, buckets and attributes."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from fakes import (
    ANTHROPIC_BASE_URL,
    OPENAI_BASE_URL,
    TEST_API_KEY,
    FakeResponse,
    anthropic_client,
    fake_transport,
    json_response,
    openai_client,
    sse_response,
)
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

from otel_agenttrace import AgentTraceInstrumentor, _lifecycle
from otel_agenttrace import semconv as sc

USER = [{"role": "user", "content": "What is the capital of France?"}]

# The GenAI metrics spec's advised bucket boundaries, written out (not taken from our constants).
SPEC_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
SPEC_TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)


class SpySeen:
    """A transport handler that notes the current span (and our current LLM invocation) at request time."""

    def __init__(self, *responses: FakeResponse, delay: float = 0.0) -> None:
        self.responses = list(responses)
        self.delay = delay
        self.spans: list[Span] = []
        self.lock = threading.Lock()

    def _next(self, request: httpx2.Request) -> httpx2.Response:
        with self.lock:
            self.spans.append(trace.get_current_span())
            response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return response.to_httpx(request)

    def sync(self, request: httpx2.Request) -> httpx2.Response:
        return self._next(request)

    async def async_(self, request: httpx2.Request) -> httpx2.Response:
        current = trace.get_current_span()
        await asyncio.sleep(self.delay)  # every call is in flight at once
        assert trace.get_current_span() is current  # nobody else's context leaked into this task
        return self._next(request)

    def openai(self, async_: bool = False) -> Any:
        if async_:
            return openai.AsyncOpenAI(
                api_key=TEST_API_KEY,
                base_url=OPENAI_BASE_URL,
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self.async_)),
            )
        return openai_client(httpx2.MockTransport(self.sync))

    def anthropic(self, async_: bool = False) -> Any:
        if async_:
            return anthropic.AsyncAnthropic(
                api_key=TEST_API_KEY,
                base_url=ANTHROPIC_BASE_URL,
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self.async_)),
            )
        return anthropic_client(httpx2.MockTransport(self.sync))


def span_id(span: Span | ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def user_tracer(tel: Any) -> trace.Tracer:
    return tel.tracer_provider.get_tracer("user-code")


# --- current during the call, restored after ------------------------------------------------------


def test_llm_span_is_current_during_the_call(tel) -> None:
    spy = SpySeen(json_response("openai/chat_text.json"))
    before = trace.get_current_span()
    spy.openai().chat.completions.create(model="gpt-4o", messages=USER)
    span = tel.only_span()
    (seen,) = spy.spans
    assert span_id(seen) == span_id(span)
    assert trace.get_current_span() is before
    assert _lifecycle.current_llm.get() is None


async def test_llm_span_is_current_during_an_async_call(tel) -> None:
    spy = SpySeen(json_response("anthropic/messages_text.json"))
    await spy.anthropic(async_=True).messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)
    (seen,) = spy.spans
    assert span_id(seen) == span_id(tel.only_span())
    assert not trace.get_current_span().get_span_context().is_valid


def test_previous_context_restored_under_a_user_span(tel) -> None:
    spy = SpySeen(json_response("openai/chat_text.json"), json_response("openai/error_429.json"))
    client = spy.openai()
    with user_tracer(tel).start_as_current_span("outer") as outer:
        client.chat.completions.create(model="gpt-4o", messages=USER)
        assert trace.get_current_span() is outer
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=USER)
        assert trace.get_current_span() is outer  # also after a failure
        assert _lifecycle.current_llm.get() is None
    ok, failed = tel.llm_spans()
    assert [span_id(s) for s in spy.spans] == [span_id(ok), span_id(failed)]
    assert ok.parent is not None and failed.parent is not None
    assert ok.parent.span_id == failed.parent.span_id == span_id(outer)


def test_stream_returns_with_context_restored_while_its_span_stays_open(tel) -> None:
    spy = SpySeen(sse_response("openai/chat_stream_text.sse"))
    with user_tracer(tel).start_as_current_span("outer") as outer:
        stream = spy.openai().chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        assert trace.get_current_span() is outer  # the call returned: not the open LLM span
        assert tel.llm_spans() == []
        for _ in stream:
            assert trace.get_current_span() is outer
    span = tel.only_span()
    assert span_id(spy.spans[0]) == span_id(span)
    assert span.parent is not None and span.parent.span_id == span_id(outer)


def test_anthropic_stream_helper_current_at_request_time(tel) -> None:
    spy = SpySeen(sse_response("anthropic/messages_stream_text.sse"))
    with spy.anthropic().messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=USER) as stream:
        assert not trace.get_current_span().get_span_context().is_valid
        stream.until_done()
    assert span_id(spy.spans[0]) == span_id(tel.only_span())


# --- asyncio ----------------------------------------------------------------------------------


async def test_gather_parents_each_call_under_the_callers_span(tel) -> None:
    spy = SpySeen(json_response("openai/chat_text.json"), delay=0.01)
    client = spy.openai(async_=True)
    with user_tracer(tel).start_as_current_span("fanout") as parent:
        results = await asyncio.gather(
            *(client.chat.completions.create(model="gpt-4o", messages=USER) for _ in range(5))
        )
        assert trace.get_current_span() is parent
    assert len(results) == 5
    spans = tel.llm_spans()
    assert len(spans) == 5
    assert {s.parent.span_id for s in spans if s.parent} == {span_id(parent)}
    assert len([s for s in spans if s.parent]) == 5
    # each request saw its own span, not a sibling's
    assert sorted(span_id(s) for s in spy.spans) == sorted(span_id(s) for s in spans)
    assert len({s.context.trace_id for s in spans}) == 1


async def test_gather_streams_do_not_nest_in_each_other(tel) -> None:
    client = openai_client(fake_transport(*[sse_response("openai/chat_stream_text.sse")] * 3), True)

    async def one() -> int:
        stream = await client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
        return len([c async for c in stream])

    with user_tracer(tel).start_as_current_span("fanout") as parent:
        counts = await asyncio.gather(one(), one(), one())
    assert counts == [23, 23, 23]
    assert {s.parent.span_id for s in tel.llm_spans() if s.parent} == {span_id(parent)}


# --- threads and the run root --------------------------------------------------------------------


def _run_root(t: Any) -> ReadableSpan:
    AgentTraceInstrumentor().uninstrument()  # ends the run root
    roots = [s for s in t.llm_spans() if s.attributes.get(sc.AGENTTRACE_RUN_ROOT)]
    assert len(roots) == 1, [s.name for s in roots]
    return roots[0]


def test_worker_threads_without_context_share_one_run_root(instrument) -> None:
    t = instrument(run_root=True)
    spy = SpySeen(json_response("openai/chat_text.json"))
    client = spy.openai()

    def call(_: int) -> str:
        return str(client.chat.completions.create(model="gpt-4o", messages=USER).id)

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(call, range(8)))
    assert len(ids) == 8
    llm = [s for s in t.llm_spans() if s.name == "chat gpt-4o"]
    assert len(llm) == 8
    root = _run_root(t)
    assert root.name.startswith("invoke_workflow ")
    assert root.parent is None
    assert root.attributes[sc.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert {s.parent.span_id for s in llm if s.parent} == {span_id(root)}
    assert len([s for s in llm if s.parent]) == 8
    assert {s.context.trace_id for s in llm} == {root.context.trace_id}
    # the run root is a parent for spans with nowhere else to go, never the current span of anyone
    assert all(span_id(seen) in {span_id(s) for s in llm} for seen in spy.spans)


def test_worker_threads_with_propagated_context_nest_under_the_caller(instrument) -> None:
    t = instrument(run_root=True)
    client = openai_client(fake_transport(*[json_response("openai/chat_text.json")] * 6))
    tracer = user_tracer(t)

    def call() -> None:
        client.chat.completions.create(model="gpt-4o", messages=USER)

    with tracer.start_as_current_span("caller") as caller, ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for _ in range(6)]
        for future in futures:
            future.result()
    llm = [s for s in t.llm_spans() if s.name == "chat gpt-4o"]
    assert len(llm) == 6
    assert {s.parent.span_id for s in llm if s.parent} == {span_id(caller)}
    assert {s.context.trace_id for s in llm} == {caller.get_span_context().trace_id}
    # no call needed the run root, so none was started
    AgentTraceInstrumentor().uninstrument()
    assert not [s for s in t.llm_spans() if s.attributes.get(sc.AGENTTRACE_RUN_ROOT)]


def test_run_root_also_parents_the_main_thread_and_async_calls(instrument) -> None:
    t = instrument(run_root=True)
    client = openai_client(fake_transport(*[json_response("openai/chat_text.json")] * 2))
    aclient = openai_client(fake_transport(json_response("openai/chat_text.json")), True)
    client.chat.completions.create(model="gpt-4o", messages=USER)
    asyncio.run(aclient.chat.completions.create(model="gpt-4o", messages=USER))
    worker = threading.Thread(target=lambda: client.chat.completions.create(model="gpt-4o", messages=USER))
    worker.start()
    worker.join(timeout=10)
    root = _run_root(t)
    llm = [s for s in t.llm_spans() if s is not root]
    assert len(llm) == 3
    assert {s.parent.span_id for s in llm if s.parent} == {span_id(root)}


# --- metrics ----------------------------------------------------------------------------------------


def metrics(t: Any, name: str) -> list[Any]:
    from oteltest import flush_metrics

    flush_metrics()  # the instrumentation records metrics off the caller's thread
    data = t.metric_reader.get_metrics_data()
    found = [
        metric
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
    ]
    assert len(found) <= 1
    return found


def _points(t: Any, name: str, **attrs: Any) -> list[Any]:
    (metric,) = metrics(t, name)
    return [p for p in metric.data.data_points if all(p.attributes.get(k) == v for k, v in attrs.items())]


def test_duration_and_token_metrics(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    aclient = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")))
    aclient.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER)

    (duration,) = metrics(tel, sc.Metric.OPERATION_DURATION)
    assert duration.unit == "s"
    (tokens,) = metrics(tel, sc.Metric.TOKEN_USAGE)
    assert tokens.unit == "{token}"
    for point in duration.data.data_points:
        assert tuple(point.explicit_bounds) == SPEC_DURATION_BUCKETS
        assert point.count == 1
        assert 0 < point.sum < 5
    for point in tokens.data.data_points:
        assert tuple(point.explicit_bounds) == SPEC_TOKEN_BUCKETS

    (oa,) = _points(tel, sc.Metric.OPERATION_DURATION, **{sc.GEN_AI_PROVIDER_NAME: "openai"})
    assert dict(oa.attributes) == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
        sc.SERVER_ADDRESS: "llm.test",
        sc.SERVER_PORT: 8443,
        # the OpenAI conventions add these to the GenAI client metrics
        sc.OPENAI_RESPONSE_SERVICE_TIER: "default",
        sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_9788c4a012",
    }
    by_type = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p
        for p in _points(tel, sc.Metric.TOKEN_USAGE, **{sc.GEN_AI_PROVIDER_NAME: "openai"})
    }
    assert set(by_type) == {"input", "output"}
    assert (by_type["input"].sum, by_type["output"].sum) == (1536, 8)
    assert {k: v for k, v in by_type["input"].attributes.items() if k != sc.GEN_AI_TOKEN_TYPE} == dict(oa.attributes)

    an_tokens = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum
        for p in _points(tel, sc.Metric.TOKEN_USAGE, **{sc.GEN_AI_PROVIDER_NAME: "anthropic"})
    }
    assert an_tokens == {"input": 14 + 2048 + 1024, "output": 10}
    (an,) = _points(tel, sc.Metric.OPERATION_DURATION, **{sc.GEN_AI_PROVIDER_NAME: "anthropic"})
    assert an.attributes[sc.SERVER_ADDRESS] == "anthropic.test"
    assert an.attributes[sc.GEN_AI_RESPONSE_MODEL] == "claude-sonnet-4-6"


@pytest.mark.parametrize(
    ("make", "call", "error", "etype"),
    [
        (
            lambda: openai_client(fake_transport(json_response("openai/error_429.json"))),
            lambda c: c.chat.completions.create(model="gpt-4o", messages=USER),
            openai.RateLimitError,
            "rate_limit_exceeded",
        ),
        (
            lambda: anthropic_client(fake_transport(json_response("anthropic/error_529.json"))),
            lambda c: c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=USER),
            anthropic.APIStatusError,
            "overloaded_error",
        ),
    ],
    ids=["openai-429", "anthropic-529"],
)
def test_failed_call_metrics_carry_error_type(
    tel, make: Callable[[], Any], call: Callable[[Any], Any], error: type[Exception], etype: str
) -> None:
    with pytest.raises(error):
        call(make())
    (point,) = _points(tel, sc.Metric.OPERATION_DURATION)
    assert point.count == 1
    assert point.attributes[sc.ERROR_TYPE] == etype
    assert point.attributes[sc.GEN_AI_REQUEST_MODEL]
    assert sc.GEN_AI_RESPONSE_MODEL not in point.attributes  # no response, no response model
    assert metrics(tel, sc.Metric.TOKEN_USAGE) == []  # no usage, no token points


def test_stream_metrics_recorded_once_at_the_end(tel) -> None:
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    assert metrics(tel, sc.Metric.OPERATION_DURATION) == []  # the call returned, the operation has not ended
    for _ in stream:
        pass
    stream.close()
    (point,) = _points(tel, sc.Metric.OPERATION_DURATION)
    assert point.count == 1
    assert point.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    tokens = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.sum for p in _points(tel, sc.Metric.TOKEN_USAGE)}
    assert tokens == {"input": 1536, "output": 20}


def test_abandoned_stream_metric_has_error_type(tel) -> None:
    import gc

    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    (point,) = _points(tel, sc.Metric.OPERATION_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "stream_abandoned"
