"""Fixtures of the CLI tests: a run store filled with made-up runs, and a CLI runner pointed at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from otel_agenttrace.cli import cli
from otel_agenttrace.exporter.store import RunStore

from .cli_helpers import SCHEMA_FILE, Invoke, assert_one_line_error, crashed_run, nightly_run, whale_run


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The tests decide where the store is, and nothing goes through a proxy to 127.0.0.1.
    for name in ("AGENTTRACE_HOME", "NO_COLOR", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store holding three runs: whaleflow (ok), nightly (error, 1 h later), crashy (incomplete, 2 h later)."""
    path = tmp_path / "store"
    with RunStore(home=path) as store:
        store.write_spans(whale_run())
        store.write_spans(nightly_run())
        finished, started = crashed_run()
        store.write_starts(started)
        store.write_spans(finished)
    return path


@pytest.fixture
def empty_home(tmp_path: Path) -> Path:
    path = tmp_path / "empty-store"
    RunStore(home=path).close()
    return path


@pytest.fixture
def invoke() -> Invoke:
    """Run the CLI in process: invoke("dump", "--last", home=path)."""

    def run(
        *args: str, home: Path | None = None, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        argv = (["--home", str(home)] if home is not None else []) + list(args)
        return CliRunner().invoke(cli, argv, input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def schema_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture
def one_line_error() -> Iterator[Callable[..., str]]:
    yield assert_one_line_error
