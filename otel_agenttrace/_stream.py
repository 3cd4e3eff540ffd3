"""Stream proxies that always end their span, exactly once.

A streamed response can end five ways: read to the end, an error mid-stream, `close()`, a
context-manager exit, or being dropped (garbage collection). Each path funnels into one
`StreamState`, which ends the span on the first of them and ignores the rest. The sync and async
proxies are thin shells over that state; the provider supplies an accumulator that turns chunks
into the response attributes and output messages.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from itertools import islice
from typing import Any, Protocol

import wrapt

from otel_agenttrace import semconv
from otel_agenttrace._beside import Later, Piece
from otel_agenttrace._folder import BEHIND, FOLDER
from otel_agenttrace._forksafe import renew_after_fork
from otel_agenttrace._lifecycle import guarded, internal_error


class Sink(Protocol):
    """Where a stream's response goes when it ends: its own span (an `Invocation`), or the outer call's
    span a nested SDK call folds into (`_llm.Absorb`)."""

    done: bool

    def elapsed(self) -> float: ...

    def blocked(self) -> bool: ...

    def quiet(self) -> None: ...

    def stop(self, attributes: Any = None, output: Any = None) -> None: ...  # output: a Piece, or None

    def fail(
        self, exc: BaseException, attributes: Any = None, output: dict[str, Any] | None = None, etype: str | None = None
    ) -> None: ...


class Accumulator(Protocol):
    """Made by its factory as `make(capture)`, or `make(True, False)`: the output content alone (content beside
    the span, whose response attributes another accumulator or the stream's ends give; `result()`'s
    attributes are then empty)."""

    def add(self, chunk: Any) -> None: ...

    def result(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Response attributes, and output content (or None)."""
        ...


# Chunks kept by reference before they are folded into the accumulator: a stream of up to this many
# chunks is folded once, when it ends; a longer one in batches of this size, so memory stays bounded.
BATCH = 1024
# The last chunks a one-choice stream keeps when only its ends are read (`StreamState.ring`): its finish reason and
# usage come last (OpenAI's usage chunk follows the finish reason's, Anthropic's `message_stop` its `message_delta`),
# with one to spare for a server that sends one more after them. Each chunk kept past the next one is freed late, out
# of the caches, at ~1.6 us of the caller's time: 8 kept cost ~8 us more a stream than 3 (bench/README.md, 2026-12-05,
# an eleventh session). Keeping the last alone, the finish reason read from the body's last bytes, was no cheaper.
RING = 3
# A stream whose first chunk has an empty id (Azure OpenAI's prompt-filter frame) keeps more: Azure's content-filter
# annotation frames follow its finish reason, before the usage.
WIDE_RING = 8


def fold(acc: Accumulator, chunks: list[Any]) -> None:
    """Chunks into an accumulator, in order (one frame for the batch when the accumulator has `add_all`)."""
    add_all = getattr(acc, "add_all", None)
    if add_all is not None:
        add_all(chunks)
    else:
        for chunk in chunks:
            acc.add(chunk)


class Pending(list):  # type: ignore[type-arg]
    """A stream's output content, folded from the chunks it kept off the caller's thread: by the folding
    thread soon after the stream ends (`_folder`), or by the exporter if it asks first (by the caller as the
    stream ends when the folding thread is behind). The first to come folds, under a lock; the chunks are
    let go then.

    A list `[accumulator or None, its factory, chunks or None, error or None]`, not an object with an
    `__init__`: made on every stream's path, and a list is made without running Python code."""

    __slots__ = ()

    def fold(self) -> None:
        with _FOLDING:
            chunks = self[_CHUNKS]
            if chunks is None:
                return
            self[_CHUNKS] = None
            try:
                acc = self[_ACC]
                if acc is None:
                    acc = self[_ACC] = self[_MAKE](True, False)
                fold(acc, chunks)
            except Exception as exc:  # reported where the content is asked for: the exporter's thread
                self[_ERROR] = exc

    def output(self) -> Any:
        self.fold()
        if self[_ERROR] is not None:
            raise self[_ERROR]
        return self[_ACC].result()[1]


