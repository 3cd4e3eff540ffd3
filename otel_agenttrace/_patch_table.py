"""The patch table: one row per patched method, and the one walk that wraps and unwraps by it.

Every instrumented library (providers, tools, frameworks) describes what it patches as a tuple of
`Target` rows. The same rows drive `wrap()` and the `Patched` record `unwrap()` reads, so the two
cannot drift apart. This module sits at the bottom of the package: it imports nothing of ours, and
everything that patches imports it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap as otel_unwrap

_log = logging.getLogger("otel_agenttrace")


@dataclass(frozen=True)
class Target:
    """One row of a patch table: it drives both wrap and unwrap."""

    module: str
    owner: str | None  # class name, or None for a module-level function
    method: str
    # (telemetry) -> wrapt wrapper function(wrapped, instance, args, kwargs)
    wrapper: Callable[[Any], Callable[..., Any]]

    @property
    def label(self) -> str:
        return f"{self.module}.{self.owner + '.' if self.owner else ''}{self.method}"


def resolve(target: Target) -> tuple[Any, str] | None:
    """The object that holds the method, or None when the installed library has no such target."""
    try:
        module = importlib.import_module(target.module)
    except ImportError:
        return None
    owner: Any = module if target.owner is None else getattr(module, target.owner, None)
    if owner is None or not hasattr(owner, target.method):
        return None
    return owner, target.method


def unresolved(targets: Iterable[Target]) -> list[str]:
    """Labels of the rows the installed library lacks."""
    return [target.label for target in targets if resolve(target) is None]


_reported: set[str] = set()


def report_unresolved(targets: Iterable[Target], library: str, consequence: str) -> None:
    """One log line naming the rows of a table the installed library lacks (each named once per process)."""
    new = [label for label in unresolved(targets) if label not in _reported]
    if new:
        _reported.update(new)
        _log.warning("otel-agenttrace: this %s version lacks %s; %s", library, ", ".join(new), consequence)


@dataclass
class Patched:
    """What one walk of the tables wrapped, to be unwrapped in reverse."""

    methods: list[tuple[Any, str]] = field(default_factory=list)
    _seen: set[tuple[int, str]] = field(default_factory=set)

    def wrap(self, targets: Iterable[Target], telemetry: Any) -> None:
        """Wrap every row that resolves; rows this library version lacks are skipped."""
        for target in targets:
            resolved = resolve(target)
            if resolved is None:
                continue
            owner, method = resolved
            key = (id(owner), method)
            if key in self._seen:  # the same class reached through two module paths
                continue
            self._seen.add(key)
            wrapt.wrap_function_wrapper(owner, method, target.wrapper(telemetry))
            self.methods.append((owner, method))

    def unwrap(self) -> None:
        while self.methods:
            owner, method = self.methods.pop()
            otel_unwrap(owner, method)
        self._seen.clear()
