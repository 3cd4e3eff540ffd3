"""A loopback OpenAI-compatible server that plays one 3-turn tool scenario, for the framework tests.

    turn 1: the model calls get_weather(city="Lisbon")
    turn 2: the model calls get_weather(city="Paris")
    turn 3: the model answers with the two tool results it was given

The turn is read from the conversation (how many tool results it holds), so any framework's loop
walks the same path. Both wire APIs are served, each as JSON or as server-sent events:
`POST /v1/chat/completions` and `POST /v1/responses`. Token usage is fixed per turn (USAGE), so a
test can assert exact totals. Every request body is kept in `requests` for assertions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1_700_000_000
MODEL = "gpt-4o-mini"
QUESTION = "What is the weather in Lisbon and in Paris?"
WEATHER = {"Lisbon": "sunny, 21 C", "Paris": "rain, 12 C"}
CITIES = ("Lisbon", "Paris")
# (input, output) tokens of turns 1, 2, 3
USAGE = ((61, 7), (83, 9), (105, 14))
TOTAL_INPUT = sum(u[0] for u in USAGE)
TOTAL_OUTPUT = sum(u[1] for u in USAGE)
PIECE = 7  # characters per streamed piece


def get_weather(city: str) -> str:
    """The scenario's tool, shared by every test program."""
    return WEATHER.get(city, "unknown")


def final_answer(results: list[str]) -> str:
    return "Weather report: " + "; ".join(f"{city}: {result}" for city, result in zip(CITIES, results, strict=False))


FINAL = final_answer([WEATHER[c] for c in CITIES])


def _tool_results(request: dict[str, Any]) -> list[str]:
    """The tool results already in the conversation, in order (either API's shape)."""
    out: list[str] = []
    for m in request.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "tool":
            content = m.get("content")
            if isinstance(content, list):
                content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            out.append(str(content))
    items = request.get("input")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            output = item.get("output")
            if isinstance(output, list):
                output = "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
            out.append(str(output))
    return out


class Turn:
    def __init__(self, request: dict[str, Any], number: int) -> None:
        results = _tool_results(request)
        self.index = min(len(results), 2)
        self.model = str(request.get("model") or MODEL)
        self.number = number
        self.input_tokens, self.output_tokens = USAGE[self.index]
        if self.index < 2:
            self.call: dict[str, Any] | None = {
                "id": f"call_{self.index + 1}",
                "name": "get_weather",
                "arguments": json.dumps({"city": CITIES[self.index]}),
            }
            self.text: str | None = None
        else:
            self.call = None
            self.text = final_answer([r.strip().strip('"') for r in results])

    # --- chat completions --------------------------------------------------------------------------------------

    def _chat_envelope(self, kind: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-{self.number}", "object": kind, "created": CREATED, "model": self.model}

    def _chat_usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }

    def _finish(self) -> str:
        return "tool_calls" if self.call else "stop"

    def chat(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        if self.call:
            message["tool_calls"] = [
                {
                    "id": self.call["id"],
                    "type": "function",
                    "function": {"name": self.call["name"], "arguments": self.call["arguments"]},
                }
            ]
        body = self._chat_envelope("chat.completion")
        body["choices"] = [{"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish()}]
        body["usage"] = self._chat_usage()
        return body

    def chat_chunks(self, include_usage: bool) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            body = self._chat_envelope("chat.completion.chunk")
            body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return body

        yield chunk({"role": "assistant", "content": None if self.call else ""})
        for piece in _pieces(self.text or ""):
            yield chunk({"content": piece})
        if self.call:
            head = {"index": 0, "id": self.call["id"], "type": "function"}
            yield chunk({"tool_calls": [{**head, "function": {"name": self.call["name"], "arguments": ""}}]})
            for piece in _pieces(self.call["arguments"]):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield chunk({}, self._finish())
        if include_usage:
            body = self._chat_envelope("chat.completion.chunk")
            body["choices"] = []
            body["usage"] = self._chat_usage()
            yield body

    # --- responses ---------------------------------------------------------------------------------------------

    def _item(self, done: bool) -> dict[str, Any]:
        status = "completed" if done else "in_progress"
        if self.call:
            return {
                "type": "function_call",
                "id": f"fc_{self.number}",
                "call_id": self.call["id"],
                "name": self.call["name"],
                "arguments": self.call["arguments"] if done else "",
                "status": status,
            }
        return {
            "type": "message",
            "id": f"msg_{self.number}",
            "role": "assistant",
            "status": status,
            "content": [{"type": "output_text", "text": self.text, "annotations": [], "logprobs": []}] if done else [],
        }

    def response(self, done: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"resp_{self.number}",
            "object": "response",
            "created_at": CREATED,
            "model": self.model,
            "status": "completed" if done else "in_progress",
            "output": [self._item(True)] if done else [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": None,
            "top_p": None,
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "usage": None,
        }
        if done:
            body["usage"] = {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + self.output_tokens,
            }
        return body

    def response_events(self) -> Iterator[dict[str, Any]]:
        yield {"type": "response.created", "response": self.response(done=False)}
        yield {"type": "response.in_progress", "response": self.response(done=False)}
        item = self._item(False)
        yield {"type": "response.output_item.added", "output_index": 0, "item": item}
        if self.call:
            for piece in _pieces(self.call["arguments"]):
                yield {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "delta": piece,
                }
            yield {
                "type": "response.function_call_arguments.done",
                "item_id": item["id"],
                "output_index": 0,
                "name": self.call["name"],
                "arguments": self.call["arguments"],
            }
        else:
            where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            yield {"type": "response.content_part.added", **where, "part": empty}
            for piece in _pieces(self.text or ""):
                yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            yield {"type": "response.output_text.done", **where, "text": self.text, "logprobs": []}
            yield {"type": "response.content_part.done", **where, "part": {**empty, "text": self.text}}
        yield {"type": "response.output_item.done", "output_index": 0, "item": self._item(True)}
        yield {"type": "response.completed", "response": self.response()}


def _pieces(text: str) -> Iterator[str]:
    for start in range(0, len(text), PIECE):
        yield text[start : start + PIECE]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def do_POST(self) -> None:
        route = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "bad JSON", "type": "invalid_request_error"}})
            return
        if route not in ("/v1/chat/completions", "/v1/responses"):
            self._json(404, {"error": {"message": f"no route {route}", "type": "invalid_request_error"}})
            return
        turn = Turn(request, self.server.record(route, request))
        if not request.get("stream"):
            self._json(200, turn.chat() if route.endswith("completions") else turn.response())
            return
        if route.endswith("completions"):
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in turn.chat_chunks(include_usage)]
            events.append(b"data: [DONE]\n\n")
        else:
            events = [
                f"event: {e['type']}\ndata: ".encode() + json.dumps({**e, "sequence_number": i}).encode() + b"\n\n"
                for i, e in enumerate(turn.response_events())
            ]
        self._send(200, "text/event-stream", b"".join(events))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def record(self, route: str, request: dict[str, Any]) -> int:
        with self.lock:
            self.requests.append((route, request))
            return len(self.requests)


class ScenarioServer:
    """The scenario on 127.0.0.1 (an ephemeral port), served from a daemon thread."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        with self._server.lock:
            return list(self._server.requests)

    def __enter__(self) -> ScenarioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