_ACC, _MAKE, _CHUNKS, _ERROR = range(4)
_FOLDING = threading.Lock()  # on the caller's thread only for a Pending no other thread has yet
renew_after_fork(sys.modules[__name__], _FOLDING=threading.Lock)


def _headless(chunk: Any) -> bool:
    """Whether a chunk has an empty id: one that precedes the response's own chunks (Azure OpenAI's
    prompt-filter frame). Only a str id counts: other providers' events have none. Read from the instance's
    fields, not `getattr`: on a pydantic event without the field that is a `__getattr__` raising (~2 us)."""
    fields = getattr(chunk, "__dict__", None)
    response_id = fields.get("id") if fields is not None else None
    return type(response_id) is str and not response_id


class StreamAbandonedError(Exception):
    """Recorded (never raised) when a stream is dropped before it was read to the end or closed."""


class StreamState:
    """One response's ending, shared by every proxy that hands out its data (a stream, the raw response
    it was parsed from): the first ending wins.

    Per chunk only a reference is kept (`chunks`); the accumulator folds them when the stream ends (or a
    batch is full). With content beside the span (`beside`), the accumulator here reads the response
    attributes only, and the content is built off this thread (`_beside.Entry`) by an accumulator
    `make(True, False)` makes there: from the response body's bytes (`tap`, for a call that never waited),
    else from the kept chunks.

    Without content on this thread the accumulator may be left to be made (`acc` None, `make(False)`): a
    stream that ends before a batch is full is then read by `ends(chunks, choices)` alone, the provider's
    reader of the response attributes from the first and last chunks (`choices`: the request's `n`)."""

    __slots__ = (
        "acc",
        "beside",
        "choices",
        "chunks",
        "content",
        "counter",
        "ends",
        "first",
        "first_chunk",
        "heading",
        "inv",
        "make",
        "ring",
        "tap",
    )

    def __init__(
        self,
        inv: Sink,
        acc: Accumulator | None,
        beside: bool = False,
        make: Callable[..., Accumulator] | None = None,
        ends: Callable[[list[Any], int], dict[str, Any]] | None = None,
        choices: int = 1,
    ) -> None:
        self.inv = inv
        self.acc = acc
        self.beside = beside
        self.make = make
        self.ends = ends
        self.choices = choices
        self.content: Accumulator | None = None  # the content's accumulator, once a full batch was folded here
        self.chunks: list[Any] = []
        self.first_chunk: float | None = None
        # Beside the span: the response body's bytes as the SDK reads them (`_tap`), which a stream read to its
        # end has its content decoded from, off this thread; None: the content is folded from the chunks.
        self.tap: Any = None
        # Only the first chunk and the last RING (WIDE_RING) are kept (`chunks` a bounded deque), when nothing needs
        # the others: the ends give the attributes of a one-choice stream, and its content, if any, comes from the
        # body. The chunks then die as the user lets them go: kept, ~10 tracked objects each, they outlived
        # collections (~50k instructions a 23-chunk stream). `first`, and `counter` (its next value less one: the
        # chunks handed out so far, counted in C as the relay hands them out) are set then.
        self.ring = False
        # A ring whose first chunk has an empty id (Azure OpenAI's prompt-filter frame, whose model is empty too):
        # the chunks after it go the relay's long way until one has the response's id, which becomes `first`.
        self.heading = False

    def accumulator(self) -> Accumulator:
        """The accumulator of this stream's chunks, made on first use."""
        acc = self.acc
        if acc is None:
            assert self.make is not None, "StreamState needs an accumulator or its factory"
            acc = self.acc = self.make(False)
            if getattr(acc, "choices", False) is None:  # it reads the kept chunks from the end as far as it needs
                acc.choices = self.choices  # type: ignore[attr-defined]
        return acc

    def on_chunk(self, chunk: Any) -> None:
        if self.first_chunk is None:
            try:
                self.first_chunk = self.inv.elapsed()
                if self.ends is not None and self.choices == 1 and self.acc is None:
                    tap = self.tap
                    if not self.beside or (tap is not None and tap.decodable()):
                        if tap is not None:  # its content is a few byte strings: held until the exporter asks
                            self.inv.quiet()
                        self.ring, self.first, self.counter = True, chunk, itertools.count(2)
                        headless = self.heading = _headless(chunk)
                        self.chunks = deque(maxlen=WIDE_RING if headless else RING)  # type: ignore[assignment]
                        return
            except Exception as exc:
                internal_error("stream chunk", exc)
        elif self.heading:
            self.chunks.append(chunk)
            handed = next(self.counter)
            # Bounded: a stream whose ids stay empty goes on the short way after a ring's worth.
            if not _headless(chunk) or handed > WIDE_RING:
                self.first, self.heading = chunk, False
            return
        chunks = self.chunks
        chunks.append(chunk)
        if len(chunks) >= BATCH:
            self._fold()

    def fold_batch(self) -> None:
        """A full batch of a long stream, folded as it goes so that memory stays bounded."""
        self._fold()

    def _fold(self) -> list[Any]:
        """Fold the kept chunks into the accumulator; returns those whose content is still to be folded
        (`beside`: off this thread)."""
        chunks, self.chunks = self.chunks, []
        try:
            fold(self.accumulator(), chunks)
            if self.beside and len(chunks) >= BATCH:
                # A long stream: its content is folded here too, batch by batch, to keep memory bounded.
                if self.content is None:
                    assert self.make is not None, "content beside the span needs the accumulator's factory"
                    self.content = self.make(True, False)
                fold(self.content, chunks)
                if self.tap is not None:  # the chunks give the content now: our copy of the body goes
                    self.tap.trim()
                return []
        except Exception as exc:
            internal_error("stream chunk", exc)
        return chunks

    def _result(self, complete: bool = False) -> tuple[dict[str, Any], Piece | None]:
        """The response attributes and output content; `complete`: the stream was read to its end (its body,
        if tapped, holds exactly the events the user was handed)."""
        output: Piece | None = None
        ends = self.ends
        if self.acc is None and ends is not None:  # nothing folded here yet: read the stream's ends
            if self.ring:
                rest, self.chunks, self.first = [self.first, *self.chunks], [], None
            else:
                rest, self.chunks = self.chunks, []
            try:
                attrs = ends(rest, self.choices)
            except Exception as exc:
                internal_error("stream result", exc)
                attrs = {}
        else:
            rest = self._fold()
            try:
                attrs, output = self.accumulator().result()
            except Exception as exc:
                internal_error("stream result", exc)
                attrs, output = {}, None
        if self.beside:
            assert self.make is not None, "content beside the span needs the accumulator's factory"
            tap, self.tap = self.tap, None
            # Decoded from the body off this thread, the chunks dying with the user's last reference: a stream
            # read to its end, or, keeping a ring, left early (the events of the chunks handed out).
            if tap is not None and (self.ring or (complete and self.content is None)):
                try:
                    output = tap.output(self.make, None if complete else next(self.counter) - 1)
                except Exception as exc:
                    internal_error("stream body", exc)
            if output is None and not self.ring:  # a ring's chunks are not the stream's
                # Folded from the chunks with the rest of the span's content, soon after it ends (`_beside.Entry`).
                pending = Pending((self.content, self.make, rest, None))
                if not self.inv.blocked() or FOLDER.waiting() >= BEHIND:
                    # The folding thread will not be woken for this stream (it never blocked), or has not run for
                    # a while: kept, the chunks outlive collections (measured in a loop of streams that never
                    # blocks: 300-570 us a call in collections), folded here 40-90 us.
                    pending.fold()
                output = Later(pending.output)
        if self.first_chunk is not None:
            attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk
        return attrs, output

    def finish(self, complete: bool = False) -> None:
        """The response ended well: read to its end (`complete`), or closed by the user, or its body read."""
        inv = self.inv
        if not inv.done:
            attrs, output = self._result(complete)
            try:  # guarded(), inlined: on every stream's path
                inv.stop(attrs, output)
            except Exception as exc:
                internal_error("stream end", exc)

    def fail(self, exc: BaseException) -> None:
        if not self.inv.done:
            attrs, output = self._result()
            guarded("stream error", self.inv.fail, exc, attrs, output)

    def close(self, exc: BaseException | None = None) -> None:
        """Closed by the user, possibly early: what was received is the response. A `GeneratorExit` leaving a
        `with stream:` is no error of the call: the generator reading it (LangChain's `stream()`, the
        user's own) was closed early, as after a `break`."""
        if self.inv.done:
            return
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.fail(exc)
        else:
            self.finish()

    def __del__(self) -> None:
        # Dropped: no proxy, relay or raw response holds this response any more, and it had not ended. (Not
        # the proxy's __del__: a `for` may hold the relay alone; an async relay whose event loop closed is
        # freed without being closed; both may be freed as cyclic garbage together.)
        if not self.inv.done:
            guarded("stream abandoned", self.abandon)

    def abandon(self) -> None:
        if self.inv.done:
            return
        attrs, output = self._result()
        attrs[semconv.AGENTTRACE_STREAM_ABANDONED] = True
        guarded(
            "stream abandoned",
            self.inv.fail,
            StreamAbandonedError("stream was dropped before it was read to the end or closed"),
            attrs,
            output,
            "stream_abandoned",
        )


