"""Replaying the official OpenTelemetry instrumentations' recorded cassettes.

tests/data/official/{openai,anthropic}/NAME.json hold the HTTP responses of the upstream cassette
NAME (opentelemetry-python-contrib, instrumentation-genai/*/tests/cassettes), as recorded: status,
content type and body, in order. The real SDK clients get them through an `httpx2.MockTransport`
that answers for the recorded host (api.openai.com, api.anthropic.com), so server.address/port are
the ones the upstream tests expect and nothing leaves the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from fakes import FakeResponse, FakeTransport

DATA = Path(__file__).parent.parent / "data" / "official"
# The recorded hosts: answered by the transport, never resolved.
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com"


def cassette(provider: str, name: str) -> FakeTransport:
    recorded = json.loads((DATA / provider / f"{name}.json").read_text())
    responses = [
        FakeResponse(
            r["status"],
            (r["body"] or "").encode(),
            content_type=r["content_type"],
            streamed=r["content_type"].startswith("text/event-stream"),
        )
        for r in recorded["responses"]
    ]
    return FakeTransport(responses)


def openai_client(name: str, async_: bool = False) -> Any:
    transport = cassette("openai", name)
    if async_:
        return openai.AsyncOpenAI(
            api_key="test_openai_api_key",
            base_url=OPENAI_URL,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
        )
    return openai.OpenAI(
        api_key="test_openai_api_key",
        base_url=OPENAI_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def anthropic_client(name: str, async_: bool = False) -> Any:
    transport = cassette("anthropic", name)
    if async_:
        return anthropic.AsyncAnthropic(
            api_key="test_anthropic_api_key",
            base_url=ANTHROPIC_URL,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
        )
    return anthropic.Anthropic(
        api_key="test_anthropic_api_key",
        base_url=ANTHROPIC_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )
