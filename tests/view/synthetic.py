"""Run-trace documents made up in memory: any number of steps, with content of our choosing."""

from __future__ import annotations

from typing import Any

RUN_ID = "0123456789abcdef0123456789abcdef"
TEXT = "Find the cheapest flight to Lisbon next week and book a hotel near the river. " * 3


def _step(index: int, step_type: str, **fields: Any) -> dict[str, Any]:
    step: dict[str, Any] = {
        "index": index,
        "id": f"{index + 1:016x}",
        "parent_id": None if index == 0 else f"{1:016x}",
        "type": step_type,
        "name": {"workflow": "invoke_workflow big", "llm_call": "chat gpt-4o", "tool_call": "execute_tool search"}.get(
            step_type, step_type
        ),
        "node": None if index == 0 else ("planner" if index % 3 else "executor"),
        "started_at": "2026-11-23T10:00:00.000000Z",
        "relative_ms": float(index),
        "duration_ms": 0.8,
        "status": "ok",
        "provider": None,
        "model": None,
        "request": {},
        "input": None,
        "output": None,
        "system_instructions": None,
        "tool_definitions": None,
        "usage": None,
        "error": None,
        "attributes": {},
    }
    step.update(fields)
    return step


def llm_step(index: int, text: str = TEXT, answer: str = "On it.") -> dict[str, Any]:
    return _step(
        index,
        "llm_call",
        provider="openai",
        model="gpt-4o",
        request={"temperature": 0.2},
        input=[
            {"role": "system", "parts": [{"type": "text", "content": "You are a travel agent."}]},
            {"role": "user", "parts": [{"type": "text", "content": text}]},
        ],
        output=[{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}],
        usage={"input_tokens": 812, "output_tokens": 95},
        attributes={"gen_ai.response.finish_reasons": ["stop"]},
    )


def tool_step(index: int, error: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "input": {"q": f"query {index}"},
        "output": None if error else ["a", "b"],
        "attributes": {"gen_ai.tool.name": "search", "gen_ai.tool.call.id": f"call_{index}"},
    }
    if error:
        fields.update(status="error", error={"type": "TimeoutError", "message": f"search {index} timed out"})
    return _step(index, "tool_call", **fields)


def run_doc(steps: list[dict[str, Any]], workflow: str = "big") -> dict[str, Any]:
    end = max(s["relative_ms"] + (s["duration_ms"] or 0) for s in steps)
    steps[0]["duration_ms"] = end
    return {
        "schema_version": 1,
        "run_id": RUN_ID,
        "workflow": workflow,
        "status": "ok",
        "started_at": "2026-11-23T10:00:00.000000Z",
        "ended_at": "2026-11-23T10:00:10.000000Z",
        "duration_ms": end,
        "model": "gpt-4o",
        "models": ["gpt-4o"],
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "service": {"name": "big-agent"},
        "steps": steps,
        "final_output": None,
        "otel": {"trace_id": RUN_ID, "root_span_id": steps[0]["id"]},
    }


def big_run(n: int) -> dict[str, Any]:
    """A workflow root, then LLM calls and tool calls alternating; every 100th tool call fails."""
    steps = [_step(0, "workflow")]
    for i in range(1, n):
        steps.append(llm_step(i) if i % 2 else tool_step(i, error=i % 200 == 0))
    return run_doc(steps)
