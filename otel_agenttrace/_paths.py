"""Reading values out of a call by the paths users write in target configuration:
`self.model`, `args.messages`, `return.usage.input_tokens`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()


class _Binder:
    """A function's parameters, read once: binding a call is then two dict updates, not
    `inspect.Signature.bind` (about ten times slower, and this runs on every traced call)."""

    __slots__ = ("defaults", "positional", "varargs")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.positional: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.varargs: str | None = None
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                self.positional.append(param.name)
            elif param.kind is param.VAR_POSITIONAL:
                self.varargs = param.name
            if param.default is not param.empty:
                self.defaults[param.name] = param.default

    def bind(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = self.positional[1:] if instance is not None and self.positional else self.positional
        view = dict(self.defaults)
        view.update(zip(names, args, strict=False))
        if self.varargs is not None and len(args) > len(names):
            view[self.varargs] = args[len(names) :]
        view.update(kwargs)
        view["__self__"] = instance
        return view


_binders: dict[Callable[..., Any], _Binder | None] = {}


def binder(fn: Callable[..., Any]) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """`bind` for `fn`, looked up once: (instance, args, kwargs) -> the call's arguments by name."""
    try:
        bind(fn, None, (), {})  # builds and keeps fn's binder (None: not introspectable)
    except Exception:  # at patch time: the call's own guard reports it, if it fails again then
        return functools.partial(bind, fn)
    found = _binders.get(fn)
    return found.bind if found is not None else functools.partial(bind, fn)


def bind(fn: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name (self excluded, defaults filled in), plus `__self__`."""
    if fn in _binders:
        binder = _binders[fn]
    else:
        try:
            binder = _Binder(fn)
        except (TypeError, ValueError):
            binder = None
        _binders[fn] = binder
    if binder is None:
        return {**kwargs, "__self__": instance}
    return binder.bind(instance, args, kwargs)


def _step(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key, _MISSING)
    return getattr(value, key, _MISSING)


Steps = tuple[str, ...]
# path -> its steps: configured paths are few and a call reads several of them (bounded all the same)
_STEPS: dict[str, Steps] = {}
_MAX_STEPS = 1024


def steps(path: str) -> Steps:
    """A path split into its steps, once per path (`read()` takes either)."""
    parsed = _STEPS.get(path)
    if parsed is None:
        parsed = tuple(path.split("."))
        if len(_STEPS) < _MAX_STEPS:
            _STEPS[path] = parsed
    return parsed


def read(path: str | Steps, view: Mapping[str, Any], result: Any = _MISSING) -> Any:
    """The value at `path` (or its `steps()`), or None when any step is missing. Never raises."""
    parsed = path if isinstance(path, tuple) else steps(path)
    root = parsed[0]
    start = 1
    if root == "self":
        value = view.get("__self__", _MISSING)
    elif root == "args":
        if len(parsed) == 1:
            return {k: v for k, v in view.items() if k != "__self__"}
        value = view.get(parsed[1], _MISSING)
        start = 2
    elif root == "return":
        value = result
    else:
        return None
    for key in parsed[start:]:
        if value is _MISSING or value is None:
            return None
        try:
            value = _step(value, key)
        except Exception:
            return None
    return None if value is _MISSING else value
