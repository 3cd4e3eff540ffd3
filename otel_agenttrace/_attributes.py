"""Attributes this package built, written onto the OpenTelemetry SDK's own span without its per-value checks.

`Span.set_attributes` checks and copies each value in Python: several `isinstance` calls, an ABC check and
a generator for a sequence, ~0.6 µs an attribute. A chat response's 7-9 attributes cost the caller more than
the rest of our span (bench/README.md). Those values are ours, of the plain types the conventions use. So
when the span is the SDK's own, still recording, with no attribute limit that could truncate or drop a value,
they go straight into its attribute map, as `set_attributes` would leave them (a list of strings becomes a
tuple). Anything else takes the public path: another span class (a subclass may override the setter), a
configured limit, a value of another type, an ended span (the SDK's warning), or an SDK whose private shape
is not the one this was written for (found out once, then the public path for good)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span

_logger = logging.getLogger(__name__)

_PLAIN = frozenset((str, int, float, bool))


def _sdk_classes() -> tuple[type, type] | None:
    """The SDK's concrete span class and its attribute map's class, on an SDK whose shape this knows (1.x)."""
    try:
        from opentelemetry.attributes import BoundedAttributes
        from opentelemetry.sdk.trace import _Span
        from opentelemetry.sdk.version import __version__
    except ImportError:
        return None
    return (_Span, BoundedAttributes) if __version__.split(".", 1)[0] == "1" else None


_SDK = _sdk_classes()


def _plain(attributes: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`attributes` as the SDK would store them, if every value is a plain value or a non-empty list or tuple
    of strings; else None."""
    out: dict[str, Any] | None = None
    for key, value in attributes.items():
        if type(key) is not str or not key:  # the SDK drops such a key, with a warning
            return None
        kind = type(value)
        if kind in _PLAIN:
            continue
        if (kind is list or kind is tuple) and value:
            for item in value:
                if type(item) is not str:
                    return None
            if kind is list:
                if out is None:
                    out = dict(attributes)
                out[key] = tuple(value)
            continue
        return None
    return attributes if out is None else out


def _write(span: Any, attributes: Mapping[str, Any], bounded_type: type) -> bool:
    """Whether `attributes` went into the SDK span's map directly."""
    bounded: Any = span._attributes
    kind = type(bounded)  # compared apart: mypy would narrow `bounded` to `object`
    if kind is not bounded_type or bounded.max_value_len is not None:
        return False
    values = _plain(attributes)
    if values is None:
        return False
    limit = bounded.maxlen
    with span._lock:
        if span._end_time is not None or bounded._immutable:
            return False
        with bounded._lock:
            # Counted as if every key were new: a full map drops its oldest, which the public path does.
            if limit is not None and len(bounded._dict) + len(values) > limit:
                return False
            bounded._dict.update(values)
    return True


def set_attributes(span: Span, attributes: Mapping[str, Any]) -> None:
    """`span.set_attributes(attributes)`, for attributes this package built; see the module's docstring."""
    global _SDK
    sdk = _SDK
    if sdk is not None and type(span) is sdk[0]:
        try:
            if _write(span, attributes, sdk[1]):
                return
        except AttributeError as exc:  # an SDK release that moved the privates read above
            _SDK = None
            _logger.debug("span attributes: the SDK's span is not the shape expected (%s): public path", exc)
    span.set_attributes(attributes)
