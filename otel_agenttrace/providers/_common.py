"""Pieces every provider mapping shares: reading dicts or SDK objects alike, request-parameter
attributes, and the spec's parts-based message format. (The patch table's `Target` lives in
otel_agenttrace._patch_table.)"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from otel_agenttrace import semconv

_MISSING = object()


def get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a TypedDict-style dict (or decoded JSON) or of an SDK model object.

    On the per-chunk path of every stream: the concrete checks come first, the ABC check
    (slow for objects that are not mappings) only for what has no such attribute."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    value = getattr(obj, key, _MISSING)
    if value is not _MISSING:
        return value
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return default


def get_many(obj: Any, keys: tuple[str, ...]) -> list[Any]:
    """`[get(obj, key) for key in keys]` in one call: the response mappings read several fields of one
    object on every call's path."""
    if obj is None:
        return [None] * len(keys)
    if isinstance(obj, dict):
        return [obj.get(key) for key in keys]
    values = [getattr(obj, key, _MISSING) for key in keys]
    if _MISSING in values:
        return [get(obj, key) if value is _MISSING else value for key, value in zip(keys, values, strict=True)]
    return values


def fields(*keys: str) -> Callable[[Any], Sequence[Any]]:
    """A reader of several fields of one object, `get_many(obj, keys)`, made once per set of keys: a response's
    fields are read on every call's path, and `operator.attrgetter` reads an SDK object's in C. A type that
    lacks one of them (an older SDK) is read field by field from then on; dicts and None are always."""
    if len(keys) < 2:
        raise ValueError("fields() reads two fields or more")  # attrgetter of one key gives no tuple
    many = operator.attrgetter(*keys)
    partial: set[type] = set()  # types read field by field

    def read(obj: Any) -> Sequence[Any]:
        if obj is None or isinstance(obj, dict) or type(obj) in partial:
            return get_many(obj, keys)
        try:
            return many(obj)  # type: ignore[no-any-return]
        except AttributeError:
            if len(partial) < 64:
                partial.add(type(obj))
            return get_many(obj, keys)

    return read


def get_each(objs: Any, key: str) -> list[Any]:
    """`[get(obj, key) for obj in objs]` in one call (the choices of a response, on every call's path)."""
    values = []
    for obj in objs:
        if isinstance(obj, dict):
            values.append(obj.get(key))
            continue
        value = getattr(obj, key, _MISSING) if obj is not None else None
        values.append(get(obj, key) if value is _MISSING else value)
    return values


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def params(kwargs: Mapping[str, Any], table: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Request parameters that were given (SDK sentinels like NOT_GIVEN are skipped by type), as
    arguments or in `extra_body` (sent in the request body all the same; anthropic 2.x takes its
    sampling parameters only there)."""
    out: dict[str, Any] = {}
    extra = kwargs.get("extra_body")
    if isinstance(extra, Mapping) and extra:
        for arg, attr in table:
            value = kwargs.get(arg)
            if not number(value):
                value = extra.get(arg)
            if number(value):
                out[attr] = value
        return out
    # On every call's path: most calls give one or two of these, so test membership first.
    for arg, attr in table:
        if arg in kwargs:
            value = kwargs[arg]
            if number(value):
                out[attr] = value
    return out


def param_names(table: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The arguments `params()` reads for `table`: a call that gives none of them (`names.isdisjoint(kwargs)`,
    one test) needs no `params()` call."""
    return frozenset([*(arg for arg, _ in table), "extra_body"])


def stop_sequences(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


# base URL object -> (the object, its attributes): a client's URL is parsed once, not per call. The entry
# holds the URL, so its id is not reused while the entry lives; a client given a new URL gets a new entry.
_SERVERS: dict[int, tuple[Any, dict[str, Any]]] = {}
_MAX_SERVERS = 64


# The SDKs' own `base_url` properties (by their defining class), which return the URL the client keeps in
# `_base_url`. The OpenAI client's imports a module and calls a function at every read (~1.1 us, openai
# 3.x), on every call's path; the attribute is one lookup. Any other property is read as it is: one that
# computes its URL (the `openai` module's client follows `openai.base_url`) may differ from `_base_url`.
_OWN_URL_PROPERTIES = frozenset(
    {
        "openai._base_client.BaseClient",
        "openai.OpenAI",  # defined in openai._client, whose classes name `openai` as their module
        "openai.AsyncOpenAI",
        "openai._client.OpenAI",
        "openai._client.AsyncOpenAI",
        "anthropic._base_client.BaseClient",
    }
)
_KEEPS_URL: dict[type, bool] = {}  # client class -> whether its base URL is its `_base_url`


def _keeps_url(client: Any) -> bool:
    """Whether `client`'s `base_url` is an SDK's own property, and reading it gives `_base_url` (checked once
    per class: an SDK version whose property does more is read through it)."""
    for klass in type(client).__mro__:
        if "base_url" in vars(klass):
            if f"{klass.__module__}.{klass.__qualname__}" not in _OWN_URL_PROPERTIES:
                return False
            break
    else:
        return False
    try:
        return client.base_url is client._base_url is not None
    except Exception:
        return False


def _base_url(client: Any) -> Any:
    kind = type(client)
    keeps = _KEEPS_URL.get(kind)
    if keeps is None:
        keeps = _keeps_url(client)
        if len(_KEEPS_URL) < _MAX_SERVERS:
            _KEEPS_URL[kind] = keeps
    if keeps:
        url = getattr(client, "_base_url", None)
        if url is not None:
            return url
    return getattr(client, "base_url", None)


def server_attributes(instance: Any) -> dict[str, Any]:
    """server.address/port from the SDK client's base URL (a dict the caller must not change)."""
    client = getattr(instance, "_client", None)
    url = None if client is None else _base_url(client)
    if url is None:
        return {}
    entry = _SERVERS.get(id(url))
    if entry is not None and entry[0] is url:
        return entry[1]
    attrs = _server_attributes(url)
    if len(_SERVERS) >= _MAX_SERVERS:
        _SERVERS.clear()
    _SERVERS[id(url)] = (url, attrs)
    return attrs


def _server_attributes(url: Any) -> dict[str, Any]:
    host = getattr(url, "host", None)
    if not host:
        return {}
    port = getattr(url, "port", None)
    if port is None:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return {semconv.SERVER_ADDRESS: host, semconv.SERVER_PORT: port}


def parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def response_attributes(response_id: Any, model: Any, finish_reasons: list[Any] | None) -> dict[str, Any]:
    """The response id, model and finish reasons that are present, as span attributes."""
    attrs: dict[str, Any] = {}
    if response_id:
        attrs[semconv.GEN_AI_RESPONSE_ID] = response_id
    if model:
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
    if finish_reasons:
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = finish_reasons
    return attrs


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": parse_json(arguments)}


def tool_response_part(call_id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def dump(obj: Any) -> Any:
    """A JSON-friendly copy of an SDK object (pydantic) or plain data."""
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        try:
            return model_dump(mode="json", exclude_none=True)
        except Exception:
            return str(obj)
    return obj


# The spec's finish reasons; providers' own values map onto them for output messages, while
# gen_ai.response.finish_reasons keeps what the provider said (the Responses API says no finish
# reason, only a status: providers/openai.py derives one). docs/conformance.md compares.
FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "incomplete": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "tool_use": "tool_call",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "completed": "stop",
    "failed": "error",
}


def finish_reason(value: Any) -> str:
    """The spec's finish reason of an output message. None (no reason received: a stream closed or cut
    before its end) is "error", as the spec says; never a "stop" that did not happen."""
    return FINISH_REASONS.get(value, value) if isinstance(value, str) else "error"
