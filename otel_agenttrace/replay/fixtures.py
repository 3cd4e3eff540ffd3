"""Regression fixtures: a run with its recording, kept as a reviewable file under the user's tests, and
checked by replaying it in model mode (what `agenttrace fixture` and the pytest plugin run).

A fixture file is JSON with sorted keys and two-space indent, so a re-recorded fixture diffs well in git:

    {"agenttrace_fixture": 1,
     "name": "demo",
     "run": <the run trace, schema_version 2, with "recording" and "command">}

The command's script and working directory are stored relative to the project root (the directory
of the nearest pyproject.toml) and made absolute again when the fixture is checked, wherever the
checkout lives. The whole text passes the redactor before it is written (the run's content and
recording were redacted when recorded: this is the second lock on the door).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
KEY = "agenttrace_fixture"
DEFAULT_DIR = Path("tests") / "agenttrace"
DEFAULT_SET = "default"
PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"


class FixtureError(Exception):
    """A fixture file that cannot be read or checked: the message is one line for the user."""


def project_root(start: Path | None = None) -> Path:
    """The directory of the nearest pyproject.toml above `start` (else `start`, else the working directory)."""
    from otel_agenttrace._settings import find_pyproject

    start = (start or Path.cwd()).resolve()
    found = find_pyproject(start)
    return found.parent if found is not None else start


def configured_dirs(root: Path | None = None) -> list[Path]:
    """`[tool.agenttrace] fixtures` (read through the settings object), else tests/agenttrace, absolute."""
    from otel_agenttrace._settings import Settings

    root = root or project_root()
    settings = Settings.from_env(cwd=root)
    dirs = settings.fixture_dirs
    return [d if d.is_absolute() else root / d for d in dirs] or [root / DEFAULT_DIR]


# --- writing --------------------------------------------------------------------------------------------------------


def _relative(value: str, root: Path) -> str:
    path = Path(value)
    if not path.is_absolute():
        return value
    try:
        return path.resolve().relative_to(root).as_posix() or "."
    except ValueError:
        return value


def portable(doc: dict[str, Any], root: Path) -> dict[str, Any]:
    """`doc` with its command's paths relative to `root` where they are inside it."""
    command = doc.get("command")
    if not isinstance(command, dict):
        return doc
    command = dict(command)
    command["argv"] = [_relative(str(a), root) for a in command.get("argv") or []]
    if command.get("cwd"):
        command["cwd"] = _relative(str(command["cwd"]), root)
    return {**doc, "command": command}


def render(doc: dict[str, Any], name: str, root: Path) -> str:
    """The fixture file's text: stable key order, redacted."""
    from otel_agenttrace._capture import policy_from_env

    fixture = {KEY: FORMAT, "name": name, "run": portable(doc, root)}
    text = json.dumps(fixture, ensure_ascii=False, sort_keys=True, indent=2, default=str) + "\n"
    policy = policy_from_env()
    redacted = str(policy.redactor.redact(text)[0])
    try:
        json.loads(redacted)
    except ValueError:  # a replacement broke the JSON: redact value by value instead
        redacted = json.dumps(_redact_values(fixture, policy), ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    return redacted


def _redact_values(value: Any, policy: Any) -> Any:
    if isinstance(value, str):
        return str(policy.redactor.redact(value)[0])
    if isinstance(value, list):
        return [_redact_values(v, policy) for v in value]
    if isinstance(value, dict):
        return {k: _redact_values(v, policy) for k, v in value.items()}
    return value


def default_name(doc: dict[str, Any]) -> str:
    workflow = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(doc.get("workflow") or "run"))
    return f"{workflow.strip('-.') or 'run'}-{str(doc.get('run_id') or '')[:8]}"


