"""What every command shares: the `App` in click's context, output helpers, and the one-line error exit."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from otel_agenttrace import environment_variables as env
from otel_agenttrace.cli._format import printable

if TYPE_CHECKING:
    from otel_agenttrace.exporter.store import RunStore

F = TypeVar("F", bound=Callable[..., Any])

PROG = "agenttrace"

# Exit codes (docs/cli.md lists them).
EXIT_OK = 0
EXIT_ERROR = 1  # bad input or data: unknown run, unreadable file, unreachable backend, ...
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_NOT_FOUND = 127  # `run`: the command does not exist (the shell's convention)
EXIT_NOT_EXECUTABLE = 126  # `run`: the command exists but cannot be executed
EXIT_INTERRUPTED = 130


def one_line(message: object) -> str:
    """A message on one line, control characters escaped: errors from other layers may carry newlines
    and terminal escapes (JSON errors, HTTP bodies of a backend, names from a crafted file)."""
    return printable(" ".join(str(message).split()))


def abort(message: object, code: int = EXIT_ERROR) -> NoReturn:
    """Print `agenttrace: error: MESSAGE` (one line) to stderr and exit with `code`."""
    click.echo(f"{PROG}: error: {one_line(message)}", err=True)
    sys.exit(code)


def note(message: object) -> None:
    """A one-line remark on stderr (not an error): stdout stays clean for pipes."""
    click.echo(f"{PROG}: {one_line(message)}", err=True)


def use_color(stream: Any = None) -> bool:
    """Color only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class App:
    """The state of one invocation, in `ctx.obj`: where the store is, whether to color, the store once opened."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self._home = Path(home) if home else None
        self._store: RunStore | None = None
        self.color = use_color()

    @property
    def home(self) -> Path:
        """The store directory: --home, else $AGENTTRACE_HOME, else ./.agenttrace."""
        if self._home is not None:
            return self._home
        from otel_agenttrace.exporter.store import default_home

        return default_home()

    @home.setter
    def home(self, value: str | os.PathLike[str] | None) -> None:
        if value:
            self._home = Path(value)
            self.close()

    def store(self) -> RunStore:
        if self._store is None:
            from otel_agenttrace.exporter.store import RunStore

            self._store = RunStore(home=str(self.home), read_only=True)  # the CLI only reads
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # output --------------------------------------------------------------------------------------------------------

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def out(self, text: str = "") -> None:
        click.echo(text, color=self.color)

    abort = staticmethod(abort)
    note = staticmethod(note)


pass_app = click.make_pass_decorator(App, ensure=True)


def _set_home(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(App).home = value


def home_option(f: F) -> F:
    """`--home DIR` on a command (the same as the group's: the later one wins)."""
    return click.option(
        "--home",
        metavar="DIR",
        expose_value=False,
        callback=_set_home,
        help=f"Run store directory [default: ${env.AGENTTRACE_HOME}, else ./.agenttrace].",
    )(f)
