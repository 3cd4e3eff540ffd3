"""A small OpenAI-compatible server with scripted, deterministic answers, for the demo and the tests.

It serves `POST /v1/chat/completions` (plain JSON, or SSE chunks with `"stream": true`) on
127.0.0.1. Answers depend only on the request: which tools are offered and which tool results
are already in the conversation. So the demo agent walks the same path on every run, and a
recorded run can be compared with the next one.

    python examples/stub_server.py [--port N]      # serve until Ctrl-C, print the base URL

or in process:

    with StubServer() as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="stub")
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A fixed timestamp: the same request always gets the same response body.
CREATED = 1_700_000_000
CHUNK_CHARS = 12  # size of a streamed text piece


# --- the script --------------------------------------------------------------------------------------------------


def _tool_names(request: dict[str, Any]) -> set[str]:
    names = set()
    for tool in request.get("tools") or []:
        function = tool.get("function") or {}
        if function.get("name"):
            names.add(function["name"])
    return names


def _answered_calls(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Tool results already in the conversation: tool call id -> tool name (via the assistant's calls)."""
    called: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            called[call.get("id", "")] = (call.get("function") or {}).get("name", "")
    return {
        m["tool_call_id"]: called.get(m["tool_call_id"], "")
        for m in messages
        if m.get("role") == "tool" and m.get("tool_call_id")
    }


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def script(request: dict[str, Any]) -> dict[str, Any]:
    """The scripted assistant turn for a request: {"content": str | None, "tool_calls": [{"name", "arguments"}]}."""
    messages: list[dict[str, Any]] = list(request.get("messages") or [])
    tools = _tool_names(request)
    answered = _answered_calls(messages)
    done = set(answered.values())

    if "submit_plan" in tools and not answered:
        return {
            "content": None,
            "tool_calls": [
                _call(
                    "submit_plan",
                    steps=[
                        "Search the docs for how to send agent traces to Jaeger",
                        "Get the weather in Lisbon",
                        "Get the weather in Atlantis",
                    ],
                )
            ],
        }
    if "search_docs" in tools and "search_docs" not in done:
        return {"content": None, "tool_calls": [_call("search_docs", query="send traces to jaeger")]}
    if "get_weather" in tools and "get_weather" not in done:
        return {
            "content": None,
            "tool_calls": [_call("get_weather", city="Lisbon"), _call("get_weather", city="Atlantis")],
        }
    if tools:
        results = [_text_of(m) for m in messages if m.get("role") == "tool"]
        failed = [r for r in results if '"error"' in r]
        summary = f"Done: {len(results)} tool results, {len(failed)} failed."
        return {"content": summary, "tool_calls": []}
    # No tools offered: the final answer, written from what the conversation holds.
    return {
        "content": (
            "To send your agent's traces to Jaeger, point OTEL_EXPORTER_OTLP_ENDPOINT at Jaeger's OTLP port "
            "and run the agent under `agenttrace run`. Lisbon: sunny, 21 °C. The weather service does not "
            "know Atlantis, so I could not check it."
        ),
        "tool_calls": [],
    }


# --- the wire format ----------------------------------------------------------------------------------------------


def _tokens(value: Any) -> int:
    """A deterministic stand-in for a tokenizer: about four characters a token."""
    return max(1, len(json.dumps(value, sort_keys=True)) // 4)


class _Turn:
    """One scripted answer, rendered as a ChatCompletion body or as the stream of its chunks."""

    def __init__(self, request: dict[str, Any], number: int) -> None:
        self.model = str(request.get("model") or "stub-model")
        self.id = f"chatcmpl-stub-{number}"
        answer = script(request)
        self.content: str | None = answer["content"]
        self.tool_calls: list[dict[str, Any]] = [
            {
                "id": f"call_{number}_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for i, c in enumerate(answer["tool_calls"])
        ]
        self.finish_reason = "tool_calls" if self.tool_calls else "stop"
        prompt = _tokens(request.get("messages")) + _tokens(request.get("tools") or [])
        completion = _tokens(self.content or "") + (_tokens(self.tool_calls) if self.tool_calls else 0)
        self.usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": CREATED, "model": self.model, "system_fingerprint": "stub"}

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        body = self._envelope("chat.completion")
        body["choices"] = [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}]
        body["usage"] = self.usage
        return body

    def chunks(self, include_usage: bool) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            body = self._envelope("chat.completion.chunk")
            body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
            return body

        yield chunk({"role": "assistant", "content": ""})
        text = self.content or ""
        for start in range(0, len(text), CHUNK_CHARS):
            yield chunk({"content": text[start : start + CHUNK_CHARS]})
        for index, call in enumerate(self.tool_calls):
            head = {"index": index, "id": call["id"], "type": "function"}
            yield chunk({"tool_calls": [{**head, "function": {"name": call["function"]["name"], "arguments": ""}}]})
            arguments = call["function"]["arguments"]
            for start in range(0, len(arguments), CHUNK_CHARS):
                piece = arguments[start : start + CHUNK_CHARS]
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, self.finish_reason)
        if include_usage:
            body = self._envelope("chat.completion.chunk")
            body["choices"] = []
            body["usage"] = self.usage
            yield body


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the demo's output is the agent's

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model", "owned_by": "stub"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"no route {self.path}")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
                raise ValueError("'messages' must be a list")
        except ValueError as exc:
            self._error(400, f"bad request: {exc}")
            return
        turn = _Turn(request, self.server.next_number())
        if not request.get("stream"):
            self._json(200, turn.completion())
            return
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        for body in turn.chunks(include_usage):
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self._lock = threading.Lock()
        self._count = 0

    def next_number(self) -> int:
        with self._lock:
            self._count += 1
            return self._count


class StubServer:
    """The stub on 127.0.0.1 (an ephemeral port unless given), served from a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self._server = _Server(port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stub-openai", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args()
    stub = StubServer(args.port)
    print(f"OpenAI-compatible stub at {stub.base_url}  (OPENAI_BASE_URL={stub.base_url})", flush=True)
    try:
        stub._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stub._server.server_close()


if __name__ == "__main__":
    main()
