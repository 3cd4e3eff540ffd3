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


def _nothing() -> None:
    pass


def _untraced() -> Callable[[], None]:
    return _nothing


def _ignore(exc: BaseException | None) -> None:
    pass


def traced_generator(gen: Generator[Any, Any, Any], start: Open) -> Generator[Any, Any, Any]:
    opened = start()
    enter, end = opened if opened is not None else (_untraced, _ignore)
    sent: Any = None
    pending: BaseException | None = None
    while True:
        leave = enter()
        try:
            item = gen.send(sent) if pending is None else gen.throw(pending)
        except StopIteration as stop:
            end(None)
            return stop.value
        except BaseException as exc:
            end(exc)
            raise
        finally:
            leave()
        pending = None
        try:
            sent = yield item
        except GeneratorExit:  # closed early by the consumer, or dropped
            leave = enter()
            try:
                gen.close()
            except BaseException as exc:
                end(exc)
                raise
            finally:
                leave()
            end(None)
            raise
        except BaseException as exc:  # thrown in by the consumer: the body decides what it means
            pending, sent = exc, None


async def traced_async_generator(agen: AsyncGenerator[Any, Any], start: Open) -> AsyncGenerator[Any, Any]:
    opened = start()
    enter, end = opened if opened is not None else (_untraced, _ignore)
    sent: Any = None
    pending: BaseException | None = None
    while True:
        leave = enter()
        try:
            item = await (agen.asend(sent) if pending is None else agen.athrow(pending))
        except StopAsyncIteration:
            end(None)
            return
        except BaseException as exc:
            end(exc)
            raise
        finally:
            leave()
        pending = None
        try:
            sent = yield item
        except GeneratorExit:
            leave = enter()
            try:
                await agen.aclose()
            except BaseException as exc:
                end(exc)
                raise
            finally:
                leave()
            end(None)
            raise
        except BaseException as exc:
            pending, sent = exc, None
