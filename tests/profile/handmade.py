"""A run with known timings, made of real OTel SDK spans with explicit start and end times.

0 ─────────────────────────────────────────────────────────────── 1000 ms  workflow trip
planner 0-200: llm 10-40; critic 50-150 (llm 60-140)
executor 200-900: search 210-260 ✗, search 270-300 (the retry, same arguments),
                  fan-out fetch_a 300-500 | fetch_b 300-800 (HTTP GET 350-700, another tracer) | fetch_c 320-400
writer 900-1000: llm (gpt-4o-mini) 910-990
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_agenttrace import semconv as sc
from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._records import from_readable_span

T0 = 1_795_428_000_000_000_000
MS = 1_000_000


def handmade_run() -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ours = provider.get_tracer("otel_agenttrace")
    http = provider.get_tracer("opentelemetry.instrumentation.httpx")

    def span(
        tracer: Any, name: str, start: int, end: int, parent: Any = None, error: bool = False, **attrs: Any
    ) -> Any:
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        kind = SpanKind.CLIENT if name.startswith(("chat", "GET")) else SpanKind.INTERNAL
        s = tracer.start_span(name, context=ctx, kind=kind, attributes=attrs, start_time=T0 + start * MS)
        s._end_at = T0 + end * MS  # ended by close() below, children first
        if error:
            s.set_status(Status(StatusCode.ERROR, "boom"))
            s.set_attribute(sc.ERROR_TYPE, "LookupError")
        opened.append(s)
        return s

    def node(name: str, start: int, end: int, parent: Any) -> Any:
        return span(
            ours,
            f"invoke_agent {name}",
            start,
            end,
            parent,
            **{sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.GEN_AI_AGENT_NAME: name, sc.AGENTTRACE_NODE_NAME: name},
        )

    def llm(model: str, start: int, end: int, parent: Any, tokens: tuple[int, int]) -> Any:
        return span(
            ours,
            f"chat {model}",
            start,
            end,
            parent,
            **{
                sc.GEN_AI_OPERATION_NAME: "chat",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: model,
                sc.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
            },
        )

    def tool(name: str, start: int, end: int, parent: Any, error: bool = False, q: str = "x") -> Any:
        return span(
            ours,
            f"execute_tool {name}",
            start,
            end,
            parent,
            error,
            **{
                sc.GEN_AI_OPERATION_NAME: "execute_tool",
                sc.GEN_AI_TOOL_NAME: name,
                sc.GEN_AI_TOOL_CALL_ARGUMENTS: f'{{"q": "{q}"}}',
            },
        )

    opened: list[Any] = []
    root = span(
        ours,
        "invoke_workflow trip",
        0,
        1000,
        None,
        **{sc.GEN_AI_OPERATION_NAME: "invoke_workflow", sc.GEN_AI_WORKFLOW_NAME: "trip"},
    )
    planner = node("planner", 0, 200, root)
    llm("gpt-4o", 10, 40, planner, (100, 10))
    critic = node("critic", 50, 150, planner)
    llm("gpt-4o", 60, 140, critic, (200, 20))
    executor = node("executor", 200, 900, root)
    tool("search", 210, 260, executor, error=True)
    tool("search", 270, 300, executor)
    tool("fetch_a", 300, 500, executor, q="a")
    fetch_b = tool("fetch_b", 300, 800, executor, q="b")
    span(
        http,
        "GET",
        350,
        700,
        fetch_b,
        **{"http.request.method": "GET", "url.full": "http://127.0.0.1:9/x", "http.response.status_code": 200},
    )
    tool("fetch_c", 320, 400, executor, q="c")
    writer = node("writer", 900, 1000, root)
    llm("gpt-4o-mini", 910, 990, writer, (50, 5))
    for s in reversed(opened):
        s.end(end_time=s._end_at)
    return assemble([from_readable_span(s) for s in exporter.get_finished_spans()])
