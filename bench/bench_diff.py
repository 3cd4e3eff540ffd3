"""How long `agenttrace diff` takes to compare two large runs (the engine: alignment, field comparison, text).

    python bench/bench_diff.py                # 5,000-step runs, 5 rounds
    python bench/bench_diff.py --steps 20000

Two runs of N steps (turns of one LLM call with a 20-message input and two tool calls); B has one step
inserted near the start, one tool argument changed in the middle and one step removed near the end, so
the alignment cannot take the all-equal shortcut. Reported: the median CPU time of `compare_runs`, and of
rendering the diff text, over the rounds.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

from otel_agenttrace.replay._report import diff_lines
from otel_agenttrace.replay.compare import compare_runs


def run(steps: int) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for i in range(steps):
        kind = "llm_call" if i % 3 == 0 else "tool_call"
        step: dict[str, Any] = {
            "index": i,
            "type": kind,
            "name": "chat gpt-4o" if kind == "llm_call" else f"execute_tool t{i % 3}",
            "node": f"node{i // 300}",
            "parent_id": "p",
            "relative_ms": float(i * 10),
            "duration_ms": 5.0,
            "status": "ok",
            "model": "gpt-4o" if kind == "llm_call" else None,
            "request": {"temperature": 0.2},
            "input": [
                {"role": "user", "parts": [{"type": "text", "content": f"message {j} of {i}"}]} for j in range(20)
            ]
            if kind == "llm_call"
            else {"q": f"query {i}"},
            "output": {"result": i},
            "usage": {"input_tokens": 100, "output_tokens": 10} if kind == "llm_call" else None,
        }
        out.append(step)
    return {"run_id": "a" * 32, "workflow": "bench", "status": "ok", "steps": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    a = run(args.steps)
    b = copy.deepcopy(a)
    b["run_id"] = "b" * 32
    b["steps"].insert(5, {**copy.deepcopy(b["steps"][4]), "name": "execute_tool extra"})
    b["steps"][args.steps // 2]["input"] = {"q": "changed"}
    del b["steps"][-10]
    compare_s, render_s = [], []
    for _ in range(args.rounds):
        t0 = time.process_time()
        comparison = compare_runs(a, b)
        t1 = time.process_time()
        diff_lines(comparison, a, b)
        t2 = time.process_time()
        compare_s.append(t1 - t0)
        render_s.append(t2 - t1)
    c = comparison.counts()
    print(f"{args.steps} steps: {c}")
    compare_ms, render_ms = statistics.median(compare_s) * 1000, statistics.median(render_s) * 1000
    print(f"compare_runs: median {compare_ms:.0f} ms; diff text: median {render_ms:.0f} ms")


if __name__ == "__main__":
    main()
