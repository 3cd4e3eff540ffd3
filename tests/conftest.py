"""Shared fixtures: a real SDK TracerProvider/MeterProvider with in-memory readers, and the
instrumentor installed on them for the length of one test."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Bugs in our wrappers must fail tests instead of being logged and swallowed.
os.environ.setdefault("AGENTTRACE_STRICT", "1")
sys.path.insert(0, str(Path(__file__).parent))


from oteltest import Telemetry

from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace._capture import CapturePolicy, ContentMode, policy_from_env

try:
    from hypothesis.configuration import set_hypothesis_home_dir
except ImportError:  # the mcp 1.x environment runs without it
    pass
else:
    # Examples and caches outside the checkout: a test run leaves the source tree as it found it.
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "otel-agenttrace-hypothesis")


@pytest.fixture
def instrument() -> Iterator[Callable[..., Telemetry]]:
    """Call it (optionally with a capture policy or run_root=True) to instrument for this test."""
    instrumentor = AgentTraceInstrumentor()
    made: list[Telemetry] = []

    def install(
        policy: CapturePolicy | ContentMode | None = None, run_root: bool = False, local_content: bool = True
    ) -> Telemetry:
        """local_content=False: no run-trace exporter in the pipeline (spans as any other exporter sees them)."""
        tel = Telemetry(local_content=local_content)
        made.append(tel)
        if isinstance(policy, ContentMode):
            policy = CapturePolicy(mode=policy)
        instrumentor.instrument(
            tracer_provider=tel.tracer_provider,
            meter_provider=tel.meter_provider,
            logger_provider=tel.logger_provider,
            capture_policy=policy or policy_from_env({}),
            run_root=run_root,
        )
        return tel

    yield install
    instrumentor.uninstrument()
    for tel in made:
        tel.close()  # no run-trace-like exporter stays open for the next test


@pytest.fixture
def tel(instrument: Callable[..., Telemetry]) -> Telemetry:
    """Instrumented with the default policy (content captured locally)."""
    return instrument()
