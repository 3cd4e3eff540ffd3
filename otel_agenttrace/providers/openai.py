"""OpenAI SDK: chat completions (create, parse), responses, embeddings; sync and async.

The target table at the bottom drives both wrap and unwrap.
"""

from __future__ import annotations

import functools
from typing import Any

from otel_agenttrace import semconv
from otel_agenttrace._llm import Endpoint, make_wrapper
from otel_agenttrace._patch_table import Target
from otel_agenttrace.providers._common import (
    dump,
    fields,
    finish_reason,
    get,
    get_each,
    param_names,
    params,
    response_attributes,
    server_attributes,
    stop_sequences,
    text_part,
    tool_call_part,
    tool_response_part,
)

PROVIDER = "openai"
# The conventions' name for Azure OpenAI, whose clients are the SDK's own (AzureOpenAI, AsyncAzureOpenAI, and the
# `openai` module's client when it is configured for Azure).
AZURE_PROVIDER = "azure.ai.openai"
INSTRUMENTS = "openai >= 1.0, < 4"

_CHAT_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_completion_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
)
_RESPONSES_PARAMS = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
)
_CHAT_PARAM_NAMES = param_names(_CHAT_PARAMS)
_RESPONSES_PARAM_NAMES = param_names(_RESPONSES_PARAMS)


_STREAMS: tuple[type, ...] = ()


def _is_stream(result: Any) -> bool:
    global _STREAMS
    if not _STREAMS:
        import openai

        _STREAMS = (openai.Stream, openai.AsyncStream)
    return isinstance(result, _STREAMS)


