"""What the mcp 1.x and 2.x hooks share: reading calls and results, content under the capture policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span

from otel_agenttrace._lifecycle import Telemetry, record_content
from otel_agenttrace._patch_table import report_unresolved

TOOLS_CALL = "tools/call"
TOOL_ERROR = "tool_error"  # error.type of a result with isError, as mcp 2.x's own server span says
SESSION_HEADER = "mcp-session-id"
# The parts of a CallToolResult that are the tool's answer (wire names); `_meta` is transport bookkeeping.
_RESULT_KEYS = ("content", "structuredContent", "isError")


def call_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, Any]:
    """(name, arguments) of a `ClientSession.call_tool(name, arguments=None, ...)` call."""
    name = args[0] if args else kwargs.get("name")
    arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
    return name, arguments


def wire(obj: Any) -> Any:
    """A pydantic MCP model as its JSON wire form (camelCase aliases), or plain data unchanged."""
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def result_json(result: Any) -> Any:
    """A CallToolResult (model or wire dict) as the JSON recorded for gen_ai.tool.call.result."""
    root = getattr(result, "root", None)  # mcp 1.x wraps results in a ServerResult RootModel
    data = wire(result if root is None else root)
    if isinstance(data, Mapping):
        return {key: data[key] for key in _RESULT_KEYS if key in data}
    return data


def meta_dict(meta: Any) -> dict[str, Any]:
    """A request's `_meta` (dict or pydantic model with extra fields) as a plain dict."""
    if meta is None:
        return {}
    data = wire(meta)
    return dict(data) if isinstance(data, Mapping) else {}


def session_id_from_request(request: Any) -> str | None:
    """`Mcp-Session-Id` of the HTTP request a message came in on (streamable HTTP), if any."""
    headers = getattr(request, "headers", None)
    getter = getattr(headers, "get", None)
    value = getter(SESSION_HEADER) if callable(getter) else None
    return value if isinstance(value, str) and value else None


def tool_call_id(value: Any) -> str | None:
    """The JSON-RPC request id both sides know: it is the tool call's id for MCP."""
    return None if value is None or isinstance(value, bool) else str(value)


def apply_content(tel: Telemetry, span: Span, values: Mapping[str, Any], event: bool = True) -> None:
    """Content on a span we did not start, with the same policy `Invocation` applies to ours.

    Called again with every value so far when more arrives: the bookkeeping attributes
    (redaction count, truncated keys) then cover all of them, and the event is emitted once, at the end.
    """
    if not tel.policy.enabled:
        return
    present = {key: value for key, value in values.items() if value is not None}
    if not present:
        return
    record_content(tel, span, (present,), getattr(span, "attributes", None), event=event)


def report_missing_hooks(targets: Any) -> None:
    """One log line naming the hooks this mcp version lacks (their part of the tracing is skipped)."""
    report_unresolved(targets, "mcp", "MCP tool calls are traced without it")
