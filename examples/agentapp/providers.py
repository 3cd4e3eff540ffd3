"""The app's own provider layer: one `generate()` in front of whichever SDK is configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai


@dataclass
class Reply:
    text: str
    tool_calls: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int


class BaseProvider:
    def __init__(self, model: str) -> None:
        self.model = model

    def generate(self, messages: list[dict[str, Any]], tools: list[Any] | None = None, **options: Any) -> Reply:
        raise NotImplementedError


class OpenAIProvider(BaseProvider):
    def __init__(self, model: str, client: openai.OpenAI) -> None:
        super().__init__(model)
        self.client = client

    def generate(self, messages: list[dict[str, Any]], tools: list[Any] | None = None, **options: Any) -> Reply:
        if options.pop("stream", False):
            return self._generate_streamed(messages, **options)
        extra: dict[str, Any] = {"tools": tools} if tools else {}
        response = self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, **extra, **options
        )
        message = response.choices[0].message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        usage = response.usage
        return Reply(
            message.content or "", calls, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0
        )

    def _generate_streamed(self, messages: list[dict[str, Any]], **options: Any) -> Reply:
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            **options,
        )
        parts: list[str] = []
        input_tokens = output_tokens = 0
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
            if chunk.usage:
                input_tokens, output_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        return Reply("".join(parts), [], input_tokens, output_tokens)
