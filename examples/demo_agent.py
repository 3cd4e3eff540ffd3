"""A small planner/executor agent on the plain `openai` SDK. It knows nothing about tracing.

    agenttrace run -- python examples/demo_agent.py
    agenttrace show --last

With OPENAI_API_KEY set (and AGENTTRACE_DEMO_STUB unset) it talks to OpenAI, model
AGENTTRACE_DEMO_MODEL (default gpt-4o-mini). Otherwise it starts the scripted OpenAI-compatible
stub of stub_server.py in a thread and points the client at it, so it runs offline and the same
way every time.

The run: a planner (one LLM call that answers with a plan, as a tool call), an executor (LLM calls
that call `search_docs` and `get_weather`; the weather service fails for one city, and the agent
hands that error back to the model as the tool's result), and a streamed final answer.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

QUESTION = (
    "I'm off to Lisbon and then Atlantis tomorrow. What's the weather there, "
    "and how do I send my agent's traces to Jaeger?"
)
MAX_TURNS = 6  # executor turns before it must answer

DOCS = {
    "jaeger": "Jaeger accepts OTLP on port 4317 (gRPC) and 4318 (HTTP): set OTEL_EXPORTER_OTLP_ENDPOINT to it.",
    "tempo": "Tempo ingests OTLP; query a trace back with GET /api/v2/traces/<trace id> on port 3200.",
    "run": "`agenttrace run -- python my_agent.py` records every run of an agent without code changes.",
}
WEATHER = {"lisbon": "sunny, 21 °C", "paris": "cloudy, 14 °C", "reykjavik": "snow, -3 °C"}


# --- tools -------------------------------------------------------------------------------------------------------


def search_docs(query: str) -> list[str]:
    """The passages of the docs that mention any word of the query."""
    words = {w.strip(".,?!").lower() for w in query.split()}
    return [text for key, text in DOCS.items() if key in words or words & set(text.lower().split())]


def get_weather(city: str) -> str:
    """Tomorrow's forecast for a city."""
    try:
        return WEATHER[city.strip().lower()]
    except KeyError:
        raise LookupError(f"weather service has no forecast for {city!r}") from None


TOOLS: dict[str, Callable[..., Any]] = {"search_docs": search_docs, "get_weather": get_weather}


def _function(name: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }


# Plain dicts (the SDK's TypedDicts are for type checkers): Any keeps the example readable.
TOOL_SCHEMAS: list[Any] = [
    _function("search_docs", "Search the product documentation.", query={"type": "string"}),
    _function("get_weather", "Tomorrow's weather forecast for a city.", city={"type": "string"}),
]
PLAN_SCHEMA: Any = _function(
    "submit_plan",
    "Submit the plan: the steps to take, in order.",
    steps={"type": "array", "items": {"type": "string"}},
)


def call_tool(name: str, arguments: str) -> str:
    """Run one tool call of the model; a failure becomes the tool's result so the model can react to it."""
    try:
        result = TOOLS[name](**json.loads(arguments or "{}"))
    except Exception as exc:  # the model decides what to do about a failed tool
        return json.dumps({"error": f"{type(exc).__name__}: {exc}"})
    return json.dumps({"result": result})


# --- the agent ---------------------------------------------------------------------------------------------------


def planner(client: openai.OpenAI, model: str, question: str) -> list[str]:
    response = client.chat.completions.create(
        model=model,
        temperature=0,
        messages=[
            {"role": "system", "content": "You plan. Break the user's request into short steps; submit them."},
            {"role": "user", "content": question},
        ],
        tools=[PLAN_SCHEMA],
        tool_choice={"type": "function", "function": {"name": "submit_plan"}},
    )
    for call in response.choices[0].message.tool_calls or []:
        if call.type == "function" and call.function.name == "submit_plan":
            steps = json.loads(call.function.arguments).get("steps") or []
            return [str(s) for s in steps]
    return [question]


def executor(client: openai.OpenAI, model: str, question: str, plan: list[str]) -> list[dict[str, Any]]:
    """Work through the plan with the tools; return the conversation (the notes for the final answer)."""
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(plan, 1))
    messages: list[Any] = [
        {"role": "system", "content": "You execute a plan with the tools you have. Say 'Done' when finished."},
        {"role": "user", "content": f"{question}\n\nPlan:\n{steps}"},
    ]
    for _ in range(MAX_TURNS):
        response = client.chat.completions.create(model=model, temperature=0, messages=messages, tools=TOOL_SCHEMAS)
        message = response.choices[0].message
        turn: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.tool_calls:
            turn["tool_calls"] = [call.model_dump(include={"id", "type", "function"}) for call in message.tool_calls]
        messages.append(turn)
        if not message.tool_calls:
            break
        for call in message.tool_calls:
            if call.type != "function":
                continue
            result = call_tool(call.function.name, call.function.arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return messages


def final_answer(client: openai.OpenAI, model: str, question: str, notes: list[dict[str, Any]]) -> str:
    findings = [m["content"] for m in notes if m.get("role") == "tool"]
    stream = client.chat.completions.create(
        model=model,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        messages=[
            {"role": "system", "content": "Answer the user from the findings. Be brief; mention what failed."},
            {"role": "user", "content": f"{question}\n\nFindings:\n" + "\n".join(findings)},
        ],
    )
    parts: list[str] = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
    return "".join(parts)


def _use_stub() -> bool:
    flag = os.environ.get("AGENTTRACE_DEMO_STUB", "")
    return flag not in ("", "0") or not os.environ.get("OPENAI_API_KEY")


def main() -> int:
    stub = None
    if _use_stub():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from stub_server import StubServer

        stub = StubServer().start()
        client = openai.OpenAI(base_url=stub.base_url, api_key="sk-stub-not-a-real-key", max_retries=0)
    else:
        client = openai.OpenAI()
    model = os.environ.get("AGENTTRACE_DEMO_MODEL", "gpt-4o-mini")
    try:
        plan = planner(client, model, QUESTION)
        notes = executor(client, model, QUESTION, plan)
        print(final_answer(client, model, QUESTION, notes))
    finally:
        if stub is not None:
            stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
