"""A target on a generator function (a graph's `stream`): one span over the whole iteration.

The span starts when the body first runs (a generator that is never iterated ran nothing and makes
no span) and ends when the body ends: exhausted, raised, closed early, or dropped (the garbage
collector closes it). It is current only while the body runs, one step at a time, so calls the body
makes nest under it, and nothing of ours stays attached in the consumer's context between items or
after a consumer that stops early. Sends and throws pass through to the body unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

# Enters the span's context for one step of the body; the callable it returns leaves it.
Enter = Callable[[], Callable[[], None]]
# Ends the span: None for a normal end (exhausted or closed early), else the exception the body raised.
End = Callable[[BaseException | None], None]
# Starts the span at the first step: (enter, end), or None when this call is not traced.
Open = Callable[[], "tuple[Enter, End] | None"]


class _Iteration:
    """What the sync and async drivers share: the span's context around each step of the body, the span's
    end (once), and what the consumer last sent or threw in."""

    __slots__ = ("_end", "_enter", "_leave", "closing", "done", "pending", "sent")

    def __init__(self, start: Open) -> None:
        opened = start()
        self._enter: Enter | None = opened[0] if opened is not None else None
        self._end: End | None = opened[1] if opened is not None else None
        self._leave: Callable[[], None] | None = None
        self.sent: Any = None
        self.pending: BaseException | None = None
        self.closing = False  # the consumer closed us: the body's clean exit is a normal end
        self.done = False

    def end(self, exc: BaseException | None) -> None:
        if not self.done:
            self.done = True
            if self._end is not None:
                self._end(exc)

    def received(self, value: Any) -> None:
        self.sent, self.pending = value, None

    def thrown(self, exc: BaseException) -> None:
        self.sent, self.pending = None, exc

    def __enter__(self) -> _Iteration:
        self._leave = self._enter() if self._enter is not None else None
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        leave, self._leave = self._leave, None
        if leave is not None:
            leave()
        if exc is not None and not isinstance(exc, (StopIteration, StopAsyncIteration)):
            self.end(exc)  # the body raised (or failed to close): it passes through unchanged
        elif self.closing or exc is not None:
            self.end(None)  # exhausted, or closed early


def traced_generator(gen: Generator[Any, Any, Any], start: Open) -> Generator[Any, Any, Any]:
    it = _Iteration(start)
    while True:
        try:
            with it:
                item = gen.send(it.sent) if it.pending is None else gen.throw(it.pending)
        except StopIteration as stop:
            return stop.value
        try:
            it.received((yield item))
        except GeneratorExit:  # closed early by the consumer, or dropped
            it.closing = True
            with it:
                gen.close()
            raise
        except BaseException as exc:  # thrown in by the consumer: the body decides what it means
            it.thrown(exc)


async def traced_async_generator(agen: AsyncGenerator[Any, Any], start: Open) -> AsyncGenerator[Any, Any]:
    it = _Iteration(start)
    while True:
        try:
            with it:
                item = await (agen.asend(it.sent) if it.pending is None else agen.athrow(it.pending))
        except StopAsyncIteration:
            return
        try:
            it.received((yield item))
        except GeneratorExit:
            it.closing = True
            with it:
                await agen.aclose()
            raise
        except BaseException as exc:
            it.thrown(exc)
