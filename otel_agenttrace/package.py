"""Libraries this distribution instruments, in the form opentelemetry-instrument checks.

Every entry is optional: a library that is missing is skipped, and one outside its range is
skipped with a log line, by the instrumentor itself (see instrumentor.py), so that the
agenttrace instrumentor still loads for whatever else is installed.
"""

_instruments_openai = "openai >= 1.0, < 4"
_instruments_anthropic = "anthropic >= 0.30, < 3"

# Frameworks (otel_agenttrace/frameworks/): supported when imported, each within its range.
_instruments_langchain = "langchain-core >= 0.3, < 2"
_instruments_langgraph = "langgraph >= 1.0, < 2"
_instruments_openai_agents = "openai-agents >= 0.2, < 1"
_instruments_pydantic_ai = "pydantic-ai-slim >= 1.0, < 3"

_instruments: tuple[str, ...] = ()
_supports_metrics = True
