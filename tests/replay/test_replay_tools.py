"""Tool results in the recording, replay of tool calls, concurrency, and secrets in recordings."""

from __future__ import annotations

import asyncio
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fakes import openai_client

import otel_agenttrace
from otel_agenttrace import tool, workflow
from otel_agenttrace.replay import ReplayDivergence


class WeatherUnavailable(Exception):
    pass


def echo_transport() -> httpx2.MockTransport:
    """An OpenAI-compatible server whose answer depends on the request: `echo: <last user message>`."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        text = "echo: " + str(body["messages"][-1]["content"])
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            },
        )

    return httpx2.MockTransport(answer)


def refuse() -> httpx2.MockTransport:
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("network used during a model-mode replay")

    return httpx2.MockTransport(fail)


def test_a_side_effect_tool_runs_only_with_tools_live(recorder: Any, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")

    @tool
    def bump(by: int) -> dict[str, int]:
        value = int(counter.read_text()) + by
        counter.write_text(str(value))
        return {"value": value}

    @tool
    def weather(city: str) -> str:
        raise WeatherUnavailable(f"no weather for {city}")

    def program() -> tuple[Any, str]:
        result = bump(2)
        try:
            weather("Atlantis")
        except WeatherUnavailable as exc:
            return result, f"{type(exc).__name__}: {exc}"
        return result, "no error"

    with workflow("tools"):
        original = program()
    assert original == ({"value": 2}, "WeatherUnavailable: no weather for Atlantis")
    doc = recorder.run()
    tools = doc["recording"]["tools"]
    assert [t["name"] for t in tools] == ["bump", "weather"]
    assert tools[0]["arguments"] == {"by": 2} and tools[0]["result"] == {"value": 2}
    assert tools[1]["error"] == {"type": f"{__name__}.WeatherUnavailable", "message": "no weather for Atlantis"}

    with otel_agenttrace.replay(doc) as r, workflow("tools"):  # model mode: no side effect, same outcomes
        assert program() == original
    r.assert_reproduced()
    assert counter.read_text() == "2"
    replayed = recorder.run()
    modes = [s["attributes"].get("agenttrace.replay.mode") for s in replayed["steps"] if s["type"] == "tool_call"]
    assert modes == ["replay", "replay"]

    with otel_agenttrace.replay(doc, tools="live") as r:
        assert program() == ({"value": 4}, original[1])
    assert counter.read_text() == "4"


def test_tool_calls_match_by_arguments_then_by_order(recorder: Any) -> None:
    @tool
    def square(x: int) -> int:
        return x * x

    with workflow("t"):
        assert [square(2), square(3)] == [4, 9]
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert [square(3), square(2)] == [9, 4]  # other order, same arguments: matched by arguments
    r.assert_reproduced()
    with otel_agenttrace.replay(doc) as r:
        assert square(5) == 4  # no such arguments: the next call of that tool by order, reported
        assert square(3) == 9
        with pytest.raises(ReplayDivergence, match="tool 'square' was called more often than recorded"):
            square(7)
    assert [d.kind for d in r.divergences] == ["tool", "exhausted"]
    assert r.divergences[0].expected == '{"x":2}' or r.divergences[0].field == "/x"


async def _fan_out(client: Any) -> list[str]:
    @tool
    async def lookup(i: int) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"i": i, "square": i * i}

    async def one(i: int) -> str:
        r = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}])
        found = await lookup(i)
        return f"{r.choices[0].message.content}|{found['square']}"

    with workflow("fan-out"):
        return list(await asyncio.gather(*(one(i) for i in range(20))))


def test_asyncio_fan_out_replays_deterministically_20_times(recorder: Any) -> None:
    original = asyncio.run(_fan_out(openai_client(echo_transport(), True)))
    assert original[7] == "echo: q7|49"
    doc = recorder.run()
    assert len(doc["recording"]["exchanges"]) == 20 and len(doc["recording"]["tools"]) == 20
    for _ in range(20):
        with otel_agenttrace.replay(doc) as r:
            assert asyncio.run(_fan_out(openai_client(refuse(), True))) == original
        r.assert_reproduced()


def test_threads_replay_deterministically(recorder: Any) -> None:
    def run(client: Any) -> list[str]:
        def one(i: int) -> str:
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"t{i}"}])
            return str(r.choices[0].message.content)

        with workflow("threads"), ThreadPoolExecutor(8) as pool:  # each call in the workflow's context
            futures = [pool.submit(contextvars.copy_context().run, one, i) for i in range(16)]
            return [f.result() for f in futures]

    original = run(openai_client(echo_transport()))
    doc = recorder.run()
    for _ in range(3):
        with otel_agenttrace.replay(doc) as r:
            assert run(openai_client(refuse())) == original
        r.assert_reproduced()
