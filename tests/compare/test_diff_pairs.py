"""`diff` and `bisect` on handmade pairs of runs (from the v1 sample run): one inserted step, one removed,
a changed tool argument, a changed model, parallel tool calls finishing in another order, and the same
run with other timings. Text and JSON, through the CLI (click's runner) and the engine."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_agenttrace.cli import cli
from otel_agenttrace.replay.compare import Tolerance, bisect, compare_runs

BASE = json.loads((Path(__file__).resolve().parents[1] / "data" / "run-trace-v1.json").read_text(encoding="utf-8"))


def variant(change: Callable[[list[dict[str, Any]]], None] | None = None, run_id: str = "9" * 32) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["run_id"] = doc["otel"]["trace_id"] = run_id
    if change is not None:
        change(doc["steps"])
    for i, step in enumerate(doc["steps"]):
        step["index"] = i
    return doc


def tool(name: str, arguments: dict[str, Any], start: float, duration: float, span: str) -> dict[str, Any]:
    step = copy.deepcopy(BASE["steps"][3])
    step.update(
        id=span,
        name=f"execute_tool {name}",
        input=arguments,
        relative_ms=start,
        duration_ms=duration,
        status="ok",
        error=None,
        attributes={**step["attributes"], "gen_ai.tool.name": name},
    )
    return step


def run_cli(tmp_path: Path, a: dict[str, Any], b: dict[str, Any], *args: str, command: str = "diff") -> Any:
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a), encoding="utf-8")
    pb.write_text(json.dumps(b), encoding="utf-8")
    return CliRunner().invoke(cli, [command, str(pa), str(pb), *args], catch_exceptions=False)


def diff_json(tmp_path: Path, a: dict[str, Any], b: dict[str, Any], *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(tmp_path, a, b, "--json", *args)
    return result.exit_code, json.loads(result.output)


def test_an_inserted_step_is_one_added_line_and_the_rest_stays_aligned(tmp_path: Path) -> None:
    b = variant(lambda s: s.insert(4, tool("lookup", {"id": 7}, 1815.5, 0.4, "aaaaaaaaaaaaaaaa")))
    code, data = diff_json(tmp_path, BASE, b)
    assert code == 1 and data["equivalent"] is False
    assert data["counts"] == {"same": 5, "changed": 0, "added": 1, "removed": 0}
    assert data["first_divergence"]["kind"] == "added" and data["first_divergence"]["name"] == "execute_tool lookup"
    last = data["steps"][-1]
    assert last["kind"] == "same" and (last["a_index"], last["b_index"]) == (4, 5)  # not misaligned by one

    text = run_cli(tmp_path, BASE, b).output
    assert "+    #4 tool_call 'execute_tool lookup' in planner (added)" in text
    assert text.startswith("--- a: run 4bf92f3577b3") and "\n+++ b: run 999999999999" in text
    assert "equivalent" not in text.splitlines()[-1] and "1 added" in text
    assert "\x1b[" not in text  # no colour when not a terminal


def test_a_removed_step(tmp_path: Path) -> None:
    b = variant(lambda s: s.pop(3))
    code, data = diff_json(tmp_path, BASE, b)
    assert code == 1 and data["counts"] == {"same": 4, "changed": 0, "added": 0, "removed": 1}
    assert data["first_divergence"] == {**data["first_divergence"], "kind": "removed", "a_index": 3, "b_index": None}
    assert "- #3 tool_call 'execute_tool search' in planner (removed)" in run_cli(tmp_path, BASE, b).output


def test_a_changed_tool_argument_names_the_argument(tmp_path: Path) -> None:
    b = variant(lambda s: s[3].update(input={"q": "blue whale weight"}))
    code, data = diff_json(tmp_path, BASE, b)
    assert code == 1 and data["counts"]["changed"] == 1 and data["counts"]["same"] == 4
    [change] = data["first_divergence"]["changes"]
    assert change == {"field": "input/q", "a": "blue whale length", "b": "blue whale weight"}
    text = run_cli(tmp_path, BASE, b).output
    assert "~ #3 tool_call 'execute_tool search' in planner (changed)" in text
    assert "      input/q\n        - a: blue whale length\n        + b: blue whale weight" in text


def test_a_changed_model_pairs_the_renamed_llm_steps(tmp_path: Path) -> None:
    def mini(steps: list[dict[str, Any]]) -> None:
        for s in steps:
            if s["type"] == "llm_call":
                s.update(model="gpt-4o-mini-2024-07-18", name="chat gpt-4o-mini")

    code, data = diff_json(tmp_path, BASE, variant(mini))
    assert code == 1 and data["counts"] == {"same": 3, "changed": 2, "added": 0, "removed": 0}
    fields = [c["field"] for c in data["first_divergence"]["changes"]]
    assert fields == ["name", "model"]
    ignored_code, ignored = diff_json(tmp_path, BASE, variant(mini), "--ignore", "model", "--ignore", "name")
    assert ignored_code == 0 and ignored["equivalent"] is True


def parallel(order: tuple[int, int], overlap: bool = True) -> dict[str, Any]:
    calls = [
        tool("search", {"q": "blue whale length"}, 815.0, 1000.5, "cccccccccccccccc"),
        tool("get_weather", {"city": "Lisbon"}, 815.2 if overlap else 1816.0, 400.0, "dddddddddddddddd"),
    ]
    return variant(lambda s: s.__setitem__(slice(3, 4), [calls[order[0]], calls[order[1]]]))


def test_parallel_tool_calls_finishing_in_another_order_are_the_same_run(tmp_path: Path) -> None:
    code, data = diff_json(tmp_path, parallel((0, 1)), parallel((1, 0)))
    assert code == 0 and data["equivalent"] is True and data["counts"]["same"] == 6
    # one after the other, the order is the agent's behaviour: it is a difference
    sequential = compare_runs(parallel((0, 1), overlap=False), parallel((1, 0), overlap=False))
    assert not sequential.equivalent


def test_the_same_run_with_other_timings_is_equivalent_and_shows_deltas(tmp_path: Path) -> None:
    def slower(steps: list[dict[str, Any]]) -> None:
        for s in steps:
            s["duration_ms"] *= 2
            s["relative_ms"] *= 2

    b = variant(slower)
    b["duration_ms"] *= 2
    code, data = diff_json(tmp_path, BASE, b)
    assert code == 0 and data["equivalent"] is True
    assert data["deltas"]["duration_ms"] == pytest.approx(2391.5)
    assert data["steps"][2]["deltas"]["duration_ms"] == pytest.approx(810.0)
    result = run_cli(tmp_path, BASE, b)
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "equivalent: 5 identical, 0 changed, 0 added, 0 removed; deltas: +2.39s"
    assert "… 5 identical steps" in result.output  # nothing to show around: every step collapsed
    judged = compare_runs(BASE, b, tolerances=Tolerance.parse("duration=50%"))
    assert not judged.equivalent and judged.first_divergence is not None
    assert judged.first_divergence.changes[0].field == "duration_ms"
    assert compare_runs(BASE, b, tolerances=Tolerance.parse("duration=150%")).equivalent
    assert run_cli(tmp_path, BASE, b, "--tolerance", "duration=50%").exit_code == 1


def test_context_limits_the_identical_steps_shown(tmp_path: Path) -> None:
    b = variant(lambda s: s[4].update(status="error", error={"type": "RateLimitError", "message": "429"}))
    text = run_cli(tmp_path, BASE, b, "--context", "1").output
    assert "… 3 identical steps" in text and "#3 tool_call" in text and "#2 llm_call" not in text


def test_bisect_names_the_first_divergent_turn(tmp_path: Path) -> None:
    def second_turn(steps: list[dict[str, Any]]) -> None:
        steps[4]["input"][0]["parts"][0]["content"] = "How heavy is a blue whale?"

    b = variant(second_turn)
    result = bisect(compare_runs(BASE, b))
    assert result.found and result.turn == 2 and result.identical_turns == 1 and result.identical_steps == 4
    assert result.node == "planner"
    done = run_cli(tmp_path, BASE, b, "--json", command="bisect")
    assert done.exit_code == 1
    data = json.loads(done.output)
    assert (data["turn"], data["identical_turns"], data["node"]) == (2, 1, "planner")
    assert data["first_divergence"]["changes"][0]["b"] == "How heavy is a blue whale?"
    text = run_cli(tmp_path, BASE, b, command="bisect").output
    assert text.startswith("first divergent turn 2 in node planner\n  identical before it: 1 turns, 4 steps")
    assert "- baseline: How long is a blue whale?" in text and "+ failing:  How heavy is a blue whale?" in text
    same = run_cli(tmp_path, BASE, variant(), command="bisect")
    assert same.exit_code == 0 and same.output.startswith("no divergence")


def test_trouble_is_exit_2_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(BASE), encoding="utf-8")
    missing = CliRunner().invoke(cli, ["diff", str(tmp_path / "a.json"), str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    bad = CliRunner().invoke(cli, ["bisect", str(tmp_path / "a.json"), str(broken)])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    one = CliRunner().invoke(cli, ["diff", str(tmp_path / "a.json")])
    assert one.exit_code == 2 and "two runs" in one.output
    tolerance = CliRunner().invoke(cli, ["diff", "--tolerance", "speed=3", "a", "b"])
    assert tolerance.exit_code == 2 and "METRIC=LIMIT" in tolerance.output


def test_recorded_control_characters_are_escaped(tmp_path: Path) -> None:
    b = variant(lambda s: s[3].update(input={"q": "\x1b[2Jgone"}))
    text = run_cli(tmp_path, BASE, b).output
    assert "\x1b" not in text and "\\x1b[2Jgone" in text
