"""Reading a stream's last events from its body's last bytes, with no full decode.

A one-choice stream whose body is at hand keeps its last chunk alone (`_stream.RING`): what its ends need from
the events before that one (OpenAI's finish reason, Anthropic's message delta) is found here, searching the bytes
from the end. Keeping those chunks instead costs the caller more than this: each is freed out of the CPU's caches.
Both readers are pure, and give None for anything they do not recognise; they never raise on any bytes.
"""

from __future__ import annotations

import json
from typing import Any

_SPACE = b" \t\r\n"
_QUOTE = 0x22
_COLON = 0x3A
_BRACE = 0x7B
_DECODER = json.JSONDecoder()
_SEARCHES = 16  # occurrences looked at, from the end: bounded for a body of many frames after the one sought


def _value_at(buf: bytes, at: int) -> int:
    """Where the value of a key that ends at `at` (`"key"` then `:`) starts, or -1: no colon there (the quoted
    word was a value, not a key), or the bytes end."""
    size = len(buf)
    while at < size and buf[at] in _SPACE:
        at += 1
    if at >= size or buf[at] != _COLON:
        return -1
    at += 1
    while at < size and buf[at] in _SPACE:
        at += 1
    return at if at < size else -1


def _string_after(buf: bytes, at: int) -> str | None:
    """The JSON string value after a key that ends at `at`, or None: not a key, or a value that is not a plain
    string (null, escaped)."""
    at = _value_at(buf, at)
    if at < 0 or buf[at] != _QUOTE:
        return None
    end = buf.find(b'"', at + 1)
    if end < 0:
        return None
    value = buf[at + 1 : end]
    if b"\\" in value:  # never in a finish reason: not one
        return None
    return value.decode("utf-8", "replace")


def last_string(buf: bytes, key: str) -> str | None:
    """The last non-empty string value of JSON key `key` in `buf`. A key is found only as a key: inside a JSON
    string its quotes would be escaped, and a quoted value is followed by no colon."""
    needle = b'"' + key.encode() + b'"'
    end = len(buf)
    for _ in range(_SEARCHES):
        at = buf.rfind(needle, 0, end)
        if at < 0:
            return None
        value = _string_after(buf, at + len(needle))
        if value:
            return value
        end = at
    return None


def last_object(buf: bytes, key: str) -> dict[str, Any] | None:
    """The last JSON object value of key `key` in `buf` (one whose value is null or cut short is passed over)."""
    needle = b'"' + key.encode() + b'"'
    end = len(buf)
    for _ in range(_SEARCHES):
        at = buf.rfind(needle, 0, end)
        if at < 0:
            return None
        end = at
        start = _value_at(buf, at + len(needle))
        if start < 0 or buf[start] != _BRACE:
            continue
        try:
            value, _ = _DECODER.raw_decode(buf[start:].decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def last_event(buf: bytes, kind: str) -> dict[str, Any] | None:
    """The JSON of the last server-sent event data line in `buf` whose `type` is `kind`, or None."""
    needle = kind.encode()
    end = len(buf)
    for _ in range(_SEARCHES):
        at = buf.rfind(needle, 0, end)
        if at < 0:
            return None
        start = buf.rfind(b"\n", 0, at) + 1
        stop = buf.find(b"\n", at)
        line = buf[start : len(buf) if stop < 0 else stop]
        end = start
        if not line.startswith(b"data:"):
            continue  # the `event:` line, or a line cut at the tail's start
        try:
            event = json.loads(line[5:])
        except (ValueError, RecursionError):  # cut short (the body ended in this line), or not JSON
            continue
        if isinstance(event, dict) and event.get("type") == kind:
            return event
    return None
