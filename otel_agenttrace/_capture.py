"""Content capture policy, redaction and size caps.

Everything that could carry a secret (messages, tool arguments and results, exception messages)
passes through `CapturePolicy.content()` or `Redactor.redact()` before it becomes an attribute:
redaction is applied to the serialized value, so a secret can never reach an exporter, a log
line or the local store by a path that skipped it.
"""

from __future__ import annotations

import enum
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._redact import (
    PathRule,
    PolicyError,
    RedactionPolicy,
    Redactor,
    apply_paths,
    load_policy_file,
    parse_policy,
)
from otel_agenttrace.environment_variables import (
    AGENTTRACE_ENV_ALLOW,
    AGENTTRACE_MAX_CONTENT_LENGTH,
    AGENTTRACE_REDACTION_POLICY,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)

_log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 16384
TRUNCATION_MARKER = "…[truncated {} chars]"

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode


# Content attribute -> the root name JSON paths of a redaction policy use for it.
_PATH_ROOTS = {
    semconv.GEN_AI_INPUT_MESSAGES: "input",
    semconv.GEN_AI_OUTPUT_MESSAGES: "output",
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: "system",
    semconv.GEN_AI_TOOL_DEFINITIONS: "tools",
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS: "arguments",
    semconv.GEN_AI_TOOL_CALL_RESULT: "result",
}


class ContentMode(enum.Enum):
    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"
    # Unset: content for the local run trace only (its purpose is debugging), stripped when forwarded.
    LOCAL_ONLY = "LOCAL_ONLY"


_ALIASES = {"TRUE": ContentMode.SPAN_ONLY, "FALSE": ContentMode.NO_CONTENT}
_warned_aliases: set[str] = set()


def content_mode_from_env(environ: dict[str, str] | None = None) -> ContentMode:
    raw = (environ if environ is not None else os.environ).get(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
    if raw is None or not raw.strip():
        return ContentMode.LOCAL_ONLY
    value = raw.strip().upper()
    if value in _ALIASES:
        if value not in _warned_aliases:
            _warned_aliases.add(value)
            _log.warning(
                "%s=%s is a legacy alias; use %s",
                OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
                raw,
                _ALIASES[value].value,
            )
        return _ALIASES[value]
    try:
        return ContentMode(value)
    except ValueError:
        _log.warning(
            "%s=%r is not one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT; capturing no content",
            OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
            raw,
        )
        return ContentMode.NO_CONTENT


def forward_content(mode: ContentMode | None = None) -> bool:
    """Whether content attributes may leave the process through a forwarding exporter."""
    mode = mode or content_mode_from_env()
    return mode in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT, ContentMode.EVENT_ONLY)


