"""The process-wide replay state the hooks read: one attribute check when recording and replay are off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_agenttrace.replay._channel import CHANNEL

if TYPE_CHECKING:
    from otel_agenttrace.replay._engine import ReplayEngine


class Runtime:
    __slots__ = ("engine", "policy")

    def __init__(self) -> None:
        self.policy: Any = None  # the instrumentation's CapturePolicy (recording follows content capture)
        self.engine: ReplayEngine | None = None

    @property
    def active(self) -> bool:
        return self.engine is not None or self.recording_policy() is not None

    def recording_policy(self) -> Any:
        """The policy to record under, or None: no content captured (NO_CONTENT) or no exporter to take it."""
        policy = self.policy
        if policy is None or not policy.enabled or not CHANNEL.consumers:
            return None
        return policy


RUNTIME = Runtime()
