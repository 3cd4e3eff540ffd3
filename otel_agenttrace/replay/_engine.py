"""The replay engine: answers the program's LLM requests and tool calls from a recording.

Matching (docs/replay.md):
- an LLM request is matched by its normalised body (canonical JSON, redacted like the recording):
  the first unconsumed exchange of the same endpoint with an identical body. Failing that, the next
  unconsumed exchange of the same endpoint in the same node (then in any node) answers it, and the
  mismatch is a divergence; with `strict`, or when no exchange of that endpoint is left (the recording
  is exhausted), `ReplayDivergence` is raised into the program instead.
- a tool call is matched by name and arguments, then by order per tool name.

Every decision is taken under one lock on a per-key queue in recording order, so concurrent calls
(asyncio.gather, threads) with distinct requests always get the same answers, whatever their order.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from otel_agenttrace.replay._format import canonical, request_key
from otel_agenttrace.replay.compare import first_difference
from otel_agenttrace.replay.errors import EXHAUSTED, REQUEST, TOOL, UNUSED, Divergence, ReplayDivergence

MODES = ("model", "live")
TOOL_MODES = ("replay", "live")


class _Queues:
    """Indices into one list of recorded calls, by key, each in recording order, skipping consumed ones."""

    def __init__(self) -> None:
        self._queues: dict[Any, deque[int]] = {}

    def add(self, key: Any, index: int) -> None:
        self._queues.setdefault(key, deque()).append(index)

    def take(self, key: Any, consumed: list[bool]) -> int | None:
        queue = self._queues.get(key)
        while queue:
            index = queue.popleft()
            if not consumed[index]:
                return index
        return None


def _tool_key(arguments: Any, policy: Any) -> str:
    try:
        text = canonical(arguments)
    except (TypeError, ValueError):
        text = repr(arguments)
    return str(policy.redactor.redact(text)[0]) if policy is not None else text


def _summary(value: Any, limit: int = 300) -> Any:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReplayedToolError(Exception):
    """A recorded tool exception whose class cannot be rebuilt here; the message names the original class."""


def rebuild_exception(error: dict[str, Any]) -> BaseException:
    """The recorded exception (class path + message) as an instance of that class when it can be made."""
    path, message = str(error.get("type", "")), str(error.get("message", ""))
    module_name, _, qualname = path.rpartition(".")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, type) and issubclass(obj, Exception):
            return obj(message)
    except Exception:
        pass
    return ReplayedToolError(f"{path}: {message}")


class ReplayEngine:
    def __init__(
        self,
        recording: dict[str, Any],
        mode: str = "model",
        tools: str = "replay",
        strict: bool = False,
        policy: Any = None,
        replay_of: str | None = None,
        steps: Iterable[dict[str, Any]] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if tools not in TOOL_MODES:
            raise ValueError(f"tools must be one of {', '.join(TOOL_MODES)}, not {tools!r}")
        self.mode, self.tools_mode, self.strict, self.policy, self.replay_of = mode, tools, strict, policy, replay_of
        self.exchanges: list[dict[str, Any]] = list(recording.get("exchanges") or [])
        self.tools: list[dict[str, Any]] = list(recording.get("tools") or [])
        self.divergences: list[Divergence] = []
        self.trace_ids: dict[str, int] = {}  # the runs the replay made: trace id -> calls served in it
        self.served = 0
        self._lock = threading.Lock()
        self._x_used = [False] * len(self.exchanges)
        self._x_exact, self._x_node, self._x_any = _Queues(), _Queues(), _Queues()
        for i, x in enumerate(self.exchanges):
            endpoint = f"{x.get('method')} {x.get('path')}"
            request = x.get("request") or {}
            body = request.get("body", request.get("body_text"))
            key = request_key(body if isinstance(body, str) else canonical(body), policy) if body is not None else ""
            x["_key"] = key
            self._x_exact.add((endpoint, key), i)
            self._x_node.add((endpoint, x.get("node")), i)
            self._x_any.add(endpoint, i)
        # The original run's steps: a replayed tool's step names the span that replays it, and what ran
        # inside the tool (an MCP server's own span, a nested LLM call) is not expected when it does not run.
        self.steps: dict[str, dict[str, Any]] = {}
        self._children: dict[str, list[str]] = {}
        for step in steps or ():
            if isinstance(step, dict) and isinstance(step.get("id"), str):
                self.steps[step["id"]] = step
                parent = step.get("parent_id")
                if isinstance(parent, str):
                    self._children.setdefault(parent, []).append(step["id"])
        self.replayed_spans: list[str] = []  # span ids (of the original) of the tool calls answered from it
        self._t_used = [False] * len(self.tools)
        self._t_exact, self._t_name = _Queues(), _Queues()
        for i, t in enumerate(self.tools):
            self._t_exact.add((t.get("name"), _tool_key(t.get("arguments"), policy)), i)
            self._t_name.add(t.get("name"), i)

    # -- LLM exchanges ---------------------------------------------------------------------------------

    def note_trace(self, trace_id: str | None) -> None:
        if trace_id:
            with self._lock:
                self.trace_ids[trace_id] = self.trace_ids.get(trace_id, 0) + 1

    def _diverge(self, divergence: Divergence, fatal: bool) -> None:
        self.divergences.append(divergence)
        if fatal:
            divergence.extra["raised"] = True  # the program was stopped here (strict, or exhausted)
            raise ReplayDivergence(divergence)

    def match_exchange(self, method: str, path: str, node: str | None, body_text: str | None) -> dict[str, Any]:
        """The recorded exchange that answers this request (model mode); raises ReplayDivergence."""
        endpoint = f"{method} {path}"
        key = request_key(body_text, self.policy)
        with self._lock:
            index = self._x_exact.take((endpoint, key), self._x_used)
            if index is None:
                index = self._x_node.take((endpoint, node), self._x_used)
                if index is None:
                    index = self._x_any.take(endpoint, self._x_used)
                actual = _parse(key)
                if index is None:
                    self._diverge(
                        Divergence(
                            EXHAUSTED,
                            f"recording exhausted: the program made more {endpoint} calls than the"
                            f" {count_endpoint(self.exchanges, endpoint)} recorded",
                            node=node,
                            target=endpoint,
                            actual=_summary(actual),
                        ),
                        fatal=True,
                    )
                    raise AssertionError("unreachable")
                recorded = self.exchanges[index]
                expected = _parse(recorded["_key"])
                where = first_difference(expected, actual)
                path_, exp, act = where if where else ("/", None, None)
                self._diverge(
                    Divergence(
                        REQUEST,
                        f"LLM request #{index} ({endpoint}{' in ' + node if node else ''}) differs from the"
                        f" recording at {path_}",
                        node=node,
                        target=endpoint,
                        index=index,
                        field=path_,
                        expected=_summary(exp),
                        actual=_summary(act),
                    ),
                    fatal=self.strict,
                )
            self._x_used[index] = True
            self.served += 1
            return self.exchanges[index]

    # -- tools -----------------------------------------------------------------------------------------

    def match_tool(self, name: str, arguments: Any, node: str | None, runs: bool = False) -> dict[str, Any] | None:
        """The recorded call that answers this tool call, or None: run it for real (tools live, no
        replayable result, or live mode without an exact match). `runs`: the tool runs all the same (a
        `with tool():` block), so what was recorded inside it is still expected."""
        if self.tools_mode == "live":
            return None
        key = _tool_key(arguments, self.policy)
        with self._lock:
            index = self._t_exact.take((name, key), self._t_used)
            if index is None:
                if self.mode == "live":
                    return None  # live mode replays only calls that match
                index = self._t_name.take(name, self._t_used)
                if index is None:
                    self._diverge(
                        Divergence(
                            EXHAUSTED,
                            f"recording exhausted: tool {name!r} was called more often than recorded",
                            node=node,
                            target=name,
                            actual=_summary(arguments),
                        ),
                        fatal=True,
                    )
                recorded = self.tools[index]  # type: ignore[index]
                where = first_difference(recorded.get("arguments"), _parse(key))
                self._diverge(
                    Divergence(
                        TOOL,
                        f"tool call #{index} {name!r} has other arguments than recorded"
                        + (f" at {where[0]}" if where else ""),
                        node=node,
                        target=name,
                        index=index,
                        field=where[0] if where else None,
                        expected=_summary(recorded.get("arguments")),
                        actual=_summary(arguments),
                    ),
                    fatal=self.strict,
                )
            assert index is not None
            self._t_used[index] = True
            recorded = self.tools[index]
            if recorded.get("replayable") is False:
                return None
            if not runs:
                self.served += 1
                self._skip_inside(recorded.get("span_id"))
            return recorded

    def _skip_inside(self, span_id: Any) -> None:
        """The tool `span_id` is answered without running: what was recorded inside it is consumed."""
        if not isinstance(span_id, str):
            return
        self.replayed_spans.append(span_id)
        inside: set[str] = set()
        todo = list(self._children.get(span_id, ()))
        while todo:
            child = todo.pop()
            if child not in inside:
                inside.add(child)
                todo.extend(self._children.get(child, ()))
        if not inside:
            return
        for i, x in enumerate(self.exchanges):
            if x.get("span_id") in inside:
                self._x_used[i] = True
        for i, t in enumerate(self.tools):
            if t.get("span_id") in inside:
                self._t_used[i] = True

    def step_name(self, recorded: dict[str, Any], default: str) -> str:
        """The name of the original step a recorded tool call was (a replayed call's span takes it)."""
        step = self.steps.get(str(recorded.get("span_id")))
        name = step.get("name") if step is not None else None
        return name if isinstance(name, str) and name else default

    def check_outcome(
        self, recorded: dict[str, Any], node: str | None, result: Any = None, exc: BaseException | None = None
    ) -> None:
        """A tool that ran although a recording matched it (a `with tool():` block, whose body cannot be
        skipped): its outcome compared with the recorded one; a difference is a divergence."""
        name = str(recorded.get("name"))
        expected_error = recorded.get("error")
        if exc is not None or expected_error is not None:
            cls = type(exc) if exc is not None else None
            actual = {"type": f"{cls.__module__}.{cls.__qualname__}", "message": str(exc)} if cls else None
            expected = None
            if expected_error:
                expected = {"type": expected_error["type"], "message": expected_error["message"]}
            if actual is not None and self.policy is not None:
                actual["message"] = str(self.policy.redactor.redact(actual["message"])[0])
            if actual != expected:
                self._record_outcome(name, node, recorded, "/error", expected, actual)
            return
        if "result" not in recorded:
            return  # recorded as not replayable: nothing to compare with
        actual_result = _parse(_tool_key(result, self.policy))
        where = first_difference(recorded.get("result"), actual_result)
        if where is not None:
            self._record_outcome(name, node, recorded, "/result" + (where[0] if where[0] != "/" else ""), *where[1:])

    def _record_outcome(
        self, name: str, node: str | None, recorded: dict[str, Any], field: str, expected: Any, actual: Any
    ) -> None:
        with self._lock:
            self.divergences.append(
                Divergence(
                    TOOL,
                    f"tool {name!r} ended otherwise than recorded, at {field}",
                    node=node,
                    target=name,
                    index=next((i for i, t in enumerate(self.tools) if t is recorded), None),
                    field=field,
                    expected=_summary(expected),
                    actual=_summary(actual),
                )
            )

    # -- the end ---------------------------------------------------------------------------------------

    def finish(self) -> list[Divergence]:
        """Add a divergence for recorded calls the program never made; return every divergence."""
        with self._lock:
            if self.mode == "model":
                unused = [i for i, used in enumerate(self._x_used) if not used]
                if unused and not any(d.kind == UNUSED for d in self.divergences):
                    first = self.exchanges[unused[0]]
                    self.divergences.append(
                        Divergence(
                            UNUSED,
                            f"{len(unused)} recorded LLM call(s) were never made, the first #{unused[0]}"
                            f" ({first.get('method')} {first.get('path')})",
                            node=first.get("node"),
                            target=f"{first.get('method')} {first.get('path')}",
                            index=unused[0],
                        )
                    )
            return list(self.divergences)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def count_endpoint(exchanges: Iterable[dict[str, Any]], endpoint: str) -> int:
    return sum(1 for x in exchanges if f"{x.get('method')} {x.get('path')}" == endpoint)
