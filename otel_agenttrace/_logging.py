"""Every line otel-agenttrace logs passes redaction first.

A log line can quote what it is about: an exception message (a provider error that echoes the
request, an argument whose `__repr__` raises with a token in its text), a file name, a URL. A filter
on each of our loggers (`otel_agenttrace` and below) formats the record, runs the built-in redaction
patterns over the text (and over the traceback, when there is one), and keeps the traceback only with
AGENTTRACE_DEBUG: by default a line we write is one line.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from otel_agenttrace import _settings

NAMESPACE = "otel_agenttrace"

_redactor: Any = None


def _redact(text: str) -> str:
    global _redactor
    if _redactor is None:
        from otel_agenttrace._redact import Redactor

        _redactor = Redactor()
    return str(_redactor.redact(text)[0])


class RedactingFilter(logging.Filter):
    """Formats a record once, redacted; drops its traceback unless AGENTTRACE_DEBUG is set."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_agenttrace_redacted", False):
            return True
        try:
            try:
                text = record.getMessage()
            except Exception:  # a bad format or argument: the template alone
                text = str(record.msg)
            if record.exc_info and _settings.current().debug:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.msg = _redact(text)
        except Exception:  # never lose the line over its redaction: say that it was withheld
            record.msg = f"{record.name}: a log line could not be redacted and was withheld"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record._agenttrace_redacted = True
        return True


FILTER = RedactingFilter()


def install() -> None:
    """Puts the filter on every logger of our namespace that exists now (each module makes its
    logger at import; this runs at package import, `instrument()` and exporter construction)."""
    manager = logging.Logger.manager
    for name in list(manager.loggerDict):
        if name == NAMESPACE or name.startswith(NAMESPACE + "."):
            logger = logging.getLogger(name)
            if FILTER not in logger.filters:
                logger.addFilter(FILTER)
    root = logging.getLogger(NAMESPACE)
    if FILTER not in root.filters:
        root.addFilter(FILTER)


__all__ = ["FILTER", "RedactingFilter", "install"]