def write(doc: dict[str, Any], directory: Path, name: str, root: Path) -> Path:
    """Write the fixture atomically; returns its path."""
    path = directory / f"{name}.json"
    directory.mkdir(parents=True, exist_ok=True)
    text = render(doc, name, root)
    fd, tmp = tempfile.mkstemp(prefix=".agenttrace-fixture-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --- reading --------------------------------------------------------------------------------------------------------


@dataclass
class Fixture:
    path: Path
    name: str
    run: dict[str, Any]

    @property
    def has_recording(self) -> bool:
        return isinstance(self.run.get("recording"), dict)

    def document(self, root: Path) -> dict[str, Any]:
        """The run with its command made absolute again under `root`."""
        doc = dict(self.run)
        command = doc.get("command")
        if isinstance(command, dict):
            command = dict(command)
            argv = [str(a) for a in command.get("argv") or []]
            if argv and not Path(argv[0]).is_absolute() and (root / argv[0]).exists():
                argv[0] = str(root / argv[0])
            command["argv"] = argv
            cwd = command.get("cwd")
            if isinstance(cwd, str) and not Path(cwd).is_absolute():
                command["cwd"] = str((root / cwd).resolve())
            doc["command"] = command
        return doc


def is_fixture_text(head: str) -> bool:
    return f'"{KEY}"' in head


def load(path: Path) -> Fixture:
    from otel_agenttrace.exporter._records import TraceFormatError
    from otel_agenttrace.exporter._schema import check_run_trace

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise FixtureError(f"{path}: malformed JSON: {exc}") from None
    if not isinstance(data, dict) or KEY not in data or not isinstance(data.get("run"), dict):
        raise FixtureError(f"{path}: not an agenttrace fixture (no {KEY!r} and 'run')")
    if not isinstance(data[KEY], int) or data[KEY] > FORMAT:
        raise FixtureError(f"{path}: fixture format {data[KEY]!r} is newer than this otel-agenttrace reads ({FORMAT})")
    try:
        run = check_run_trace(data["run"])
    except TraceFormatError as exc:
        raise FixtureError(f"{path}: {exc}") from None
    return Fixture(path, str(data.get("name") or path.stem), run)


def find(paths: Iterable[Path]) -> Iterator[Path]:
    """Fixture files: the files given, and every *.json holding a fixture under the directories given."""
    for path in paths:
        if path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                if candidate.is_file() and _looks_like_fixture(candidate):
                    yield candidate
        else:
            yield path


def _looks_like_fixture(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return is_fixture_text(f.read(4096))
    except OSError:
        return False


# --- checking -------------------------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    fixture: Fixture | None
    path: Path
    status: str  # passed | failed | skipped | error
    message: str = ""
    report: list[str] = field(default_factory=list)  # the bisect report of a failure
    outcome: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": str(self.path), "status": self.status, "message": self.message}
        if self.outcome is not None:
            out["replay"] = self.outcome.to_dict()
        return out


def check(path: Path, mode: str = "model", root: Path | None = None, style: Any = None) -> CheckResult:
    """Replay the fixture at `path` (its recorded program, under `root`) and judge the run it makes."""
    from otel_agenttrace.replay._report import bisect_lines, plain
    from otel_agenttrace.replay._runner import ReplayTrouble, run_replay
    from otel_agenttrace.replay.compare import bisect

    try:
        fixture = load(path)
    except FixtureError as exc:
        return CheckResult(None, path, ERROR, str(exc))
    if not fixture.has_recording:
        return CheckResult(
            fixture,
            path,
            SKIPPED,
            f"fixture {fixture.name} has no recording (its run was recorded with NO_CONTENT or dumped without it)",
        )
    root = root or project_root(path.parent)
    doc = fixture.document(root)
    with tempfile.TemporaryDirectory(prefix="agenttrace-fixture-") as home, open(os.devnull, "w") as sink:
        try:
            outcome = run_replay(doc, home, mode=mode, stdout=sink)
        except ReplayTrouble as exc:
            return CheckResult(fixture, path, ERROR, str(exc))
    if outcome.exit_code == 0:
        return CheckResult(fixture, path, PASSED, "reproduced", outcome=outcome)
    report: list[str] = []
    if outcome.comparison is not None:
        report = bisect_lines(bisect(outcome.comparison), ("recorded", "replayed"), style or plain)
    report.extend(f"{d.kind}: {d.message}" for d in outcome.divergences if d.kind != "step")
    return CheckResult(fixture, path, FAILED, outcome.result, report, outcome)


def summary(results: Sequence[CheckResult]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in (PASSED, FAILED, SKIPPED, ERROR)}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no fixtures"
