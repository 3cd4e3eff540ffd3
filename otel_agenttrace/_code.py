"""Where a traced function is defined: `code.function.name`, `code.file.path`, `code.line.number`.

Computed once per wrapped function, when it is wrapped (never per call), and set on every span of
it, so `agenttrace bundle` can point a reader (or a coding agent) at the source that ran.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from otel_agenttrace import semconv

KEYS = frozenset({semconv.CODE_FUNCTION_NAME, semconv.CODE_FILE_PATH, semconv.CODE_LINE_NUMBER})


def code_attributes(fn: Callable[..., Any] | None) -> dict[str, Any]:
    """The code.* attributes of `fn`; {} for what has no Python source (a builtin, a C extension)."""
    try:
        target = inspect.unwrap(fn) if fn is not None else None  # type: ignore[arg-type]
        code = getattr(target, "__code__", None)
        if code is None:
            return {}
        module = getattr(target, "__module__", None)
        qualname = getattr(target, "__qualname__", None) or code.co_name
        attrs: dict[str, Any] = {
            semconv.CODE_FUNCTION_NAME: f"{module}.{qualname}" if module else str(qualname),
            semconv.CODE_LINE_NUMBER: int(code.co_firstlineno),
        }
        path = inspect.getsourcefile(target) or code.co_filename  # type: ignore[arg-type]
        if path:
            attrs[semconv.CODE_FILE_PATH] = os.path.abspath(path)
        return attrs
    except Exception:  # an exotic callable is traced without a location rather than not at all
        return {}
