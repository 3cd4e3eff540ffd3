"""Patching the user classes named in configuration.

A target whose module is not imported yet is patched by a post-import hook when it is (user code
is never imported early). Subclasses that override the method are patched too, those that exist
and those defined later (through `__init_subclass__`). A target that does not resolve is reported
once and skipped.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

from otel_agenttrace._config import TargetSpec
from otel_agenttrace._lifecycle import Telemetry, internal_error

_log = logging.getLogger("otel_agenttrace")


def _wrapper_for(tel: Telemetry, spec: TargetSpec, fn: Callable[..., Any]) -> Callable[..., Any]:
    if spec.kind == "llm":
        from otel_agenttrace._llm import make_wrapper
        from otel_agenttrace.providers.generic import endpoint

        return make_wrapper(tel, endpoint(spec, fn), inspect.iscoroutinefunction(fn))
    from otel_agenttrace.tools import generic

    return generic.make_wrapper(tel, spec, fn)


class TargetPatcher:
    def __init__(self, tel: Telemetry, specs: list[TargetSpec]) -> None:
        self.tel = tel
        self.specs = specs
        self.active = False
        self._wrapped: list[tuple[Any, str]] = []
        self._subclass_hooks: list[tuple[type, Any]] = []
        self._undo: list[Callable[[], None]] = []  # registrations made by framework hooks

    def install(self) -> None:
        self.active = True
        for spec in self.specs:
            module = sys.modules.get(spec.module)
            if module is not None:
                self._patch(spec, module)
            else:
                wrapt.register_post_import_hook(functools.partial(self._on_import, spec), spec.module)

    def _on_import(self, spec: TargetSpec, module: ModuleType) -> None:
        if self.active:  # hooks cannot be unregistered; an uninstrumented patcher ignores them
            try:
                self._patch(spec, module)
            except Exception as exc:
                internal_error(f"target {spec.label}", exc)

    def _patch(self, spec: TargetSpec, module: ModuleType) -> None:
        on_import = getattr(spec, "on_import", None)  # a framework registering with its own tracing interface
        if on_import is not None:
            self._undo.append(on_import(self.tel, module))
            return
        owner_name, _, method = spec.qualname.rpartition(".")
        owner: Any = getattr(module, owner_name, None) if owner_name else module
        if owner is None or not callable(getattr(owner, method, None)):
            _log.warning(
                "otel-agenttrace: target %s does not resolve (no %s in %s); skipped",
                spec.label,
                spec.qualname,
                spec.module,
            )
            return
        self._wrap(spec, owner, method)
        if isinstance(owner, type):
            for sub in _all_subclasses(owner):
                if method in sub.__dict__:
                    self._wrap(spec, sub, method)
            self._hook_subclasses(spec, owner, method)

    def _wrap(self, spec: TargetSpec, owner: Any, method: str) -> None:
        fn = owner.__dict__.get(method) if isinstance(owner, type) else None
        fn = fn if fn is not None else getattr(owner, method)
        if isinstance(fn, wrapt.ObjectProxy):
            return
        raw = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        wrapt.wrap_function_wrapper(owner, method, _wrapper_for(self.tel, spec, raw))
        self._wrapped.append((owner, method))

    def _hook_subclasses(self, spec: TargetSpec, base: type, method: str) -> None:
        original = base.__dict__.get("__init_subclass__")
        patcher = self

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            if original is not None:
                original.__get__(None, cls)(**kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)  # type: ignore[misc,arg-type]
            if patcher.active and method in cls.__dict__:
                try:
                    patcher._wrap(spec, cls, method)
                except Exception as exc:
                    internal_error(f"target {spec.label}", exc)

        base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment,method-assign]
        self._subclass_hooks.append((base, original))

    def uninstall(self) -> None:
        self.active = False
        while self._undo:
            self._undo.pop()()
        while self._wrapped:
            owner, method = self._wrapped.pop()
            unwrap(owner, method)
        while self._subclass_hooks:
            base, original = self._subclass_hooks.pop()
            if original is None:
                del base.__init_subclass__
            else:
                base.__init_subclass__ = original  # type: ignore[method-assign]


def _all_subclasses(cls: type) -> list[type]:
    seen: list[type] = []
    stack: list[type] = list(cls.__subclasses__())
    while stack:
        sub = stack.pop()
        if sub not in seen:
            seen.append(sub)
            stack.extend(sub.__subclasses__())
    return seen
