"""LangChain (langchain-core): every tool call, through the public `BaseTool.run` / `BaseTool.arun`.

`tool.invoke(tool_call)` and agents built on it all end in these two methods, with the tool's name on
the instance, its parsed arguments as `tool_input` and the model's call id as `tool_call_id`. The LLM
calls themselves are the OpenAI/Anthropic SDK calls under `ChatOpenAI`/`ChatAnthropic`, traced by the
provider patches. The span's code location is the tool's function (or a subclass's `_run`), not LangChain's.
"""

from __future__ import annotations

from typing import Any

from otel_agenttrace.frameworks._target import FrameworkTarget
from otel_agenttrace.package import _instruments_langchain

NAME = "langchain"
INSTRUMENTS = _instruments_langchain


def _result(value: Any) -> Any:
    # With a tool_call_id, run() returns a ToolMessage wrapping the output; the output is the result.
    if type(value).__name__ == "ToolMessage" and hasattr(value, "tool_call_id"):
        return getattr(value, "content", value)
    return value


def _tool_function(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # `@tool` functions (StructuredTool / Tool: `func`, or `coroutine` when async only), else a subclass's `_run`.
    return (
        getattr(instance, "func", None) or getattr(instance, "coroutine", None) or getattr(type(instance), "_run", None)
    )


_TOOL = {"name": "self.name", "arguments": "args.tool_input", "call_id": "args.tool_call_id"}

TARGETS: tuple[FrameworkTarget, ...] = tuple(
    FrameworkTarget(
        "tool",
        "langchain_core.tools.base",
        f"BaseTool.{method}",
        dict(_TOOL),
        NAME,
        result=_result,
        code=_tool_function,
    )
    for method in ("run", "arun")
)
