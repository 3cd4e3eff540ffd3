"""Time to `agenttrace dump` a run of 10,000 steps (goal: under 1 s).

    python bench/bench_dump.py [--steps 10000] [--repeat 5]

A run of N steps (a workflow root, then LLM calls with ~1 KB of message content each and tool
calls, alternating) is written to a fresh store through RunTraceExporter, then dumped:
  in-process   `agenttrace dump RUN_ID -o FILE` through click's CliRunner (store read + assemble + JSON)
  subprocess   the same as a real command, interpreter start-up included
Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import cli
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore

RESOURCE = Resource.create({"service.name": "bench-agent"})
TEXT = "Find the cheapest flight to Lisbon next week and book a hotel near the river. " * 6
MESSAGES = json.dumps([{"role": "user", "parts": [{"type": "text", "content": TEXT}]}])
OUTPUT = json.dumps(
    [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "x"}}],
            "finish_reason": "tool_call",
        }
    ]
)


def make_run(steps: int) -> list[ReadableSpan]:
    rng = random.Random(7)
    trace_id, root_id = rng.getrandbits(128), rng.getrandbits(64)
    flags = TraceFlags(TraceFlags.SAMPLED)
    start = time.time_ns()
    root_ctx = SpanContext(trace_id, root_id, False, flags)
    spans = [
        ReadableSpan(
            name="invoke_workflow bench",
            context=root_ctx,
            resource=RESOURCE,
            attributes={sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "bench"},
            kind=SpanKind.INTERNAL,
            start_time=start,
            end_time=start + steps * 2000 + 1000,
        )
    ]
    for i in range(1, steps):
        ctx = SpanContext(trace_id, rng.getrandbits(64), False, flags)
        if i % 2:
            attrs: dict[str, AttributeValue] = {
                sc.GEN_AI_OPERATION_NAME: sc.Operation.CHAT,
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                sc.GEN_AI_RESPONSE_ID: f"chatcmpl-{i}",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 812,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 95,
                sc.GEN_AI_INPUT_MESSAGES: MESSAGES,
                sc.GEN_AI_OUTPUT_MESSAGES: OUTPUT,
            }
            name, kind = "chat gpt-4o", SpanKind.CLIENT
        else:
            attrs = {
                sc.GEN_AI_OPERATION_NAME: sc.Operation.EXECUTE_TOOL,
                sc.GEN_AI_TOOL_NAME: "search",
                sc.GEN_AI_TOOL_CALL_ID: f"call_{i}",
                sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"q": "x"}',
                sc.GEN_AI_TOOL_CALL_RESULT: '["a", "b"]',
            }
            name, kind = "execute_tool search", SpanKind.INTERNAL
        spans.append(
            ReadableSpan(
                name=name,
                context=ctx,
                parent=root_ctx,
                resource=RESOURCE,
                attributes=attrs,
                kind=kind,
                status=Status(StatusCode.UNSET),
                start_time=start + i * 2000,
                end_time=start + i * 2000 + 1500,
            )
        )
    return spans


def write_run(home: str, steps: int) -> str:
    """make_run(steps) written to a fresh store in `home` through RunTraceExporter; the run id."""
    store = RunStore(home)
    exporter = RunTraceExporter(store=store, forward=None)
    spans = make_run(steps)
    for i in range(0, len(spans), 512):
        exporter.export(spans[i : i + 512])
    exporter.shutdown()
    store.close()
    return format(spans[0].context.trace_id, "032x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        run_id = write_run(home, args.steps)
        out = Path(home) / "run.json"
        runner = CliRunner()
        in_process, child = [], []
        env = {**os.environ, "AGENTTRACE_HOME": home}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = runner.invoke(cli, ["dump", run_id, "-o", str(out)], env={"AGENTTRACE_HOME": home})
            in_process.append(time.perf_counter() - t0)
            assert result.exit_code == 0, result.output
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "otel_agenttrace.cli", "dump", run_id, "-o", str(out)], env=env, check=True
            )
            child.append(time.perf_counter() - t0)
        doc = json.loads(out.read_text())
        assert len(doc["steps"]) == args.steps, len(doc["steps"])
        print(f"| dump of a {args.steps:,}-step run | median | min |")
        print("|---|---:|---:|")
        print(
            f"| in-process (store read + assemble + write) | {statistics.median(in_process):.3f} s "
            f"| {min(in_process):.3f} s |"
        )
        print(
            f"| `agenttrace dump` subprocess (with start-up) | {statistics.median(child):.3f} s | {min(child):.3f} s |"
        )
        print(f"output: {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
