"""The demo's OpenAI-compatible stub, through the real openai SDK: scripted, deterministic, streaming."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from .cli_helpers import REPO

sys.path.insert(0, str(REPO / "examples"))
from agentapp import pipeline
from agentapp.nodes import Executor, Planner, Writer
from agentapp.providers import OpenAIProvider
from agentapp.tools import ToolRegistry
from stub_server import StubServer

SCHEMAS: Any = ToolRegistry().schemas


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def client(stub: StubServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key="stub", max_retries=0)


def test_the_agent_loop_is_scripted(client: openai.OpenAI) -> None:
    provider = OpenAIProvider("gpt-4o-mini", client)
    plan = Planner(provider).run(pipeline.QUESTION)
    assert len(plan) == 3
    findings = Executor(provider, ToolRegistry()).run(pipeline.QUESTION, plan)
    results = [json.loads(f) for f in findings]
    assert len(results) == 3
    assert results[0]["result"] and results[1] == {"result": "sunny, 21 °C"}
    assert results[2] == {"error": "LookupError: weather service has no forecast for 'Atlantis'"}
    answer = Writer(provider).run(pipeline.QUESTION, findings)
    assert "Lisbon: sunny" in answer


def test_a_fresh_stub_answers_the_same_conversation_the_same_way(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    first = client.chat.completions.create(model="m", messages=messages, tools=SCHEMAS)
    with StubServer() as other:
        again = openai.OpenAI(base_url=other.base_url, api_key="stub", max_retries=0)
        second = again.chat.completions.create(model="m", messages=messages, tools=SCHEMAS)
    assert first.model_dump() == second.model_dump()  # ids included: they count requests per server
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.usage is not None
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens


def test_streamed_tool_calls_reassemble(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        tools=SCHEMAS,
        stream=True,
        stream_options={"include_usage": True},
    )
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    finish, usage = None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.name:
                    names[call.index] = call.function.name
                arguments[call.index] = arguments.get(call.index, "") + (
                    (call.function and call.function.arguments) or ""
                )
    assert names == {0: "search_docs"}
    assert json.loads(arguments[0]) == {"query": "send traces to jaeger"}
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens > 0


def test_streamed_text_without_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("To send your agent's traces to Jaeger")


def test_bad_requests(stub: StubServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages="not a list")  # type: ignore[arg-type]
    request = urllib.request.Request(stub.base_url + "/embeddings", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 404
    assert json.loads(info.value.read())["error"]["message"] == "no route /v1/embeddings"
