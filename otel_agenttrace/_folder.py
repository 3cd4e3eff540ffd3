"""A stream's content folded soon after it ends, on a thread of its own, not when its span is exported.

With content beside the span (the default) a stream keeps a reference to each chunk, and its content is
folded from them off the caller's thread. The SDKs make ~10 objects the cyclic collector tracks per chunk
(a pydantic model, its `__dict__`, fields set, choices list, choice and delta models). Kept until the span
is exported (up to the processor's schedule delay, seconds with the SDK's BatchSpanProcessor), they
outlive two collections and reach the oldest generation, whose growth then sets off full collections of
the whole heap on whatever thread allocates next: the caller's, mostly. Folded within a GIL switch
interval of the stream's end they die young, as the chunks of an uninstrumented loop do.

The caller's part is one `SimpleQueue.put` (C) per stream. Whichever comes first folds a stream's content,
this thread or the exporter; the other finds it folded (`Pending`).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

from otel_agenttrace._forksafe import renew_after_fork

_log = logging.getLogger("otel_agenttrace")


class Foldable(Protocol):
    def fold(self) -> None:
        """Fold what is kept; never raises (an error is kept for whoever asks for the result)."""
        ...


class Folder:
    """One daemon thread, started on first use, that folds what `soon()` hands it, in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Foldable] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failed = False  # the thread could not be started: the exporter folds everything
        self._lock = threading.Lock()
        renew_after_fork(self, Folder._reset, _lock=threading.Lock)

    def soon(self, task: Foldable) -> None:
        if self._thread is None and not self._start():
            return
        self._queue.put(task)

    def _start(self) -> bool:
        with self._lock:
            if self._thread is None and not self._failed:
                thread = threading.Thread(target=self._run, args=(self._queue,), name="AgentTraceFolder", daemon=True)
                try:
                    thread.start()
                except RuntimeError as exc:  # interpreter shutdown, or no more threads
                    self._failed = True
                    _log.debug("agenttrace: no folding thread (%s); content is folded at export", exc)
                    return False
                self._thread = thread
            return self._thread is not None

    @staticmethod
    def _run(tasks: queue.SimpleQueue[Foldable]) -> None:
        get = tasks.get
        while True:
            task = get()
            task.fold()
            del task  # the chunks go now, not when the next task arrives

    def _reset(self) -> None:
        # A forked child has no thread; what the parent had queued is folded by the child's exporter, if any.
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._failed = False

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until what was handed over so far is folded (tests)."""
        if self._thread is None:
            return
        done = threading.Event()
        self.soon(_Signal(done))
        done.wait(timeout)


class _Signal:
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def fold(self) -> None:
        self.event.set()


FOLDER = Folder()


def soon(task: Any) -> None:
    FOLDER.soon(task)


__all__ = ["FOLDER", "Foldable", "Folder", "soon"]
