"""One settings object, read once from the environment and `[tool.agenttrace]`.

Every variable otel-agenttrace reads (environment_variables.py documents each; docs/configuration.md
lists them with their defaults and effects) is parsed here, and pyproject.toml is located and parsed
here, once. Modules ask `current()` for the settings; the old `*_from_env` helpers delegate to
`Settings.from_env`, so they keep accepting an explicit mapping.

`current()` rebuilds only when its inputs changed (the OTEL_*/AGENTTRACE_* variables, the working
directory, the script): in a program that is never, so the settings are built once; a test that sets a
variable gets fresh settings without a reset hook. Bad values never raise: each is logged once with the
default used instead, and `[tool.agenttrace]` errors are kept (`table_error`) for the parts that need
the table to report them in their own words.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from otel_agenttrace._forksafe import renew_after_fork
from otel_agenttrace.environment_variables import (
    AGENTTRACE_DEBUG,
    AGENTTRACE_ENV_ALLOW,
    AGENTTRACE_FORWARD,
    AGENTTRACE_FRAMEWORKS,
    AGENTTRACE_HOME,
    AGENTTRACE_MAX_AGE,
    AGENTTRACE_MAX_CONTENT_LENGTH,
    AGENTTRACE_MAX_RUNS,
    AGENTTRACE_REDACTION_POLICY,
    AGENTTRACE_RUN_ROOT,
    AGENTTRACE_STRICT,
    AGENTTRACE_TARGETS,
    AGENTTRACE_WORKFLOW,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)

_log = logging.getLogger("otel_agenttrace")

DEFAULT_HOME: Final = ".agenttrace"
DEFAULT_MAX_CONTENT_LENGTH: Final = 16384
MIN_MAX_CONTENT_LENGTH: Final = 64
DEFAULT_MAX_RUNS: Final = 1000
DEFAULT_MAX_AGE_S: Final = 30 * 86400.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
CONTENT_MODES: Final = ("NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT")
_CONTENT_ALIASES: Final = {"TRUE": "SPAN_ONLY", "FALSE": "NO_CONTENT"}
LOCAL_ONLY: Final = "LOCAL_ONLY"  # the switch unset: content beside the span, for the local run store only

_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}

_warned: set[tuple[str, str]] = set()


def _warn_once(name: str, raw: str, message: str, *args: Any) -> None:
    """A bad value is reported once per process, not once per settings object."""
    if (name, raw) in _warned:
        return
    _warned.add((name, raw))
    _log.warning(message, *args)


def parse_age(text: str) -> float:
    """`30d`, `12h`, `90m`, `3600s`, `3600` -> seconds. Raises ValueError on anything else."""
    match = _AGE_RE.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30d, 12h, 90m, 3600s)")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    _warn_once(name, raw, "%s=%r is not true/false (1/0, yes/no, on/off); using %s", name, raw, default)
    return default


def content_mode(env: Mapping[str, str]) -> str:
    name = OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    raw = env.get(name)
    if raw is None or not raw.strip():
        return LOCAL_ONLY
    value = raw.strip().upper()
    if value in _CONTENT_ALIASES:
        _warn_once(name, value, "%s=%s is a legacy alias; use %s", name, raw, _CONTENT_ALIASES[value])
        return _CONTENT_ALIASES[value]
    if value in CONTENT_MODES:
        return value
    _warn_once(name, raw, "%s=%r is not one of %s; capturing no content", name, raw, ", ".join(CONTENT_MODES))
    return "NO_CONTENT"


def max_content_length(env: Mapping[str, str]) -> int:
    raw = env.get(AGENTTRACE_MAX_CONTENT_LENGTH, "").strip()
    if not raw:
        return DEFAULT_MAX_CONTENT_LENGTH
    try:
        return max(MIN_MAX_CONTENT_LENGTH, int(raw))
    except ValueError:
        _warn_once(
            AGENTTRACE_MAX_CONTENT_LENGTH,
            raw,
            "%s=%r is not an integer; using %d",
            AGENTTRACE_MAX_CONTENT_LENGTH,
            raw,
            DEFAULT_MAX_CONTENT_LENGTH,
        )
        return DEFAULT_MAX_CONTENT_LENGTH


def retention(env: Mapping[str, str]) -> tuple[int | None, float | None]:
    max_runs: int | None = DEFAULT_MAX_RUNS
    raw = env.get(AGENTTRACE_MAX_RUNS, "").strip()
    if raw:
        try:
            max_runs = int(raw)
            if max_runs < 0:
                raise ValueError(raw)
        except ValueError:
            _warn_once(
                AGENTTRACE_MAX_RUNS, raw, "%s=%r is not a count >= 0; keeping %d runs",
                AGENTTRACE_MAX_RUNS, raw, DEFAULT_MAX_RUNS,
            )  # fmt: skip
            max_runs = DEFAULT_MAX_RUNS
    max_age: float | None = DEFAULT_MAX_AGE_S
    raw = env.get(AGENTTRACE_MAX_AGE, "").strip()
    if raw:
        try:
            max_age = parse_age(raw)
        except ValueError:
            _warn_once(
                AGENTTRACE_MAX_AGE, raw, "%s=%r is not a duration like 30d or 12h; using 30d", AGENTTRACE_MAX_AGE, raw
            )
            max_age = DEFAULT_MAX_AGE_S
    return (max_runs or None, max_age or None)


def allow_list(raw: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in raw.split(",") if a.strip())


# --- [tool.agenttrace] ---------------------------------------------------------------------------


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


class TableError(ValueError):
    """`[tool.agenttrace]` (or AGENTTRACE_TARGETS) cannot be read; the message names the source."""


def read_table(
    env: Mapping[str, str], cwd: Path | None = None, argv0: str | None = None
) -> tuple[dict[str, Any], str] | None:
    """The `[tool.agenttrace]` table and where it came from: AGENTTRACE_TARGETS when set (TOML or JSON),
    else the nearest pyproject.toml above the working directory or the script's directory that has one.
    Raises TableError when the source that may hold it cannot be read."""
    raw = env.get(AGENTTRACE_TARGETS)
    if raw and raw.strip():
        try:
            table: Any = json.loads(raw)
        except ValueError:
            try:
                table = tomllib.loads(raw)
            except tomllib.TOMLDecodeError as exc:
                raise TableError(f"{AGENTTRACE_TARGETS}: neither JSON nor TOML: {exc}") from None
        if isinstance(table, dict) and "tool" in table:
            table = table.get("tool", {}).get("agenttrace", {})
        if isinstance(table, list):
            table = {"targets": table}
        return table, AGENTTRACE_TARGETS
    starts = [cwd or Path.cwd()]
    if argv0:
        starts.append(Path(argv0).resolve().parent)
    for start in starts:
        pyproject = find_pyproject(start)
        if pyproject is None:
            continue
        try:
            doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TableError(f"{pyproject}: {exc}") from None
        found = doc.get("tool", {}).get("agenttrace") if isinstance(doc.get("tool"), dict) else None
        if found is not None:
            return found, f"{pyproject} [tool.agenttrace]"
    return None


# --- the settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything configurable, parsed. Field by field in docs/configuration.md."""

    content_mode: str = LOCAL_ONLY
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: NO_CONTENT | SPAN_ONLY | EVENT_ONLY |
    SPAN_AND_EVENT, or LOCAL_ONLY when unset."""
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    """AGENTTRACE_MAX_CONTENT_LENGTH: characters per content attribute (at least 64)."""
    redaction_policy_path: str | None = None
    """AGENTTRACE_REDACTION_POLICY: a policy file, which wins over [tool.agenttrace.redaction]."""
    env_allow: tuple[str, ...] = ()
    """AGENTTRACE_ENV_ALLOW: names or PREFIX_* of environment variables recorded on the run."""
    home: Path = Path(DEFAULT_HOME)
    """AGENTTRACE_HOME: the local run store."""
    forward: str = ""
    """AGENTTRACE_FORWARD, lower-cased; "" when unset (then chosen from the OTLP endpoint variables)."""
    max_runs: int | None = DEFAULT_MAX_RUNS
    """AGENTTRACE_MAX_RUNS: retention by count; None = unlimited."""
    max_age_s: float | None = DEFAULT_MAX_AGE_S
    """AGENTTRACE_MAX_AGE: retention by age in seconds; None = unlimited."""
    workflow: str | None = None
    """AGENTTRACE_WORKFLOW: name of the process-level run root (None: the script's name)."""
    run_root: bool = True
    """AGENTTRACE_RUN_ROOT: parent root spans under one process-level run root."""
    strict: bool = False
    """AGENTTRACE_STRICT: raise internal errors (this project's tests)."""
    debug: bool = False
    """AGENTTRACE_DEBUG: internal-error log lines carry their traceback."""
    frameworks: str = ""
    """AGENTTRACE_FRAMEWORKS, lower-cased: the frameworks supported out of the box ("" = all; see frameworks/)."""
    table: dict[str, Any] | None = None
    """The [tool.agenttrace] table (or AGENTTRACE_TARGETS), None when there is none."""
    table_source: str | None = None
    """Where `table` came from, for error messages."""
    table_error: str | None = None
    """Why [tool.agenttrace] could not be read (it may hold the redaction policy: fail closed)."""
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The variables read (OTEL_* and AGENTTRACE_*), for the OTel exporters' own variables."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None, argv0: str | None = None
    ) -> Settings:
        env = os.environ if environ is None else environ
        if argv0 is None and environ is None and sys.argv and sys.argv[0]:
            argv0 = sys.argv[0]
        max_runs, max_age = retention(env)
        table: dict[str, Any] | None = None
        source = error = None
        try:
            found = read_table(env, cwd, argv0)
        except TableError as exc:
            error = str(exc)
        else:
            if found is not None:
                table, source = found
        policy_path = (env.get(AGENTTRACE_REDACTION_POLICY) or "").strip() or None
        return cls(
            content_mode=content_mode(env),
            max_content_length=max_content_length(env),
            redaction_policy_path=policy_path,
            env_allow=allow_list(env.get(AGENTTRACE_ENV_ALLOW, "")),
            home=Path(env.get(AGENTTRACE_HOME) or DEFAULT_HOME),
            forward=env.get(AGENTTRACE_FORWARD, "").strip().lower(),
            max_runs=max_runs,
            max_age_s=max_age,
            workflow=(env.get(AGENTTRACE_WORKFLOW) or "").strip() or None,
            run_root=_flag(env, AGENTTRACE_RUN_ROOT, True),
            strict=_flag(env, AGENTTRACE_STRICT, False),
            debug=_flag(env, AGENTTRACE_DEBUG, False),
            frameworks=env.get(AGENTTRACE_FRAMEWORKS, "").strip().lower(),
            table=table,
            table_source=source,
            table_error=error,
            environ={k: v for k, v in env.items() if k.startswith(("OTEL_", "AGENTTRACE_"))},
        )

    @property
    def fixture_dirs(self) -> tuple[Path, ...]:
        """[tool.agenttrace] fixtures: directories of regression fixtures, relative to that pyproject.toml."""
        raw = (self.table or {}).get("fixtures")
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            return ()
        source = self.table_source or ""
        base = Path(source[: -len(" [tool.agenttrace]")]).parent if source.endswith(" [tool.agenttrace]") else Path()
        return tuple(base / str(d) for d in raw if isinstance(d, str) and d.strip())

    @property
    def forward_content(self) -> bool:
        """Content may leave the process only on an explicit opt-in."""
        return self.content_mode in ("SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT")


_lock = threading.Lock()
renew_after_fork(sys.modules[__name__], _lock=threading.Lock)  # a fork while another thread builds settings
_current: tuple[tuple[Any, ...], Settings] | None = None


def _inputs() -> tuple[Any, ...]:
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("OTEL_", "AGENTTRACE_"))))
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    return env, cwd, sys.argv[0] if sys.argv else ""


def current() -> Settings:
    """The process's settings: built on first use, and again only if the environment, the working
    directory or the script changed since (never, in a program; often, in a test)."""
    global _current
    key = _inputs()
    cached = _current
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        if _current is None or _current[0] != key:
            _current = (key, Settings.from_env())
        return _current[1]


__all__ = ["Settings", "TableError", "current", "find_pyproject", "parse_age", "read_table"]
