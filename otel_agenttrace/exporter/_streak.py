"""One log line per run of failures: a store or backend that stays down must not log every batch."""

from __future__ import annotations

import logging
from typing import Any


class FailureStreak:
    """Warns on the first failure after a success, and (optionally) says when things work again."""

    __slots__ = ("_failing", "_log")

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._failing = False

    def failed(self, message: str, *args: Any) -> None:
        if not self._failing:
            self._failing = True
            self._log.warning(message, *args)

    def succeeded(self, message: str | None = None, *args: Any) -> None:
        if self._failing:
            self._failing = False
            if message is not None:
                self._log.info(message, *args)
