"""Anthropic SDK: messages.create / parse / stream(), and the beta messages resource; sync and async.

anthropic 2.x emits its own CLIENT span per API call. While one of our LLM spans is current, that
span is suppressed (target `start_api_call_span`): the design's one-LLM-span rule, and ours carries
the full conventions (name, content, metrics). Input tokens follow the spec:
input + cache_read + cache_creation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import wrapt

from otel_agenttrace import semconv
from otel_agenttrace._lifecycle import Telemetry, current_llm, internal_error
from otel_agenttrace._llm import Endpoint, absorb_nested, fail_stream, finish_stream, make_wrapper, start_stream
from otel_agenttrace._patch_table import Target
from otel_agenttrace.providers._common import (
    dump,
    fields,
    finish_reason,
    get,
    get_many,
    params,
    response_attributes,
    server_attributes,
    stop_sequences,
    text_part,
    tool_call_part,
    tool_response_part,
)

PROVIDER = "anthropic"
INSTRUMENTS = "anthropic >= 0.30, < 3"

_PARAMS = (
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
)


_STREAMS: tuple[type, ...] = ()


def _is_stream(result: Any) -> bool:
    global _STREAMS
    if not _STREAMS:
        import anthropic

        _STREAMS = (anthropic.Stream, anthropic.AsyncStream)
    return isinstance(result, _STREAMS)


# The SDK's Bedrock and Vertex AI clients call through the same `Messages` resource; their calls are served by
# AWS Bedrock and Google Vertex AI, as the conventions name them. Found by their base class's name: the modules
# that define them import cloud SDKs that need not be installed.
_CLOUDS = {"BaseBedrockClient": "aws.bedrock", "BaseVertexClient": "gcp.vertex_ai"}


def provider_name(instance: Any) -> str:
    """The gen_ai.provider.name of a call through `instance` (an SDK resource)."""
    kind: type = type(getattr(instance, "_client", None))
    return _provider_of(kind)


@functools.lru_cache(maxsize=64)  # decided once per client class
def _provider_of(kind: type) -> str:
    ours = [c.__name__ for c in kind.__mro__ if c.__module__.startswith("anthropic.")]
    return next((_CLOUDS[n] for n in ours if n in _CLOUDS), PROVIDER)


def request(instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.Operation.CHAT,
        semconv.GEN_AI_PROVIDER_NAME: provider_name(instance),
    }
    model = kwargs.get("model")
    if isinstance(model, str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    if instance is not None:
        attrs.update(server_attributes(instance))
    attrs.update(params(kwargs, _PARAMS))
    if "stop_sequences" in kwargs:
        stops = stop_sequences(kwargs["stop_sequences"])
        if stops:
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stops
    attrs[semconv.GEN_AI_REQUEST_STREAM] = kwargs.get("stream") is True
    return attrs


def _block_part(block: Any) -> dict[str, Any]:
    kind = get(block, "type")
    if kind == "text":
        return text_part(get(block, "text", ""))
    if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        return tool_call_part(get(block, "id"), get(block, "name"), dump(get(block, "input")))
    if kind == "tool_result":
        content = get(block, "content")
        if not isinstance(content, str) and content is not None:
            content = [_block_part(b) for b in content]
        return tool_response_part(get(block, "tool_use_id"), content)
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking")}
    if kind == "image":
        source = get(block, "source")
        if get(source, "type") == "url":
            return {"type": "uri", "modality": "image", "uri": get(source, "url")}
        return {"type": "blob", "modality": "image", "mime_type": get(source, "media_type")}
    return {"type": kind or "unknown", "content": dump(block)}


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    return [_block_part(b) for b in content]


def request_content(kwargs: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    messages = kwargs.get("messages")
    if messages is not None:
        content[semconv.GEN_AI_INPUT_MESSAGES] = [
            {"role": get(m, "role"), "parts": _parts(get(m, "content"))} for m in messages
        ]
    system = kwargs.get("system")
    if isinstance(system, (str, list, tuple)) and system:
        content[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = _parts(system)
    tools = kwargs.get("tools")
    if tools:
        definitions = []
        for tool in tools:
            definition = {"type": "function", "name": get(tool, "name")}
            if get(tool, "description") is not None:
                definition["description"] = get(tool, "description")
            schema = get(tool, "input_schema")
            if schema is not None:
                definition["parameters"] = dump(schema)
            definitions.append(definition)
        content[semconv.GEN_AI_TOOL_DEFINITIONS] = definitions
    return content


_USAGE_FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")


def _usage(usage: Any, attrs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Token counts, added to `attrs` (a new dict when None)."""
    if attrs is None:
        attrs = {}
    if usage is None:
        return attrs
    base, read, created, output = get_many(usage, _USAGE_FIELDS)
    return _usage_counts(base, read, created, output, attrs)