def _relay(source: Iterator[Any], state: StreamState) -> Iterator[Any]:
    """The chunks of `source`, each kept by reference on its way to the user, and the stream's ending
    reported to `state`.

    A generator over `islice`, not a `__next__` method: per chunk the user's `for` resumes this frame
    and the loop below appends, with no Python call (a proxy's `__next__` cost ~4k instructions a chunk,
    this ~0.5k). A relay dropped before its end leaves that to the state (`StreamState.__del__`)."""
    try:
        # The first chunk goes the long way (its time is recorded), and so do those after it while a ring waits for
        # the response's id (`StreamState.heading`).
        for chunk in source:
            state.on_chunk(chunk)
            yield chunk
            if not state.heading:
                break
        if state.ring:
            append = state.chunks.append
            for chunk, _ in zip(source, state.counter, strict=False):  # counted in C
                append(chunk)
                yield chunk
        while not state.ring:
            chunks = state.chunks
            append = chunks.append
            for chunk in islice(source, BATCH - len(chunks)):
                append(chunk)
                yield chunk
            if len(chunks) < BATCH:  # the source ended before the batch was full
                break
            state.fold_batch()
    except GeneratorExit:  # closed or collected before its end: dropped unread, or after a `break`
        state.abandon()
        raise
    except BaseException as exc:
        state.fail(exc)
        raise
    state.finish(True)


