"""Fake HTTP for the real OpenAI and Anthropic SDK clients.

The SDKs run unmodified; only their transport is an ``httpx2.MockTransport`` that serves recorded API responses
from ``tests/data/<provider>/`` in order and records every request it gets. One transport object serves sync and
async clients alike: SSE bodies are a byte stream that is both sync- and async-iterable.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import anthropic
import httpx2
import openai
import pydantic

DATA_DIR = Path(__file__).parent / "data"

# Fake hosts: never resolved, the transport answers first. Fixed so tests can assert server.address / server.port.
OPENAI_BASE_URL = "http://llm.test:8443/v1"
ANTHROPIC_BASE_URL = "http://anthropic.test:8443"
TEST_API_KEY = "test-key"

_ERROR_STATUS = re.compile(r"(?:^|/)error_(\d{3})\.json$")


class WeatherReport(pydantic.BaseModel):
    """The structured-output schema that ``openai/chat_parse.json`` answers."""

    city: str
    temperature_c: float
    conditions: str


def load(name: str) -> bytes:
    """Raw bytes of a fixture, ``name`` relative to tests/data, e.g. ``"openai/chat_text.json"``."""
    path = DATA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"no fixture {name!r} under {DATA_DIR}")
    return path.read_bytes()


def load_json(name: str) -> Any:
    return json.loads(load(name))


@dataclass(frozen=True)
class FakeResponse:
    """One HTTP response to serve. ``streamed`` bodies go out as several chunks, like a live SSE connection."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    streamed: bool = False
    # Streamed only: None splits after each SSE event; a number cuts fixed-size pieces (even mid UTF-8 character).
    chunk_size: int | None = None
    # Streamed only: after this many chunks the connection drops with httpx2.ReadError.
    break_after: int | None = None
    # Streamed only: seconds to wait before each chunk after the first, as a model that is still generating.
    chunk_delay: float = 0.0

    def chunks(self) -> list[bytes]:
        if self.chunk_size is not None:
            if self.chunk_size < 1:
                raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")
            return [self.body[i : i + self.chunk_size] for i in range(0, len(self.body), self.chunk_size)]
        return [part + b"\n\n" for part in self.body.split(b"\n\n") if part] or [self.body]

    def to_httpx(self, request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": self.content_type, **self.headers}
        if not self.streamed:
            return httpx2.Response(self.status, headers=headers, content=self.body, request=request)
        headers.setdefault("transfer-encoding", "chunked")
        stream = _ChunkStream(self.chunks(), self.break_after, request, self.chunk_delay)
        return httpx2.Response(self.status, headers=headers, stream=stream, request=request)


class _ChunkStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(
        self, chunks: Sequence[bytes], break_after: int | None, request: httpx2.Request, delay: float = 0.0
    ) -> None:
        self._chunks = list(chunks)
        self._break_after = break_after
        self._request = request
        self._delay = delay

    def _pieces(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self._chunks):
            if self._break_after is not None and i >= self._break_after:
                raise httpx2.ReadError("fake connection reset mid-stream", request=self._request)
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self._pieces()):
            if i and self._delay:
                time.sleep(self._delay)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(self._pieces()):
            if i and self._delay:
                await asyncio.sleep(self._delay)
            yield chunk


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: Any  # the parsed JSON body; None when the body is empty or not JSON
    content: bytes

    @property
    def path(self) -> str:
        return httpx2.URL(self.url).path


class UnexpectedRequestError(AssertionError):
    """More requests arrived than responses were given.

    The SDKs wrap any transport exception in their ``APIConnectionError`` (this error is its ``__cause__``), so the
    transport also keeps it: ``FakeTransport.assert_all_served()`` raises it again.
    """


class FakeTransport(httpx2.MockTransport):
    """Serves ``responses`` in order; an exception in the list is raised for that request instead."""

    def __init__(
        self, responses: Sequence[FakeResponse | BaseException], record: list[RecordedRequest] | None = None
    ) -> None:
        super().__init__(self._handle)
        self._responses = list(responses)
        self._served = 0
        self.requests: list[RecordedRequest] = record if record is not None else []
        self.errors: list[UnexpectedRequestError] = []

    @property
    def remaining(self) -> int:
        return len(self._responses) - self._served

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        recorded = _record(request)
        self.requests.append(recorded)
        if self._served >= len(self._responses):
            error = UnexpectedRequestError(
                f"fake transport got request #{len(self.requests)} ({recorded.method} {recorded.url}) "
                f"but only {len(self._responses)} response(s) were given"
            )
            self.errors.append(error)
            raise error
        item = self._responses[self._served]
        self._served += 1
        if isinstance(item, BaseException):
            raise item
        return item.to_httpx(request)

    def assert_all_served(self) -> None:
        if self.errors:
            raise self.errors[0]
        if self.remaining:
            raise AssertionError(f"fake transport served {self._served} of {len(self._responses)} response(s)")


