"""The side channel from the caller's thread to the run-trace exporter, for replay recordings.

On the caller's thread a recorded call costs one object and one deque append: references to the
request and response bytes, nothing serialised. The exporter drains the channel on its own thread,
where each entry is redacted (the content policy), encoded and compressed (`_format.encode_entry`),
then written to the run store beside the run. Nothing here is ever a span attribute, so a recording
cannot be forwarded over OTLP. With no run-trace exporter in the process nothing is recorded at all.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import weakref
from typing import Any

from otel_agenttrace._beside import _anchor
from otel_agenttrace._forksafe import renew_after_fork

# Entries waiting for the exporter; the oldest are dropped when no exporter drains them fast enough.
MAX_PENDING = 20_000
MAX_SEEN_TRACES = 4096

_seq = itertools.count()


def next_seq() -> int:
    """Order of recorded calls in this process (itertools.count is atomic under the GIL)."""
    return next(_seq)


class Entry:
    """One recorded exchange or tool result. `done` is false while a stream is still being read."""

    __slots__ = ("data", "done", "kind", "policy", "ref", "seq", "trace_id")

    def __init__(self, kind: str, trace_id: int | str, data: dict[str, Any], policy: Any, done: bool = True) -> None:
        self.kind = kind  # "exchange" | "tool"
        self.trace_id = trace_id
        self.seq = next_seq()
        self.data = data
        self.policy = policy  # the CapturePolicy that redacts it on the export thread
        self.done = done
        self.ref: weakref.ref[Any] | None = None  # the span it lives and dies with (see Channel.put)


UNANCHORED: Any = object()


def anchor_of(span: Any) -> Any:
    """What `Channel.put` needs to tie an entry to `span`, taken without keeping the span alive (an entry's
    data may end up referenced from the content beside that very span, whose entry would then never die):
    None for a span sampled out, a weak reference to the span's anchor, or UNANCHORED."""
    if span is None:
        return UNANCHORED
    if not span.is_recording():
        return None
    target = _anchor(span)
    if target is None:
        return UNANCHORED
    try:
        return weakref.ref(target)
    except TypeError:
        return UNANCHORED


class Channel:
    def __init__(self) -> None:
        # seq -> entry, oldest first. An entry made inside a span lives only as long as that span: a span
        # sampled out gets none, and one dropped before it reached the exporter (a full queue) takes its
        # entry with it when it is garbage-collected, as the content beside the span does (`_beside`).
        self.pending: dict[int, Entry] = {}
        self.consumers = 0
        self._lock = threading.Lock()
        # A fork while the export thread drains: the child gets a fresh lock, and none of the parent's
        # pending entries (the parent writes them; the child's exporter would write them twice).
        renew_after_fork(self, Channel._after_fork_in_child, _lock=threading.Lock)
        # The traces whose command line was written, newest last; bounded, so that a long-lived process making
        # many runs does not grow with them (a trace forgotten early just gets its command line twice).
        self._seen_traces: dict[str, None] = {}
        self.process: dict[str, Any] = {
            "argv": list(sys.argv),
            # The interpreter's own command line: `python -m pkg args` is only here (sys.argv says where
            # the module file is, or "-m" while it is still being found, as under sitecustomize).
            "orig_argv": list(getattr(sys, "orig_argv", ())),
            "cwd": os.getcwd(),
            "executable": sys.executable,
        }

    def _after_fork_in_child(self) -> None:
        self.pending = {}

    def attach(self) -> None:
        """A run-trace exporter exists in this process: recordings have somewhere to go."""
        with self._lock:
            self.consumers += 1

    def detach(self) -> None:
        with self._lock:
            self.consumers = max(0, self.consumers - 1)

    def put(self, entry: Entry, anchor: Any = UNANCHORED) -> None:
        """Keep `entry` for the exporter; with an `anchor_of(span)`, only while some form of that span lives."""
        if anchor is None:
            return  # sampled out: its run trace will never have the step
        if anchor is not UNANCHORED:
            target = anchor()
            if target is None:
                return  # the span is gone already: dropped before it reached the exporter
            # the callback is pending.pop(seq, ref): removes the entry, never raises
            entry.ref = weakref.ref(target, functools.partial(self.pending.pop, entry.seq))
        with self._lock:
            if len(self.pending) >= MAX_PENDING:  # no exporter drains fast enough: the oldest go
                self.pending.pop(next(iter(self.pending)), None)
            self.pending[entry.seq] = entry

    def drain(self, final: bool = False) -> list[Entry]:
        """The entries that are complete (all of them when `final`: a stream never finished is kept as it is)."""
        with self._lock:
            out = [entry for entry in list(self.pending.values()) if entry.done or final]
            for entry in out:
                self.pending.pop(entry.seq, None)
                entry.ref = None
            return out

    def __len__(self) -> int:
        return len(self.pending)

    def first_of_trace(self, trace_id: str) -> bool:
        """True once per trace: its recording gets the process's command line."""
        with self._lock:
            if trace_id in self._seen_traces:
                return False
            if len(self._seen_traces) >= MAX_SEEN_TRACES:
                self._seen_traces.pop(next(iter(self._seen_traces)))
            self._seen_traces[trace_id] = None
            return True


CHANNEL = Channel()


def write_pending(store: Any, final: bool = False) -> None:
    """Called by the run-trace exporter after each batch: the drained entries go into `store`."""
    entries = CHANNEL.drain(final)
    if not entries:
        return
    from otel_agenttrace.replay._format import encode_entries

    store.write_recordings(encode_entries(entries, CHANNEL))