def _usage_counts(base: Any, read: Any, created: Any, output: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    """The token-count attributes of the four counts Anthropic reports, added to `attrs`."""
    if isinstance(base, int):
        attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = base + (read or 0) + (created or 0)
    # 0 is a count the provider reported, not an absent one
    if isinstance(read, int):
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
    if isinstance(created, int):
        attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = created
    if isinstance(output, int):
        attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    return attrs


_RESPONSE_FIELDS = fields("id", "model", "stop_reason", "usage")


def response(result: Any, capture: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    response_id, model, stop_reason, usage = _RESPONSE_FIELDS(result)
    attrs = response_attributes(response_id, model, [stop_reason] if stop_reason else None)
    _usage(usage, attrs)
    return attrs, _output(get(result, "content"), stop_reason) if capture else None


_OUTPUT_FIELDS = fields("content", "stop_reason")


def message_output(source: Any) -> dict[str, Any]:
    """A message's output content from its content blocks and stop reason alone (`_OUTPUT_FIELDS`: what content
    beside the span keeps of it)."""
    content, stop_reason = source
    return _output(content, stop_reason)


def _output(content: Any, stop_reason: Any) -> dict[str, Any]:
    message = {"role": "assistant", "parts": _parts(content), "finish_reason": finish_reason(stop_reason)}
    return {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}


_STREAM_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_stream_usage = fields(*_STREAM_USAGE_FIELDS)


def _stream_ends(events: list[Any]) -> tuple[Any, list[Any]]:
    """The message's start and its deltas from the last one with a stop reason on (its usage is cumulative),
    in order: without content only these matter (id, model, stop reason, usage). The start comes first and
    the deltas last, so they are looked for from either end, not in every event."""
    deltas: list[Any] = []
    start = None
    read = 0
    for event in reversed(events):
        read += 1
        kind = event.type
        if kind == "message_delta":
            deltas.append(event)
            if get(event.delta, "stop_reason"):
                break
        elif kind == "message_start":
            start = event
            break
    if start is None and read < len(events):  # stopped at the last delta: the start is at the front
        for event in events:
            kind = event.type
            if kind == "message_start":
                start = event
                break
            if kind == "message_delta":
                break
    deltas.reverse()
    return start, deltas


def _add_usage(counts: dict[str, int], usage: Any) -> None:
    # message_delta usage is cumulative; keep the latest non-null value of each field.
    for key, value in zip(_STREAM_USAGE_FIELDS, _stream_usage(usage), strict=True):
        if isinstance(value, int):
            counts[key] = value


def stream_response(events: list[Any], choices: int) -> dict[str, Any]:
    """A whole stream's response attributes, content left out, from the events it kept: what the accumulator
    folds from `_stream_ends` and gives as `result()`, with no accumulator (on every stream's path). `choices` is
    OpenAI's `n`; Anthropic has one."""
    start, deltas = _stream_ends(events)
    response_id = model = stop_reason = base = output = read = created = None
    if start is not None:
        message = start.message
        response_id, model = message.id, message.model
        base, output, read, created = _stream_usage(message.usage)
    for event in deltas:  # usage is cumulative: the latest count of each kind
        stop_reason = get(event.delta, "stop_reason") or stop_reason
        new_base, new_output, new_read, new_created = _stream_usage(event.usage)
        if isinstance(new_base, int):
            base = new_base
        if isinstance(new_output, int):
            output = new_output
        if isinstance(new_read, int):
            read = new_read
        if isinstance(new_created, int):
            created = new_created
    attrs = response_attributes(response_id, model, [stop_reason] if stop_reason else None)
    # As the fold, which keeps counts that are ints only (the start's included).
    read = read if isinstance(read, int) else None
    created = created if isinstance(created, int) else None
    return _usage_counts(base, read, created, output, attrs)


class StreamAccumulator:
    """Raw message events → the attributes and message a non-streamed response gives."""

    __slots__ = ("attributes", "blocks", "capture", "id", "model", "stop_reason", "usage")

    def __init__(self, capture: bool, attributes: bool = True) -> None:
        self.capture = capture
        # False: the output content alone (content beside the span, whose attributes the stream's ends gave).
        self.attributes = attributes
        self.id: str | None = None
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}

    # Attribute access, not get(): this runs per event (decoded bodies arrive as `_raw.Fields`).
    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "message_start":
            message = event.message
            self.id = message.id
            self.model = message.model
            _add_usage(self.usage, message.usage)
            return
        if kind == "message_delta":
            _add_usage(self.usage, event.usage)
        self._add_blocks((event,), self.capture)

    def add_all(self, events: list[Any]) -> None:
        """Events kept by the stream (a batch of them, in order), folded when it ends. Without content only
        the message's start and its last delta matter (id, model, stop reason, cumulative usage): the start
        comes first and the delta last, so they are looked for from either end, not in every event."""
        if self.capture:
            if self.attributes:
                for event in events:
                    self.add(event)
            else:
                self._add_blocks(events, True)
            return
        start, deltas = _stream_ends(events)
        if start is not None:
            self.add(start)
        for event in deltas:
            self.add(event)

    def _add_blocks(self, events: Any, content: bool) -> None:
        """The events' content blocks and stop reason, and with `content` the blocks' deltas. A stream's content
        beside its span is folded here alone, a batch in one frame, on the caller's thread when the stream never
        blocked."""
        blocks = self.blocks
        for event in events:
            kind = event.type
            if kind == "content_block_delta":
                if not content:
                    continue
                block = blocks.get(event.index)
                if block is not None:
                    delta = event.delta
                    piece = get(delta, "text") or get(delta, "partial_json") or get(delta, "thinking")
                    if piece:
                        block["pieces"].append(piece)
            elif kind == "content_block_start":
                blocks[event.index] = {"block": event.content_block, "pieces": []}
            elif kind == "message_delta":
                self.stop_reason = get(event.delta, "stop_reason") or self.stop_reason

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        attrs: dict[str, Any] = {}
        if self.attributes:
            attrs = response_attributes(self.id, self.model, [self.stop_reason] if self.stop_reason else None)
            _usage(self.usage, attrs)
        if not self.capture:
            return attrs, None
        parts = []
        for _, entry in sorted(self.blocks.items()):
            block, text = entry["block"], "".join(entry["pieces"])
            kind = get(block, "type")
            if kind == "text":
                parts.append(text_part(text))
            elif kind == "thinking":
                parts.append({"type": "reasoning", "content": text})
            elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
                parts.append(tool_call_part(get(block, "id"), get(block, "name"), text or dump(get(block, "input"))))
            else:
                parts.append(_block_part(block))
        message = {"role": "assistant", "parts": parts, "finish_reason": finish_reason(self.stop_reason)}
        return attrs, {semconv.GEN_AI_OUTPUT_MESSAGES: [message]}


MESSAGES = Endpoint(
    operation=semconv.Operation.CHAT,
    request=request,
    request_content=request_content,
    content_args=("messages", "system", "tools"),
    response=response,
    output_from=(_OUTPUT_FIELDS, message_output),
    accumulator=StreamAccumulator,
    is_stream=_is_stream,
    stream_response=stream_response,
    raw_responses=True,
)


# --- messages.stream(...): the manager issues the request when entered ---------------------


class _Opened:
    """The stream proxy a manager's request produced, so the manager's exit can report the user's error."""

    __slots__ = ("proxy",)

    def __init__(self) -> None:
        self.proxy: Any = None

    def fail(self, exc: BaseException | None) -> None:
        state = getattr(self.proxy, "_self_state", None)
        if exc is not None and state is not None:
            state.close(exc)  # as the stream's own `with` does: a GeneratorExit passing through is no error


def _traced_request(
    tel: Telemetry, instance: Any, kwargs: dict[str, Any], api_request: Any, opened: _Opened
) -> Callable[[], Any]:
    def run() -> Any:
        request = {**kwargs, "stream": True}
        inv = start_stream(tel, MESSAGES, instance, request)
        if inv is None:
            opened.proxy = absorb_nested(tel, MESSAGES, instance, request, api_request(), False)
            return opened.proxy
        try:
            raw = api_request()
        except BaseException as exc:
            fail_stream(inv, exc)
            raise
        opened.proxy = finish_stream(tel, MESSAGES, inv, raw, False)
        return opened.proxy

    return run


async def _traced_async_request(
    tel: Telemetry, instance: Any, kwargs: dict[str, Any], api_request: Any, opened: _Opened
) -> Any:
    request = {**kwargs, "stream": True}
    inv = start_stream(tel, MESSAGES, instance, request)
    if inv is None:
        opened.proxy = absorb_nested(tel, MESSAGES, instance, request, await api_request, True)
        return opened.proxy
    try:
        raw = await api_request
    except BaseException as exc:
        fail_stream(inv, exc)
        raise
    opened.proxy = finish_stream(tel, MESSAGES, inv, raw, True)
    return opened.proxy


class _ManagerProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """The SDK's stream manager closes the stream on exit without the exception: pass it on first."""

    def __init__(self, wrapped: Any, opened: _Opened) -> None:
        super().__init__(wrapped)
        self._self_opened = opened

    def __enter__(self) -> Any:
        return self.__wrapped__.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._self_opened.fail(exc)
        return self.__wrapped__.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        return await self.__wrapped__.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._self_opened.fail(exc)
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


def _api_request_attribute(manager: Any) -> str:
    """The stream manager's pending request. The SDK offers no public seam between `stream()` and the
    raw `Stream` its `__enter__` builds (the request is a private `__api_request`, name-mangled by each
    manager class: `_MessageStreamManager__api_request`, `_BetaAsyncMessageStreamManager__api_request`,
    ...). Found by its suffix in the instance's own attributes rather than by rebuilding the mangled
    name, so every manager class (messages, beta, sync, async) is covered; tests drive each one."""
    names = [name for name in vars(manager) if name.endswith("__api_request")]
    if len(names) != 1:
        raise AttributeError(f"{type(manager).__name__} has no single pending request attribute: {names}")
    return names[0]


def _stream_helper(is_async: bool) -> Callable[[Telemetry], Callable[..., Any]]:
    def build(tel: Telemetry) -> Callable[..., Any]:
        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            manager = wrapped(*args, **kwargs)
            try:
                attr = _api_request_attribute(manager)
                original = getattr(manager, attr)
                opened = _Opened()
                traced = (
                    _traced_async_request(tel, instance, kwargs, original, opened)
                    if is_async
                    else _traced_request(tel, instance, kwargs, original, opened)
                )
                setattr(manager, attr, traced)
                return _ManagerProxy(manager, opened)
            except Exception as exc:
                internal_error("anthropic messages.stream", exc)
            return manager

        return wrapper

    return build


def _suppress_sdk_span(tel: Telemetry) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        if current_llm.get() is not None:
            return None  # the SDK treats None as "no span" and goes on
        return wrapped(*args, **kwargs)

    return wrapper


def _wrapper(is_async: bool) -> Callable[[Telemetry], Callable[..., Any]]:
    return lambda tel: make_wrapper(tel, MESSAGES, is_async)


_MODULE = "anthropic.resources.messages.messages"
_BETA = "anthropic.resources.beta.messages.messages"
_LEGACY = "anthropic.resources.messages"  # before the messages package existed

TARGETS: tuple[Target, ...] = (
    *(
        row
        for module in (_MODULE, _BETA, _LEGACY)
        for row in (
            Target(module, "Messages", "create", _wrapper(False)),
            Target(module, "AsyncMessages", "create", _wrapper(True)),
            Target(module, "Messages", "parse", _wrapper(False)),
            Target(module, "AsyncMessages", "parse", _wrapper(True)),
            Target(module, "Messages", "stream", _stream_helper(False)),
            Target(module, "AsyncMessages", "stream", _stream_helper(True)),
        )
    ),
    Target("anthropic._base_client", None, "start_api_call_span", _suppress_sdk_span),
)
