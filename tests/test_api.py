"""The public API: workflow / node / tool as context managers and decorators."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fakes import fake_transport, json_response, openai_client
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import otel_agenttrace as at
from otel_agenttrace import semconv as sc


class Boom(Exception):
    pass


def by_name(tel) -> dict:
    return {s.name: s for s in tel.spans()}


def test_context_managers_build_the_tree(tel) -> None:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    with at.workflow("whaleflow", team="research"), at.node("planner", type="planner"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    spans = by_name(tel)
    wf, planner, chat = spans["invoke_workflow whaleflow"], spans["invoke_agent planner"], spans["chat gpt-4o"]
    assert wf.parent is None
    assert wf.attributes[sc.GEN_AI_WORKFLOW_NAME] == "whaleflow"
    assert wf.attributes["team"] == "research"
    assert planner.parent.span_id == wf.context.span_id
    assert planner.attributes[sc.AGENTTRACE_NODE_NAME] == "planner"
    assert planner.attributes[sc.AGENTTRACE_NODE_TYPE] == "planner"
    assert planner.attributes[sc.GEN_AI_AGENT_NAME] == "planner"
    assert chat.parent.span_id == planner.context.span_id


def test_workflow_is_its_own_run_even_with_a_run_root(instrument) -> None:
    t = instrument(run_root=True)
    with at.workflow("mine"):
        pass
    (span,) = t.spans()
    assert span.parent is None


def test_exception_marks_error_and_propagates_unchanged(tel) -> None:
    err = Boom("nope")
    with pytest.raises(Boom) as caught, at.node("executor"):
        raise err
    assert caught.value is err
    span = tel.spans()[0]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "Boom"


def test_decorators_sync_and_async(tel) -> None:
    @at.node("planner")
    def plan(x: int) -> int:
        return x + 1

    @at.node("executor")
    async def execute(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert plan(1) == 2
    assert asyncio.run(execute(2)) == 4
    assert set(by_name(tel)) == {"invoke_agent planner", "invoke_agent executor"}


def test_generator_decorator_keeps_span_open_and_context_clean(tel) -> None:
    @at.node("streamer")
    def produce():
        for i in range(3):
            yield trace.get_current_span().get_span_context().span_id, i

    outside_before = trace.get_current_span()
    seen = list(produce())
    assert trace.get_current_span() is outside_before
    (span,) = tel.spans()
    assert {sid for sid, _ in seen} == {span.context.span_id}
    assert [i for _, i in seen] == [0, 1, 2]


def test_generator_closed_early_ends_span(tel) -> None:
    @at.node("streamer")
    def produce():
        yield from range(10)

    gen = produce()
    next(gen)
    gen.close()
    assert len(tel.spans()) == 1


def test_generator_error_propagates(tel) -> None:
    @at.node("streamer")
    def produce():
        yield 1
        raise Boom("mid")

    with pytest.raises(Boom):
        list(produce())
    assert tel.spans()[0].status.status_code is StatusCode.ERROR


async def test_async_generator_decorator(tel) -> None:
    @at.node("agen")
    async def produce():
        for _ in range(3):
            await asyncio.sleep(0)
            yield trace.get_current_span().get_span_context().span_id

    ids = [sid async for sid in produce()]
    (span,) = tel.spans()
    assert set(ids) == {span.context.span_id}


class Retry(Exception):
    pass


def test_every_exception_thrown_into_a_generator_reaches_it(tel) -> None:
    """The caller may throw() more than once; each goes to the user's generator, in the node's context."""

    @at.node("retrying")
    def produce():
        seen = []
        while True:
            try:
                yield len(seen)
            except Retry:
                seen.append(trace.get_current_span().get_span_context().span_id)
                if len(seen) == 3:
                    return seen

    gen = produce()
    assert next(gen) == 0
    assert gen.throw(Retry()) == 1
    assert gen.throw(Retry()) == 2
    with pytest.raises(StopIteration) as stop:
        gen.throw(Retry())
    (span,) = tel.spans()
    assert stop.value.value == [span.context.span_id] * 3
    assert span.status.status_code is not StatusCode.ERROR


def test_an_exception_the_generator_does_not_catch_ends_the_span_with_it(tel) -> None:
    @at.node("fragile")
    def produce():
        yield 1
        yield 2

    gen = produce()
    next(gen)
    error = Boom("from the caller")
    with pytest.raises(Boom) as raised:
        gen.throw(error)
    assert raised.value is error
    (span,) = tel.spans()
    assert span.status.status_code is StatusCode.ERROR


async def test_every_exception_thrown_into_an_async_generator_reaches_it(tel) -> None:
    @at.node("aretrying")
    async def produce():
        caught = 0
        while True:
            try:
                yield caught
            except Retry:
                caught += 1
                if caught == 2:
                    return

    gen = produce()
    assert await gen.__anext__() == 0
    assert await gen.athrow(Retry()) == 1
    with pytest.raises(StopAsyncIteration):
        await gen.athrow(Retry())
    (span,) = tel.spans()
    assert span.status.status_code is not StatusCode.ERROR

    @at.node("afragile")
    async def fragile():
        yield 1

    agen = fragile()
    await agen.__anext__()
    with pytest.raises(Boom):
        await agen.athrow(Boom("from the caller"))
    assert [s.status.status_code for s in tel.spans() if s.name == "invoke_agent afragile"] == [StatusCode.ERROR]


async def test_async_context_manager(tel) -> None:
    async with at.workflow("aflow"):
        await asyncio.sleep(0)
    assert [s.name for s in tel.spans()] == ["invoke_workflow aflow"]


def test_tool_decorator_captures_arguments_and_result(tel) -> None:
    @at.tool("search")
    def search(query: str, limit: int = 3) -> list[str]:
        return [query] * limit

    @at.tool
    def broken(x: int) -> None:
        raise Boom("tool failed")

    assert search("whales", limit=2) == ["whales", "whales"]
    with pytest.raises(Boom):
        broken(1)
    spans = by_name(tel)
    s = spans["execute_tool search"]
    assert s.attributes[sc.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert s.attributes[sc.GEN_AI_TOOL_NAME] == "search"
    assert json.loads(s.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"query": "whales", "limit": 2}
    assert json.loads(s.attributes[sc.GEN_AI_TOOL_CALL_RESULT]) == ["whales", "whales"]
    assert spans["execute_tool broken"].status.status_code is StatusCode.ERROR


async def test_gather_and_taskgroup_keep_parents(tel) -> None:
    @at.tool("fetch")
    async def fetch(i: int) -> int:
        await asyncio.sleep(0)
        return i

    with at.workflow("fanout") as wf:
        await asyncio.gather(*(fetch(i) for i in range(50)))
        async with asyncio.TaskGroup() as group:
            for i in range(5):
                group.create_task(fetch(i))
    tools = [s for s in tel.spans() if s.name == "execute_tool fetch"]
    assert len(tools) == 55
    assert {s.parent.span_id for s in tools} == {wf.span.get_span_context().span_id}


def test_thread_pool_with_propagated_context(tel) -> None:
    @at.tool("work")
    def work(i: int) -> int:
        return i

    with at.node("executor") as executor, ThreadPoolExecutor(4) as pool:
        ctx = otel_context.get_current()
        list(pool.map(lambda i: otel_context.attach(ctx) and work(i), range(8)))
    tools = [s for s in tel.spans() if s.name == "execute_tool work"]
    assert len(tools) == 8
    assert {s.parent.span_id for s in tools} == {executor.span.get_span_context().span_id}
