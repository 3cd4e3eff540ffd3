"""Every environment variable otel-agenttrace reads, each documented (docs/configuration.md mirrors this)."""

from __future__ import annotations

from typing import Final

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""NO_CONTENT | SPAN_ONLY | EVENT_ONLY | SPAN_AND_EVENT (case-insensitive; true/false are aliases with a warning).
Unset: content is captured for the local run store and stripped from what is forwarded to OTLP."""

AGENTTRACE_MAX_CONTENT_LENGTH: Final = "AGENTTRACE_MAX_CONTENT_LENGTH"
"""Size cap in characters of each content attribute (default 16384); longer values end in a truncation marker."""

AGENTTRACE_HOME: Final = "AGENTTRACE_HOME"
"""Directory of the local run store (default ./.agenttrace)."""

AGENTTRACE_FORWARD: Final = "AGENTTRACE_FORWARD"
"""Where the exporter forwards spans besides the store: none | otlp | otlp_proto_http | otlp_proto_grpc | console.
Default: otlp when an OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, else none."""

AGENTTRACE_MAX_RUNS: Final = "AGENTTRACE_MAX_RUNS"
"""Retention: keep at most this many runs in the store (default 1000; 0 = unlimited)."""

AGENTTRACE_MAX_AGE: Final = "AGENTTRACE_MAX_AGE"
"""Retention: drop runs older than this, e.g. 30d, 12h, 3600s (default 30d; 0 = unlimited)."""

AGENTTRACE_PRICES: Final = "AGENTTRACE_PRICES"
"""A JSON file of LLM prices per million tokens that wins over the built-in table (docs/cli.md, Cost)."""

AGENTTRACE_WORKFLOW: Final = "AGENTTRACE_WORKFLOW"
"""Name of the process-level run root (default: the script's file name)."""

AGENTTRACE_RUN_ROOT: Final = "AGENTTRACE_RUN_ROOT"
"""true (default) | false: parent spans that start with no active span under one process-level run root."""

AGENTTRACE_TARGETS: Final = "AGENTTRACE_TARGETS"
"""User classes to trace, in the format of [tool.agenttrace] (TOML or JSON); overrides pyproject.toml."""

AGENTTRACE_FRAMEWORKS: Final = "AGENTTRACE_FRAMEWORKS"
"""Frameworks supported out of the box: all (default) | none | a list (langchain,langgraph,openai-agents,pydantic-ai) |
all but some (-openai-agents). Each is loaded only when the program imports it."""

AGENTTRACE_STRICT: Final = "AGENTTRACE_STRICT"
"""1: raise internal errors of the instrumentation instead of logging them (for this project's tests)."""

AGENTTRACE_DEBUG: Final = "AGENTTRACE_DEBUG"
"""1: internal-error log lines carry their traceback (default: one line). For reporting a bug."""

AGENTTRACE_REDACTION_POLICY: Final = "AGENTTRACE_REDACTION_POLICY"
"""Path of a redaction policy file (TOML or JSON; keys as [tool.agenttrace.redaction]). An invalid policy
is reported at startup and then no content is captured at all: redaction is never silently off."""

AGENTTRACE_ENV_ALLOW: Final = "AGENTTRACE_ENV_ALLOW"
"""Environment variables recorded on the run (agenttrace.env), e.g. `APP_VERSION,MYAPP_*`. Default: none.
Values matching redaction patterns are masked."""

AGENTTRACE_RUN_ORIGIN: Final = "AGENTTRACE_RUN_ORIGIN"
"""Set by `agenttrace run` for its program (a random token): the store remembers which runs that program's
process tree wrote, so `run` reports its own runs only, not those of other processes writing the same store."""

AGENTTRACE_BACKEND_HEADERS: Final = "AGENTTRACE_BACKEND_HEADERS"
"""HTTP headers the CLI sends when it reads runs from a backend (`--from tempo|jaeger|phoenix URL`), in the
OTEL_EXPORTER_OTLP_HEADERS form: `Authorization=Bearer%20abc,X-Scope-OrgID=team` (values URL-encoded). Never logged."""
AGENTTRACE_REPLAY: Final = "AGENTTRACE_REPLAY"
"""Set by `agenttrace replay` in the program it re-runs: the run-trace file (with its recording) to replay."""

AGENTTRACE_REPLAY_MODE: Final = "AGENTTRACE_REPLAY_MODE"
"""model (default: LLM calls answered from the recording) | live (LLM calls sent for real)."""

AGENTTRACE_REPLAY_TOOLS: Final = "AGENTTRACE_REPLAY_TOOLS"
"""replay (default: matching tool calls return their recorded results) | live (tools run for real)."""

AGENTTRACE_REPLAY_STRICT: Final = "AGENTTRACE_REPLAY_STRICT"
"""1: a request that does not match the recording exactly raises ReplayDivergence instead of being served by order."""

AGENTTRACE_REPLAY_REPORT: Final = "AGENTTRACE_REPLAY_REPORT"
"""Set by `agenttrace replay`: the file the replayed program writes its divergences to at exit."""
