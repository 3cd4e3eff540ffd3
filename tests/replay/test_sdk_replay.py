"""Record real SDK calls (only the HTTP transport faked), then replay them in model mode with a
transport that fails every request: the SDK rebuilds the same objects from the recording."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
from fakes import anthropic_client, fake_transport, json_response, openai_client, sse_response

import otel_agenttrace
from otel_agenttrace import workflow
from otel_agenttrace.exporter._schema import validate
from otel_agenttrace.replay import ReplayDivergence


def no_network() -> Any:
    """A transport that must never be reached during a model-mode replay."""

    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"network used during replay: {request.method} {request.url}")

    return httpx2.MockTransport(refuse)


def chat(client: Any, text: str = "hello") -> str:
    r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    return str(r.choices[0].message.content)


def test_openai_chat_replays_with_no_network(recorder: Any) -> None:
    with workflow("t"):
        original = chat(openai_client(fake_transport(json_response("openai/chat_text.json"))))
    doc = recorder.run()
    validate(doc)
    assert doc["schema_version"] == 2
    [exchange] = doc["recording"]["exchanges"]
    assert exchange["method"] == "POST" and exchange["path"].endswith("/chat/completions")
    assert exchange["request"]["body"]["messages"][0]["content"] == "hello"
    assert exchange["response"]["status"] == 200

    with otel_agenttrace.replay(doc) as r, workflow("t"):
        replayed = chat(openai_client(no_network()))
    assert replayed == original
    assert r.divergences == []
    r.assert_reproduced()
    # the replayed call still makes its span, marked as replayed from the original run
    replay_doc = recorder.run()
    assert replay_doc["run_id"] != doc["run_id"]
    assert replay_doc["replay_of"] == doc["run_id"] and replay_doc["replay_mode"] == "model"
    [llm] = [s for s in replay_doc["steps"] if s["type"] == "llm_call"]
    assert llm["attributes"]["agenttrace.replay.mode"] == "model"
    assert llm["output"] == next(s for s in doc["steps"] if s["type"] == "llm_call")["output"]


def _openai_stream_text(client: Any) -> str:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


async def _openai_stream_text_async(client: Any) -> str:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


@pytest.mark.parametrize("async_", [False, True])
def test_openai_stream_replays(recorder: Any, async_: bool) -> None:
    transport = fake_transport(sse_response("openai/chat_stream_text.sse", chunk_size=7))
    run = (lambda c: asyncio.run(_openai_stream_text_async(c))) if async_ else _openai_stream_text
    with workflow("t"):
        original = run(openai_client(transport, async_))
    assert original
    doc = recorder.run()
    [exchange] = doc["recording"]["exchanges"]
    assert exchange["response"]["stream"] is True and exchange["complete"] is True
    with otel_agenttrace.replay(doc) as r:
        assert run(openai_client(no_network(), async_)) == original
    r.assert_reproduced()


def _anthropic_stream(client: Any) -> str:
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return "".join(stream.text_stream)


async def _anthropic_stream_async(client: Any) -> str:
    async with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return "".join([t async for t in stream.text_stream])


@pytest.mark.parametrize("async_", [False, True])
def test_anthropic_stream_replays(recorder: Any, async_: bool) -> None:
    transport = fake_transport(sse_response("anthropic/messages_stream_text.sse"))
    run = (lambda c: asyncio.run(_anthropic_stream_async(c))) if async_ else _anthropic_stream
    with workflow("t"):
        original = run(anthropic_client(transport, async_))
    assert original
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert run(anthropic_client(no_network(), async_)) == original
    r.assert_reproduced()


def test_anthropic_create_and_raw_response_replay(recorder: Any) -> None:
    transport = fake_transport(
        json_response("anthropic/messages_text.json"), json_response("anthropic/messages_text.json")
    )
    client = anthropic_client(transport)
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "x"}],
    }
    with workflow("t"):
        first = client.messages.create(**kwargs).content[0].text
        raw = client.messages.with_raw_response.create(**kwargs)
        second = (raw.headers.get("content-type"), raw.parse().content[0].text)
    doc = recorder.run()
    assert len(doc["recording"]["exchanges"]) == 2
    replay_client = anthropic_client(no_network())
    with otel_agenttrace.replay(doc) as r:
        assert replay_client.messages.create(**kwargs).content[0].text == first
        raw = replay_client.messages.with_raw_response.create(**kwargs)
        assert (raw.headers.get("content-type"), raw.parse().content[0].text) == second
    r.assert_reproduced()


def test_openai_parse_and_responses_api(recorder: Any) -> None:
    from fakes import WeatherReport

    transport = fake_transport(json_response("openai/chat_parse.json"), json_response("openai/responses_text.json"))
    client = openai_client(transport)

    def program(c: Any) -> tuple[Any, str]:
        parsed = c.chat.completions.parse(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}], response_format=WeatherReport
        )
        response = c.responses.create(model="gpt-4o-mini", input="hi")
        return parsed.choices[0].message.parsed, response.output_text

    with workflow("t"):
        original = program(client)
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert program(openai_client(no_network())) == original
    r.assert_reproduced()


def test_changed_request_diverges_and_strict_raises(recorder: Any) -> None:
    with workflow("t"):
        chat(openai_client(fake_transport(json_response("openai/chat_text.json"))), "hello")
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        chat(openai_client(no_network()), "hello there")  # served by position, reported
    [d] = r.divergences
    assert d.kind == "request" and d.field == "/messages/0/content"
    assert d.expected == "hello" and d.actual == "hello there"
    with pytest.raises(AssertionError, match="differs from the recording at /messages/0/content"):
        r.assert_reproduced()

    with pytest.raises(ReplayDivergence, match="differs"), otel_agenttrace.replay(doc, strict=True):
        chat(openai_client(no_network()), "hello there")


def test_extra_call_exhausts_the_recording(recorder: Any) -> None:
    with workflow("t"):
        chat(openai_client(fake_transport(json_response("openai/chat_text.json"))))
    doc = recorder.run()
    client = openai_client(no_network())
    with otel_agenttrace.replay(doc) as r:
        chat(client)
        with pytest.raises(ReplayDivergence, match="recording exhausted"):
            chat(client, "one more")
    assert [d.kind for d in r.divergences] == ["exhausted"]


def test_no_content_run_has_no_recording(no_content_recorder: Any) -> None:
    with workflow("t"):
        chat(openai_client(fake_transport(json_response("openai/chat_text.json"))))
    doc = no_content_recorder.run()
    assert "recording" not in doc
    with pytest.raises(Exception, match="has no recording"):
        otel_agenttrace.replay(doc)


def test_responses_api_stream_replays(recorder: Any) -> None:
    def program(client: Any) -> list[str]:
        stream = client.responses.create(model="gpt-4o-mini", input="hi", stream=True)
        return [event.type for event in stream]

    with workflow("t"):
        original = program(openai_client(fake_transport(sse_response("openai/responses_stream.sse"))))
    assert "response.completed" in original
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert program(openai_client(no_network())) == original
    r.assert_reproduced()


def test_openai_raw_and_streaming_responses_replay(recorder: Any) -> None:
    def program(client: Any) -> tuple[Any, ...]:
        kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "raw"}]}
        raw = client.chat.completions.with_raw_response.create(**kwargs)
        with client.chat.completions.with_streaming_response.create(**{**kwargs, "stream": True}) as response:
            lines = [line for line in response.iter_lines() if line]
        return raw.status_code, raw.parse().choices[0].message.content, len(lines), lines[-1]

    transport = fake_transport(json_response("openai/chat_text.json"), sse_response("openai/chat_stream_text.sse"))
    with workflow("t"):
        original = program(openai_client(transport))
    assert original[0] == 200 and original[3] == "data: [DONE]"
    doc = recorder.run()
    with otel_agenttrace.replay(doc) as r:
        assert program(openai_client(no_network())) == original
    r.assert_reproduced()
