"""`with tool(...) as t:` blocks in a replay: the body always runs (it is the user's code); the result given
to `t.set_result` is recorded, and compared with the recording when replayed. And what ran inside a
replayed `@tool` (a nested LLM call) is not expected of the replay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fakes import openai_client

import otel_agenttrace
from otel_agenttrace import tool, workflow

from .test_replay_tools import echo_transport, refuse


class Unavailable(Exception):
    pass


def bump_program(counter: Path, by: int) -> list[Any]:
    seen: list[Any] = []
    with workflow("blocks"):
        with tool("bump") as t:
            seen.append((t.replaying, t.recorded))
            value = int(counter.read_text()) + by
            counter.write_text(str(value))
            t.set_result({"value": value})
        try:
            with tool("fetch"):
                raise Unavailable(f"no luck after {value}")
        except Unavailable as exc:
            seen.append(str(exc))
    return seen


def test_a_block_runs_in_a_replay_and_its_result_is_compared(recorder: Any, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    assert bump_program(counter, 1) == [(False, None), "no luck after 1"]
    doc = recorder.run()
    tools = doc["recording"]["tools"]
    assert [(t["name"], t.get("result")) for t in tools] == [("bump", {"value": 1}), ("fetch", None)]
    assert tools[1]["error"] == {"type": f"{__name__}.Unavailable", "message": "no luck after 1"}
    steps = [s for s in doc["steps"] if s["type"] == "tool_call"]
    assert steps[0]["output"] == {"value": 1}  # set_result is the step's result too

    counter.write_text("0")
    with otel_agenttrace.replay(doc) as r:  # the same outcome: reproduced, and the block ran
        assert bump_program(counter, 1) == [(True, {"value": 1}), "no luck after 1"]
    r.assert_reproduced()
    assert counter.read_text() == "1"
    replayed = recorder.run()
    modes = [s["attributes"].get("agenttrace.replay.mode") for s in replayed["steps"] if s["type"] == "tool_call"]
    assert modes == ["live", "live"]  # a block is never answered from the recording

    counter.write_text("5")  # the world changed: the block's result and the exception's message differ
    with otel_agenttrace.replay(doc) as r:
        bump_program(counter, 1)
    assert [(d.kind, d.target, d.field) for d in r.divergences] == [
        ("tool", "bump", "/result/value"),
        ("tool", "fetch", "/error"),
    ]
    assert r.divergences[0].expected == "1" and r.divergences[0].actual == "6"
    with pytest.raises(AssertionError, match="tool 'bump' ended otherwise than recorded"):
        r.assert_reproduced()

    with otel_agenttrace.replay(doc, tools="live") as r:  # tools live: nothing compared
        assert bump_program(counter, 1)[0] == (False, None)
    r.assert_reproduced()


def test_an_async_block_is_compared_too(recorder: Any) -> None:
    async def program(answer: str) -> None:
        with workflow("async-blocks"):
            async with tool("lookup") as t:
                await asyncio.sleep(0)
                t.set_result(answer)

    asyncio.run(program("42"))
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        asyncio.run(program("42"))
    r.assert_reproduced()
    with otel_agenttrace.replay(doc) as r:
        asyncio.run(program("43"))
    assert [(d.kind, d.expected, d.actual) for d in r.divergences] == [("tool", "42", "43")]


def test_an_llm_call_inside_a_replayed_tool_is_not_expected(recorder: Any) -> None:
    def program(client: Any) -> str:
        @tool
        def summarise(text: str) -> str:
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
            return str(r.choices[0].message.content)

        with workflow("nested"):
            return summarise("whales")

    assert program(openai_client(echo_transport())) == "echo: whales"
    doc = recorder.run()
    assert len(doc["recording"]["exchanges"]) == 1
    with otel_agenttrace.replay(doc) as r:  # the tool is answered, so its LLM call is never made
        assert program(openai_client(refuse())) == "echo: whales"
    r.assert_reproduced()  # and is not reported as an unused recorded call
    assert r.engine.replayed_spans == [doc["recording"]["tools"][0]["span_id"]]
