"""Zero code change: `opentelemetry-instrument` loads the `agenttrace` instrumentor from its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path

from fakes import assert_first_chunk_time, slow_sse_response

SCRIPT = Path(__file__).parent / "scripts" / "zero_code_app.py"


def console_spans(text: str) -> list[dict]:
    decoder, spans, i = json.JSONDecoder(), [], 0
    while (i := text.find("{", i)) != -1:
        obj, i = decoder.raw_decode(text, i)
        spans.append(obj)
    return spans


def test_entry_point_is_registered() -> None:
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agenttrace"]
    assert ep.value == "otel_agenttrace.instrumentor:AgentTraceInstrumentor"


def test_opentelemetry_instrument_prints_genai_spans(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-test",
        "AGENTTRACE_STRICT": "1",
    }
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    proc = subprocess.run(
        [str(instrument), sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "app done" in proc.stderr
    spans = console_spans(proc.stdout)
    by_name = {s["name"]: s for s in spans}
    assert {"chat gpt-4o", "chat claude-sonnet-4-6", "invoke_workflow zero_code_app"} <= set(by_name)
    chats = [s for s in spans if s["name"].startswith("chat ")]
    assert len(chats) == 3  # the anthropic SDK's own span is folded into ours
    root = by_name["invoke_workflow zero_code_app"]
    for span in chats:
        assert span["kind"] == "SpanKind.CLIENT"
        assert span["context"]["trace_id"] == root["context"]["trace_id"]
        assert span["parent_id"] == root["context"]["span_id"]
    streamed = next(s for s in chats if s["attributes"].get("gen_ai.request.stream"))
    duration = datetime.fromisoformat(streamed["end_time"]) - datetime.fromisoformat(streamed["start_time"])
    assert_first_chunk_time(
        streamed["attributes"]["gen_ai.response.time_to_first_chunk"],
        duration.total_seconds(),
        slow_sse_response("openai/chat_stream_text.sse"),  # what zero_code_app.py serves
    )
    claude = by_name["chat claude-sonnet-4-6"]["attributes"]
    assert claude["gen_ai.provider.name"] == "anthropic"
    assert claude["gen_ai.usage.input_tokens"] == 14 + 2048 + 1024
    assert by_name["chat gpt-4o"]["resource"]["attributes"]["service.name"] == "zero-code-test"