def _plain(self: Any) -> Iterator[Any]:  # the shape `source()` recognises (OpenAI's Stream.__iter__)
    for item in self._iterator:  # noqa: UP028 (the SDK's code, as it is written)
        yield item


async def _aplain(self: Any) -> AsyncIterator[Any]:  # OpenAI's AsyncStream.__aiter__
    async for item in self._iterator:
        yield item


_PLAIN: dict[type, bool] = {}  # stream class -> whether its iteration is `_plain`'s (or `_aplain`'s)


# The flags that change what code does (generator kinds, *args, **kwargs); not a module's __future__ imports.
_KIND = inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR | inspect.CO_COROUTINE | inspect.CO_VARARGS
_KIND |= inspect.CO_VARKEYWORDS


def _same_code(method: Any, reference: Any) -> bool:
    code, ref = getattr(method, "__code__", None), reference.__code__
    return (
        code is not None
        and code.co_code == ref.co_code
        and code.co_names == ref.co_names
        and code.co_consts == ref.co_consts
        and code.co_flags & _KIND == ref.co_flags & _KIND
        and not code.co_freevars
    )


def source(stream: Any, is_async: bool) -> Any:
    """What a relay reads: the stream's iterator, or, when the stream's own `__iter__` does nothing but
    hand on the items of its `_iterator` one by one (the OpenAI SDK's Stream and AsyncStream), that
    `_iterator`: the same items in the same order, one generator fewer per chunk. Recognised by its code,
    not by name or version: a stream whose iteration does more (Anthropic's reports each item to the SDK's
    own tracing) or has changed is iterated as it is."""
    cls = type(stream)
    plain = _PLAIN.get(cls)
    if plain is None:
        method = getattr(cls, "__aiter__" if is_async else "__iter__", None)
        plain = _same_code(method, _aplain if is_async else _plain)
        if len(_PLAIN) < 64:
            _PLAIN[cls] = plain
    if plain:
        iterator = getattr(stream, "_iterator", None)
        if iterator is not None:
            return iterator
    return stream.__aiter__() if is_async else iter(stream)


