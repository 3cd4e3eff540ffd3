"""A framework's target: a configured-target row (TargetSpec) plus the few things a path cannot say.

Framework support rides on the same TargetPatcher as the user's `[tool.agenttrace]` targets: the same
post-import hook (nothing is imported early), the same subclass patching, the same unwrap. A row may
add a result converter (LangChain returns a ToolMessage around the tool's output), a skip test (a
peer instrumentation already made this tool span), a test for the exceptions a framework uses as
control flow (LangGraph's interrupts: the span ends without error, the exception passes through), a
flag letting the row nest in itself (a subgraph's nodes inside a node), or, instead of a method
wrapper, an `on_import` hook that registers with the framework's own public tracing interface (the
OpenAI Agents SDK).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from otel_agenttrace._config import TargetSpec

if TYPE_CHECKING:
    from otel_agenttrace._lifecycle import Telemetry

# (telemetry, the imported module) -> a function that undoes the registration
OnImport = Callable[["Telemetry", ModuleType], Callable[[], None]]


@dataclass(frozen=True)
class FrameworkTarget(TargetSpec):
    framework: str = ""
    result: Callable[[Any], Any] | None = None  # the tool's result out of the method's return value
    # (instance, args, kwargs) -> true: not a step of ours (a peer instrumentation traces it; a framework's internal)
    skip: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool] | None = None
    control_flow: Callable[[BaseException], bool] | None = None  # true: a signal of the framework, not a failure
    nests: bool = False  # a call inside a call of this row is a step of its own
    # (instance, args, kwargs) -> the user's function behind the call (a graph node's, a tool's), whose code
    # location goes on the span instead of the patched framework method's; None from it: no location
    code: Callable[[Any, tuple[Any, ...], dict[str, Any]], Any] | None = None
    on_import: OnImport | None = None  # registration instead of a method wrapper
