"""Targets from configuration: `[tool.agenttrace]` in pyproject.toml, or AGENTTRACE_TARGETS (same content).

    [[tool.agenttrace.targets]]
    kind = "llm"                                   # llm | tool | node
    target = "myapp.providers:BaseProvider.generate"
    model = "self.model"                           # paths: self.<attr>, args.<param>, return.<field>
    messages = "args.messages"

A wrong key or shape is a ConfigError whose message names the key; nothing here imports user code.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_agenttrace import _settings


class ConfigError(ValueError):
    """Invalid [tool.agenttrace] / AGENTTRACE_TARGETS content; the message names the key."""


_TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")
_PATH_RE = re.compile(r"^(self|args|return)(\.[A-Za-z_]\w*)*$")

# Per kind: the keys a target may have, and which of them are paths (the rest are literals).
_KEYS: dict[str, dict[str, bool]] = {
    "llm": {
        "provider": False,
        "operation": False,
        "model": True,
        "messages": True,
        "system": True,
        "output": True,
        "response_model": True,
        "input_tokens": True,
        "output_tokens": True,
    },
    "tool": {"name": True, "arguments": True, "call_id": True, "result": True},
    "node": {"name": True, "type": True},
}
_COMMON = {"kind", "target"}


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    module: str
    qualname: str  # "Class.method" or "function"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.module}:{self.qualname}"


def is_path(value: str) -> bool:
    return bool(_PATH_RE.match(value))


def _parse_target(where: str, raw: Any) -> TargetSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table with 'kind' and 'target', got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in _KEYS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(_KEYS)}, got {kind!r}")
    target = raw.get("target")
    if not isinstance(target, str) or not _TARGET_RE.match(target):
        raise ConfigError(f"{where}.target: expected 'module:Class.method' or 'module:function', got {target!r}")
    allowed = _KEYS[kind]
    options: dict[str, str] = {}
    for key, value in raw.items():
        if key in _COMMON:
            continue
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key for a {kind} target (allowed: {', '.join(sorted(allowed))})")
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key}: expected a string, got {type(value).__name__}")
        # a tool's or node's name and a node's type may be a path or a literal
        literal_ok = kind != "llm" and key in ("name", "type")
        if allowed[key] and not is_path(value) and not literal_ok:
            raise ConfigError(f"{where}.{key}: {value!r} is not a path like self.x, args.x or return.x")
        options[key] = value
    module, qualname = target.split(":", 1)
    return TargetSpec(kind, module, qualname, options)


def parse(table: Any, source: str) -> list[TargetSpec]:
    """The `[tool.agenttrace]` table (or AGENTTRACE_TARGETS content) → target specs."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: expected a table, got {type(table).__name__}")
    known = {"targets", "redaction", "env_allow", "fixtures"}  # fixtures: the pytest plugin and `fixture`
    for key in table:
        if key not in known:
            raise ConfigError(f"{source}.{key}: unknown key (allowed: {', '.join(sorted(known))})")
    targets = table.get("targets", [])
    if not isinstance(targets, list):
        raise ConfigError(f"{source}.targets: expected an array of tables, got {type(targets).__name__}")
    return [_parse_target(f"{source}.targets[{i}]", raw) for i, raw in enumerate(targets)]


def load_table(environ: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[dict[str, Any], str] | None:
    """The `[tool.agenttrace]` table and where it came from (see `_settings.read_table`); with no
    arguments, the one the process's settings read."""
    if environ is None and cwd is None:
        settings = _settings.current()
        if settings.table_error is not None:
            raise ConfigError(settings.table_error)
        if settings.table is None or settings.table_source is None:
            return None
        return settings.table, settings.table_source
    env = environ if environ is not None else os.environ
    try:
        return _settings.read_table(env, cwd, sys.argv[0] if sys.argv and sys.argv[0] else None)
    except _settings.TableError as exc:
        raise ConfigError(str(exc)) from None


def load(environ: dict[str, str] | None = None, cwd: Path | None = None) -> list[TargetSpec]:
    """The configured targets (see load_table for where they are looked for)."""
    found = load_table(environ, cwd)
    return [] if found is None else parse(*found)
