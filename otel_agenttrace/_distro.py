"""Our OpenTelemetry distro and configurator (entry points `opentelemetry_distro` and
`opentelemetry_configurator`, both named `agenttrace`), used by `opentelemetry-instrument`.

opentelemetry-distro defaults every signal to OTLP over gRPC: a script run by hand with
`OTEL_TRACES_EXPORTER=agenttrace opentelemetry-instrument python my_agent.py` then tried to send
metrics and logs to a Collector on localhost:4317 that nobody started, and was recorded as
`unknown_service:python`. Ours defaults as `agenttrace run` does (see `_defaults`), names the
service after the script, and puts the loss-free `RunSpanProcessor` in front of our exporter.

When opentelemetry-distro is installed too, `opentelemetry-instrument` takes whichever distro
comes first; `OTEL_PYTHON_DISTRO=agenttrace OTEL_PYTHON_CONFIGURATOR=agenttrace` picks ours
(`agenttrace run` sets both).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_agenttrace._defaults import has_service_name, sdk_defaults, service_name

OWN_NAME = "agenttrace"
_LOADER_LOGGER = "opentelemetry.instrumentation.auto_instrumentation._load"


class _SkippedConfiguratorFilter(logging.Filter):
    """Drops the loader's "Configuration of distro not loaded because agenttrace is set" line: choosing ours
    on purpose (as `agenttrace run` does) is not worth a warning on the user's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (str(record.msg).startswith("Configuration of %s not loaded") and OWN_NAME in args[1:])


class AgentTraceDistro(BaseDistro):
    def _configure(self, **kwargs: Any) -> None:
        for name, value in sdk_defaults(os.environ).items():
            os.environ[name] = value
        if os.environ.get("OTEL_PYTHON_CONFIGURATOR", "").strip() == OWN_NAME:
            logging.getLogger(_LOADER_LOGGER).addFilter(_SkippedConfiguratorFilter())


def export_processor(exporter: SpanExporter) -> SpanProcessor:
    """The run-trace exporter gets the loss-free RunSpanProcessor; any other exporter the SDK's batcher."""
    from otel_agenttrace.exporter._batch import processor_for
    from otel_agenttrace.exporter.run_trace import RunTraceExporter

    if isinstance(exporter, RunTraceExporter):
        return processor_for(exporter)
    return BatchSpanProcessor(exporter)


class AgentTraceConfigurator(_OTelSDKConfigurator):
    def _configure(self, **kwargs: Any) -> None:
        kwargs.setdefault("export_span_processor", export_processor)
        if not has_service_name(os.environ):
            attributes = dict(kwargs.get("resource_attributes") or {})
            attributes.setdefault("service.name", service_name(getattr(sys, "orig_argv", None) or sys.argv))
            kwargs["resource_attributes"] = attributes
        super()._configure(**kwargs)
