"""Replay of recorded runs: recording at the HTTP layer and of tool results, the replay engine, the
comparison engine (`compare`, shared with diff and bisect), and the in-process API.

    with otel_agenttrace.replay("run.json", mode="model") as r:
        agent.run(...)
    r.assert_reproduced()

Imported by the instrumentation's hot path (`_tools`): this module stays light, the rest loads on use.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from otel_agenttrace.replay.errors import Divergence, NotReproduced, ReplayDivergence

if TYPE_CHECKING:
    from otel_agenttrace.replay._api import Replay

__all__ = ["Divergence", "NotReproduced", "Replay", "ReplayDivergence", "replay"]


def replay(
    source: Any, mode: str = "model", tools: str = "replay", strict: bool = False, home: str | None = None
) -> Replay:
    """Replay a recorded run in this process (a context manager). `source`: a run-trace file written by
    `agenttrace dump --with-recording`, its parsed dict, or a run id (prefix) in the store at `home`."""
    from otel_agenttrace.replay._api import Replay

    return Replay(source, mode=mode, tools=tools, strict=strict, home=home)


class _CallableModule(types.ModuleType):
    """`otel_agenttrace.replay(...)` is the API, and `otel_agenttrace.replay` is also this package: once the
    package is imported, Python binds the name to the module, so the module itself must be callable."""

    def __call__(
        self, source: Any, mode: str = "model", tools: str = "replay", strict: bool = False, home: str | None = None
    ) -> Replay:
        return replay(source, mode=mode, tools=tools, strict=strict, home=home)


sys.modules[__name__].__class__ = _CallableModule
