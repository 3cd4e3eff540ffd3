"""A planner → executor agent built like real agent code: a `BaseProvider` in front of the OpenAI
SDK, a `ToolRegistry`, and node classes. It imports nothing of otel-agenttrace: the spans come
from the `[tool.agenttrace]` targets in examples/pyproject.toml."""
