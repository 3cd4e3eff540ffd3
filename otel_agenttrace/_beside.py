"""Content beside the span: the default (the content switch unset).

The wrapper never sets content on the span. It hands a cheap snapshot (references, and shallow
copies of the mutable containers an agent keeps appending to) to the run-trace exporter through
`CHANNEL`, keyed by the span; the content is built, serialised, redacted and capped off the caller's
thread, by the folding thread soon after the span ends (`Entry`, `_folder`) or by the exporter when
the span reaches it, whichever comes first. So any other exporter or processor in the process sees
metadata only, and the caller pays for a few copies.

Nothing is left behind by a span that never reaches the exporter:
- a span that is not recording (sampled out) gets no entry at all;
- with no run-trace exporter open in the process (`open()`/`close()` count them), nothing is put,
  and the wrappers build no content (`CapturePolicy.enabled` is false): no content at all;
- a span dropped later (a full queue, an exporter that never sees it) takes its entry with it when
  it is garbage-collected: the entry is kept on the span itself (an attribute of its attribute
  mapping, which the SDK's finished copy of the span shares), not in a registry of the channel's.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from otel_agenttrace._folder import FOLDER
from otel_agenttrace._folder import LIMIT as FOLDING_LIMIT
from otel_agenttrace._forksafe import renew_after_fork

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from otel_agenttrace._capture import CapturePolicy

_log = logging.getLogger("otel_agenttrace")

_NOTHING: Final[frozenset[str]] = frozenset()


class Later(partial):  # type: ignore[type-arg]
    """Content built when the exporter asks for it: `Later(fn, *args)()` is a dict of `fn(*args)`'s content values.

    A `functools.partial`: made on every call's path, and a partial is made without running Python code."""

    drop: frozenset[str] = _NOTHING  # keys left out (set on an instance by `without()`)

    def without(self, keys: Iterable[str]) -> Later:
        """The same content minus `keys` (an inner, more exact view provides them)."""
        other = Later(self.func, *self.args)
        other.drop = self.drop | frozenset(keys)
        return other

    def __call__(self, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
        values = self.func(*self.args) or {}
        return {k: v for k, v in values.items() if k not in self.drop} if self.drop else dict(values)


Piece = Mapping[str, Any] | Later


_COPIED_ITEMS: Final = frozenset((dict, list))


def snapshot(value: Any) -> Any:
    """A list, tuple or dict copied, and the dicts and lists directly in it: a history the agent
    appends to, or a message dict it edits, after the call does not change what is recorded."""
    kind = type(value)
    # The items copied inline: a history of n messages is n copies, not n calls too.
    if kind is list or kind is tuple:
        return [item.copy() if type(item) in _COPIED_ITEMS else item for item in value]
    if kind is dict:
        return {key: item.copy() if type(item) in _COPIED_ITEMS else item for key, item in value.items()}
    return value


def snapshot_values(values: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """`snapshot()` of each value (of those of `keys` only, when given: the arguments that become content).
    On every call's path: scalars (model, flags, numbers) pass as they are, and the containers are copied
    here, not in a call each; a history of dicts, the usual one, in C."""
    out: dict[str, Any] = {}
    for key in values if keys is None else keys:
        value = values.get(key, _ABSENT)
        kind = type(value)
        if kind is list or kind is tuple:
            try:
                value = list(map(_copy_dict, value))
            except TypeError:  # not dicts alone
                value = [item.copy() if type(item) in _COPIED_ITEMS else item for item in value]
        elif kind is dict:
            value = {k: item.copy() if type(item) in _COPIED_ITEMS else item for k, item in value.items()}
        elif value is _ABSENT:
            continue
        out[key] = value
    return out


_ABSENT: Final = object()
_copy_dict: Final = dict.copy


def resolve(pieces: Iterable[Piece | None]) -> dict[str, Any]:
    """The content values of pieces in order (later pieces win)."""
    values: dict[str, Any] = {}
    for piece in pieces:
        if piece is None:
            continue
        values.update(piece() if isinstance(piece, Later) else piece)
    return values


def _anchor(span: Any) -> Any:
    """The object an entry lives and dies with: the span's attribute mapping. The SDK hands processors
    a ReadableSpan copy made at `end()` that shares it with the live span, so it lives exactly as long
    as some form of the span does (queued, being exported, or held by the user)."""
    return getattr(span, "_attributes", None)


# The entry's name on its anchor: an instance attribute of the mapping, not one of its items (the span's
# attributes), and not copied with it (the SDK's mapping copies its items only).
_ENTRY: Final = "_agenttrace_content"


class Entry(list):  # type: ignore[type-arg]
    """A span's content beside it, rendered (built, serialised, redacted, capped) once: by the folding thread
    soon after the span ends (`_folder`), or by the exporter if it asks first, whichever comes first.

    Rendered early, the content is a few strings, which the cyclic collector does not track, where the
    pieces are the call's snapshot and its response (a pydantic model: a dozen tracked objects) or a
    stream's chunks: held until export, seconds later, those outlive collections and set off more of them
    on the caller's thread. A list `[policy, pieces, content, error]` (policy None: rendered already):
    made on every call's path, without running Python code."""

    __slots__ = ()

    def fold(self) -> None:
        with _RENDERING:
            pieces = self[_PIECES]
            if pieces is None:
                return
            try:
                values = {k: v for k, v in resolve(pieces).items() if v is not None}
                policy = self[_POLICY]
                if policy is None:
                    self[_CONTENT] = values or None
                else:
                    self[_CONTENT] = policy.content(values) if values else None
            except Exception as exc:  # reported by the exporter (`take`), never on the folding thread
                self[_ERROR] = exc
            # The snapshot and the response go now. Last: a child forked mid-render renders it again.
            self[_PIECES] = None


_POLICY, _PIECES, _CONTENT, _ERROR = range(4)
_RENDERING = threading.Lock()  # never taken on the caller's thread
renew_after_fork(sys.modules[__name__], _RENDERING=threading.Lock)


class ContentChannel:
    """Span -> (policy, content pieces), from the wrapper to the run-trace exporter.

    Each entry is kept on its span's anchor (`_anchor`), so it lives exactly as long as the span: no
    registry, weak reference or lock on the caller's path, and nothing for a dropped span to leave behind."""

    def __init__(self) -> None:
        self._consumers = 0
        self._lock = threading.Lock()
        renew_after_fork(self, _lock=threading.Lock)  # a fork while open()/close() runs elsewhere
        self.refused = 0  # entries not kept: the span is not an SDK span
        self.failed = 0  # entries whose content could not be built

    @property
    def active(self) -> bool:
        """Whether a run-trace exporter is there to take content."""
        return self._consumers > 0

    def open(self) -> None:
        with self._lock:
            self._consumers += 1

    def close(self) -> None:
        with self._lock:
            self._consumers = max(0, self._consumers - 1)

    def put(self, span: Any, policy: CapturePolicy | None, pieces: tuple[Piece, ...], wake: bool = True) -> None:
        """Called before the span ends (a synchronous processor exports inside `end()`). `policy` None:
        the pieces are content attributes rendered already. `wake` False: the folding thread is not woken
        for this entry (the call never blocked: `_folder.BLOCKED_S`)."""
        if not self._consumers or not span.is_recording():
            return
        entry = Entry((policy, pieces, None, None))
        try:  # _anchor(), inlined: on every call's path
            setattr(span._attributes, _ENTRY, entry)
        except AttributeError:  # not an SDK span, or its attributes are a mapping of another kind
            self.refused += 1
            return
        if policy is not None and FOLDER.waiting() < FOLDING_LIMIT:
            if wake:
                FOLDER.put(entry)
            else:
                FOLDER.hold(entry)

    def take(self, span: Any) -> dict[str, Any] | None:
        """The span's content attributes (serialised, redacted, capped), or None; removes the entry."""
        anchor = _anchor(span)
        entry = getattr(anchor, _ENTRY, None)
        if entry is None:
            return None
        try:
            delattr(anchor, _ENTRY)
        except AttributeError:  # another exporter took it meanwhile
            return None
        entry.fold()
        error = entry[_ERROR]
        if error is not None:
            self.failed += 1
            from otel_agenttrace._lifecycle import internal_error

            internal_error("content beside the span", error)
            return None
        content: dict[str, Any] | None = entry[_CONTENT]
        # The folding thread may still hold the entry (`Folder.hold`: it is woken by a call that waited):
        # it holds a husk from now on, not the content.
        entry[_CONTENT] = None
        return content

    def clear(self) -> None:
        """Drop the entry of every span still alive (tests: spans an earlier test's fixtures keep)."""
        for anchor in _anchors():
            try:
                delattr(anchor, _ENTRY)
            except AttributeError:
                continue

    def __len__(self) -> int:
        """The spans alive that hold an entry: a walk of the heap, for tests and diagnostics only."""
        return sum(1 for _ in _anchors())


def _anchors() -> Iterator[Any]:
    for obj in gc.get_objects():
        try:
            found = _ENTRY in object.__getattribute__(obj, "__dict__")
        except Exception:  # no instance dictionary, or one that will not be read
            continue
        if found:
            yield obj


CHANNEL: Final = ContentChannel()


def with_content(span: ReadableSpan, content: Mapping[str, Any] | None) -> ReadableSpan:
    """A copy of a finished span with its content attributes added (the original stays as it is)."""
    if not content:
        return span
    from otel_agenttrace.exporter._records import copy_span

    return copy_span(span, attributes={**(span.attributes or {}), **content})


__all__ = ["CHANNEL", "ContentChannel", "Entry", "Later", "resolve", "snapshot", "snapshot_values", "with_content"]
