"""`agenttrace run -- CMD…`: run a program under `opentelemetry-instrument` with the agenttrace exporter.

No code change in the program: the environment selects the exporter and the run store, and
opentelemetry-instrument loads every installed instrumentor (agenttrace's among them) before the
program starts. The child's exit code is ours; the runs it recorded are listed on stderr at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from otel_agenttrace import environment_variables as env
from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, App, abort, home_option, note, pass_app

# What `run` sets when the user has not: the agenttrace exporter, no metrics or logs exporter
# (the distro would default them to OTLP and complain about a missing Collector), and a short
# batch delay so a crash loses little.
DEFAULTS: Mapping[str, str] = {
    "OTEL_TRACES_EXPORTER": "agenttrace",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_BSP_SCHEDULE_DELAY": "200",
}
INSTRUMENT_SCRIPT = "opentelemetry-instrument"
# When the script is not next to the interpreter (an unusual install): the same entry point, inline.
INSTRUMENT_INLINE = (
    "import sys; from opentelemetry.instrumentation.auto_instrumentation import run; "
    "sys.argv[0] = 'opentelemetry-instrument'; sys.exit(run())"
)
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?(\.exe)?$", re.IGNORECASE)
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "-Q"})
MAX_REPORTED = 10


def service_name(command: Sequence[str]) -> str:
    """The program's name: the script (or `-m` module) of a python command, else the executable's."""
    executable = Path(command[0]).name
    if _PYTHON.match(executable):
        args = iter(command[1:])
        for arg in args:
            if arg == "-m":
                return next(args, executable)
            if arg.startswith("-m") and len(arg) > 2:
                return arg[2:]
            if arg == "-c" or arg.startswith("-c") or arg == "-":
                return executable
            if arg in _PYTHON_VALUE_OPTIONS:
                next(args, None)
            elif not arg.startswith("-"):
                return Path(arg).stem or executable
        return executable
    return Path(executable).stem or executable


def child_environment(
    base: Mapping[str, str], command: Sequence[str], home: str, workflow: str | None
) -> dict[str, str]:
    """The environment of the instrumented child: `base` plus agenttrace's defaults where `base` has none."""
    child = dict(base)
    for name, value in DEFAULTS.items():
        if not child.get(name):
            child[name] = value
    resource = child.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not child.get("OTEL_SERVICE_NAME") and "service.name=" not in resource:
        child["OTEL_SERVICE_NAME"] = service_name(command)
    if workflow:
        child[env.AGENTTRACE_WORKFLOW] = workflow
    child[env.AGENTTRACE_HOME] = home
    return child


def launcher(executable: str) -> list[str]:
    """opentelemetry-instrument next to this interpreter, else its entry point run by this interpreter."""
    suffix = ".exe" if os.name == "nt" else ""
    script = Path(sys.executable).parent / (INSTRUMENT_SCRIPT + suffix)
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), executable]
    return [sys.executable, "-c", INSTRUMENT_INLINE, executable]


def _resolve(program: str, path: str | None) -> str:
    found = shutil.which(program, path=path)
    if found is not None:
        return found
    if os.sep in program and os.path.exists(program):
        abort(f"cannot execute {program}: permission denied", EXIT_NOT_EXECUTABLE)
    abort(f"command not found: {program}", EXIT_NOT_FOUND)


@contextmanager
def _forwarding_signals() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Entered before the child starts, so no signal slips in between: Ctrl-C reaches the child from the
    terminal (we only wait), TERM/HUP are passed on to the children started inside.

    SIGINT gets a do-nothing handler, not SIG_IGN: an ignored SIGINT is inherited across exec, and a Python
    child would then have no KeyboardInterrupt; a handler is reset to the default at exec.
    """
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    def wait_for_child(_signum: int, _frame: Any) -> None:
        pass  # the terminal sent it to the child's process group too: the child decides

    previous: dict[int, Any] = {signal.SIGINT: signal.signal(signal.SIGINT, wait_for_child)}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, forward)
    try:
        yield children
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _report(app: App, since_ns: int, exporter: str) -> None:
    """The runs the child recorded, on stderr; never changes the exit code."""
    from otel_agenttrace.exporter.store import StoreError

    runs: list[Any] = []
    try:
        if app.home.exists():
            runs = [r for r in app.store().list_runs(limit=100) if r.started_ns >= since_ns]
    except StoreError as exc:
        note(f"cannot list the recorded runs: {exc}")
        return
    if not runs:
        hint = (
            f"OTEL_TRACES_EXPORTER={exporter} does not include agenttrace"
            if "agenttrace" not in exporter.split(",")
            else "did the program call an instrumented SDK, with otel-agenttrace installed in its Python?"
        )
        note(f"no run recorded in {app.home} ({hint})")
        return
    for run in reversed(runs[:MAX_REPORTED]):  # oldest first, the newest last: next to the prompt
        short = run.run_id[:12]
        note(
            f"run {short} {run.workflow or '-'} {run.status}, {run.steps} steps, {_format.duration(run.duration_ms)},"
            f" tokens in/out {_format.tokens(run.input_tokens, run.output_tokens)} → agenttrace show {short}"
        )
    if len(runs) > MAX_REPORTED:
        note(f"… and {len(runs) - MAX_REPORTED} more runs (agenttrace list)")


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--workflow", metavar="NAME", help="Name of the run (AGENTTRACE_WORKFLOW) [default: the script name].")
@home_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
@pass_app
def run_command(app: App, workflow: str | None, command: tuple[str, ...]) -> None:
    """Run CMD with agenttrace recording every run: no code change needed.

    \b
    CMD runs under opentelemetry-instrument with OTEL_TRACES_EXPORTER=agenttrace
    (unless set), OTEL_METRICS_EXPORTER/OTEL_LOGS_EXPORTER=none (unless set),
    OTEL_SERVICE_NAME=<script name> (unless set), OTEL_BSP_SCHEDULE_DELAY=200
    (unless set). Exits with CMD's exit code; lists the recorded runs on stderr.
      agenttrace run -- python my_agent.py --topic whales
      agenttrace run --workflow nightly --home /tmp/runs -- python -m my_agent
    """
    home = os.path.abspath(app.home)
    environment = child_environment(os.environ, command, home, workflow)
    executable = _resolve(command[0], environment.get("PATH"))
    argv = [*launcher(executable), *command[1:]]
    since_ns = time.time_ns()
    with _forwarding_signals() as children:
        try:
            child = subprocess.Popen(argv, env=environment)
        except OSError as exc:
            abort(f"cannot start {command[0]}: {exc.strerror or exc}", EXIT_NOT_EXECUTABLE)
        children.append(child)
        code = child.wait()
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
    _report(app, since_ns, environment["OTEL_TRACES_EXPORTER"])
    sys.exit(code)
