"""MCP (the `mcp` package), both major versions; see docs/mcp.md.

mcp 2.x makes its own client and server spans and propagates trace context in `_meta`: we complete
those spans as tool-call steps and add no span (`_mcp_v2`). mcp 1.x has neither: we make the
`execute_tool {tool}` spans on both sides and carry the context ourselves (`_mcp_v1`).
Which one applies is decided by what the installed SDK has, not by its version number.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from otel_agenttrace._lifecycle import Telemetry
from otel_agenttrace._patch_table import Target
from otel_agenttrace.tools import _mcp_common, _mcp_v1, _mcp_v2

INSTRUMENTS = "mcp >= 1.0, < 3"

# Module paths of the SDK (not attribute names, which the semconv test looks for).
_CLIENT = "mcp.client.session"  # semconv-ok
_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"  # semconv-ok
_SERVER_OTEL = "mcp.server._otel"  # semconv-ok
_LOWLEVEL_SERVER = "mcp.server.lowlevel.server"  # semconv-ok
_SHARED_SESSION = "mcp.shared.session"  # semconv-ok


def _sdk_emits_spans() -> bool:
    try:
        return importlib.util.find_spec(_SERVER_OTEL) is not None
    except (ImportError, ValueError):
        return False


def _checked(factory: Callable[[Telemetry], Callable[..., Any]]) -> Callable[[Telemetry], Callable[..., Any]]:
    """A wrapper factory that first names, once, any hook of this table the installed SDK lacks."""

    def make(tel: Telemetry) -> Callable[..., Any]:
        _mcp_common.report_missing_hooks(TARGETS)
        return factory(tel)

    return make


if _sdk_emits_spans():
    TARGETS: tuple[Target, ...] = (
        Target(_CLIENT, "ClientSession", "call_tool", _checked(_mcp_v2.client_call_tool)),
        Target(_DISPATCHER, None, "otel_span", _checked(_mcp_v2.client_span)),
        Target(_DISPATCHER, "JSONRPCDispatcher", "_resolve_pending", _checked(_mcp_v2.client_result)),
        Target(_SERVER_OTEL, "OpenTelemetryMiddleware", "__call__", _checked(_mcp_v2.server_span)),
    )
else:
    TARGETS = (
        Target(_CLIENT, "ClientSession", "call_tool", _checked(_mcp_v1.client_call_tool)),
        Target(_LOWLEVEL_SERVER, "Server", "_handle_request", _checked(_mcp_v1.server_request)),
        Target(_SHARED_SESSION, "RequestResponder", "respond", _checked(_mcp_v1.server_respond)),
    )
