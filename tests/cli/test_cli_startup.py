"""The CLI reads runs; it must not pay for the instrumentation's imports at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import otel_agenttrace


def test_the_cli_imports_no_instrumentation() -> None:
    code = (
        "import json, sys; import otel_agenttrace.cli; "
        "print(json.dumps(sorted(m for m in ('wrapt', 'otel_agenttrace._api', "
        "'otel_agenttrace.instrumentor', 'opentelemetry.instrumentation.instrumentor') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []


def test_the_public_api_still_resolves_from_the_package_root() -> None:
    from otel_agenttrace import AgentTraceInstrumentor, node, tool, workflow
    from otel_agenttrace._api import workflow as api_workflow

    assert workflow is api_workflow and callable(node) and callable(tool)
    assert AgentTraceInstrumentor.__module__ == "otel_agenttrace.instrumentor"
    assert set(otel_agenttrace.__all__) <= set(dir(otel_agenttrace))
    try:
        otel_agenttrace.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")
