"""A span's content rendered soon after the span ends, on a thread of its own, not when the span is exported.

With content beside the span (the default) a call keeps a snapshot of its request and a reference to its
response (a stream: to each chunk), and the content is built from them off the caller's thread
(`_beside.Entry`). The SDKs make a dozen objects the cyclic collector tracks per response, ~10 per stream
chunk (a pydantic model, its `__dict__`, fields set, choices list, choice and delta models). Kept until the
span is exported (up to the processor's schedule delay, seconds with the SDK's BatchSpanProcessor), they
outlive two collections and reach the oldest generation, whose growth then sets off full collections of
the whole heap on whatever thread allocates next: the caller's, mostly. Rendered within a GIL switch
interval of the span's end (the caller's next blocking I/O, in a program calling a provider), they die
young, as an uninstrumented program's do, and what waits for the exporter is a few strings.

The caller's part is the count of what waits and one `SimpleQueue.put` (C) per call, or a deque's `append`
for a call that never blocked (`BLOCKED_S`): this thread is woken only by a call that waited, in whose
next wait it can run. Whichever comes first renders an entry, this thread or the exporter; the other
finds it rendered.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from otel_agenttrace._forksafe import renew_after_fork

_log = logging.getLogger("otel_agenttrace")

LIMIT = 1024
# The thread is behind when this many wait: it has not run since they came (a caller that never blocks, and
# that releases the GIL for a moment now and then, as the SDKs over a mock transport do, keeps every other
# thread from it). A stream's chunks, ~10 tracked objects each, are then folded on the caller's thread as the
# stream ends (`_stream`), not kept for this thread: kept, they outlive collections and set off more of them.
BEHIND = 8
# How long the thread waits, once woken, before it folds what came meanwhile (seconds).
PAUSE = 0.02
# A call whose thread waited (wall time minus its CPU time) less than this (seconds) hands its content over
# without waking the thread (`hold`): the caller never blocked in it, so it will likely not block soon, and a
# thread woken now would wait for the GIL while the caller runs on. Such a waiter is woken again each time
# the caller releases the GIL for a moment (the SDKs' one `getrandom` per call), a futex wake on the caller's
# thread every time, and never gets it (CPython hands the GIL over only after a whole switch interval with
# no release). A call to a provider waits on its socket for tens of milliseconds or more; it wakes the thread,
# which folds what was held as well. Calls over a mock transport: at most 60 us on an idle machine; with
# another process busy on the other core, 26 in 1,500 over 0.1 ms (preempted) and 8 over 1 ms. A fast local
# server (bench's loopback one: 0.16-3.4 ms for a stream) may fall either side; both sides are correct.
BLOCKED_S = 0.001


class Foldable(Protocol):
    def fold(self) -> None:
        """Fold what is kept; never raises (an error is kept for whoever asks for the result)."""
        ...


class Folder:
    """One daemon thread, started on first use, that folds what `put()` hands it, and what `hold()` kept
    without waking it.

    `put` is the queue's own (C) `put` once the thread runs, `hold` a deque's `append`: the caller's part is
    that one call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        renew_after_fork(self, Folder._reset, _lock=threading.Lock)

    def _reset(self) -> None:
        # Also in a forked child, which has no thread: what the parent had queued is folded by the child's
        # exporter, if any.
        self._queue: queue.SimpleQueue[Foldable] = queue.SimpleQueue()
        self._held: deque[Foldable] = deque()
        self._thread: threading.Thread | None = None
        self.put: Callable[[Foldable], None] = self._first_put
        self.hold: Callable[[Foldable], None] = self._held.append

    def waiting(self) -> int:
        """What waits to be folded: a caller hands nothing more over past `LIMIT`, so a program that makes
        calls faster than this thread folds them (a loop that never blocks) keeps a bounded amount here; the
        rest is folded by the exporter, or goes with a dropped span."""
        return self._queue.qsize() + len(self._held)

    def _first_put(self, task: Foldable) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(
                    target=self._run, args=(self._queue, self._held), name="AgentTraceFolder", daemon=True
                )
                try:
                    thread.start()
                except RuntimeError as exc:  # interpreter shutdown, or no more threads
                    _log.debug("agenttrace: no folding thread (%s); content is folded at export", exc)
                    self.put = _nowhere  # the exporter folds everything
                    return
                self._thread = thread
                self.put = self._queue.put
        self.put(task)

    @staticmethod
    def _run(tasks: queue.SimpleQueue[Foldable], held: deque[Foldable]) -> None:
        get, empty, take = tasks.get, tasks.empty, held.popleft
        while True:
            task = get()
            # Woken by a call's put: the calls of the next PAUSE are folded with it, in one turn. A thread woken
            # by every put contends for the GIL with a caller that never blocks (and each put then wakes it, a
            # system call on the caller's thread): measured, ~40 us of the caller's CPU per chat call. A caller
            # that blocks on its socket lets this turn run in its wait.
            time.sleep(PAUSE)
            while True:
                while held:  # first: a drain's signal comes after what was held before it
                    take().fold()
                task.fold()
                del task  # the chunks go now, not when the next task arrives
                if empty():
                    break
                task = get()

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until what was handed over so far is folded (tests)."""
        if self._thread is None and not self._held:
            return
        done = threading.Event()
        self.put(_Signal(done))
        done.wait(timeout)


def _nowhere(task: Foldable) -> None:
    pass


class _Signal:
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def fold(self) -> None:
        self.event.set()


FOLDER = Folder()

__all__ = ["BEHIND", "FOLDER", "LIMIT", "Foldable", "Folder"]
