"""The redaction policy: built-in patterns switched off, the user's own patterns and JSON paths, from a
`[tool.agenttrace.redaction]` table or a policy file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from otel_agenttrace._redact._engine import Redactor
from otel_agenttrace._redact._paths import PathRule
from otel_agenttrace._redact._patterns import BUILTIN, BUILTIN_NAMES, Pattern


class PolicyError(ValueError):
    """An invalid redaction policy; the message names the file and the key or line."""


@dataclass(frozen=True)
class RedactionPolicy:
    patterns: tuple[Pattern, ...] = BUILTIN
    paths: tuple[PathRule, ...] = ()

    def redactor(self) -> Redactor:
        return Redactor(self.patterns)


_POLICY_KEYS = {"disable", "patterns", "paths"}


def parse_policy(table: Any, source: str) -> RedactionPolicy:
    """`{disable = [...], patterns = [{name, regex, replacement?}], paths = [{path, action}]}`."""
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: expected a table, got {type(table).__name__}")
    for key in table:
        if key not in _POLICY_KEYS:
            raise PolicyError(f"{source}.{key}: unknown key (allowed: {', '.join(sorted(_POLICY_KEYS))})")
    disable = table.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(n, str) for n in disable):
        raise PolicyError(f"{source}.disable: expected a list of built-in pattern names")
    for name in disable:
        if name not in BUILTIN_NAMES:
            raise PolicyError(f"{source}.disable: no built-in pattern {name!r} (known: {', '.join(BUILTIN_NAMES)})")
    patterns = [p for p in BUILTIN if p.name not in disable]
    raw_patterns = table.get("patterns", [])
    if not isinstance(raw_patterns, list):
        raise PolicyError(f"{source}.patterns: expected an array of tables")
    for i, raw in enumerate(raw_patterns):
        where = f"{source}.patterns[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: expected a table with name and regex")
        unknown = set(raw) - {"name", "regex", "replacement"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key (allowed: name, regex, replacement)")
        name, regex = raw.get("name"), raw.get("regex")
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{where}.name: expected a non-empty string")
        if not isinstance(regex, str) or not regex:
            raise PolicyError(f"{where}.regex: expected a non-empty string")
        try:
            re.compile(regex)
        except re.error as exc:
            raise PolicyError(f"{where}.regex: invalid regular expression: {exc}") from None
        replacement = raw.get("replacement")
        if replacement is not None and not isinstance(replacement, str):
            raise PolicyError(f"{where}.replacement: expected a string")
        patterns.append(Pattern(name, regex, replacement=replacement))
    raw_paths = table.get("paths", [])
    if not isinstance(raw_paths, list):
        raise PolicyError(f"{source}.paths: expected an array of tables")
    paths = []
    for i, raw in enumerate(raw_paths):
        where = f"{source}.paths[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
            raise PolicyError(f"{where}.path: expected a JSON path string")
        unknown = set(raw) - {"path", "action"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key (allowed: path, action)")
        try:
            paths.append(PathRule.parse(raw["path"], raw.get("action", "mask")))
        except ValueError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    return RedactionPolicy(tuple(patterns), tuple(paths))


def load_policy_file(path: str) -> RedactionPolicy:
    """A policy file: TOML (`.toml`) or JSON, with the keys of `[tool.agenttrace.redaction]` at the top."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the redaction policy: {exc.strerror}") from None
    try:
        table = json.loads(text) if not path.endswith(".toml") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from None
    return parse_policy(table, path)
