"""Replay a recorded run by re-running its program (or a new one) under the instrumentation in replay
mode, then compare the new run with the original: what `agenttrace replay` (and fixture checks) run.

The outcome maps to the documented exit codes (docs/replay.md), like diff(1):
0 reproduced, 1 diverged, 2 trouble, 3 the recording was exhausted, 4 the program failed where the
original did not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_agenttrace import environment_variables as env
from otel_agenttrace.replay.compare import Comparison, compare_runs
from otel_agenttrace.replay.errors import EXHAUSTED, FAILED, STEP, Divergence

REPRODUCED, DIVERGED, TROUBLE, EXHAUSTED_EXIT, FAILED_EXIT = 0, 1, 2, 3, 4
RESULTS = {
    REPRODUCED: "reproduced",
    DIVERGED: "diverged",
    TROUBLE: "trouble",
    EXHAUSTED_EXIT: "exhausted",
    FAILED_EXIT: "failed",
}


class ReplayTrouble(Exception):
    """The replay could not be run or judged (exit code 2): the message is one line for the user."""


@dataclass
class Outcome:
    original: dict[str, Any]
    replay: dict[str, Any] | None
    mode: str
    tools: str
    program_exit: int
    divergences: list[Divergence] = field(default_factory=list)
    comparison: Comparison | None = None

    @property
    def exit_code(self) -> int:
        if any(d.kind == EXHAUSTED for d in self.divergences):
            return EXHAUSTED_EXIT
        if any(d.extra.get("raised") for d in self.divergences):
            return DIVERGED  # --strict stopped the program at a mismatch: its failure is the divergence
        if any(d.kind == FAILED for d in self.divergences):
            return FAILED_EXIT
        return DIVERGED if self.divergences else REPRODUCED

    @property
    def result(self) -> str:
        return RESULTS[self.exit_code]

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "exit_code": self.exit_code,
            "original": self.original.get("run_id"),
            "replay": self.replay.get("run_id") if self.replay else None,
            "mode": self.mode,
            "tools": self.tools,
            "program_exit": self.program_exit,
            "divergences": [d.to_dict() for d in self.divergences],
            "comparison": self.comparison.to_dict() if self.comparison else None,
        }


# Interpreter options that take a value (`python -X dev -W error -m pkg`).
_OPTIONS_WITH_VALUE = frozenset({"-X", "-W", "--check-hash-based-pycs"})
_NO_PROGRAM = "the recorded program was read from stdin: give the command, replay RUN -- CMD…"


def _interpreter_args(orig_argv: list[str]) -> list[str]:
    """The recorded interpreter arguments (sys.orig_argv without the executable): `-m pkg args`,
    `-c code`, options and a script; ReplayTrouble when the program came from stdin."""
    args = orig_argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-m"):
            if i + 1 >= len(args):
                break
            if arg == "-c" and "[REDACTED" in args[i + 1]:
                raise ReplayTrouble("the recorded `python -c` code holds a redacted secret: give the command after --")
            return args
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if arg == "-" or not arg.startswith("-"):
            if arg in ("-", ""):
                break
            return args  # a script
        i += 1
    raise ReplayTrouble(_NO_PROGRAM)


def recorded_command(doc: dict[str, Any]) -> tuple[list[str], str]:
    """(argv, cwd) to re-run the recorded program with this Python: its interpreter arguments
    (sys.orig_argv: `-m pkg`, `-c`, a script, with the options it was given), else its script (sys.argv)."""
    command = doc.get("command")
    if not isinstance(command, dict) or not command.get("argv"):
        raise ReplayTrouble(
            f"run {doc.get('run_id', '?')[:12]} has no recorded command line: give the command, replay RUN -- CMD…"
        )
    orig = command.get("orig_argv")
    if isinstance(orig, list) and orig:
        args = _interpreter_args([str(a) for a in orig])
    else:  # recorded before orig_argv was
        args = [str(a) for a in command["argv"]]
        if args[0] in ("-c", "-m", "-", ""):
            raise ReplayTrouble(
                "the recorded program was `python -c …`, `python -m …` or stdin: give the command, replay RUN -- CMD…"
            )
    cwd = str(command.get("cwd") or os.getcwd())
    if not Path(cwd).is_dir():
        raise ReplayTrouble(f"the recorded working directory {cwd} does not exist: give the command after --")
    return [sys.executable, *args], cwd


def _child_env(doc: dict[str, Any], base: Mapping[str, str], command: Sequence[str], home: str) -> dict[str, str]:
    from otel_agenttrace.cli.run import child_environment

    environ = dict(base)
    recorded = (doc.get("command") or {}).get("env") or {}
    for name, value in recorded.items():
        # The recorded value fills in what this environment lacks (set a variable to override it);
        # a masked secret is never passed on.
        if name not in environ and isinstance(value, str) and "[REDACTED" not in value:
            environ[name] = value
    for name in (env.AGENTTRACE_REPLAY, env.AGENTTRACE_REPLAY_REPORT, env.AGENTTRACE_REPLAY_STRICT):
        environ.pop(name, None)
    return child_environment(environ, command, home, None)


def run_replay(
    doc: dict[str, Any],
    home: str,
    command: Sequence[str] | None = None,
    mode: str = "model",
    tools: str = "replay",
    strict: bool = False,
    stdout: Any = None,
) -> Outcome:
    """Re-run the program with the recording of `doc` and compare the run it makes with `doc`."""
    from otel_agenttrace.cli.run import launcher

    if not isinstance(doc.get("recording"), dict):
        raise ReplayTrouble(
            f"run {str(doc.get('run_id', '?'))[:12]} has no recording: it was recorded with NO_CONTENT, without"
            " the agenttrace exporter, or dumped without --with-recording"
        )
    if command:
        argv, cwd = list(command), os.getcwd()
    else:
        argv, cwd = recorded_command(doc)
    with tempfile.TemporaryDirectory(prefix="agenttrace-replay-") as tmp:
        source, report = Path(tmp) / "run.json", Path(tmp) / "report.json"
        source.write_text(json.dumps(doc), encoding="utf-8")
        environ = _child_env(doc, os.environ, argv, home)
        environ.update(
            {
                env.AGENTTRACE_REPLAY: str(source),
                env.AGENTTRACE_REPLAY_MODE: mode,
                env.AGENTTRACE_REPLAY_TOOLS: tools,
                env.AGENTTRACE_REPLAY_REPORT: str(report),
            }
        )
        if strict:
            environ[env.AGENTTRACE_REPLAY_STRICT] = "1"
        import shutil

        executable = shutil.which(argv[0], path=environ.get("PATH")) or argv[0]
        since_ns = time.time_ns()
        try:
            code = subprocess.call([*launcher(executable), *argv[1:]], env=environ, cwd=cwd, stdout=stdout)
        except OSError as exc:
            raise ReplayTrouble(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    if code < 0:
        code = 128 - code
    if data is None:
        raise ReplayTrouble(
            f"the program exited with {code} without replaying (is otel-agenttrace installed in its Python,"
            " and does it use an instrumented SDK?)"
        )
    outcome = Outcome(doc, None, mode, tools, code, [Divergence.from_dict(d) for d in data.get("divergences", [])])
    outcome.replay = _replayed_run(home, data.get("trace_ids") or {}, since_ns)
    if code != 0 and doc.get("status") == "ok" and not any(d.extra.get("raised") for d in outcome.divergences):
        outcome.divergences.append(Divergence(FAILED, f"the program exited with {code}; the original run succeeded"))
    if outcome.replay is not None:
        outcome.comparison = compare_runs(comparable(doc, data.get("replayed_spans") or ()), comparable(outcome.replay))
        first = outcome.comparison.first_divergence
        if first is not None:
            change = first.changes[0] if first.changes else None
            outcome.divergences.append(
                Divergence(
                    STEP,
                    f"step {first.step.get('index')} {first.label()} is {first.kind}"
                    + (f" at {change.field}" if change else ""),
                    node=first.step.get("node"),
                    target=first.step.get("name"),
                    index=first.step.get("index"),
                    field=change.field if change else None,
                    expected=change.a if change else None,
                    actual=change.b if change else None,
                )
            )
    return outcome


def _mcp_chatter(step: dict[str, Any]) -> bool:
    """An MCP protocol span that is not a tool call (initialize, notifications, the tools/list the client
    makes inside call_tool to check a result): transport, ordered by the server's scheduling, and absent
    when the call is replayed."""
    from otel_agenttrace import semconv

    return step.get("type") == "span" and semconv.MCP_METHOD_NAME in (step.get("attributes") or {})


def comparable(doc: dict[str, Any], span_ids: Sequence[str] = ()) -> dict[str, Any]:
    """`doc` as a replay is compared with it: without the steps inside the tool calls the replay answered
    from the recording (those tools did not run, so neither did anything inside them: an MCP server's
    span, a nested LLM call), and without MCP protocol chatter."""
    skipped = set(span_ids)
    steps = [s for s in doc.get("steps") or [] if not _mcp_chatter(s)]
    children: dict[Any, list[Any]] = {}
    for step in steps:
        children.setdefault(step.get("parent_id"), []).append(step.get("id"))
    inside: set[Any] = set()
    todo = [child for span_id in skipped for child in children.get(span_id, ())]
    while todo:
        span_id = todo.pop()
        if span_id not in inside:
            inside.add(span_id)
            todo.extend(children.get(span_id, ()))
    return {**doc, "steps": [s for s in steps if s.get("id") not in inside]}


def _replayed_run(home: str, trace_ids: dict[str, int], since_ns: int) -> dict[str, Any] | None:
    """The run the replay made: the trace most replayed calls were in (else the newest run since it started)."""
    from otel_agenttrace.exporter.store import RunStore
    from otel_agenttrace.replay._document import from_store

    if not Path(home).exists():
        return None
    with RunStore(home) as store:
        run_id = max(trace_ids, key=lambda t: trace_ids[t]) if trace_ids else None
        if run_id is None:
            runs = [r for r in store.list_runs(limit=20) if r.started_ns >= since_ns]
            run_id = runs[0].run_id if runs else None
        if run_id is None or store.run(run_id) is None:
            return None
        return from_store(store, run_id, with_recording=False)
