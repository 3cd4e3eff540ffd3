"""Out-of-the-box support for agent frameworks, as target rows on the configured-target mechanism.

Each framework module gives `NAME`, `INSTRUMENTS` (its supported range, as in package.py) and
`TARGETS`. Nothing here imports a framework: the rows are patched by the TargetPatcher's post-import
hook when the program imports the framework. A framework outside its range is skipped with one log
line; `AGENTTRACE_FRAMEWORKS` switches them (docs/configuration.md).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

from otel_agenttrace._settings import current
from otel_agenttrace.environment_variables import AGENTTRACE_FRAMEWORKS
from otel_agenttrace.frameworks._target import FrameworkTarget

_log = logging.getLogger("otel_agenttrace")

# name -> module inside this package
FRAMEWORKS: dict[str, str] = {
    "langchain": "otel_agenttrace.frameworks.langchain",
    "langgraph": "otel_agenttrace.frameworks.langgraph",
    "openai-agents": "otel_agenttrace.frameworks.openai_agents",
    "pydantic-ai": "otel_agenttrace.frameworks.pydantic_ai",
}


class FrameworkSelectionError(ValueError):
    """AGENTTRACE_FRAMEWORKS names a framework we do not know."""


def selected(environ: Mapping[str, str] | None = None) -> list[str]:
    """The frameworks to support: all by default; `none`; a list (`langchain,pydantic-ai`); or all but
    some (`-openai-agents`). From the settings, or from `environ` when given."""
    raw = current().frameworks if environ is None else environ.get(AGENTTRACE_FRAMEWORKS, "").strip().lower()
    if not raw or raw == "all":
        return list(FRAMEWORKS)
    if raw == "none":
        return []
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n.lstrip("-") for n in names if n.lstrip("-") not in FRAMEWORKS]
    if unknown:
        raise FrameworkSelectionError(
            f"{AGENTTRACE_FRAMEWORKS}: unknown framework {unknown[0]!r} (known: {', '.join(FRAMEWORKS)}, all, none)"
        )
    excluded = {n[1:] for n in names if n.startswith("-")}
    included = [n for n in names if not n.startswith("-")]
    return [n for n in (included or FRAMEWORKS) if n not in excluded]


def framework_targets(environ: Mapping[str, str] | None = None) -> list[FrameworkTarget]:
    """The target rows of every selected framework that is installed in its supported range."""
    try:
        names = selected(environ)
    except FrameworkSelectionError as exc:
        _log.error("otel-agenttrace: %s; no framework support", exc)
        return []
    rows: list[FrameworkTarget] = []
    for name in names:
        module = importlib.import_module(FRAMEWORKS[name])
        conflict = get_dependency_conflicts([module.INSTRUMENTS])
        if conflict is not None:
            if getattr(conflict, "found", None) is not None:  # missing: skipped silently, like the SDKs
                _log.warning("otel-agenttrace: no %s support: %s", name, conflict)
            continue
        rows.extend(module.TARGETS)
    return rows
