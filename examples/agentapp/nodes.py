"""The workflow's nodes: plan, execute with tools, write the answer."""

from __future__ import annotations

import json
from typing import Any

from agentapp.providers import BaseProvider
from agentapp.tools import ToolRegistry

MAX_TURNS = 6  # executor turns before it must answer

PLAN_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "submit_plan",
        "description": "Submit the plan: the steps to take, in order.",
        "parameters": {
            "type": "object",
            "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
            "required": ["steps"],
        },
    },
}


class Node:
    name = "node"
    kind = "node"

    def __init__(self, provider: BaseProvider) -> None:
        self.provider = provider

    def run(self, *args: Any) -> Any:
        raise NotImplementedError


class Planner(Node):
    name = "planner"
    kind = "planner"

    def run(self, question: str) -> list[str]:
        reply = self.provider.generate(
            [
                {"role": "system", "content": "You plan. Break the user's request into short steps; submit them."},
                {"role": "user", "content": question},
            ],
            tools=[PLAN_TOOL],
            tool_choice={"type": "function", "function": {"name": "submit_plan"}},
        )
        for call in reply.tool_calls:
            if call["name"] == "submit_plan":
                return [str(s) for s in json.loads(call["arguments"]).get("steps") or []]
        return [question]


class Executor(Node):
    name = "executor"
    kind = "executor"

    def __init__(self, provider: BaseProvider, tools: ToolRegistry) -> None:
        super().__init__(provider)
        self.tools = tools

    def run(self, question: str, plan: list[str]) -> list[str]:
        """Work through the plan with the tools; return the findings."""
        steps = "\n".join(f"{i}. {step}" for i, step in enumerate(plan, 1))
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You execute a plan with the tools you have. Say 'Done' when finished."},
            {"role": "user", "content": f"{question}\n\nPlan:\n{steps}"},
        ]
        findings: list[str] = []
        for _ in range(MAX_TURNS):
            reply = self.provider.generate(messages, tools=self.tools.schemas)
            turn: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.tool_calls:
                turn["tool_calls"] = [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in reply.tool_calls
                ]
            messages.append(turn)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                result = self.tools.call(call["name"], call["arguments"], call["id"])
                findings.append(result)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        return findings


class Writer(Node):
    name = "writer"
    kind = "writer"

    def run(self, question: str, findings: list[str]) -> str:
        reply = self.provider.generate(
            [
                {"role": "system", "content": "Answer the user from the findings. Be brief; mention what failed."},
                {"role": "user", "content": f"{question}\n\nFindings:\n" + "\n".join(findings)},
            ],
            stream=True,
        )
        return reply.text
