"""Targets from configuration: user provider, tool-registry and node classes, traced with no code change."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import fake_transport, json_response
from opentelemetry.trace import SpanKind, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace._config import ConfigError, load, parse

USER_MODULE = """
import openai, httpx2

class BaseProvider:
    def __init__(self, model, client=None):
        self.model = model
        self.client = client

    def generate(self, messages, temperature=0.0):
        if self.client is not None:
            r = self.client.chat.completions.create(model=self.model, messages=messages)
            return Reply(r.choices[0].message.content, r.usage.prompt_tokens)
        return Reply("echo: " + messages[-1]["content"], 3)

    async def agenerate(self, messages):
        return Reply("async echo", 1)

class Reply:
    def __init__(self, text, tokens):
        self.text, self.tokens = text, tokens

class LoudProvider(BaseProvider):
    def generate(self, messages, temperature=0.0):
        reply = super().generate(messages, temperature)
        reply.text = reply.text.upper()
        return reply

class ToolRegistry:
    def execute(self, name, args, call_id=None):
        if name == "fail":
            raise KeyError(name)
        return {"tool": name, "ok": True, "args": args}

class Planner:
    name = "planner"
    def run(self, goal):
        return ["step"]
"""

TARGETS = [
    {
        "kind": "llm",
        "target": "{mod}:BaseProvider.generate",
        "provider": "myapp",
        "model": "self.model",
        "messages": "args.messages",
        "output": "return.text",
        "input_tokens": "return.tokens",
    },
    {
        "kind": "llm",
        "target": "{mod}:BaseProvider.agenerate",
        "model": "self.model",
        "messages": "args.messages",
        "output": "return.text",
    },
    {
        "kind": "tool",
        "target": "{mod}:ToolRegistry.execute",
        "name": "args.name",
        "arguments": "args.args",
        "call_id": "args.call_id",
    },
    {"kind": "node", "target": "{mod}:Planner.run", "name": "self.name", "type": "planner"},
]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    name = f"userapp_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def specs_for(module: str, rows=TARGETS):
    return parse({"targets": [{**r, "target": r["target"].format(mod=module)} for r in rows]}, "test")


def test_module_not_imported_early_then_patched_on_import(instrument, user_module) -> None:
    from otel_agenttrace import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
    tel = _instrument_with(instrument, specs_for(user_module))
    assert user_module not in sys.modules  # never imported by us
    mod = importlib.import_module(user_module)
    reply = mod.BaseProvider("local-7b").generate([{"role": "user", "content": "hi"}])
    assert reply.text == "echo: hi"
    span = tel.only_span()
    assert span.name == "chat local-7b"
    a = span.attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "myapp"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "echo: hi"


def _instrument_with(instrument, specs):
    from otel_agenttrace import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
    from oteltest import Telemetry

    tel = Telemetry()
    AgentTraceInstrumentor().instrument(
        tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider, run_root=False, targets=specs
    )
    return tel


def test_already_imported_module_and_subclass_override(instrument, user_module) -> None:
    mod = importlib.import_module(user_module)
    tel = _instrument_with(instrument, specs_for(user_module))

    class Later(mod.BaseProvider):  # defined after instrumenting
        def generate(self, messages, temperature=0.0):
            return mod.Reply("later", 1)

    assert mod.LoudProvider("m").generate([{"role": "user", "content": "x"}]).text == "ECHO: X"
    assert Later("m2").generate([{"role": "user", "content": "y"}]).text == "later"
    spans = tel.llm_spans()
    # LoudProvider.generate calls super().generate: one step, not two
    assert [s.name for s in spans] == ["chat m", "chat m2"]
    assert json.loads(spans[0].attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "ECHO: X"


def test_async_target(instrument, user_module) -> None:
    mod = importlib.import_module(user_module)
    tel = _instrument_with(instrument, specs_for(user_module))
    assert asyncio.run(mod.BaseProvider("m").agenerate([{"role": "user", "content": "x"}])).text == "async echo"
    span = tel.only_span()
    assert span.name == "chat m"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "m"
    # the span covers the awaited body: content comes from the coroutine's result, not the coroutine object
    assert json.loads(a[sc.GEN_AI_INPUT_MESSAGES]) == [{"role": "user", "parts": [{"type": "text", "content": "x"}]}]
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [{"type": "text", "content": "async echo"}]


def test_tool_and_node_targets(instrument, user_module) -> None:
    mod = importlib.import_module(user_module)
    tel = _instrument_with(instrument, specs_for(user_module))
    registry = mod.ToolRegistry()
    mod.Planner().run("goal")
    assert registry.execute("search", {"q": "whales"}, call_id="call_9")["ok"]
    with pytest.raises(KeyError):
        registry.execute("fail", {})
    spans = {s.name: s for s in tel.spans()}
    node = spans["invoke_agent planner"]
    assert node.attributes[sc.AGENTTRACE_NODE_NAME] == "planner"
    assert node.attributes[sc.AGENTTRACE_NODE_TYPE] == "planner"
    tool = spans["execute_tool search"]
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"q": "whales"}
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT])["tool"] == "search"
    assert spans["execute_tool fail"].status.status_code is StatusCode.ERROR


def test_nested_provider_over_real_openai_sdk_is_one_span(instrument, user_module) -> None:
    from fakes import openai_client

    mod = importlib.import_module(user_module)
    tel = _instrument_with(instrument, specs_for(user_module))
    client = openai_client(fake_transport(json_response("openai/chat_tool_call.json")))
    mod.BaseProvider("gpt-4o", client).generate([{"role": "user", "content": "weather?"}])
    span = tel.only_span()
    a = span.attributes
    # the richer SDK view: provider, response id, usage and the model's tool call
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")
    assert a[sc.SERVER_ADDRESS] == "llm.test"
    out = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["parts"][0]["type"] == "tool_call"


def test_target_that_does_not_resolve_is_reported_once(instrument, user_module, caplog) -> None:
    importlib.import_module(user_module)
    caplog.set_level(logging.WARNING, logger="otel_agenttrace")
    rows = [{"kind": "tool", "target": "{mod}:NoSuchClass.run"}]
    tel = _instrument_with(instrument, specs_for(user_module, rows))
    messages = [r.getMessage() for r in caplog.records if "does not resolve" in r.getMessage()]
    assert len(messages) == 1 and "NoSuchClass.run" in messages[0]
    assert tel.spans() == []


def test_uninstrument_restores_user_methods(instrument, user_module) -> None:
    mod = importlib.import_module(user_module)
    original = mod.ToolRegistry.__dict__["execute"]
    _instrument_with(instrument, specs_for(user_module))
    assert mod.ToolRegistry.__dict__["execute"] is not original
    from otel_agenttrace import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
    assert mod.ToolRegistry.__dict__["execute"] is original
    assert "__init_subclass__" not in mod.BaseProvider.__dict__


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"targets": [{"kind": "llm", "target": "a:B.c", "modle": "self.model"}]}, "targets[0].modle: unknown key"),
        ({"targets": [{"kind": "agent", "target": "a:B.c"}]}, "targets[0].kind: must be one of"),
        ({"targets": [{"kind": "llm", "target": "not a target"}]}, "targets[0].target: expected"),
        ({"targets": [{"kind": "llm", "target": "a:B.c", "model": "the model"}]}, "targets[0].model: 'the model'"),
        ({"targets": {"kind": "llm"}}, "test.targets: expected an array"),
        ({"target": []}, "test.target: unknown key"),
        ({"targets": [{"kind": "tool", "target": "a:B.c", "name": 3}]}, "targets[0].name: expected a string"),
    ],
)
def test_bad_configuration_names_the_key(table, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse(table, "test")


def test_load_from_pyproject_and_env(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent("""
        [project]
        name = "x"
        [[tool.agenttrace.targets]]
        kind = "tool"
        target = "myapp.tools:ToolRegistry.execute"
        name = "args.name"
    """)
    )
    (sub := tmp_path / "src").mkdir()
    (spec,) = load(environ={}, cwd=sub)
    assert (spec.kind, spec.module, spec.qualname) == ("tool", "myapp.tools", "ToolRegistry.execute")
    env = {"AGENTTRACE_TARGETS": json.dumps([{"kind": "node", "target": "m:Planner.run"}])}
    (spec,) = load(environ=env, cwd=sub)
    assert spec.kind == "node"
    env = {"AGENTTRACE_TARGETS": '[[targets]]\nkind = "llm"\ntarget = "m:P.generate"\n'}
    assert load(environ=env, cwd=sub)[0].qualname == "P.generate"


def test_bad_configuration_at_startup_logs_and_program_goes_on(instrument, monkeypatch, caplog) -> None:
    monkeypatch.setenv("AGENTTRACE_TARGETS", '{"targets": [{"kind": "llm", "target": "a:B.c", "modle": "x"}]}')
    caplog.set_level(logging.ERROR, logger="otel_agenttrace")
    from otel_agenttrace import AgentTraceInstrumentor

    AgentTraceInstrumentor().uninstrument()
    AgentTraceInstrumentor().instrument(run_root=False)
    assert any("modle: unknown key" in r.getMessage() for r in caplog.records)
    assert AgentTraceInstrumentor().is_instrumented_by_opentelemetry