def proxy(stream: Any, state: StreamState, is_async: bool) -> Any:
    """The proxy to hand the user instead of `stream`, reporting its ending to `state`. (The proxies have no
    `__init__` of their own: wrapt's, in C, and one attribute set, on every stream's path.)"""
    wrapper = AsyncStreamProxy(stream) if is_async else StreamProxy(stream)
    wrapper._self_state = state
    return wrapper


class StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """Wraps a provider's sync stream (made by `proxy()`); everything else passes through to it."""

    _self_state: StreamState
    _self_relay: Iterator[Any] | None = None  # the class's until iterated: one attribute set less per stream

    def _self_chunks(self) -> Iterator[Any]:
        relay = self._self_relay
        if relay is None:
            relay = self._self_relay = _relay(source(self.__wrapped__, False), self._self_state)
        return relay

    # One relay for the stream's life: a second `for` after a `break` goes on where the first stopped. (The
    # method itself, not a call of it: on every stream's path.)
    __iter__ = _self_chunks

    def __next__(self) -> Any:
        return next(self._self_chunks())

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            result = self.__wrapped__.__exit__(exc_type, exc, tb)
        except BaseException as error:  # closing failed: the user's own error, if any, is the one recorded
            self._self_state.close(exc if exc is not None else error)
            raise
        self._self_state.close(exc)
        return result

    def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
        except BaseException as error:
            self._self_state.close(error)
            raise
        self._self_state.close()
        return result


async def _arelay(source: AsyncIterator[Any], state: StreamState) -> AsyncIterator[Any]:
    """`_relay` for an async stream: an async generator (there is no async islice), so the per-chunk work
    is this frame's, but no coroutine is made per chunk as an `async def __anext__` would."""
    try:
        first = True
        heading = False
        counter = None
        async for chunk in source:
            if first or heading:  # as in `_relay`: the first chunk, and those while a ring waits for the id
                first = False
                state.on_chunk(chunk)
                heading = state.heading
                if state.ring:
                    counter = state.counter
            else:
                chunks = state.chunks
                chunks.append(chunk)
                if counter is not None:
                    next(counter)
                elif len(chunks) >= BATCH:
                    state.fold_batch()
            yield chunk
    except GeneratorExit:  # closed, or finalized by the event loop, before its end
        state.abandon()
        raise
    except BaseException as exc:
        state.fail(exc)
        raise
    state.finish(True)


class AsyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """Wraps a provider's async stream (made by `proxy()`); everything else passes through to it."""

    _self_state: StreamState
    _self_relay: AsyncIterator[Any] | None = None

    def _self_chunks(self) -> AsyncIterator[Any]:
        relay = self._self_relay
        if relay is None:
            relay = self._self_relay = _arelay(source(self.__wrapped__, True), self._self_state)
        return relay

    __aiter__ = _self_chunks

    def __anext__(self) -> Awaitable[Any]:
        return self._self_chunks().__anext__()

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            result = await self.__wrapped__.__aexit__(exc_type, exc, tb)
        except BaseException as error:
            self._self_state.close(exc if exc is not None else error)
            raise
        self._self_state.close(exc)
        return result

    async def close(self) -> Any:
        try:
            result = await self.__wrapped__.close()
        except BaseException as error:
            self._self_state.close(error)
            raise
        self._self_state.close()
        return result

    async def aclose(self) -> Any:
        return await self.close()