@dataclass
class CapturePolicy:
    mode: ContentMode = ContentMode.LOCAL_ONLY
    max_length: int = DEFAULT_MAX_LENGTH
    redactor: Redactor = field(default_factory=Redactor)
    paths: tuple[PathRule, ...] = ()

    @property
    def on_span(self) -> bool:
        return self.mode in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT, ContentMode.LOCAL_ONLY)

    @property
    def on_event(self) -> bool:
        return self.mode in (ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self.mode is not ContentMode.NO_CONTENT

    def text(self, value: str) -> tuple[str, int, bool]:
        """Redact, then cap. Returns (text, redactions, truncated)."""
        redacted, count = self.redactor.redact(value)
        if len(redacted) > self.max_length:
            cut = len(redacted) - self.max_length
            return redacted[: self.max_length] + TRUNCATION_MARKER.format(cut), count, True
        return redacted, count, False

    def _apply_paths(self, key: str, value: Any) -> tuple[Any, int]:
        root = _PATH_ROOTS.get(key, key)
        if not isinstance(value, str):
            return apply_paths(self.paths, root, value)
        # Tools often take or return JSON text: the paths apply to the document it holds.
        if not value.lstrip().startswith(("{", "[")):
            return value, 0
        try:
            parsed = json.loads(value)
        except ValueError:
            return value, 0
        changed, count = apply_paths(self.paths, root, parsed)
        return (changed, count) if count else (value, 0)

    def content(self, values: dict[str, Any]) -> dict[str, str]:
        """Serialize each content value to JSON, redact and cap it; adds the bookkeeping attributes."""
        out: dict[str, str] = {}
        truncated: list[str] = []
        total = 0
        for key, value in values.items():
            if value is None:
                continue
            if self.paths:
                value, dropped = self._apply_paths(key, value)
                total += dropped
                if value is None:  # a path dropped all of it
                    continue
            raw = value if isinstance(value, str) else _ENCODE(value)
            text, count, cut = self.text(raw)
            total += count
            if cut:
                truncated.append(key)
            out[key] = text
        result: dict[str, Any] = out
        if truncated:
            result[semconv.AGENTTRACE_CONTENT_TRUNCATED] = truncated
        if total:
            result[semconv.AGENTTRACE_CONTENT_REDACTIONS] = total
        return result


def policy_from_env(
    environ: Mapping[str, str] | None = None, redaction: RedactionPolicy | None = None
) -> CapturePolicy:
    """The capture policy from the environment. An invalid redaction policy never disables
    redaction silently: it is reported, and no content is captured at all."""
    env = environ if environ is not None else os.environ
    mode = content_mode_from_env(dict(env))
    if redaction is None:
        try:
            redaction = load_redaction_policy(env)
        except PolicyError as exc:
            _log.error("otel-agenttrace: redaction policy error: %s; capturing no content", exc)
            redaction, mode = RedactionPolicy(), ContentMode.NO_CONTENT
    max_length = DEFAULT_MAX_LENGTH
    raw = env.get(AGENTTRACE_MAX_CONTENT_LENGTH)
    if raw:
        try:
            max_length = max(64, int(raw))
        except ValueError:
            _log.warning("%s=%r is not an integer; using %d", AGENTTRACE_MAX_CONTENT_LENGTH, raw, DEFAULT_MAX_LENGTH)
    return CapturePolicy(mode=mode, max_length=max_length, redactor=redaction.redactor(), paths=redaction.paths)


def load_redaction_policy(environ: Mapping[str, str]) -> RedactionPolicy:
    """AGENTTRACE_REDACTION_POLICY (a file) when set, else [tool.agenttrace.redaction], else the defaults."""
    path = environ.get(AGENTTRACE_REDACTION_POLICY)
    if path and path.strip():
        return load_policy_file(path.strip())
    from otel_agenttrace._config import ConfigError, load_table

    try:
        found = load_table(dict(environ))
    except ConfigError as exc:
        # The file that may hold [tool.agenttrace.redaction] cannot be read: fail closed.
        raise PolicyError(str(exc)) from None
    if found is None or "redaction" not in found[0]:
        return RedactionPolicy()
    table, source = found
    return parse_policy(table["redaction"], f"{source}.redaction")


def env_snapshot(policy: CapturePolicy, environ: Mapping[str, str] | None = None) -> str | None:
    """Allow-listed environment variables (AGENTTRACE_ENV_ALLOW=NAME,PREFIX_*) as redacted JSON;
    None when nothing is allowed or matched, or when no content is captured (NO_CONTENT, or an
    invalid redaction policy)."""
    if not policy.enabled:
        return None
    env = environ if environ is not None else os.environ
    allow = [a.strip() for a in env.get(AGENTTRACE_ENV_ALLOW, "").split(",") if a.strip()]
    if not allow:
        return None
    picked = {
        name: value
        for name, value in sorted(env.items())
        if any(name.startswith(a[:-1]) if a.endswith("*") else name == a for a in allow)
    }
    return policy.text(json.dumps(picked, ensure_ascii=False))[0] if picked else None
