"""Targets on generator functions (LangGraph's `Pregel.stream`, or a user's node that yields): one span
over the whole iteration, current only while the body runs, ended however the iteration ends; what
the consumer sends, throws and gets back passes through unchanged."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from oteltest import Telemetry

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._config import parse
from otel_agenttrace._lifecycle import current_node

USER_MODULE = """
tracer = None  # the test's tracer


class Failed(Exception):
    pass


class Pipeline:
    name = "pipeline"

    def steps(self, n, fail_at=None):
        total = 0
        for i in range(n):
            if i == fail_at:
                raise Failed(i)
            with tracer.start_as_current_span(f"work {i}"):
                pass
            try:
                got = yield i
            except ValueError:
                got = -1  # the body handles what the consumer throws in
            total += got or 0
        return total

    async def asteps(self, n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise Failed(i)
            with tracer.start_as_current_span(f"work {i}"):
                pass
            got = yield i
            if got == "stop":
                return
"""


@pytest.fixture
def mod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    name = f"genapp_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    yield importlib.import_module(name)
    sys.modules.pop(name, None)


@pytest.fixture
def tel(instrument: Callable[..., Telemetry], mod: Any) -> Iterator[Telemetry]:
    AgentTraceInstrumentor().uninstrument()
    rows = [
        {"kind": "node", "target": f"{mod.__name__}:Pipeline.{method}", "name": "self.name", "type": "stage"}
        for method in ("steps", "asteps")
    ]
    t = Telemetry()
    AgentTraceInstrumentor().instrument(
        tracer_provider=t.tracer_provider,
        meter_provider=t.meter_provider,
        run_root=False,
        targets=parse({"targets": rows}, "test"),
    )
    mod.tracer = t.tracer_provider.get_tracer("userapp")
    yield t
    t.close()


def _nodes(tel: Telemetry) -> list[Any]:
    return [s for s in tel.spans() if s.name == "invoke_agent pipeline"]


def _work_under_node(tel: Telemetry) -> list[str]:
    node_ids = {s.context.span_id for s in _nodes(tel)}
    return [s.name for s in tel.spans() if s.name.startswith("work") and s.parent and s.parent.span_id in node_ids]


def _outside() -> bool:
    return not trace.get_current_span().get_span_context().is_valid and current_node.get() is None


def test_a_generator_span_covers_the_iteration_and_sends_and_throws_pass_through(tel: Telemetry, mod: Any) -> None:
    gen = mod.Pipeline().steps(3)
    assert _nodes(tel) == []  # nothing ran yet
    assert next(gen) == 0
    assert _outside()  # between items the consumer's context is its own
    assert gen.send(5) == 1
    assert gen.throw(ValueError("handled")) == 2
    with pytest.raises(StopIteration) as stop:
        gen.send(10)
    assert stop.value.value == 14  # the return value comes back (5 - 1 + 10)
    (node,) = _nodes(tel)
    assert node.attributes[sc.AGENTTRACE_NODE_TYPE] == "stage"
    assert node.status.status_code is StatusCode.UNSET
    assert _work_under_node(tel) == ["work 0", "work 1", "work 2"]
    assert _outside()


def test_a_generator_error_passes_through_and_fails_the_span(tel: Telemetry, mod: Any) -> None:
    with pytest.raises(mod.Failed) as raised:
        list(mod.Pipeline().steps(3, fail_at=1))
    assert raised.value.args == (1,)
    (node,) = _nodes(tel)
    assert node.status.status_code is StatusCode.ERROR
    assert node.attributes[sc.ERROR_TYPE] == "Failed"
    assert _outside()


def test_a_generator_left_early_or_never_started_ends_cleanly(tel: Telemetry, mod: Any) -> None:
    gen = mod.Pipeline().steps(5)
    assert next(gen) == 0
    gen.close()
    dropped = mod.Pipeline().steps(5)
    next(dropped)
    del dropped  # the garbage collector closes it
    never = mod.Pipeline().steps(5)
    del never
    assert [s.status.status_code for s in _nodes(tel)] == [StatusCode.UNSET, StatusCode.UNSET]
    assert _outside()


def test_an_async_generator_span(tel: Telemetry, mod: Any) -> None:
    async def run() -> list[Any]:
        seen = [i async for i in mod.Pipeline().asteps(2)]
        agen = mod.Pipeline().asteps(5)
        seen.append(await agen.__anext__())
        assert _outside()
        with pytest.raises(StopAsyncIteration):
            await agen.asend("stop")
        early = mod.Pipeline().asteps(5)
        seen.append(await early.__anext__())
        await early.aclose()
        with pytest.raises(mod.Failed):
            [i async for i in mod.Pipeline().asteps(3, fail_at=2)]
        return seen

    assert asyncio.run(run()) == [0, 1, 0, 0]
    assert [s.status.status_code for s in _nodes(tel)] == [StatusCode.UNSET] * 3 + [StatusCode.ERROR]
    assert _work_under_node(tel) == ["work 0", "work 1", "work 0", "work 0", "work 0", "work 1"]
