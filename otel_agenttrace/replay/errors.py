"""What a replay reports: divergences, and the exception raised into the program when it cannot go on."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

# Divergence kinds.
REQUEST = "request"  # an LLM request that matches no recorded one exactly (served by position)
TOOL = "tool"  # a tool call whose arguments match no recorded call (served by position)
EXHAUSTED = "exhausted"  # more LLM (or tool) calls than the recording holds
UNUSED = "unused"  # recorded calls the replay never made
STEP = "step"  # the replayed run differs from the original at a step (the comparison engine)
FAILED = "failed"  # the program failed where the original did not


@dataclass
class Divergence:
    kind: str
    message: str
    node: str | None = None
    target: str | None = None  # endpoint ("POST /v1/chat/completions") or tool name
    index: int | None = None  # position in the recording (exchanges or tools), or the step index
    field: str | None = None  # the first differing field (a JSON path)
    expected: Any = None
    actual: Any = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Divergence:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


class ReplayDivergence(BaseException):
    """Raised into the replayed program when it cannot be answered from the recording: the recording is
    exhausted, or (with `strict`) a request does not match. A BaseException, like KeyboardInterrupt, so
    that neither the SDK's retry loop nor the agent's `except Exception` turns it into a silent retry."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.message)
        self.divergence = divergence


class NotReproduced(AssertionError):
    """`Replay.assert_reproduced()` failed: the message names the first divergence."""