# The provider behind an OpenAI SDK client, by its API's host, as the conventions name them: the SDK also serves
# other providers' OpenAI-compatible APIs (and Azure OpenAI's v1 API through the plain client). Any other host
# (OpenAI's own, a proxy, a local server) is `openai`, or `azure.ai.openai` for the SDK's Azure clients.
_HOSTS = (
    ("openai.azure.com", AZURE_PROVIDER),
    ("api.anthropic.com", "anthropic"),
    ("api.deepseek.com", "deepseek"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.x.ai", "x_ai"),
)


def provider_name(instance: Any, host: Any = None) -> str:
    """The gen_ai.provider.name of a call through `instance` (an SDK resource) to `host`."""
    kind: type = type(getattr(instance, "_client", None))
    return _provider_of(kind, host)


@functools.lru_cache(maxsize=256)  # decided once per (client class, host)
def _provider_of(kind: type, host: Any) -> str:
    if isinstance(host, str):
        host = host.lower()
        for suffix, name in _HOSTS:
            if host == suffix or host.endswith("." + suffix):
                return name
    try:
        from openai.lib.azure import BaseAzureClient
    except ImportError:  # an SDK without Azure clients
        return PROVIDER
    return AZURE_PROVIDER if issubclass(kind, BaseAzureClient) else PROVIDER


def _base(instance: Any, kwargs: dict[str, Any], operation: str) -> dict[str, Any]:
    server = server_attributes(instance) if instance is not None else {}
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: provider_name(instance, server.get(semconv.SERVER_ADDRESS)),
    }
    model = kwargs.get("model")
    if isinstance(model, str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    attrs.update(server)
    # The conventions ask for it unless it is "auto"; SDKs that predate the argument pass it in extra_body.
    tier = kwargs.get("service_tier")
    if not isinstance(tier, str):
        extra = kwargs.get("extra_body")
        tier = get(extra, "service_tier") if isinstance(extra, dict) else None
    if isinstance(tier, str) and tier != "auto":
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    return attrs


def _openai_response_attributes(result: Any, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAI-specific response attributes, added to `attrs` (a new dict when None)."""
    if attrs is None:
        attrs = {}
    tier = get(result, "service_tier")
    if isinstance(tier, str) and tier:
        attrs[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = get(result, "system_fingerprint")
    if isinstance(fingerprint, str) and fingerprint:
        attrs[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    return attrs


def _output_type(response_format: Any) -> str | None:
    kind = get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    if isinstance(response_format, type):  # .parse(response_format=PydanticModel)
        return "json"
    return None


# --- chat completions -------------------------------------------------------------------------


def chat_request(instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = _base(instance, kwargs, semconv.Operation.CHAT)
    if not _CHAT_PARAM_NAMES.isdisjoint(kwargs):
        attrs.update(params(kwargs, _CHAT_PARAMS))
    if "stop" in kwargs:
        stops = stop_sequences(kwargs["stop"])
        if stops:
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    attrs[semconv.GEN_AI_REQUEST_STREAM] = kwargs.get("stream") is True
    if "response_format" in kwargs:
        output_type = _output_type(kwargs["response_format"])
        if output_type:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    return attrs


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = get(part, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(text_part(get(part, "text", "")))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": get(part, "refusal")})
        elif kind == "image_url":
            parts.append({"type": "uri", "modality": "image", "uri": get(get(part, "image_url"), "url")})
        elif kind == "input_image":
            parts.append({"type": "uri", "modality": "image", "uri": get(part, "image_url")})
        else:
            parts.append({"type": kind or "unknown", "content": dump(part)})
    return parts


def chat_input_message(message: Any) -> dict[str, Any]:
    role = get(message, "role")
    if role == "tool":
        return {"role": "tool", "parts": [tool_response_part(get(message, "tool_call_id"), get(message, "content"))]}
    parts = _content_parts(get(message, "content"))
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        parts.append(tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
    return {"role": role, "parts": parts}


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    if not tools or isinstance(tools, (str, bytes)):
        return None
    out = []
    for tool in tools:
        function = get(tool, "function") or tool
        definition = {"type": get(tool, "type", "function"), "name": get(function, "name")}
        for key in ("description", "parameters"):
            value = get(function, key)
            if value is not None:
                definition[key] = dump(value)
        out.append(definition)
    return out


def chat_content(kwargs: dict[str, Any]) -> dict[str, Any]:
    messages = kwargs.get("messages")
    content: dict[str, Any] = {}
    if messages is not None and not isinstance(messages, (str, bytes)):
        content[semconv.GEN_AI_INPUT_MESSAGES] = [chat_input_message(m) for m in messages]
    tools = tool_definitions(kwargs.get("tools"))
    if tools:
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = tools
    return content


def _usage_attributes(
    usage: Any, input_key: str, output_key: str, details_key: str, attrs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Token counts, added to `attrs` (a new dict when None)."""
    if attrs is None:
        attrs = {}
    if usage is None:
        return attrs
    value = get(usage, input_key)
    if isinstance(value, int):
        attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = value
    value = get(usage, output_key)
    if isinstance(value, int):
        attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = value
    details = get(usage, details_key)
    if details is not None:
        cached = get(details, "cached_tokens")
        if isinstance(cached, int):  # 0 is a count the provider reported, not an absent one
            attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    return attrs


def _chat_output_message(message: Any, reason: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    text = get(message, "content")
    if text:
        parts.append(text_part(text))
    refusal = get(message, "refusal")
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in get(message, "tool_calls") or ():
        function = get(call, "function")
        parts.append(tool_call_part(get(call, "id"), get(function, "name"), get(function, "arguments")))
    return {"role": "assistant", "parts": parts, "finish_reason": finish_reason(reason)}


_CHAT_FIELDS = fields("id", "model", "choices", "usage", "service_tier", "system_fingerprint")
_CHAT_USAGE = fields("prompt_tokens", "completion_tokens", "prompt_tokens_details")


def chat_response(result: Any, capture: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    response_id, model, choices, usage, tier, fingerprint = _CHAT_FIELDS(result)
    choices = choices or ()
    reasons = get_each(choices, "finish_reason")
    attrs = _chat_attributes(response_id, model, reasons, usage, tier, fingerprint)
    return attrs, _chat_output(choices, reasons) if capture else None


def _chat_choices(result: Any) -> Any:
    return get(result, "choices")


def chat_output(choices: Any) -> dict[str, Any]:
    """A response's output content from its choices alone (content beside the span keeps no more of it)."""
    choices = choices or ()
    return _chat_output(choices, get_each(choices, "finish_reason"))


def _chat_output(choices: Any, reasons: list[Any]) -> dict[str, Any]:
    return {
        semconv.GEN_AI_OUTPUT_MESSAGES: [
            _chat_output_message(get(c, "message"), r) for c, r in zip(choices, reasons, strict=True)
        ]
    }


def _chat_attributes(
    response_id: Any, model: Any, reasons: list[Any], usage: Any, tier: Any, fingerprint: Any
) -> dict[str, Any]:
    """A chat response's attributes, from its fields (a whole response's, or a stream's first and last chunks')."""
    # response_attributes() and _usage_attributes(), inlined: on every call's path
    attrs: dict[str, Any] = {}
    if response_id:
        attrs[semconv.GEN_AI_RESPONSE_ID] = response_id
    if model:
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
    present = reasons if all(reasons) else [r for r in reasons if r]  # all(): no list made in the usual case
    if present:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = present
    if isinstance(tier, str) and tier:
        attrs[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    if isinstance(fingerprint, str) and fingerprint:
        attrs[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    if usage is not None:
        try:  # an SDK model or decoded Fields: plain attribute reads, no call
            prompt, completion, details = usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details
        except AttributeError:  # a dict, or an SDK type without one of them
            prompt, completion, details = _CHAT_USAGE(usage)
        if isinstance(prompt, int):
            attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = prompt
        if isinstance(completion, int):
            attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = completion
        if details is not None:
            try:
                cached = details.cached_tokens
            except AttributeError:
                cached = get(details, "cached_tokens")
            if isinstance(cached, int):  # 0 is a count the provider reported, not an absent one
                attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    return attrs


def _stream_ends(chunks: list[Any], choices: int) -> tuple[Any, dict[int, str]]:
    """The last usage and each choice's last finish reason among `chunks`, read from the end: they come last,
    so a stream of n chunks costs a few reads, not n. `choices`: how many finish reasons to look for."""
    usage = None
    finish: dict[int, str] = {}
    for chunk in reversed(chunks):
        if usage is None:
            usage = chunk.usage
        for choice in chunk.choices:
            reason = choice.finish_reason
            if reason and choice.index not in finish:
                finish[choice.index] = reason
        if usage is not None and len(finish) >= choices:
            break
    return usage, finish


def chat_stream_response(chunks: list[Any], choices: int) -> dict[str, Any]:
    """A whole stream's response attributes, content left out, from the chunks it kept: the id, model, tier
    and fingerprint of the first, the usage and finish reasons of the last ones. `choices`: the request's `n`."""
    if not chunks:
        return {}
    first = chunks[0]
    # As the accumulator: the first chunk that has an id (not the "" of Azure's prompt-filter frame), else the last.
    if not first.id:
        first = next((chunk for chunk in chunks if chunk.id), chunks[-1])
    usage, finish = _stream_ends(chunks, choices)
    # Attribute reads, as the accumulator's (chunks are SDK models or decoded Fields); getattr for the
    # fields SDKs added later.
    return _chat_attributes(
        first.id,
        first.model,
        [finish[i] for i in sorted(finish)] if len(finish) > 1 else list(finish.values()),
        usage,
        getattr(first, "service_tier", None),
        getattr(first, "system_fingerprint", None),
    )


class ChatStreamAccumulator:
    """Chat chunks → the same attributes and messages a non-streamed response gives."""

    __slots__ = (
        "attributes",
        "capture",
        "choices",
        "finish",
        "id",
        "model",
        "openai",
        "refusals",
        "texts",
        "tool_calls",
        "usage",
    )

    def __init__(self, capture: bool, attributes: bool = True) -> None:
        self.capture = capture
        # False: the output content alone (content beside the span, whose attributes the stream's ends gave).
        self.attributes = attributes
        # How many choices the request asked for (`n`), when the caller knows: the folding of kept chunks
        # then reads them from the end and stops once it has the usage and every choice's finish reason.
        self.choices: int | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.openai: dict[str, Any] = {}
        self.usage: Any = None
        self.texts: dict[int, list[str]] = {}
        self.refusals: dict[int, list[str]] = {}
        self.tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
        self.finish: dict[int, str] = {}

    # Attribute access, not get(): this runs per chunk (decoded bodies arrive as `_raw.Fields`).
    def add(self, chunk: Any) -> None:
        if not self.id:  # empty too: Azure's prompt-filter frame, whose model is empty as well, comes first
            self.id = chunk.id
            self.model = chunk.model
            self.openai = _openai_response_attributes(chunk)
        if chunk.usage is not None:
            self.usage = chunk.usage
        self._add_choices((chunk,), self.capture)

    def add_all(self, chunks: list[Any]) -> None:
        """Chunks kept by the stream (a batch of them, in order), folded when it ends. Without content only
        the response attributes are read: id and model from the first chunk, then the last usage and each
        choice's last finish reason, from the end (they come last: a stream of n chunks costs a few reads,
        not n)."""
        if self.capture:
            if self.attributes:
                for chunk in chunks:
                    self.add(chunk)
            else:
                self._add_choices(chunks, True)
            return
        for chunk in chunks:
            if self.id:
                break
            self.id = chunk.id
            self.model = chunk.model
            self.openai = _openai_response_attributes(chunk)
        expected = self.choices if self.choices is not None else len(chunks) + 1  # unknown: read them all
        usage, finish = _stream_ends(chunks, expected)
        if usage is not None:
            self.usage = usage
        self.finish.update(finish)

    def _add_choices(self, chunks: Any, content: bool) -> None:
        """The chunks' choices: finish reasons, and with `content` their deltas. A stream's content beside its
        span is folded here alone, a batch in one frame, on the caller's thread when the stream never blocked."""
        texts, finish = self.texts, self.finish
        for chunk in chunks:
            for choice in chunk.choices:
                delta = choice.delta
                if content and delta is not None:
                    text = delta.content
                    if text:
                        pieces = texts.get(choice.index)
                        if pieces is None:
                            texts[choice.index] = [text]
                        else:
                            pieces.append(text)
                    if delta.refusal:
                        self.refusals.setdefault(choice.index, []).append(delta.refusal)
                    if delta.tool_calls:
                        self._add_tool_calls(choice.index, delta.tool_calls)
                reason = choice.finish_reason
                if reason:
                    finish[choice.index] = reason

    def _add_tool_calls(self, index: int, deltas: Any) -> None:
        calls = self.tool_calls.setdefault(index, {})
        for delta in deltas:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": []})
            if delta.id:
                call["id"] = delta.id
            function = delta.function
            if function is not None:
                if function.name:
                    call["name"] += function.name
                if function.arguments:
                    call["arguments"].append(function.arguments)

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        attrs: dict[str, Any] = {}
        if self.attributes:
            attrs = response_attributes(self.id, self.model, [self.finish[i] for i in sorted(self.finish)])
            attrs.update(self.openai)
            _usage_attributes(self.usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details", attrs)
        if not self.capture:
            return attrs, None
        messages = []
        for index in sorted(set(self.texts) | set(self.tool_calls) | set(self.finish) | set(self.refusals)):
            parts: list[dict[str, Any]] = []
            if index in self.texts:
                parts.append(text_part("".join(self.texts[index])))
            if index in self.refusals:
                parts.append({"type": "refusal", "content": "".join(self.refusals[index])})
            for _, call in sorted(self.tool_calls.get(index, {}).items()):
                parts.append(tool_call_part(call["id"], call["name"], "".join(call["arguments"])))
            messages.append(
                {"role": "assistant", "parts": parts, "finish_reason": finish_reason(self.finish.get(index))}
            )
        return attrs, {semconv.GEN_AI_OUTPUT_MESSAGES: messages}


CHAT = Endpoint(
    operation=semconv.Operation.CHAT,
    request=chat_request,
    request_content=chat_content,
    content_args=("messages", "tools"),
    response=chat_response,
    output_from=(_chat_choices, chat_output),
    accumulator=ChatStreamAccumulator,
    is_stream=_is_stream,
    stream_response=chat_stream_response,
    raw_responses=True,
)


# --- responses --------------------------------------------------------------------------------


def responses_request(instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = _base(instance, kwargs, semconv.Operation.CHAT)
    if not _RESPONSES_PARAM_NAMES.isdisjoint(kwargs):
        attrs.update(params(kwargs, _RESPONSES_PARAMS))
    attrs[semconv.GEN_AI_REQUEST_STREAM] = kwargs.get("stream") is True
    output_type = _output_type(get(kwargs.get("text"), "format"))
    if output_type:
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    conversation = kwargs.get("conversation")
    conversation_id = conversation if isinstance(conversation, str) else get(conversation, "id")
    if isinstance(conversation_id, str):
        attrs[semconv.GEN_AI_CONVERSATION_ID] = conversation_id
    return attrs


def _responses_input_item(item: Any) -> dict[str, Any]:
    kind = get(item, "type")
    if kind == "function_call_output":
        return {"role": "tool", "parts": [tool_response_part(get(item, "call_id"), get(item, "output"))]}
    if kind == "function_call":
        return {
            "role": "assistant",
            "parts": [tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))],
        }
    role = get(item, "role")
    if role is None:
        return {"role": "user", "parts": [{"type": kind or "unknown", "content": dump(item)}]}
    return {"role": role, "parts": _content_parts(get(item, "content"))}


def responses_content(kwargs: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    given = kwargs.get("input")
    if isinstance(given, str):
        content[semconv.GEN_AI_INPUT_MESSAGES] = [{"role": "user", "parts": [text_part(given)]}]
    elif isinstance(given, (list, tuple)):
        content[semconv.GEN_AI_INPUT_MESSAGES] = [_responses_input_item(i) for i in given]
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = [text_part(instructions)]
    tools = tool_definitions(kwargs.get("tools"))
    if tools:
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = tools
    return content


# Why a Responses API response stopped: `incomplete_details.reason` for an incomplete one.
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _responses_output(response: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The output parts, and the finish reason (None: the response has not finished)."""
    parts: list[dict[str, Any]] = []
    has_call = False
    for item in get(response, "output") or ():
        kind = get(item, "type")
        if kind == "message":
            parts.extend(_content_parts(get(item, "content")))
        elif kind == "function_call":
            has_call = True
            parts.append(tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments")))
        elif kind == "reasoning":
            summary = " ".join(get(s, "text", "") for s in (get(item, "summary") or ()))
            if summary:
                parts.append({"type": "reasoning", "content": summary})
        else:
            parts.append({"type": kind, "content": dump(item)})
    # `status` is the response's lifecycle state, not a finish reason: map it onto the spec's values.
    status = get(response, "status")
    if status == "completed":
        reason: str | None = "tool_call" if has_call else "stop"
    elif status == "incomplete":
        reason = _INCOMPLETE_REASONS.get(get(get(response, "incomplete_details"), "reason"), "length")
    elif status in ("failed", "cancelled"):
        reason = "error"
    else:  # in_progress, queued: a stream cut before its final event
        reason = None
    return parts, reason


def responses_response(result: Any, capture: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    parts, reason = _responses_output(result)
    attrs = response_attributes(get(result, "id"), get(result, "model"), [reason] if reason else None)
    _openai_response_attributes(result, attrs)
    _usage_attributes(get(result, "usage"), "input_tokens", "output_tokens", "input_tokens_details", attrs)
    output = None
    if capture:
        message = {"role": "assistant", "parts": parts, "finish_reason": reason or "error"}
        output = {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}
    return attrs, output


class ResponsesStreamAccumulator:
    """Responses events: the final `response.*` event carries the whole response."""

    __slots__ = ("capture", "final", "texts")

    _FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self, capture: bool, attributes: bool = True) -> None:  # the final event has both: read as one
        self.capture = capture
        self.final: Any = None
        self.texts: list[str] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            if self.capture:
                self.texts.append(event.delta)
        elif kind in self._FINAL or (kind == "response.created" and self.final is None):
            self.final = event.response

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        if self.final is None:
            if not (self.capture and self.texts):
                return {}, None
            message = {"role": "assistant", "parts": [text_part("".join(self.texts))], "finish_reason": "error"}
            return {}, {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}
        attrs, output = responses_response(self.final, self.capture)
        if output and not output[semconv.GEN_AI_OUTPUT_MESSAGES][0]["parts"] and self.texts:
            # Stream cut before the final event: what arrived is the output.
            output[semconv.GEN_AI_OUTPUT_MESSAGES][0]["parts"] = [text_part("".join(self.texts))]
        return attrs, output


RESPONSES = Endpoint(
    operation=semconv.Operation.CHAT,
    request=responses_request,
    request_content=responses_content,
    content_args=("input", "instructions", "tools"),
    response=responses_response,
    accumulator=ResponsesStreamAccumulator,
    is_stream=_is_stream,
    raw_responses=True,
)


# --- embeddings -------------------------------------------------------------------------------


def embeddings_request(instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = _base(instance, kwargs, semconv.Operation.EMBEDDINGS)
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    dimensions = kwargs.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        # asked for: known at start (and for base64 vectors, which cannot be counted), so on the metrics too
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    return attrs


def embeddings_response(result: Any, capture: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    attrs: dict[str, Any] = {}
    model = get(result, "model")
    if model:
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
    data = get(result, "data")
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
    tokens = get(get(result, "usage"), "prompt_tokens")
    if isinstance(tokens, int):
        attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = tokens
    return attrs, None


EMBEDDINGS = Endpoint(
    operation=semconv.Operation.EMBEDDINGS,
    request=embeddings_request,
    request_content=lambda kwargs: None,
    content_args=(),
    response=embeddings_response,
    raw_responses=True,
)


# --- the target table -------------------------------------------------------------------------


def _wrapper(endpoint: Endpoint, is_async: bool) -> Any:
    return lambda tel: make_wrapper(tel, endpoint, is_async)


_CHAT_MODULE = "openai.resources.chat.completions.completions"
_RESPONSES_MODULE = "openai.resources.responses.responses"
_EMBEDDINGS_MODULE = "openai.resources.embeddings"

TARGETS: tuple[Target, ...] = (
    Target(_CHAT_MODULE, "Completions", "create", _wrapper(CHAT, False)),
    Target(_CHAT_MODULE, "AsyncCompletions", "create", _wrapper(CHAT, True)),
    Target(_CHAT_MODULE, "Completions", "parse", _wrapper(CHAT, False)),
    Target(_CHAT_MODULE, "AsyncCompletions", "parse", _wrapper(CHAT, True)),
    # openai < 1.55 kept chat completions in a module, not a package
    Target("openai.resources.chat.completions", "Completions", "create", _wrapper(CHAT, False)),
    Target("openai.resources.chat.completions", "AsyncCompletions", "create", _wrapper(CHAT, True)),
    Target(_RESPONSES_MODULE, "Responses", "create", _wrapper(RESPONSES, False)),
    Target(_RESPONSES_MODULE, "AsyncResponses", "create", _wrapper(RESPONSES, True)),
    Target(_EMBEDDINGS_MODULE, "Embeddings", "create", _wrapper(EMBEDDINGS, False)),
    Target(_EMBEDDINGS_MODULE, "AsyncEmbeddings", "create", _wrapper(EMBEDDINGS, True)),
)
