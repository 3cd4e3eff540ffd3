"""AgentTraceInstrumentor: walks each provider's target table to wrap, and the same rows to unwrap."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Collection, Iterator
from types import ModuleType
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_agenttrace import _logging, _mp, _settings
from otel_agenttrace._capture import CapturePolicy, policy_from_settings
from otel_agenttrace._config import ConfigError, TargetSpec
from otel_agenttrace._config import load as load_targets
from otel_agenttrace._lifecycle import RunRoot, Telemetry
from otel_agenttrace._patch_table import Patched
from otel_agenttrace._targets import TargetPatcher
from otel_agenttrace.package import _instruments
from otel_agenttrace.version import __version__

_log = logging.getLogger(__name__)

# (distribution/top-level module, provider module inside this package)
PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai", "otel_agenttrace.providers.openai"),
    ("anthropic", "otel_agenttrace.providers.anthropic"),
    ("mcp", "otel_agenttrace.tools.mcp"),
)

SCOPE = "otel_agenttrace"


def _provider_modules() -> Iterator[ModuleType]:
    for library, provider_path in PROVIDERS:
        if importlib.util.find_spec(library) is None:
            continue  # not installed: skipped silently
        provider = importlib.import_module(provider_path)
        conflict = get_dependency_conflicts([provider.INSTRUMENTS])
        if conflict is not None:
            _log.warning("otel-agenttrace: not instrumenting %s: %s", library, conflict)
            continue
        yield provider


def _env_flag(name: str, default: bool) -> bool:
    """Kept for callers of the old helper: the flag as the process's settings read it."""
    from otel_agenttrace._settings import _flag

    return _flag(_settings.current().environ, name, default)


def details_logger(logger_provider: Any) -> Any:
    """The OTel Logs API logger for details events: on the `logger_provider` given (as
    `opentelemetry-instrument` passes it), else the global one."""
    try:
        from opentelemetry import _logs
    except ImportError:  # pragma: no cover - an API without the Logs signal
        return None
    return _logs.get_logger(SCOPE, __version__, logger_provider=logger_provider)


class AgentTraceInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the OpenAI and Anthropic SDKs (whichever are installed).

    `instrument(tracer_provider=..., meter_provider=..., logger_provider=..., capture_policy=..., run_root=...)`;
    calling it twice is a no-op, and `uninstrument()` restores every original method.
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every construction: state lives on the class.
    _patched: Patched | None = None
    _patcher: TargetPatcher | None = None
    telemetry: Telemetry | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        # Each provider checks its own range, so one missing SDK never disables the others.
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=kwargs.get("tracer_provider"))
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=kwargs.get("meter_provider"))
        settings = _settings.current()
        policy: CapturePolicy = kwargs.get("capture_policy") or policy_from_settings(settings)
        run_root_opt = kwargs.get("run_root")
        if run_root_opt is None:
            run_root_opt = settings.run_root
        run_root = RunRoot(tracer, name=settings.workflow, policy=policy) if run_root_opt else None
        logger = details_logger(kwargs.get("logger_provider"))
        type(self).telemetry = tel = Telemetry(
            tracer=tracer, meter=meter, policy=policy, run_root=run_root, logger=logger
        )
        type(self)._patched = patched = Patched()
        for provider in _provider_modules():
            patched.wrap(provider.TARGETS, tel)
        self._patch_configured_targets(tel, kwargs.get("targets"))
        _mp.install()  # the run context crosses into spawned multiprocessing children
        from otel_agenttrace.replay import _api as replay_api

        replay_api.install(tel)  # recording of LLM exchanges and tool results; replay when AGENTTRACE_REPLAY asks
        _logging.install()  # every module of ours that logs is imported by now

    def _patch_configured_targets(self, tel: Telemetry, specs: list[TargetSpec] | None) -> None:
        """User classes from [tool.agenttrace] / AGENTTRACE_TARGETS (or `targets=` given in code)."""
        if specs is None:
            try:
                specs = load_targets()
            except ConfigError as exc:
                # A bad configuration must not stop the program (nor the SDK or framework instrumentation).
                _log.error("otel-agenttrace: configuration error: %s", exc)
                specs = []
        from otel_agenttrace.frameworks import framework_targets

        # Framework support is target rows too: one patcher, one post-import hook, one unwrap.
        specs = [*framework_targets(), *specs]
        if specs:
            patcher = TargetPatcher(tel, specs)
            patcher.install()
            type(self)._patcher = patcher

    def _uninstrument(self, **kwargs: Any) -> None:
        _mp.uninstall()
        from otel_agenttrace.replay import _api as replay_api

        replay_api.uninstall()
        if self._patcher is not None:
            self._patcher.uninstall()
            type(self)._patcher = None
        if self._patched is not None:
            self._patched.unwrap()
            type(self)._patched = None
        if self.telemetry is not None:
            if self.telemetry.metrics is not None:
                self.telemetry.metrics.close()
            if self.telemetry.run_root is not None:
                self.telemetry.run_root.end()
        type(self).telemetry = None
