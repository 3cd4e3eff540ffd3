"""An agent that hands the fake secrets of tests/data/secrets/corpus.json to everything a trace could record.

Run by tests/test_secret_corpus.py as `agenttrace run -- python agent.py --api-key ...`: real `openai` and
`anthropic` clients (only their HTTP is faked, by tests/fakes.py) and `otel_agenttrace.tool`, nothing else of
otel_agenttrace. The test decides which secret goes where (the JSON plan named by SECRET_CORPUS_PLAN: each
location gets a canary and some corpus entries); this script plants them in prompts, system instructions,
tool definitions, tool calls and results, model responses (plain and streamed), API errors and tool
exceptions, and writes a manifest of the entries it saw really go through (in what the SDK sent, what it
returned, what a tool got) so that the test knows every entry was planted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
from fakes import FakeResponse, anthropic_client, fake_transport, json_response, load_json, openai_client

import otel_agenttrace

PLAN: dict[str, Any] = json.loads(Path(os.environ["SECRET_CORPUS_PLAN"]).read_text(encoding="utf-8"))
CORPUS: list[dict[str, str]] = json.loads(Path(PLAN["corpus"]).read_text(encoding="utf-8"))["secrets"]
# The text around a secret, in turn: prose, assignments, JSON, quotes, brackets.
CONTEXTS = ("{}", "my key is {} ok", "KEY={};", '{{"value": "{}"}}', "({})", "'{}'", "token:{},next")
OPENAI_MODEL = "gpt-4o"
CLAUDE_MODEL = "claude-sonnet-4-6"
planted: dict[str, list[int]] = {}


def text(location: str) -> str:
    """The canary of `location`, then each secret planned there, one per line, each in some context; a line of
    its own (a YAML or header line) as it is in a config file or an HTTP message."""
    lines = [PLAN["canaries"][location]]
    for i in PLAN["placements"][location]:
        if CORPUS[i].get("line"):
            lines.append(CORPUS[i]["value"])
        else:
            lines.append(f"item {i}: " + CONTEXTS[i % len(CONTEXTS)].format(CORPUS[i]["value"]))
    return "\n".join(lines)


def strings(value: Any) -> Iterator[str]:
    """Every string in a value: JSON-like data, SDK models, and the JSON documents inside JSON text."""
    if isinstance(value, str):
        yield value
        if value.lstrip().startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                yield from strings(json.loads(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)
    elif hasattr(value, "model_dump"):
        yield from strings(value.model_dump(mode="json"))


def check(location: str, *seen: Any) -> None:
    """Record the secrets planned at `location` that are in `seen` (what was really sent, returned or raised)."""
    haystack = "\n".join(s for value in seen for s in strings(value))
    planted[location] = [i for i in PLAN["placements"][location] if CORPUS[i]["value"] in haystack]
    if PLAN["canaries"][location] not in haystack:
        planted[location] = []


def usage_openai() -> dict[str, int]:
    return {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}


def sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> FakeResponse:
    """A streamed text/event-stream response, one chunk per event."""
    blocks = []
    for name, data in events:
        payload = data if isinstance(data, str) else json.dumps(data)
        blocks.append((f"event: {name}\n" if name else "") + f"data: {payload}\n\n")
    return FakeResponse(200, "".join(blocks).encode(), content_type="text/event-stream", streamed=True)


def pieces(value: str, size: int = 7) -> list[str]:
    """Small pieces, so that every secret is split across stream chunks."""
    return [value[i : i + size] for i in range(0, len(value), size)]


# --- OpenAI ---------------------------------------------------------------------------------------------------


def openai_chat_completion() -> dict[str, Any]:
    arguments = json.dumps({"path": "/vault/ops", "note": text("openai.response_tool_call")})
    return {
        "id": "chatcmpl-corpus-1",
        "object": "chat.completion",
        "created": 1763890803,
        "model": OPENAI_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text("openai.response_text"),
                    "tool_calls": [
                        {
                            "id": "call_corpus_1",
                            "type": "function",
                            "function": {"name": "vault_read", "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": usage_openai(),
    }


def openai_stream() -> FakeResponse:
    base = {"id": "chatcmpl-corpus-2", "object": "chat.completion.chunk", "created": 1763890811, "model": OPENAI_MODEL}
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        (None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    ]
    for piece in pieces(text("openai.stream")):
        events.append((None, {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
    events.append((None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append((None, {**base, "choices": [], "usage": usage_openai()}))
    events.append((None, "[DONE]"))
    return sse(events)


def openai_response() -> dict[str, Any]:
    body: dict[str, Any] = load_json("openai/responses_text.json")
    body["id"] = "resp_corpus_1"
    body["model"] = OPENAI_MODEL
    (message,) = body["output"]
    message["id"] = "msg_corpus_1"
    message["content"][0]["text"] = text("openai.responses_output")
    return body


VAULT_TOOL_PARAMETERS: dict[str, object] = {
    "type": "object",
    "properties": {"path": {"type": "string"}},
    "required": ["path"],
}


def openai_calls() -> None:
    error = {"error": {"message": text("openai.error"), "type": "invalid_request_error", "param": None, "code": None}}
    transport = fake_transport(
        json_response(openai_chat_completion()),
        openai_stream(),
        json_response(openai_response()),
        json_response(error, status=400),
    )
    client = openai_client(transport)
    history_arguments = json.dumps({"path": "/vault/ops", "note": text("openai.history_tool_call")})
    completion = client.chat.completions.create(
        model=OPENAI_MODEL,
        temperature=0.2,
        messages=[
            {"role": "system", "content": text("openai.system")},
            {"role": "user", "content": [{"type": "text", "text": text("openai.user")}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_history_1",
                        "type": "function",
                        "function": {"name": "vault_read", "arguments": history_arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_history_1", "content": text("openai.tool_result")},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "vault_read",
                    "description": text("openai.tools"),
                    "parameters": VAULT_TOOL_PARAMETERS,
                },
            }
        ],
    )
    sent = transport.requests[-1].json
    check("openai.system", sent["messages"][0])
    check("openai.user", sent["messages"][1])
    check("openai.history_tool_call", sent["messages"][2])
    check("openai.tool_result", sent["messages"][3])
    check("openai.tools", sent["tools"])
    (choice,) = completion.choices
    check("openai.response_text", choice.message.content)
    check("openai.response_tool_call", choice.message.tool_calls)

    stream = client.chat.completions.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": "Summarize the vault."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    check("openai.stream", "".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    response = client.responses.create(
        model=OPENAI_MODEL, instructions=text("openai.responses_instructions"), input="What is in the vault?"
    )
    check("openai.responses_instructions", transport.requests[-1].json["instructions"])
    check("openai.responses_output", response.output_text)

    try:
        client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "Once more."}])
    except openai.BadRequestError as exc:
        check("openai.error", exc.body, str(exc))
    transport.assert_all_served()


# --- Anthropic ------------------------------------------------------------------------------------------------


def anthropic_usage() -> dict[str, int]:
    return {"input_tokens": 60, "output_tokens": 25}


def anthropic_message() -> dict[str, Any]:
    return {
        "id": "msg_corpus_2",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE_MODEL,
        "content": [
            {"type": "text", "text": text("anthropic.response_text")},
            {
                "type": "tool_use",
                "id": "toolu_corpus_1",
                "name": "vault_read",
                "input": {"path": "/vault/ops", "note": text("anthropic.response_tool_use")},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": anthropic_usage(),
    }


def anthropic_stream() -> FakeResponse:
    start = {**anthropic_message(), "id": "msg_corpus_3", "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 60, "output_tokens": 1}
    arguments = json.dumps({"path": "/vault/ops", "note": text("anthropic.stream_tool_use")})
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    for piece in pieces(text("anthropic.stream_text")):
        delta = {"type": "text_delta", "text": piece}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    block = {"type": "tool_use", "id": "toolu_corpus_2", "name": "vault_read", "input": {}}
    events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}))
    for piece in pieces(arguments, 9):
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": anthropic_usage(),
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return sse(events)


def anthropic_calls() -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": text("anthropic.error")}, "request_id": "req_1"}
    transport = fake_transport(json_response(anthropic_message()), anthropic_stream(), json_response(error, status=500))
    client = anthropic_client(transport)
    tools = [{"name": "vault_read", "description": text("anthropic.tools"), "input_schema": VAULT_TOOL_PARAMETERS}]
    message = client.messages.create(
        model=CLAUDE_MODEL,
        max_tokens=512,
        system=[{"type": "text", "text": text("anthropic.system")}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": text("anthropic.user")}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_history_1", "name": "vault_read", "input": {"path": "/vault/ops"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_history_1",
                        "content": [{"type": "text", "text": text("anthropic.tool_result")}],
                    }
                ],
            },
        ],
        tools=tools,  # type: ignore[arg-type]
    )
    sent = transport.requests[-1].json
    check("anthropic.system", sent["system"])
    check("anthropic.user", sent["messages"][0])
    check("anthropic.tool_result", sent["messages"][2])
    check("anthropic.tools", sent["tools"])
    text_block, tool_block = message.content
    check("anthropic.response_text", text_block)
    check("anthropic.response_tool_use", tool_block)

    with client.messages.stream(
        model=CLAUDE_MODEL, max_tokens=512, messages=[{"role": "user", "content": "Rotate the keys."}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    check("anthropic.stream_text", streamed)
    check("anthropic.stream_tool_use", final.content[1])

    try:
        client.messages.create(model=CLAUDE_MODEL, max_tokens=64, messages=[{"role": "user", "content": "Again."}])
    except anthropic.InternalServerError as exc:
        check("anthropic.error", exc.body, str(exc))
    transport.assert_all_served()


# --- tools ----------------------------------------------------------------------------------------------------


@otel_agenttrace.tool
def vault_read(path: str, note: str, options: dict[str, Any]) -> str:
    # Not `token`: the value of an argument named for a secret is masked whole (secret_assignment), canary too.
    check("tool.arguments", note)
    result = json.dumps({"path": path, "status": "ok", "content": text("tool.result")})
    check("tool.result", result)
    return result


@otel_agenttrace.tool("rotate_key")
def rotate_key(key_id: str) -> None:
    raise PermissionError(text("tool.exception"))


def tool_calls() -> None:
    vault_read("/vault/ops", note=text("tool.arguments"), options={"retries": 2})
    try:
        rotate_key("key-7")
    except PermissionError as exc:
        check("tool.exception", str(exc))


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("otel_agenttrace").setLevel(logging.DEBUG)
    logging.getLogger("opentelemetry").setLevel(logging.DEBUG)
    logging.getLogger("otel_agenttrace.agent").debug("the agent logs at DEBUG")  # the test looks for it
    check("argv", sys.argv)
    check("env", {name: value for name, value in os.environ.items() if name.startswith("MYAPP_")})
    check("env.unlisted", {name: value for name, value in os.environ.items() if name.startswith("DEPLOY_")})
    openai_calls()
    anthropic_calls()
    tool_calls()
    manifest = {"argv0": sys.argv[0], "planted": planted}
    Path(PLAN["manifest"]).write_text(json.dumps(manifest), encoding="utf-8")
    print("agent done", file=sys.stderr)


if __name__ == "__main__":
    main()
