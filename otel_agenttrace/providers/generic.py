"""LLM calls of user classes named in configuration (a `BaseProvider.generate` in front of SDKs).

The model, messages and output are read by the paths the configuration gives. When the method
calls an instrumented SDK, the nested-call rule folds the SDK's view into this one span.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._code import code_attributes
from otel_agenttrace._config import TargetSpec
from otel_agenttrace._llm import Endpoint
from otel_agenttrace._paths import binder, read, steps
from otel_agenttrace.providers._common import text_part
from otel_agenttrace.providers.openai import chat_input_message

_NO_ARGS: dict[str, Any] = {}  # the view of a response path (it reads `return` only); never changed


def _messages(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [{"role": "user", "parts": [text_part(value)]}]
    try:
        return [
            chat_input_message(m) if not isinstance(m, str) else {"role": "user", "parts": [text_part(m)]}
            for m in value
        ]
    except TypeError:
        return [{"role": "user", "parts": [text_part(str(value))]}]


def _output(value: Any) -> list[dict[str, Any]]:
    part = text_part(value) if isinstance(value, str) else {"type": "json", "content": value}
    return [{"role": "assistant", "parts": [part], "finish_reason": "stop"}]


def endpoint(spec: TargetSpec, fn: Callable[..., Any]) -> Endpoint:
    o = spec.options
    operation = o.get("operation", semconv.Operation.CHAT)
    code = code_attributes(fn)  # once per wrapped function, not per call
    # The configured paths split once, not on every call.
    model_path = steps(o["model"]) if "model" in o else None
    response_paths = [
        (steps(o[key]), attr)
        for key, attr in (
            ("response_model", semconv.GEN_AI_RESPONSE_MODEL),
            ("input_tokens", semconv.GEN_AI_USAGE_INPUT_TOKENS),
            ("output_tokens", semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        )
        if key in o
    ]
    start = {semconv.GEN_AI_OPERATION_NAME: operation, **code}
    if "provider" in o:
        start[semconv.GEN_AI_PROVIDER_NAME] = o["provider"]

    def request(instance: Any, view: dict[str, Any]) -> dict[str, Any]:
        attrs = start.copy()
        model = read(model_path, view) if model_path is not None else None
        if isinstance(model, str):
            attrs[semconv.GEN_AI_REQUEST_MODEL] = model
        return attrs

    def request_content(view: dict[str, Any]) -> dict[str, Any] | None:
        content: dict[str, Any] = {}
        if "messages" in o:
            messages = _messages(read(o["messages"], view))
            if messages is not None:
                content[semconv.GEN_AI_INPUT_MESSAGES] = messages
        if "system" in o:
            system = read(o["system"], view)
            if isinstance(system, str):
                content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = [text_part(system)]
        return content

    def response(result: Any, capture: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
        attrs: dict[str, Any] = {}
        for path, attr in response_paths:
            value = read(path, _NO_ARGS, result)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                attrs[attr] = value
        output = None
        if capture:
            value = read(o["output"], {}, result) if "output" in o else result
            if value is not None:
                output = {semconv.GEN_AI_OUTPUT_MESSAGES: _output(value)}
        return attrs, output

    return Endpoint(
        operation=operation,
        request=request,
        request_content=request_content,
        response=response,
        bind=binder(fn),
    )
