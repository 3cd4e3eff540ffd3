"""What the mcp 1.x and 2.x hooks share: reading calls and results, content under the capture policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import Invocation, Telemetry, internal_error, record_content
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


def _outcome(inv: Invocation, result: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Status | None]:
    """(attributes, output, status) of a CallToolResult, or of an ErrorData the server answered with."""
    import mcp.types

    if isinstance(result, mcp.types.ErrorData):
        return (
            {semconv.ERROR_TYPE: str(result.code)},
            None,
            Status(StatusCode.ERROR, inv.tel.policy.text(result.message)[0]),
        )
    data = result_json(result)
    output = {semconv.GEN_AI_TOOL_CALL_RESULT: data} if inv.tel.policy.enabled else None
    if isinstance(data, Mapping) and data.get("isError") is True:
        return {semconv.ERROR_TYPE: TOOL_ERROR}, output, Status(StatusCode.ERROR)
    return None, output, None


def finish_tool(inv: Invocation, result: Any) -> None:
    """End a tool span of ours with its result; it ends even when reading the result fails."""
    try:
        attributes, output, status = _outcome(inv, result)
    except Exception as exc:
        internal_error("mcp tool result", exc)
        attributes, output, status = None, None, None
    if status is not None:
        inv.span.set_status(status)
    inv.stop(attributes, output)


def report_missing_hooks(targets: Any) -> None:
    """One log line naming the hooks this mcp version lacks (their part of the tracing is skipped)."""
    report_unresolved(targets, "mcp", "MCP tool calls are traced without it")


# --- replay: what a recorded tools/call holds, and the SDK objects rebuilt from it ---------------------

RESULT_TYPE = "mcp.CallToolResult"  # a recording's result_type: the result is a CallToolResult's wire form


def recorded_result(result: Any) -> tuple[Any, str | None]:
    """(JSON, result_type) to record for what `call_tool` returned: a CallToolResult whole, in its wire form."""
    root = getattr(result, "root", None)
    model = result if root is None else root
    if type(model).__name__ == "CallToolResult" and callable(getattr(model, "model_dump", None)):
        return wire(model), RESULT_TYPE
    if isinstance(model, Mapping) and isinstance(model.get("content"), list):  # already the wire form
        return dict(model), RESULT_TYPE
    return result, None  # another shape (an extension's claimed result): replayable only when plain JSON


def rebuild_result(recorded: Mapping[str, Any]) -> Any:
    """The CallToolResult of the installed SDK from its recorded wire form."""
    import mcp.types

    return mcp.types.CallToolResult.model_validate(recorded.get("result"))


def error_data(exc: BaseException) -> Any:
    """The JSON-RPC error of an MCP error (`McpError` in 1.x, `MCPError` in 2.x), in its wire form."""
    error = getattr(exc, "error", None)
    return wire(error) if callable(getattr(error, "model_dump", None)) else None


def rebuild_error(error: Mapping[str, Any]) -> BaseException | None:
    """The recorded MCP error as the SDK's exception class, with its code, message and data; None: not one."""
    import importlib

    import mcp.types

    try:
        data = mcp.types.ErrorData.model_validate(error.get("data"))
    except Exception:
        return None
    try:
        module_name, _, qualname = str(error.get("type", "")).rpartition(".")
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        exc = _make_error(cls, data)
    except Exception:
        exc = None
    if exc is None:  # a subclass that cannot be made from its error data: the SDK's base class
        import mcp.shared.exceptions as errors

        try:
            exc = _make_error(getattr(errors, "MCPError", None) or getattr(errors, "McpError"), data)  # noqa: B009
        except Exception:
            return None
    return exc


def _make_error(cls: Any, data: Any) -> BaseException | None:
    from_error_data = getattr(cls, "from_error_data", None)
    exc = from_error_data(data) if callable(from_error_data) else cls(data)  # 2.x; 1.x: McpError(ErrorData)
    return exc if isinstance(exc, BaseException) else None
