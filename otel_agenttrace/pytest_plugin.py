"""The pytest plugin (entry point `pytest11`, loaded with no import): regression fixtures as test items.

Fixture files (`agenttrace fixture add`) under the directories of `[tool.agenttrace] fixtures = [...]`,
of `--agenttrace-fixtures DIR`, or tests/agenttrace when neither is given, are collected as items; each
replays its program in model mode (`--agenttrace-mode live`: LLM calls sent for real) and fails with
the bisect report of the first divergent turn. A fixture without a recording is skipped, with the reason.
The `agenttrace_replay` fixture replays a run inside a test function.

This module loads in every pytest session of everyone who installs otel-agenttrace, including ones
that never heard of it: it imports only pytest and the standard library at import time, does a
directory comparison per collected .json file and nothing else when unused, and never fails
collection (a broken fixture file is an item that fails with a one-line reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_DIRS = pytest.StashKey[list[Path]]()
_MARK = b'"agenttrace_fixture"'


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agenttrace", "otel-agenttrace regression fixtures")
    group.addoption(
        "--agenttrace-fixtures",
        action="append",
        default=[],
        metavar="DIR",
        help="Collect agenttrace fixture files under DIR (repeatable; default: [tool.agenttrace] fixtures).",
    )
    group.addoption(
        "--agenttrace-mode",
        choices=("model", "live"),
        default="model",
        help="Replay fixtures in model mode (LLM calls from the recording, default) or live mode.",
    )


def _configured(config: pytest.Config) -> list[Path]:
    root = config.rootpath
    given = [Path(d) for d in config.getoption("agenttrace_fixtures") or []]
    if given:
        return [(d if d.is_absolute() else Path(config.invocation_params.dir) / d).resolve() for d in given]
    try:
        from otel_agenttrace._settings import Settings

        dirs = Settings.from_env(cwd=root).fixture_dirs
    except Exception:  # a broken [tool.agenttrace] is reported by the fixture commands, never by collection
        dirs = ()
    return [(d if d.is_absolute() else root / d).resolve() for d in dirs] or [(root / "tests" / "agenttrace").resolve()]


def _dirs(config: pytest.Config) -> list[Path]:
    """The fixture directories, worked out on first need (a session with no .json file never reads them)."""
    dirs = config.stash.get(_DIRS, None)
    if dirs is None:
        dirs = config.stash[_DIRS] = _configured(config)
    return dirs


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("agenttrace_fixtures"):
        return
    dirs = _dirs(config)
    # Directories named on the command line are collected even when outside the paths pytest walks.
    base = Path(config.invocation_params.dir)
    walked = [(base / a.split("::")[0]).resolve() for a in config.args]
    for d in dirs:
        if d.is_dir() and not any(d == w or w in d.parents for w in walked):
            config.args.append(str(d))


def _inside(path: Path, dirs: list[Path]) -> bool:
    return any(d == path or d in path.parents for d in dirs)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".json":
        return None
    if not _inside(file_path.resolve(), _dirs(parent.config)):
        return None
    try:
        with file_path.open("rb") as f:
            if _MARK not in f.read(4096):
                return None
    except OSError:
        return None
    return FixtureFile.from_parent(parent, path=file_path)


class FixtureFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield FixtureItem.from_parent(self, name=self.path.stem)


class FixtureDiverged(Exception):
    """The replay of a fixture did not reproduce it: the bisect report is the message."""


class FixtureItem(pytest.Item):
    def runtest(self) -> None:
        from otel_agenttrace.replay import fixtures

        result = fixtures.check(self.path, self.config.getoption("agenttrace_mode"))
        if result.status == fixtures.SKIPPED:
            pytest.skip(result.message)
        if result.status == fixtures.ERROR:
            raise FixtureDiverged(f"agenttrace fixture {self.path.name}: {result.message}")
        if result.status == fixtures.FAILED:
            lines = [f"agenttrace fixture {self.name}: {result.message}", *result.report]
            raise FixtureDiverged("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, FixtureDiverged):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"agenttrace fixture {self.name}"


@pytest.fixture
def agenttrace_replay(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Replay a recorded run in this process:

        def test_refund(agenttrace_replay):
            with agenttrace_replay("tests/agenttrace/default/refund.json") as r:
                my_agent.run("refund order 42")
            r.assert_reproduced()

    The source is a fixture file (relative to the rootdir), a `dump --with-recording` file, its dict, or a
    run id; the mode defaults to --agenttrace-mode. A fixture without a recording skips the test."""

    def start(source: Any, mode: str | None = None, tools: str = "replay", strict: bool = False) -> Any:
        from otel_agenttrace.replay import fixtures, replay

        mode = mode or request.config.getoption("agenttrace_mode")
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_absolute() and not path.exists():
                path = request.config.rootpath / path
            if path.is_file() and path.suffix == ".json":
                with path.open("rb") as f:
                    is_fixture = _MARK in f.read(4096)
                if is_fixture:
                    fixture = fixtures.load(path)
                    if not fixture.has_recording:
                        pytest.skip(f"fixture {fixture.name} has no recording")
                    source = fixture.run
                else:
                    source = path
        return replay(source, mode=mode, tools=tools, strict=strict)

    return start