def _record(request: httpx2.Request) -> RecordedRequest:
    content = request.content
    body: Any = None
    if content:
        try:
            body = json.loads(content)
        except ValueError:
            body = None
    headers = {key.lower(): value for key, value in request.headers.items()}
    return RecordedRequest(request.method, str(request.url), headers, body, content)


def fake_transport(
    *responses: FakeResponse | BaseException, record: list[RecordedRequest] | None = None
) -> FakeTransport:
    return FakeTransport(responses, record)


def json_response(
    name_or_body: str | Mapping[str, Any], status: int | None = None, headers: Mapping[str, str] | None = None
) -> FakeResponse:
    """A JSON response from a fixture name or a dict. The status defaults to NNN for ``error_NNN.json``, else 200."""
    if isinstance(name_or_body, str):
        body = load(name_or_body)
        if status is None and (match := _ERROR_STATUS.search(name_or_body)):
            status = int(match.group(1))
    else:
        body = json.dumps(name_or_body).encode()
    return FakeResponse(200 if status is None else status, body, headers=dict(headers or {}))


def sse_response(
    name: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    chunk_size: int | None = None,
    break_after: int | None = None,
    chunk_delay: float = 0.0,
) -> FakeResponse:
    return FakeResponse(
        status,
        load(name),
        content_type="text/event-stream; charset=utf-8",
        headers=dict(headers or {}),
        streamed=True,
        chunk_size=chunk_size,
        break_after=break_after,
        chunk_delay=chunk_delay,
    )


# A stream whose chunks after the first come this much apart: time to first chunk must stay below the span's
# duration by at least the delays that follow the first chunk (a value overwritten on every chunk would not).
CHUNK_DELAY_S = 0.01


def slow_sse_response(name: str) -> FakeResponse:
    return sse_response(name, chunk_delay=CHUNK_DELAY_S)


def assert_first_chunk_time(ttfc_s: float, duration_s: float, response: FakeResponse) -> None:
    """Time to first chunk was taken at the first chunk: the rest of the stream took at least its delays.

    One chunk of slack: an SSE decoder may read the next chunk before it hands out the first event.
    """
    after_first = response.chunk_delay * (len(response.chunks()) - 2)
    assert after_first > 0, "the response needs chunk_delay and at least three chunks"
    assert 0 < ttfc_s <= duration_s - after_first, (ttfc_s, duration_s, after_first)


@overload
def openai_client(
    transport: httpx2.MockTransport, async_: Literal[False] = ..., *, strict: bool = ...
) -> openai.OpenAI: ...
@overload
def openai_client(
    transport: httpx2.MockTransport, async_: Literal[True], *, strict: bool = ...
) -> openai.AsyncOpenAI: ...
def openai_client(
    transport: httpx2.MockTransport, async_: bool = False, *, strict: bool = True
) -> openai.OpenAI | openai.AsyncOpenAI:
    """A real OpenAI client whose HTTP goes to ``transport``; ``strict`` validates responses against the SDK types."""
    if async_:
        return openai.AsyncOpenAI(
            api_key=TEST_API_KEY,
            base_url=OPENAI_BASE_URL,
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
            _strict_response_validation=strict,
        )
    return openai.OpenAI(
        api_key=TEST_API_KEY,
        base_url=OPENAI_BASE_URL,
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
        _strict_response_validation=strict,
    )


@overload
def anthropic_client(
    transport: httpx2.MockTransport, async_: Literal[False] = ..., *, sdk_tracing: bool = ..., strict: bool = ...
) -> anthropic.Anthropic: ...
@overload
def anthropic_client(
    transport: httpx2.MockTransport, async_: Literal[True], *, sdk_tracing: bool = ..., strict: bool = ...
) -> anthropic.AsyncAnthropic: ...
def anthropic_client(
    transport: httpx2.MockTransport, async_: bool = False, *, sdk_tracing: bool = True, strict: bool = True
) -> anthropic.Anthropic | anthropic.AsyncAnthropic:
    """A real Anthropic client whose HTTP goes to ``transport``.

    ``sdk_tracing=True`` leaves the SDK's own OpenTelemetry option at its default (``None``: on unless
    ``ANTHROPIC_OPEN_TELEMETRY=false``), as a user who never heard of it gets it;
    ``sdk_tracing=False`` passes ``open_telemetry=False``.
    """
    open_telemetry: Literal[False] | None = None if sdk_tracing else False
    if async_:
        return anthropic.AsyncAnthropic(
            api_key=TEST_API_KEY,
            base_url=ANTHROPIC_BASE_URL,
            max_retries=0,
            open_telemetry=open_telemetry,
            http_client=httpx2.AsyncClient(transport=transport),
            _strict_response_validation=strict,
        )
    return anthropic.Anthropic(
        api_key=TEST_API_KEY,
        base_url=ANTHROPIC_BASE_URL,
        max_retries=0,
        open_telemetry=open_telemetry,
        http_client=httpx2.Client(transport=transport),
        _strict_response_validation=strict,
    )
