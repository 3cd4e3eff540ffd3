"""With content beside the span, a complete response's output is built from what `Endpoint.output_from` keeps of
it (OpenAI's choices; Anthropic's content blocks and stop reason), not from the whole response: the same
content the whole response gives, on every recorded response, as SDK models and as decoded bodies."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from otel_agenttrace._llm import Endpoint
from otel_agenttrace._raw import fields
from otel_agenttrace.providers import anthropic as anthropic_provider
from otel_agenttrace.providers import openai as openai_provider
from tests.fakes import load

_CASES = [
    (openai_provider.CHAT, openai.types.chat.ChatCompletion, f"openai/{name}.json")
    for name in ("chat_text", "chat_tool_call", "chat_parallel_tool_calls", "chat_refusal", "chat_parse")
] + [
    (anthropic_provider.MESSAGES, anthropic.types.Message, f"anthropic/{name}.json")
    for name in ("messages_text", "messages_tool_use")
]


@pytest.mark.parametrize("form", ["model", "fields", "dict"])
@pytest.mark.parametrize(("endpoint", "model", "name"), _CASES, ids=[name for _, _, name in _CASES])
def test_the_output_kept_beside_the_span_equals_the_whole_responses(
    endpoint: Endpoint, model: Any, name: str, form: str
) -> None:
    data = json.loads(load(name))
    result = {"model": model.model_validate(data), "fields": fields(data), "dict": data}[form]
    assert endpoint.output_from is not None
    source, build = endpoint.output_from
    kept = source(result)
    assert build(kept) == endpoint.response(result, True)[1]
    if form == "model":  # the response object itself is not what is kept
        assert not isinstance(kept, model)
