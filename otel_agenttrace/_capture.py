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
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from otel_agenttrace.environment_variables import (
    AGENTTRACE_MAX_CONTENT_LENGTH,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)

_log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 16384
TRUNCATION_MARKER = "…[truncated {} chars]"


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


# --- redaction ------------------------------------------------------------------------------

# Order matters where kinds overlap: the more specific key formats come before generic ones.
BUILTIN_PATTERNS: dict[str, str] = {
    "private_key": r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----.*?-----END[A-Z ]{0,40}PRIVATE KEY-----",
    "anthropic_key": r"sk-ant-[A-Za-z0-9_\-]{20,}",
    "openai_key": r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
    "aws_access_key": r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    "aws_secret_key": r"(?i:aws_?secret_?(?:access_?)?key)[\"'\s:=]{1,6}[A-Za-z0-9/+=]{40}",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}",
    "bearer_token": r"(?i:\bbearer)\s+[A-Za-z0-9._~+/=\-]{8,}",
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
}


@dataclass
class Redactor:
    """One compiled alternation of every enabled pattern; each match becomes `[REDACTED:<kind>]`."""

    patterns: dict[str, str] = field(default_factory=lambda: dict(BUILTIN_PATTERNS))
    _regex: re.Pattern[str] = field(init=False, repr=False)
    _kinds: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._kinds = list(self.patterns)
        joined = "|".join(f"(?P<k{i}>{p})" for i, p in enumerate(self.patterns.values()))
        self._regex = re.compile(joined or r"(?!x)x", re.DOTALL)

    def _replace(self, match: re.Match[str]) -> str:
        return f"[REDACTED:{self._kinds[int(match.lastgroup[1:])]}]"  # type: ignore[index]

    def redact(self, text: str) -> tuple[str, int]:
        """Returns the redacted text and how many secrets were replaced."""
        return self._regex.subn(self._replace, text)


@dataclass
class CapturePolicy:
    mode: ContentMode = ContentMode.LOCAL_ONLY
    max_length: int = DEFAULT_MAX_LENGTH
    redactor: Redactor = field(default_factory=Redactor)

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

    def content(self, values: dict[str, Any]) -> dict[str, str]:
        """Serialize each content value to JSON, redact and cap it; adds the bookkeeping attributes."""
        from otel_agenttrace import semconv

        out: dict[str, str] = {}
        truncated: list[str] = []
        total = 0
        for key, value in values.items():
            if value is None:
                continue
            raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
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


def policy_from_env(environ: dict[str, str] | None = None, patterns: Iterable[tuple[str, str]] = ()) -> CapturePolicy:
    env = environ if environ is not None else os.environ
    max_length = DEFAULT_MAX_LENGTH
    raw = env.get(AGENTTRACE_MAX_CONTENT_LENGTH)
    if raw:
        try:
            max_length = max(64, int(raw))
        except ValueError:
            _log.warning("%s=%r is not an integer; using %d", AGENTTRACE_MAX_CONTENT_LENGTH, raw, DEFAULT_MAX_LENGTH)
    redactor = Redactor({**BUILTIN_PATTERNS, **dict(patterns)})
    return CapturePolicy(mode=content_mode_from_env(dict(env)), max_length=max_length, redactor=redactor)
