"""Content capture policy, redaction and size caps.

Everything that could carry a secret (messages, tool arguments and results, exception messages)
passes through `CapturePolicy.content()` or `Redactor.redact()` before it becomes an attribute
(on the caller's thread when the user opted in; on the export thread for content beside the span):
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
from typing import Any, Final

from otel_agenttrace import _settings, semconv
from otel_agenttrace._beside import CHANNEL
from otel_agenttrace._redact import (
    PathRule,
    PolicyError,
    RedactionPolicy,
    Redactor,
    apply_paths,
    load_policy_file,
    parse_policy,
)
from otel_agenttrace.environment_variables import AGENTTRACE_ENV_ALLOW

_log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = _settings.DEFAULT_MAX_CONTENT_LENGTH
TRUNCATION_MARKER = "…[truncated {} chars]"

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time.
_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode

# Defensive serialisation, for values the encoder cannot take as they are (a tool's arguments nested
# 100k deep, a cycle, an object whose __str__/__repr__ raises): the step keeps everything else.
MAX_DEPTH = 64
DEPTH_MARKER = "[…nested too deep]"
CYCLE_MARKER = "[…circular reference]"
UNREPRESENTABLE = "[unrepresentable {}]"


def _text_of(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return UNREPRESENTABLE.format(type(value).__qualname__)


def jsonable(value: Any, _depth: int = 0, _path: set[int] | None = None) -> Any:
    """`value` as plain JSON data, whatever it is: containers at most MAX_DEPTH deep, a cycle marked
    where it closes, anything else as its str() or, when that raises, a marker naming its type."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if not isinstance(value, (dict, list, tuple, set, frozenset)):
        return _text_of(value)
    if _depth >= MAX_DEPTH:
        return DEPTH_MARKER
    path = _path if _path is not None else set()
    ident = id(value)
    if ident in path:
        return CYCLE_MARKER
    path.add(ident)
    try:
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else _text_of(key): jsonable(item, _depth + 1, path)
                for key, item in list(value.items())
            }
        return [jsonable(item, _depth + 1, path) for item in list(value)]
    finally:
        path.discard(ident)


def _encodable(text: str) -> str:
    """The text with lone surrogates (a `surrogateescape`d argument) as U+FFFD: the redaction engine and
    every writer take UTF-8, and one bad character must spoil only itself."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def encode(value: Any) -> str:
    """JSON text of a content value; never raises (see `jsonable`)."""
    try:
        return _ENCODE(value)
    except Exception:  # RecursionError, a cycle, a key or a __str__ the encoder cannot take
        return _ENCODE(jsonable(value))


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
    # Unset: content beside the span, for the local run trace only (its purpose is debugging).
    LOCAL_ONLY = "LOCAL_ONLY"


def content_mode_from_env(environ: Mapping[str, str] | None = None) -> ContentMode:
    """The content mode of `environ`, or of the process's settings (see _settings)."""
    if environ is None:
        return ContentMode(_settings.current().content_mode)
    return ContentMode(_settings.content_mode(environ))


def forward_content(mode: ContentMode | None = None) -> bool:
    """Whether content attributes may leave the process through a forwarding exporter."""
    mode = mode or content_mode_from_env()
    return mode in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT, ContentMode.EVENT_ONLY)


# Where an invocation's content goes (`CapturePolicy.capture`), decided once per call.
NOWHERE: Final = 0  # no content built at all
BESIDE: Final = 1  # a snapshot beside the span, built off the caller's thread (the folding or export thread)
ON_SPAN: Final = 2  # opted in: built and redacted on the caller's thread, on the span and/or a log record

_LOCAL_ONLY: Final = ContentMode.LOCAL_ONLY
_NO_CONTENT: Final = ContentMode.NO_CONTENT


