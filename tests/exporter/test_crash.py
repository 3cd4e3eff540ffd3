"""A process killed with SIGKILL mid-run leaves its finished steps in the store and its open ones incomplete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter.store import RunStore

REPO = Path(__file__).resolve().parents[2]

_AGENT = textwrap.dedent(
    """
    import sys, time
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from otel_agenttrace.exporter._inflight import install_inflight_recorder
    from otel_agenttrace.exporter.run_trace import RunTraceExporter
    from otel_agenttrace.exporter.store import RunStore

    home = sys.argv[1]
    exporter = RunTraceExporter(store=home, forward=None)
    provider = TracerProvider()
    install_inflight_recorder(provider, exporter.store)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=20))
    tracer = provider.get_tracer("agent")

    root = tracer.start_span("invoke_workflow crashy")
    with trace.use_span(root):
        for i in range(3):
            with tracer.start_as_current_span(f"chat step {i}"):
                pass
        tool = tracer.start_span("execute_tool slow_tool")
        with trace.use_span(tool):
            inner = tracer.start_span("chat inside tool")
    run_id = f"{root.get_span_context().trace_id:032x}"

    # No flush by hand: wait until the background threads (batch export, start recorder) have written it all.
    with RunStore(home) as reader:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            records = reader.spans(run_id)
            if sum(r.end_ns is not None for r in records) == 3 and sum(r.end_ns is None for r in records) == 3:
                break
            time.sleep(0.02)
    print(run_id, flush=True)
    print("ready", flush=True)
    time.sleep(120)  # killed long before this ends
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_leaves_finished_steps_and_incomplete_ones(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    agent = subprocess.Popen([sys.executable, "-c", _AGENT, str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert agent.stdout is not None
        run_id = agent.stdout.readline().strip()
        assert agent.stdout.readline().strip() == "ready"
        os.kill(agent.pid, signal.SIGKILL)
        assert agent.wait(timeout=30) == -signal.SIGKILL
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()

    with RunStore(tmp_path) as store:
        records = {r.name: r for r in store.spans(run_id)}
        (run,) = store.list_runs()
    assert {name for name, r in records.items() if r.end_ns is not None} == {f"chat step {i}" for i in range(3)}
    assert {name for name, r in records.items() if r.end_ns is None} == {
        "invoke_workflow crashy",
        "execute_tool slow_tool",
        "chat inside tool",
    }
    assert records["chat inside tool"].parent_id == records["execute_tool slow_tool"].span_id
    assert (run.run_id, run.status, run.steps, run.workflow) == (run_id, "incomplete", 6, "invoke_workflow crashy")

    doc = assemble(list(records.values()))
    assert doc["status"] == "incomplete" and len(doc["steps"]) == 6
    assert [s["status"] for s in doc["steps"] if s["name"].startswith("chat step")] == ["ok"] * 3
