"""The recording format: how drained channel entries become store rows, and store rows a `recording`.

A recording (run trace schema_version 2, `dump --with-recording`) is

    {"exchanges": [{"seq", "span_id", "node", "method", "path",
                    "request": {"body": <JSON> | "body_text": str},
                    "response": {"status", "headers", "stream", "body": <JSON> | "body_text": str,
                                 "chunks": [int, ...] (a stream: the characters of each chunk the SDK read)},
                    "complete": bool}, ...],
     "tools": [{"seq", "span_id", "node", "name", "arguments",
                "result": <JSON> [, "result_type": "mcp.CallToolResult"]
                | "error": {"type": "module.Class", "message": str [, "data": <JSON>]} | "replayable": false}, ...]}

and the command that made the run is `{"argv", "orig_argv", "cwd", "env"}`. Every text passes the content
policy's redactor before it is stored: a recording holds no more than the run's content does.
Bodies are kept whole (no size cap: a cut body cannot be replayed).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

# Canonical JSON: the form request bodies are compared (and redacted) in.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def canonical(value: Any) -> str:
    return _CANONICAL(value)


def _redact(policy: Any, text: str) -> str:
    if policy is None:
        return text
    return str(policy.redactor.redact(text)[0])


def _decode_body(raw: bytes | None, encoding: str | None = None) -> str | None:
    if raw is None:
        return None
    if encoding in ("gzip", "deflate"):
        raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    return raw.decode("utf-8", errors="replace")


def request_key(body_text: str | None, policy: Any) -> str:
    """The normalised form of a request body that matching compares: canonical JSON, redacted."""
    if not body_text:
        return ""
    try:
        return _redact(policy, canonical(json.loads(body_text)))
    except ValueError:
        return _redact(policy, body_text)


def _body_field(text: str | None, policy: Any, normalise: bool) -> dict[str, Any]:
    if text is None:
        return {}
    text = request_key(text, policy) if normalise else _redact(policy, text)
    try:
        return {"body": json.loads(text)} if text.strip()[:1] in ("{", "[") else {"body_text": text}
    except ValueError:
        return {"body_text": text}


def _exchange(data: dict[str, Any], policy: Any) -> dict[str, Any]:
    from otel_agenttrace.replay._http import kept_headers

    raw = data.get("headers")
    headers = kept_headers(raw) if isinstance(raw, list) else dict(raw or {})
    encoding = headers.pop("content-encoding", None)
    if data.get("decoded"):
        encoding = None
    stream = "text/event-stream" in headers.get("content-type", "")
    response: dict[str, Any] = {"status": data.get("status"), "headers": headers, "stream": stream}
    chunks = data.get("chunks")
    body = b"".join(chunks) if chunks is not None else data.get("body")
    try:
        text = _decode_body(body, encoding)
        if response["stream"] and text is not None:
            from otel_agenttrace.replay._sse import carry_chunks, chunk_lengths, redact_event_stream

            stored = redact_event_stream(text, policy.redactor.redact) if policy is not None else text
            response["body_text"] = stored
            if chunks is not None and encoding is None:
                lengths = carry_chunks(text, stored, chunk_lengths(chunks))
                if lengths:
                    response["chunks"] = lengths
        else:
            response.update(_body_field(text, policy, normalise=False))
    except (zlib.error, OSError):
        response["replayable"] = False
    url = data.get("url")
    span_id = data.get("span_id")
    return {
        "span_id": format(span_id, "016x") if isinstance(span_id, int) else span_id,
        "node": data.get("node"),
        "method": data.get("method"),
        "path": url.path if url is not None else data.get("path"),
        "request": _body_field(_decode_body(data.get("request_body")), policy, normalise=True),
        "response": response,
        "complete": bool(data.get("complete", True)),
    }


def _json_value(value: Any, policy: Any) -> tuple[bool, Any]:
    """(True, redacted JSON value) when `value` is JSON-representable, else (False, None)."""
    try:
        text = _COMPACT(value)
    except (TypeError, ValueError):
        return False, None
    try:
        return True, json.loads(_redact(policy, text))
    except ValueError:
        return True, _redact(policy, text)


def _tool(data: dict[str, Any], policy: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"span_id": data.get("span_id"), "node": data.get("node"), "name": data.get("name")}
    ok, arguments = _json_value(data.get("arguments"), policy)
    out["arguments"] = arguments if ok else None
    if "error" in data:
        error = data["error"]
        out["error"] = {"type": error["type"], "message": _redact(policy, error["message"])}
        if "data" in error:
            ok, details = _json_value(error["data"], policy)
            if ok:
                out["error"]["data"] = details
        return out
    ok, result = _json_value(data.get("result"), policy)
    if ok:
        out["result"] = result
        if data.get("result_type"):
            out["result_type"] = data["result_type"]
    else:
        out["replayable"] = False
    return out


def _process(channel: Any, policy: Any) -> dict[str, Any]:
    from otel_agenttrace._capture import env_snapshot

    env_text = env_snapshot(policy) if policy is not None else None
    command: dict[str, Any] = {"argv": [_redact(policy, a) for a in channel.process["argv"]]}
    if channel.process.get("orig_argv"):
        command["orig_argv"] = [_redact(policy, a) for a in channel.process["orig_argv"]]
    return {
        **command,
        "cwd": channel.process["cwd"],
        "env": json.loads(env_text) if env_text else {},
    }


def pack(value: dict[str, Any]) -> bytes:
    # A lone surrogate (a surrogateescape-decoded tool result) has no UTF-8 form: written as its JSON
    # escape (\udce9), which json.loads reads back as the same character. One bad value never fails the batch.
    return zlib.compress(_COMPACT(value).encode("utf-8", "backslashreplace"), 6)


def unpack(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(zlib.decompress(data).decode("utf-8"))
    return value


def encode_entries(entries: Iterable[Any], channel: Any) -> list[tuple[str, str, bytes]]:
    """Drained channel entries -> store rows (trace_id, kind, compressed JSON). Runs on the export thread."""
    rows: list[tuple[str, str, bytes]] = []
    for entry in entries:
        try:
            item = _exchange(entry.data, entry.policy) if entry.kind == "exchange" else _tool(entry.data, entry.policy)
        except Exception:  # a broken entry is dropped, never the batch
            continue
        item["seq"] = entry.seq
        trace_id = format(entry.trace_id, "032x") if isinstance(entry.trace_id, int) else entry.trace_id
        if channel.first_of_trace(trace_id):
            rows.append((trace_id, "process", pack(_process(channel, entry.policy))))
        rows.append((trace_id, entry.kind, pack(item)))
    return rows


def decode_rows(rows: Sequence[tuple[str, bytes]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Store rows of one run -> (recording, command); (None, None) when the run has no recording."""
    exchanges: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    command: dict[str, Any] | None = None
    for kind, data in rows:
        try:
            item = unpack(data)
        except (zlib.error, ValueError):
            continue
        if kind == "process":
            command = command or item
        elif kind == "exchange":
            exchanges.append(item)
        elif kind == "tool":
            tools.append(item)
    if not exchanges and not tools:
        return None, command
    exchanges.sort(key=lambda e: e.get("seq", 0))
    tools.sort(key=lambda t: t.get("seq", 0))
    return {"exchanges": exchanges, "tools": tools}, command
