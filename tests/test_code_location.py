"""code.function.name / code.file.path / code.line.number on the spans of configured targets and of
functions decorated with the public API: found once, when the function is wrapped."""

from __future__ import annotations

import importlib
from pathlib import Path
from unittest import mock

from test_targets import _instrument_with, specs_for, user_module  # noqa: F401  (a fixture)

import otel_agenttrace
from otel_agenttrace import _code
from otel_agenttrace import semconv as sc


def test_targets_carry_where_the_method_is_defined(instrument, user_module) -> None:  # noqa: F811
    mod = importlib.import_module(user_module)
    path = str(Path(mod.__file__).resolve())
    tel = _instrument_with(instrument, specs_for(user_module))
    mod.Planner().run("goal")
    mod.ToolRegistry().execute("search", {"q": "x"})
    mod.ToolRegistry().execute("search", {"q": "y"})
    mod.LoudProvider("m").generate([{"role": "user", "content": "hi"}])
    spans = {s.name: s for s in tel.spans()}
    source = Path(path).read_text().splitlines()
    for name, function, line_start in (
        ("invoke_agent planner", "Planner.run", "    def run(self, goal):"),
        ("execute_tool search", "ToolRegistry.execute", "    def execute(self, name, args, call_id=None):"),
        ("chat m", "LoudProvider.generate", "    def generate(self, messages, temperature=0.0):"),  # the override
    ):
        a = spans[name].attributes
        assert a[sc.CODE_FUNCTION_NAME] == f"{user_module}.{function}"
        assert Path(a[sc.CODE_FILE_PATH]) == Path(path)
        assert source[a[sc.CODE_LINE_NUMBER] - 1] == line_start


def test_computed_once_per_wrapped_function_not_per_call(instrument, user_module) -> None:  # noqa: F811
    mod = importlib.import_module(user_module)
    with mock.patch("otel_agenttrace._code.inspect.getsourcefile", wraps=_code.inspect.getsourcefile) as seen:
        tel = _instrument_with(instrument, specs_for(user_module))
        wrapped = seen.call_count
        for _ in range(5):
            mod.ToolRegistry().execute("search", {"q": "x"})
            mod.Planner().run("goal")
        assert seen.call_count == wrapped  # no lookup on the call path
    assert len(tel.spans()) == 10


def test_decorated_functions(tel) -> None:
    @otel_agenttrace.tool
    def lookup(city: str) -> str:
        return city

    @otel_agenttrace.node("planner")
    def plan() -> str:
        return lookup("Lisbon")

    plan()
    spans = {s.name: s for s in tel.spans()}
    here = Path(__file__).resolve()
    for name, function in (("execute_tool lookup", "lookup"), ("invoke_agent planner", "plan")):
        a = spans[name].attributes
        assert a[sc.CODE_FUNCTION_NAME].endswith(f"test_decorated_functions.<locals>.{function}")
        assert Path(a[sc.CODE_FILE_PATH]) == here
        # Python's first line of a function is that of its first decorator
        assert here.read_text().splitlines()[a[sc.CODE_LINE_NUMBER] - 1].strip().startswith("@otel_agenttrace.")


def test_no_source_no_location() -> None:
    assert _code.code_attributes(len) == {}
    assert _code.code_attributes(None) == {}
