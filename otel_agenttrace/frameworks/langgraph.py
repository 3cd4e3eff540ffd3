"""LangGraph (and LangChain 1.x agents, which are LangGraph graphs): the graph and its nodes.

A graph invocation is one `invoke_agent {graph name}` span (node type `graph`) through the public
`Pregel.stream` / `Pregel.astream`, the two generators every entry point runs (`invoke` iterates
`stream`, `ainvoke` iterates `astream`); the span lasts as long as the iteration and is current only
while the graph runs, never in the consumer's loop between chunks.

Each node execution is an `invoke_agent {node}` span (node type `node`), so the LLM and tool steps it
makes carry the node's name in `show` and `dump`. LangGraph has no public per-node seam that runs in
the node's own context (its callbacks cannot make a span current safely), so this row patches the
private scheduler seam every task goes through, `run_with_retry` / `arun_with_retry`, where
`langgraph.pregel._runner` calls them (sync and async graphs, and the async streaming path all end
there; retries of one task are one span). The version range in package.py limits it to the releases
it is tested with; a release without the seam is reported once and its graphs still get their span.

LangGraph signals interrupts, `Command(graph=PARENT)` and drains with `GraphBubbleUp` exceptions: a
span ends without error on them, and they pass through unchanged. A subgraph (a compiled graph used
as a node, or called from one) nests: its graph span under the node, its nodes under that. A node's
span has the node function's code location (for `bundle`), not LangGraph's.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from otel_agenttrace.frameworks._target import FrameworkTarget
from otel_agenttrace.package import _instruments_langgraph

if TYPE_CHECKING:
    from otel_agenttrace._lifecycle import Telemetry

NAME = "langgraph"
INSTRUMENTS = _instruments_langgraph
_RUNNER = "langgraph.pregel._runner"
_log = logging.getLogger("otel_agenttrace")


def _control_flow(exc: BaseException) -> bool:
    from langgraph.errors import GraphBubbleUp  # imported by now: the exception came out of a graph

    return isinstance(exc, GraphBubbleUp)


def _task(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("task")


def _internal_task(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    # `__start__` (the input written to the channels) runs as a task too; reserved names are not user nodes.
    name = getattr(_task(args, kwargs), "name", None)
    return isinstance(name, str) and name.startswith("__") and name.endswith("__")


def _node_function(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # A node runs as a sequence whose first step is the node's runnable: for a function node, the function
    # (sync or async). A subgraph or another runnable has no single function: no location.
    steps = getattr(getattr(_task(args, kwargs), "proc", None), "steps", None)
    first = steps[0] if isinstance(steps, (list, tuple)) and steps else None
    return getattr(first, "func", None) or getattr(first, "afunc", None)


def _no_function(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return None  # a graph is not one function of the user's (LangGraph's own stream() is no help to a reader)


def _check_runner(tel: Telemetry, module: ModuleType) -> Callable[[], None]:
    # The node rows wait for their module's import; a release that moved it would leave them silent.
    # (A function gone from the module is reported by the patcher itself.)
    try:
        importlib.import_module(_RUNNER)
    except ImportError:
        _log.warning(
            "otel-agenttrace: this langgraph version has no %s; graphs are traced, their nodes are not", _RUNNER
        )
    return lambda: None


_GRAPH = {"name": "self.name", "type": "graph"}
_NODE = {"name": "args.task.name", "type": "node"}

TARGETS: tuple[FrameworkTarget, ...] = (
    FrameworkTarget("hook", "langgraph.pregel", "Pregel", {}, NAME, on_import=_check_runner),
    *(
        FrameworkTarget(
            "node",
            "langgraph.pregel",
            f"Pregel.{method}",
            dict(_GRAPH),
            NAME,
            control_flow=_control_flow,
            nests=True,
            code=_no_function,
        )
        for method in ("stream", "astream")
    ),
    *(
        FrameworkTarget(
            "node",
            _RUNNER,
            function,
            dict(_NODE),
            NAME,
            skip=_internal_task,
            control_flow=_control_flow,
            nests=True,
            code=_node_function,
        )
        for function in ("run_with_retry", "arun_with_retry")
    ),
)