@dataclass
class CapturePolicy:
    mode: ContentMode = ContentMode.LOCAL_ONLY
    max_length: int = DEFAULT_MAX_LENGTH
    redactor: Redactor = field(default_factory=Redactor)
    paths: tuple[PathRule, ...] = ()

    @property
    def beside(self) -> bool:
        """Unset switch: content goes beside the span to the run-trace exporter, never on the span."""
        return self.mode is _LOCAL_ONLY

    @property
    def on_span(self) -> bool:
        return self.mode in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        """As a `gen_ai.client.inference.operation.details` log record."""
        return self.mode in (ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        """Whether to build content at all: never with NO_CONTENT; with the switch unset, only while a
        run-trace exporter is there to take it (otherwise there is nowhere for it to go)."""
        mode = self.mode
        if mode is _LOCAL_ONLY:
            return CHANNEL.active
        return mode is not _NO_CONTENT

    @property
    def capture(self) -> int:
        """NOWHERE, BESIDE or ON_SPAN: `enabled` and `beside` in one look, for the per-call path."""
        mode = self.mode
        if mode is _LOCAL_ONLY:
            return BESIDE if CHANNEL._consumers else NOWHERE  # CHANNEL.active, inlined: on every call's path
        return NOWHERE if mode is _NO_CONTENT else ON_SPAN

    def text(self, value: str) -> tuple[str, int, bool]:
        """Redact, then cap. Returns (text, redactions, truncated)."""
        redacted, count = self.redactor.redact(_encodable(value))
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
                try:
                    value, dropped = self._apply_paths(key, value)
                except Exception:  # too deep or circular for the paths: apply them to its plain form
                    value, dropped = self._apply_paths(key, jsonable(value))
                total += dropped
                if value is None:  # a path dropped all of it
                    continue
            raw = value if isinstance(value, str) else encode(value)
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
    """The capture policy of `environ` (None: the process's settings)."""
    settings = _settings.current() if environ is None else _settings.Settings.from_env(environ)
    return policy_from_settings(settings, redaction)


def policy_from_settings(settings: _settings.Settings, redaction: RedactionPolicy | None = None) -> CapturePolicy:
    """The capture policy. An invalid redaction policy never disables redaction silently: it is
    reported, and no content is captured at all."""
    mode = ContentMode(settings.content_mode)
    if redaction is None:
        try:
            redaction = load_redaction_policy(settings)
        except PolicyError as exc:
            _log.error("otel-agenttrace: redaction policy error: %s; capturing no content", exc)
            redaction, mode = RedactionPolicy(), ContentMode.NO_CONTENT
    return CapturePolicy(
        mode=mode,
        max_length=settings.max_content_length,
        redactor=redaction.redactor(),
        paths=redaction.paths,
    )


def load_redaction_policy(settings: _settings.Settings | Mapping[str, str]) -> RedactionPolicy:
    """AGENTTRACE_REDACTION_POLICY (a file) when set, else [tool.agenttrace.redaction], else the defaults."""
    if not isinstance(settings, _settings.Settings):
        settings = _settings.Settings.from_env(settings)
    if settings.redaction_policy_path:
        return load_policy_file(settings.redaction_policy_path)
    if settings.table_error is not None:
        # The file that may hold [tool.agenttrace.redaction] cannot be read: fail closed.
        raise PolicyError(settings.table_error)
    table = settings.table
    if not isinstance(table, dict) or "redaction" not in table:
        return RedactionPolicy()
    return parse_policy(table["redaction"], f"{settings.table_source}.redaction")


def env_snapshot(policy: CapturePolicy, environ: Mapping[str, str] | None = None) -> str | None:
    """Allow-listed environment variables (AGENTTRACE_ENV_ALLOW=NAME,PREFIX_*) as redacted JSON;
    None when nothing is allowed or matched, or when no content is captured (NO_CONTENT, or an
    invalid redaction policy). The allow-list is an opt-in of its own: recorded as an attribute whether
    or not a run-trace exporter is there."""
    if policy.mode is ContentMode.NO_CONTENT:
        return None
    if environ is None:
        env: Mapping[str, str] = os.environ
        allow: tuple[str, ...] = _settings.current().env_allow
    else:
        env = environ
        allow = _settings.allow_list(environ.get(AGENTTRACE_ENV_ALLOW, ""))
    if not allow:
        return None
    picked = {
        name: value
        for name, value in sorted(env.items())
        if any(name.startswith(a[:-1]) if a.endswith("*") else name == a for a in allow)
    }
    return policy.text(json.dumps(picked, ensure_ascii=False))[0] if picked else None
