"""What agenttrace chooses for the OTel SDK when the user has not: exporters and the service name.

Shared by `agenttrace run` (which puts them in the child's environment) and by our distro and
configurator (`opentelemetry-instrument` by hand), so both paths behave the same. Kept free of
SDK imports: the CLI imports it at startup.

- Traces: the agenttrace exporter (it forwards to OTLP itself when an endpoint is set).
- Metrics and logs: OTLP over the configured protocol when an endpoint for that signal is set,
  else none, so nothing tries to reach a Collector the user did not configure.
- The OTLP protocol default is the spec's `http/protobuf` (opentelemetry-distro sets grpc).
- The service name: the script (or `-m` module) of the Python command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

DEFAULT_PROTOCOL: Final = "http/protobuf"
_PYTHON = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?(\.exe)?$", re.IGNORECASE)
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "-Q"})


def service_name(command: Sequence[str]) -> str:
    """The program's name: the script (or `-m` module) of a python command, else the executable's."""
    if not command:
        return "python"
    executable = Path(command[0]).name
    if _PYTHON.match(executable):
        args = iter(command[1:])
        for arg in args:
            if arg == "-m":
                return next(args, executable)
            if arg.startswith("-m") and len(arg) > 2:
                return arg[2:]
            if arg == "-c" or arg.startswith("-c") or arg == "-":
                return executable
            if arg in _PYTHON_VALUE_OPTIONS:
                next(args, None)
            elif not arg.startswith("-"):
                return Path(arg).stem or executable
        return executable
    return Path(executable).stem or executable


def has_service_name(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SERVICE_NAME", "").strip():
        return True
    items = environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
    return any(item.split("=", 1)[0].strip() == "service.name" for item in items)


def otlp_protocol(environ: Mapping[str, str], signal: str) -> str:
    """The OTLP protocol of one signal (traces, metrics, logs): its own variable, the general one, the spec default."""
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        value = environ.get(name, "").strip().lower()
        if value:
            return value
    return DEFAULT_PROTOCOL


def _signal_exporter(environ: Mapping[str, str], signal: str) -> str:
    if not (environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return "none"
    return "otlp_proto_grpc" if otlp_protocol(environ, signal) == "grpc" else "otlp_proto_http"


def sdk_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """OTEL_{TRACES,METRICS,LOGS}_EXPORTER values for the variables `environ` leaves unset (or empty)."""
    chosen = {
        "OTEL_TRACES_EXPORTER": "agenttrace",
        "OTEL_METRICS_EXPORTER": _signal_exporter(environ, "metrics"),
        "OTEL_LOGS_EXPORTER": _signal_exporter(environ, "logs"),
    }
    return {name: value for name, value in chosen.items() if not environ.get(name, "").strip()}
