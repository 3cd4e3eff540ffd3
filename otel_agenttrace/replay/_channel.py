"""The side channel from the caller's thread to the run-trace exporter, for replay recordings.

On the caller's thread a recorded call costs one object and one deque append: references to the
request and response bytes, nothing serialised. The exporter drains the channel on its own thread,
where each entry is redacted (the content policy), encoded and compressed (`_format.encode_entry`),
then written to the run store beside the run. Nothing here is ever a span attribute, so a recording
cannot be forwarded over OTLP. With no run-trace exporter in the process nothing is recorded at all.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections import deque
from typing import Any

# Entries waiting for the exporter; the oldest are dropped when no exporter drains them fast enough.
MAX_PENDING = 20_000

_seq = itertools.count()


def next_seq() -> int:
    """Order of recorded calls in this process (itertools.count is atomic under the GIL)."""
    return next(_seq)


class Entry:
    """One recorded exchange or tool result. `done` is false while a stream is still being read."""

    __slots__ = ("data", "done", "kind", "policy", "seq", "trace_id")

    def __init__(self, kind: str, trace_id: int | str, data: dict[str, Any], policy: Any, done: bool = True) -> None:
        self.kind = kind  # "exchange" | "tool"
        self.trace_id = trace_id
        self.seq = next_seq()
        self.data = data
        self.policy = policy  # the CapturePolicy that redacts it on the export thread
        self.done = done


class Channel:
    def __init__(self) -> None:
        self.pending: deque[Entry] = deque(maxlen=MAX_PENDING)
        self.consumers = 0
        self._lock = threading.Lock()
        self._seen_traces: set[str] = set()
        self.process: dict[str, Any] = {
            "argv": list(sys.argv),
            "cwd": os.getcwd(),
            "executable": sys.executable,
        }

    def attach(self) -> None:
        """A run-trace exporter exists in this process: recordings have somewhere to go."""
        with self._lock:
            self.consumers += 1

    def detach(self) -> None:
        with self._lock:
            self.consumers = max(0, self.consumers - 1)

    def put(self, entry: Entry) -> None:
        self.pending.append(entry)

    def drain(self, final: bool = False) -> list[Entry]:
        """The entries that are complete (all of them when `final`: a stream never finished is kept as it is)."""
        with self._lock:
            out: list[Entry] = []
            keep: list[Entry] = []
            while self.pending:
                entry = self.pending.popleft()
                (out if entry.done or final else keep).append(entry)
            self.pending.extend(keep)
            return out

    def first_of_trace(self, trace_id: str) -> bool:
        """True once per trace: its recording gets the process's command line."""
        with self._lock:
            if trace_id in self._seen_traces:
                return False
            self._seen_traces.add(trace_id)
            return True


CHANNEL = Channel()


def write_pending(store: Any, final: bool = False) -> None:
    """Called by the run-trace exporter after each batch: the drained entries go into `store`."""
    entries = CHANNEL.drain(final)
    if not entries:
        return
    from otel_agenttrace.replay._format import encode_entries

    store.write_recordings(encode_entries(entries, CHANNEL))
