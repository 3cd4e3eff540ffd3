"""The whole run: planner → executor (tools) → writer, against OpenAI or the local stub."""

from __future__ import annotations

import os

import openai

from agentapp.nodes import Executor, Planner, Writer
from agentapp.providers import OpenAIProvider
from agentapp.tools import ToolRegistry

QUESTION = (
    "I'm off to Lisbon and then Atlantis tomorrow. What's the weather there, "
    "and how do I send my agent's traces to Jaeger?"
)


def use_stub() -> bool:
    flag = os.environ.get("AGENTTRACE_DEMO_STUB", "")
    return flag not in ("", "0") or not os.environ.get("OPENAI_API_KEY")


def answer(client: openai.OpenAI, model: str, question: str = QUESTION) -> str:
    provider = OpenAIProvider(model, client)
    plan = Planner(provider).run(question)
    findings = Executor(provider, ToolRegistry()).run(question, plan)
    return Writer(provider).run(question, findings)


def main() -> int:
    model = os.environ.get("AGENTTRACE_DEMO_MODEL", "gpt-4o-mini")
    base_url = os.environ.get("AGENTTRACE_DEMO_BASE_URL")
    if base_url:  # a stub server someone else runs (the replay tests stop it, then replay with no listener)
        print(answer(openai.OpenAI(base_url=base_url, api_key="sk-stub-not-a-real-key", max_retries=0), model))
        return 0
    if not use_stub():
        print(answer(openai.OpenAI(), model))
        return 0
    from stub_server import StubServer

    with StubServer() as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="sk-stub-not-a-real-key", max_retries=0)
        print(answer(client, model))
    return 0
