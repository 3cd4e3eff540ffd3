"""bench/bench_overhead.py's variants still run, and its stream floors measure what they say.

A benchmark is not timed here; this only keeps it from rotting unseen (a variant that raises, or a floor that ends
no span or a different one). It runs in a subprocess: the bench instruments the SDKs process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
sys.path.insert(0, {bench!r})
import bench_overhead as bo
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

bench = bo.Bench()
memory = InMemorySpanExporter()
bench.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
out = {{}}
for s in bo.build_scenarios():
    for name in bo.ABLATIONS:
        setup, call = bench.variant(s, name)
        setup()
        memory.clear()
        call()
        spans = memory.get_finished_spans()
        out[s.name + " " + name] = [
            {{"name": sp.name, "parent": sp.parent is not None, "attributes": sorted(sp.attributes or {{}})}}
            for sp in spans
        ]
print(json.dumps(out))
"""


def test_every_ablation_runs_and_the_stream_floors_end_one_span_alike() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(bench=str(ROOT / "bench"))],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    spans = json.loads(proc.stdout.strip().splitlines()[-1])
    for scenario in ("openai-stream", "anthropic-stream", "openai-chat"):
        floor, proxied = spans[f"{scenario} floor"], spans[f"{scenario} floor+proxy"]
        assert len(floor) == 1 and floor == proxied, (scenario, floor, proxied)
        assert len(floor[0]["attributes"]) == 8
    assert spans["openai-stream bare"] == []
    # ours makes its own span, with more of the conventions' attributes than the floor's 8
    ours = [sp for sp in spans["openai-stream ours"] if sp["name"] == "chat gpt-4o"]
    assert len(ours) == 1 and len(ours[0]["attributes"]) > 8
