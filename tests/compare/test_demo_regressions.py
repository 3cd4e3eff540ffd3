"""The README demo as a regression test, end to end: record it with `agenttrace run`, keep it with
`fixture add`, check it with `fixture check` and with pytest (the plugin, through `pytester`), then
change one prompt: `diff` shows that change and nothing else, and pytest fails naming the turn."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_agenttrace.cli import cli
from tests.replay.test_cli_replay import REPO, agenttrace

pytest_plugins = ["pytester"]

OLD, NEW = "into short steps", "into small steps"
FIXTURE = Path("regress") / "default" / "demo.json"


def make_project(target: Path, fixtures_key: bool = True) -> Path:
    """A copy of examples/ as a user's project: its pyproject.toml names the fixtures directory."""
    shutil.copytree(REPO / "examples", target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    head = '[tool.agenttrace]\nfixtures = ["regress"]\n\n' if fixtures_key else ""
    pytest_ini = '\n[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
    pyproject.write_text(head + text + pytest_ini, encoding="utf-8")
    return target


def change_prompt(project: Path) -> None:
    nodes = project / "agentapp" / "nodes.py"
    text = nodes.read_text(encoding="utf-8")
    assert OLD in text
    nodes.write_text(text.replace(OLD, NEW, 1), encoding="utf-8")


def record(project: Path, home: Path) -> str:
    done = agenttrace(["--home", str(home), "run", "--", sys.executable, "demo_agent.py"], project)
    assert done.returncode == 0, done.stderr
    runs = json.loads(agenttrace(["--home", str(home), "list", "--json"], project).stdout)
    return str(runs[0]["run_id"])


class Demo:
    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "home"
        self.project = make_project(tmp / "project")
        self.original = record(self.project, self.home)
        self.changed_project = make_project(tmp / "changed")
        change_prompt(self.changed_project)
        self.changed = record(self.changed_project, self.home)

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(self.home), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield Demo(tmp_path_factory.mktemp("regress"))


def test_diff_of_the_demo_with_one_prompt_changed_shows_that_change_and_nothing_else(demo: Demo) -> None:
    done = demo.cli("diff", demo.original, demo.changed, "--json")
    assert done.exit_code == 1, done.output
    data = json.loads(done.output)
    assert data["counts"]["changed"] == 1 and data["counts"]["added"] == 0 and data["counts"]["removed"] == 0
    [changed] = [s for s in data["steps"] if s["kind"] != "same"]
    assert changed["type"] == "llm_call" and changed["node"] == "planner"
    [change] = changed["changes"]
    assert change["field"].startswith("input/") and OLD in change["a"] and NEW in change["b"]
    text = demo.cli("diff", demo.original, demo.changed).output
    assert text.count("(changed)") == 1 and "short steps" in text and "small steps" in text
    bisected = json.loads(demo.cli("bisect", demo.original, demo.changed, "--json").output)
    assert bisected["turn"] == 1 and bisected["identical_turns"] == 0 and bisected["node"] == "planner"


def test_fixture_add_writes_a_stable_portable_file(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo.project)
    first = demo.cli("fixture", "add", demo.original[:8], "--name", "demo")
    assert first.exit_code == 0, first.output
    path = demo.project / FIXTURE
    text = path.read_text(encoding="utf-8")
    again = demo.cli("fixture", "add", demo.original[:8], "--name", "demo")
    assert again.exit_code == 0 and path.read_text(encoding="utf-8") == text  # byte for byte
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"  # sorted keys
    assert data["agenttrace_fixture"] == 1 and data["name"] == "demo"
    assert data["run"]["command"]["argv"] == ["demo_agent.py"] and data["run"]["command"]["cwd"] == "."
    assert str(demo.project) not in json.dumps(data["run"]["command"])
    assert len(data["run"]["recording"]["exchanges"]) == 5
    listed = demo.cli("fixture", "list")
    assert listed.exit_code == 0 and "regress/default/demo.json" in listed.output
    assert demo.original[:12] in listed.output and "yes" in listed.output
    checked = demo.cli("fixture", "check")
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok    regress/default/demo.json: reproduced") and "1 passed" in checked.output


@pytest.fixture
def user_project(demo: Demo, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's project in pytester's directory, holding the demo's fixture."""
    if not (demo.project / FIXTURE).exists():
        monkeypatch.chdir(demo.project)
        assert demo.cli("fixture", "add", demo.original, "--name", "demo").exit_code == 0
    make_project(pytester.path)
    (pytester.path / FIXTURE).parent.mkdir(parents=True)
    shutil.copy(demo.project / FIXTURE, pytester.path / FIXTURE)
    monkeypatch.delenv("AGENTTRACE_HOME", raising=False)
    return pytester


def test_pytest_collects_the_fixtures_named_in_pyproject(user_project: pytest.Pytester) -> None:
    result = user_project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["regress/default/demo.json::demo"])


def test_pytest_collects_the_directory_given_by_option(user_project: pytest.Pytester) -> None:
    make_project(user_project.path, fixtures_key=False)  # no [tool.agenttrace] fixtures: only the option
    (user_project.path / "tests").mkdir()
    (user_project.path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    none = user_project.runpytest("--collect-only", "-q", "tests")
    assert "demo.json" not in none.stdout.str()
    given = user_project.runpytest("--collect-only", "-q", "tests", "--agenttrace-fixtures", "regress")
    given.stdout.fnmatch_lines(["*regress/default/demo.json::demo"])


def test_a_fixture_that_reproduces_passes_and_one_that_diverges_fails_with_the_turn(
    user_project: pytest.Pytester,
) -> None:
    user_project.runpytest("-q").assert_outcomes(passed=1)
    change_prompt(user_project.path)
    failed = user_project.runpytest("-q")
    failed.assert_outcomes(failed=1)
    out = failed.stdout.str()
    assert "agenttrace fixture demo: diverged" in out
    assert "first divergent turn 1 in node planner" in out
    assert "short steps" in out and "small steps" in out
    assert "Traceback" not in out


def test_a_fixture_without_recording_is_skipped_with_the_reason(user_project: pytest.Pytester) -> None:
    path = user_project.path / FIXTURE
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["run"]["recording"]
    path.write_text(json.dumps(data), encoding="utf-8")
    result = user_project.runpytest("-q", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*fixture demo has no recording*"])


def test_a_broken_fixture_file_fails_its_item_without_breaking_collection(user_project: pytest.Pytester) -> None:
    (user_project.path / "regress" / "broken.json").write_text('{"agenttrace_fixture": 1, "run": ', encoding="utf-8")
    (user_project.path / "test_other.py").write_text("def test_other():\n    pass\n", encoding="utf-8")
    result = user_project.runpytest("-q", "--collect-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*broken.json::broken", "*demo.json::demo", "test_other.py::test_other"])


def test_the_plugin_is_inert_where_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    pytester.makepyfile("def test_a():\n    pass\n")
    (pytester.path / "data.json").write_text('{"agenttrace_fixture": 1}', encoding="utf-8")  # not in a fixtures dir
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, otel_agenttrace.pytest_plugin as p; print(sorted(m for m in sys.modules"
            " if m.startswith('otel_agenttrace')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "['otel_agenttrace', 'otel_agenttrace.pytest_plugin', 'otel_agenttrace.version']"
