"""A store or backend that stays down logs once per run of failures, and once when it is back."""

from __future__ import annotations

import logging

import pytest

from otel_agenttrace.exporter._streak import FailureStreak


def test_one_warning_per_run_of_failures_and_one_line_on_recovery(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("otel_agenttrace.test_streak")
    streak = FailureStreak(log)
    with caplog.at_level(logging.INFO, logger="otel_agenttrace.test_streak"):
        streak.succeeded("back")  # nothing failed yet: nothing to say
        for i in range(3):
            streak.failed("down %s", i)
        streak.succeeded("back in %s", "/store")
        streak.succeeded("back in %s", "/store")
        streak.failed("down %s", "again")
        streak.succeeded()  # recovery without a message is silent
        streak.failed("down %s", "third")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "down 0"),
        (logging.INFO, "back in /store"),
        (logging.WARNING, "down again"),
        (logging.WARNING, "down third"),
    ]
