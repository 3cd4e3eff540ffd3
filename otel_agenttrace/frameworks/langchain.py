"""LangChain (langchain-core): every tool call, through the public `BaseTool.run` / `BaseTool.arun`.

`tool.invoke(tool_call)` and agents built on it all end in these two methods, with the tool's name on
the instance, its parsed arguments as `tool_input` and the model's call id as `tool_call_id`. The LLM
calls themselves are the OpenAI/Anthropic SDK calls under `ChatOpenAI`/`ChatAnthropic`, traced by the
provider patches.
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


_TOOL = {"name": "self.name", "arguments": "args.tool_input", "call_id": "args.tool_call_id"}

TARGETS: tuple[FrameworkTarget, ...] = tuple(
    FrameworkTarget("tool", "langchain_core.tools.base", f"BaseTool.{method}", dict(_TOOL), NAME, result=_result)
    for method in ("run", "arun")
)
