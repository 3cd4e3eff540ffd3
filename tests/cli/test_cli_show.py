"""`agenttrace show`: the header and one timeline line per step; color only on a terminal without NO_COLOR."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace.cli import show
from otel_agenttrace.cli._app import App, use_color

from .cli_helpers import CRASHED_RUN, NIGHTLY_RUN, WHALE_RUN, Invoke


def _indent(line: str, word: str) -> int:
    """Spaces between the duration column and the step type `word`."""
    match = re.search(r"(ms|s|…)( +)" + re.escape(word) + r"\b", line)
    assert match, (word, line)
    return len(match.group(2))


def test_timeline_of_a_run(invoke: Invoke, home: Path) -> None:
    result = invoke("show", "abcd1111", home=home)
    assert result.exit_code == 0, result.stderr
    header, blank, *steps, blank2, final = result.stdout.splitlines()
    assert header.split("  ") == [
        f"run {WHALE_RUN}",
        "whaleflow",
        "ok",
        "2.40s",
        "tokens in/out 812/95",
        "cost $0.0030",
        "models gpt-4o",
        "service whale-agent",
    ]
    assert blank == blank2 == ""
    assert len(steps) == 5
    workflow, node, ask, tool, answer = steps
    assert workflow.split()[:4] == ["+0ms", "2.40s", "workflow", "whaleflow"]
    assert node.split()[:4] == ["+1ms", "2.39s", "node", "planner"]
    assert ask.split()[:5] == ["+3ms", "810ms", "llm", "[planner]", "gpt-4o"]
    assert ask.endswith('→ search(q="blue whale length") 400/40 $0.0014')
    assert tool.split()[:4] == ["+815ms", "1.00s", "tool", "[planner]"]
    assert 'search(q="blue whale length") ✗ TimeoutError: search backend timed out' in tool
    assert answer.split()[:2] == ["+1.82s", "570ms"]
    assert answer.endswith('gpt-4o: "Blue whales grow up to about 30 m long." 412/55 $0.0016')
    # Indented by depth: the workflow, its node, the node's steps.
    assert _indent(node, "node") == _indent(workflow, "workflow") + 2
    assert _indent(ask, "llm") == _indent(tool, "tool") == _indent(answer, "llm") == _indent(node, "node") + 2
    assert final == "final output  Blue whales grow up to about 30 m long."
    assert "\x1b[" not in result.stdout


def test_last_shows_incomplete_steps(invoke: Invoke, home: Path) -> None:
    result = invoke("show", "--last", home=home)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run {CRASHED_RUN}  crashy  incomplete  ")
    incomplete = [line for line in lines if "incomplete (never ended)" in line]
    assert len(incomplete) == 2
    assert all(" … " in line for line in incomplete)


def test_error_run_header(invoke: Invoke, home: Path) -> None:
    result = invoke("show", NIGHTLY_RUN[:12], home=home)
    assert result.exit_code == 0
    first, _, root, *_ = result.stdout.splitlines()
    assert first.startswith(f"run {NIGHTLY_RUN}  nightly  error  900ms")
    assert root.endswith("workflow nightly ✗ _OTHER: RuntimeError: quota exhausted")


def test_show_from_a_file(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    saved = tmp_path / "run.json"
    assert invoke("dump", WHALE_RUN, "-o", str(saved), home=home).exit_code == 0
    from_store = invoke("show", WHALE_RUN, home=home).stdout
    assert invoke("show", "--from", str(saved)).stdout == from_store


def test_errors(invoke: Invoke, home: Path, empty_home: Path, one_line_error) -> None:
    one_line_error(invoke("show", "--last", home=empty_home), 1, "no runs recorded yet")
    one_line_error(invoke("show", "abcd", home=home), 1, "ambiguous")
    one_line_error(invoke("show", "0123456789", home=home), 1, "no run")
    one_line_error(invoke("show", home=home), 2, "give a RUN_ID")


def _tty() -> Any:
    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    return stream


def test_color_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert use_color(_tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_tty()) is False
    monkeypatch.setenv("NO_COLOR", "")  # the convention: set and non-empty
    assert use_color(_tty()) is True


def test_colored_render(invoke: Invoke, home: Path) -> None:
    doc = json.loads(invoke("dump", WHALE_RUN, home=home).stdout)
    app = App()
    app.color = True
    colored = show.render(doc, app.style)
    plain = show.render(doc)
    assert any("\x1b[31m" in line and "✗" in line for line in colored)  # errors in red
    assert [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in colored] == plain


def test_summaries_of_other_shapes() -> None:
    step: dict[str, Any] = {"type": "llm_call", "model": "m", "output": None, "attributes": {}}
    assert show.summary(step) == "m"
    step["output"] = "plain text, not messages"
    assert show.summary(step) == 'm: "plain text, not messages"'
    step["output"] = [{"role": "assistant", "parts": [{"type": "text", "content": "word " * 100}]}]
    text = show.summary(step)
    assert len(text) <= show.SUMMARY_WIDTH and text.endswith('…"')
    tool = {
        "type": "tool_call",
        "name": "execute_tool lookup",
        "input": '{"id": 7}',
        "output": {"rows": 3},
        "attributes": {},
    }
    assert show.summary(tool) == 'lookup(id=7) → {"rows":3}'
    span = {"type": "span", "name": "GET /invoices", "attributes": {}}
    assert show.summary(span) == "GET /invoices"


def test_filters(invoke: Invoke, home: Path) -> None:
    def steps(*args: str) -> tuple[list[str], str]:
        result = invoke("show", WHALE_RUN, *args, home=home)
        assert result.exit_code == 0, result.stderr
        header, blank, *body, blank2, footer = result.stdout.splitlines()
        assert blank == blank2 == "" and header.startswith(f"run {WHALE_RUN}")
        return [line.split()[2] for line in body], footer

    assert steps("--errors") == (["tool"], "1 of 5 steps shown (errors)")
    assert steps("--type", "llm") == (["llm", "llm"], "2 of 5 steps shown (type llm)")
    assert steps("--type", "tool_call", "--type", "workflow")[0] == ["workflow", "tool"]
    assert steps("--node", "planner")[0] == ["node", "llm", "tool", "llm"]
    assert steps("--node", "planner", "--type", "llm", "--errors") == (
        [],
        "0 of 5 steps shown (errors; node planner; type llm)",
    )
    one_line_error = invoke("show", WHALE_RUN, "--type", "bogus", home=home)
    assert one_line_error.exit_code == 2 and "bogus" in one_line_error.stderr


def test_the_run_trace_carries_its_cost(invoke: Invoke, home: Path, schema_validator: Any) -> None:
    doc = json.loads(invoke("dump", WHALE_RUN, home=home).stdout)
    schema_validator.validate(doc)
    assert doc["cost"] == {"amount": 0.00298, "currency": "USD", "unpriced_calls": 0}
    llm = [s for s in doc["steps"] if s["type"] == "llm_call"]
    assert [s["cost"] for s in llm] == [{"amount": 0.0014, "currency": "USD"}, {"amount": 0.00158, "currency": "USD"}]
    assert all("cost" not in s for s in doc["steps"] if s["type"] != "llm_call")
    # the nightly run: claude-sonnet-4 served by an "openai" (compatible) endpoint has no known price: no guess
    nightly = json.loads(invoke("dump", NIGHTLY_RUN, home=home).stdout)
    schema_validator.validate(nightly)
    assert "cost" not in nightly and all("cost" not in s for s in nightly["steps"])


def test_a_bad_price_file_is_one_line(invoke: Invoke, home: Path, tmp_path: Path, one_line_error: Any) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text('{"models": {"gpt-4o": {"input": "cheap"}}}', encoding="utf-8")
    for command in ("show", "list", "view"):
        args = [command] if command == "list" else [command, WHALE_RUN, *(["-o", "-"] if command == "view" else [])]
        one_line_error(invoke(*args, home=home, env={"AGENTTRACE_PRICES": str(bad)}), 1, "AGENTTRACE_PRICES")
