"""The settings object: every variable parsed in one place, pyproject.toml read once, documented field by field."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from otel_agenttrace import _settings, environment_variables
from otel_agenttrace._settings import LOCAL_ONLY, Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_defaults(tmp_path: Path) -> None:
    s = Settings.from_env({}, cwd=tmp_path)
    assert s.content_mode == LOCAL_ONLY
    assert s.max_content_length == 16384
    assert s.home == Path(".agenttrace")
    assert (s.max_runs, s.max_age_s) == (1000, 30 * 86400.0)
    assert (s.run_root, s.strict, s.debug, s.forward, s.workflow, s.env_allow) == (True, False, False, "", None, ())
    assert s.table is None and s.table_error is None


def test_every_variable_is_parsed(tmp_path: Path) -> None:
    env = {
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event",
        "AGENTTRACE_MAX_CONTENT_LENGTH": "10",  # below the floor of 64
        "AGENTTRACE_HOME": "/tmp/x",
        "AGENTTRACE_FORWARD": " Console ",
        "AGENTTRACE_MAX_RUNS": "0",
        "AGENTTRACE_MAX_AGE": "12h",
        "AGENTTRACE_WORKFLOW": "nightly",
        "AGENTTRACE_RUN_ROOT": "off",
        "AGENTTRACE_STRICT": "1",
        "AGENTTRACE_DEBUG": "yes",
        "AGENTTRACE_ENV_ALLOW": "A, B_*",
        "AGENTTRACE_REDACTION_POLICY": " policy.json ",
        "AGENTTRACE_TARGETS": '[{"kind": "tool", "target": "m:f"}]',
        "AGENTTRACE_FRAMEWORKS": " -LangChain ",
    }
    s = Settings.from_env(env, cwd=tmp_path)
    assert s.content_mode == "SPAN_AND_EVENT" and s.forward_content
    assert s.max_content_length == 64
    assert s.home == Path("/tmp/x")
    assert s.forward == "console"
    assert (s.max_runs, s.max_age_s) == (None, 12 * 3600.0)
    assert (s.workflow, s.run_root, s.strict, s.debug) == ("nightly", False, True, True)
    assert s.env_allow == ("A", "B_*")
    assert s.redaction_policy_path == "policy.json"
    assert s.table == {"targets": [{"kind": "tool", "target": "m:f"}]}
    assert s.table_source == "AGENTTRACE_TARGETS"
    assert s.frameworks == "-langchain"


def test_bad_values_fall_back_to_defaults_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_settings, "_warned", set())
    caplog.set_level(logging.WARNING)
    env = {
        "AGENTTRACE_MAX_CONTENT_LENGTH": "big",
        "AGENTTRACE_MAX_RUNS": "-3",
        "AGENTTRACE_MAX_AGE": "soon",
        "AGENTTRACE_RUN_ROOT": "maybe",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "everything",
    }
    first = Settings.from_env(env, cwd=tmp_path)
    second = Settings.from_env(env, cwd=tmp_path)
    assert first == second
    assert (first.max_content_length, first.max_runs, first.max_age_s) == (16384, 1000, 30 * 86400.0)
    assert first.run_root is True
    assert first.content_mode == "NO_CONTENT"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 5  # once each, not per build


def test_pyproject_is_found_and_parsed_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.agenttrace]\n[[tool.agenttrace.targets]]\nkind = "tool"\ntarget = "m:f"\n'
        '[tool.agenttrace.redaction]\ndisable = ["email"]\n',
        encoding="utf-8",
    )
    for name in list(__import__("os").environ):
        if name.startswith(("OTEL_", "AGENTTRACE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    reads: list[str] = []
    real = _settings.tomllib.loads
    monkeypatch.setattr(_settings.tomllib, "loads", lambda text: reads.append(text) or real(text))
    from otel_agenttrace._capture import policy_from_env
    from otel_agenttrace._config import load

    assert load() == load()  # the targets
    policy = policy_from_env()  # the redaction policy, from the same table
    assert "email" not in {p.name for p in policy.redactor.patterns}
    assert _settings.current() is _settings.current()
    assert len(reads) == 1


def test_bad_pyproject_is_kept_as_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.agenttrace\n", encoding="utf-8")
    s = Settings.from_env({}, cwd=tmp_path)
    assert s.table is None and s.table_error is not None and "pyproject.toml" in s.table_error


def test_settings_change_with_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTTRACE_WORKFLOW", "one")
    assert _settings.current().workflow == "one"
    monkeypatch.setenv("AGENTTRACE_WORKFLOW", "two")
    assert _settings.current().workflow == "two"


def test_every_variable_is_documented() -> None:
    """docs/configuration.md has a row for every variable environment_variables.py defines, and no other."""
    names = {n for n in vars(environment_variables) if re.fullmatch(r"(OTEL|AGENTTRACE)_[A-Z_]+", n)}
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `((?:OTEL|AGENTTRACE)_[A-Z_]+)` \|", text, re.MULTILINE))
    assert documented == names
