"""Reading values out of a call by the paths users write in target configuration:
`self.model`, `args.messages`, `return.usage.input_tokens`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()
_signatures: dict[Callable[..., Any], inspect.Signature | None] = {}


def bind(fn: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name (self excluded), plus `__self__`."""
    if fn in _signatures:
        sig = _signatures[fn]
    else:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        _signatures[fn] = sig
    view: dict[str, Any] = {"__self__": instance}
    if sig is None:
        view.update(kwargs)
        return view
    try:
        bound = (
            sig.bind_partial(instance, *args, **kwargs) if instance is not None else sig.bind_partial(*args, **kwargs)
        )
    except TypeError:
        view.update(kwargs)
        return view
    params = iter(sig.parameters)
    skip = next(params, None) if instance is not None else None
    for name, value in bound.arguments.items():
        if name != skip:
            view[name] = value
    return view


def _step(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, _MISSING)
    return getattr(value, key, _MISSING)


def read(path: str, view: Mapping[str, Any], result: Any = _MISSING) -> Any:
    """The value at `path`, or None when any step is missing. Never raises."""
    root, *rest = path.split(".")
    if root == "self":
        value = view.get("__self__", _MISSING)
    elif root == "args":
        if not rest:
            return {k: v for k, v in view.items() if k != "__self__"}
        value = view.get(rest.pop(0), _MISSING)
    elif root == "return":
        value = result
    else:
        return None
    for key in rest:
        if value is _MISSING or value is None:
            return None
        try:
            value = _step(value, key)
        except Exception:
            return None
    return None if value is _MISSING else value
