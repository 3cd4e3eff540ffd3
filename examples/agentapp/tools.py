"""The app's tool registry: tools by name, JSON-schema descriptions for the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

DOCS = {
    "jaeger": "Jaeger accepts OTLP on port 4317 (gRPC) and 4318 (HTTP): set OTEL_EXPORTER_OTLP_ENDPOINT to it.",
    "tempo": "Tempo ingests OTLP; query a trace back with GET /api/v2/traces/<trace id> on port 3200.",
    "run": "`agenttrace run -- python my_agent.py` records every run of an agent without code changes.",
}
WEATHER = {"lisbon": "sunny, 21 °C", "paris": "cloudy, 14 °C", "reykjavik": "snow, -3 °C"}


def search_docs(query: str) -> list[str]:
    """The passages of the docs that mention any word of the query."""
    words = {w.strip(".,?!").lower() for w in query.split()}
    return [text for key, text in DOCS.items() if key in words or words & set(text.lower().split())]


def get_weather(city: str) -> str:
    """Tomorrow's forecast for a city."""
    try:
        return WEATHER[city.strip().lower()]
    except KeyError:
        raise LookupError(f"weather service has no forecast for {city!r}") from None


def _schema(name: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(properties)},
        },
    }


class ToolRegistry:
    def __init__(self) -> None:
        self.tools: dict[str, Callable[..., Any]] = {"search_docs": search_docs, "get_weather": get_weather}
        self.schemas = [
            _schema("search_docs", "Search the product documentation.", query={"type": "string"}),
            _schema("get_weather", "Tomorrow's weather forecast for a city.", city={"type": "string"}),
        ]

    def execute(self, name: str, arguments: dict[str, Any], call_id: str | None = None) -> Any:
        return self.tools[name](**arguments)

    def call(self, name: str, arguments: str, call_id: str | None = None) -> str:
        """A model's tool call; a failure becomes the tool's result so the model can react to it."""
        try:
            result = self.execute(name, json.loads(arguments or "{}"), call_id)
        except Exception as exc:
            return json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        return json.dumps({"result": result})
