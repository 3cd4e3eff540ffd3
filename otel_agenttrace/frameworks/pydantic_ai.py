"""Pydantic AI: every tool call, through the public toolset interface `AbstractToolset.call_tool`.

Every toolset (function tools, MCP servers, wrappers) implements `call_tool(name, tool_args, ctx,
tool)`; the patcher wraps each override, and the nesting rule of targets keeps a wrapper toolset that
delegates to another one a single step. With Pydantic AI's own instrumentation on
(`Agent.instrument_all()`, `instrument=True`), its `execute_tool` span is already current here and
carries the name, arguments and result: we use it and add nothing. Its LLM spans are merged with
ours by the assembler (one step per call).
"""

from __future__ import annotations

from otel_agenttrace.frameworks._peers import peer_tool_span_active
from otel_agenttrace.frameworks._target import FrameworkTarget
from otel_agenttrace.package import _instruments_pydantic_ai

NAME = "pydantic-ai"
INSTRUMENTS = _instruments_pydantic_ai

TARGETS: tuple[FrameworkTarget, ...] = (
    FrameworkTarget(
        "tool",
        "pydantic_ai.toolsets.abstract",
        "AbstractToolset.call_tool",
        {"name": "args.name", "arguments": "args.tool_args", "call_id": "args.ctx.tool_call_id"},
        NAME,
        skip=lambda instance, args, kwargs: peer_tool_span_active(),
    ),
)
