"""Attributes we built, written onto the SDK's span past `set_attributes`: the span ends up exactly as the
public path leaves it, and every case the direct write does not know takes the public path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN

from otel_agenttrace import _attributes
from otel_agenttrace._attributes import set_attributes

# A chat response's attributes as the providers build them (finish reasons as a list, as the readers make it)
RESPONSE = {
    "gen_ai.response.id": "chatcmpl-KLffX89D6uKL5HkDs1XyN0pedX56n",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.finish_reasons": ["stop", "length"],
    "openai.response.service_tier": "default",
    "gen_ai.usage.input_tokens": 1536,
    "gen_ai.usage.output_tokens": 8,
    "gen_ai.response.time_to_first_chunk": 0.0013,
    "gen_ai.request.stream": False,
}


class Spans:
    def __init__(self, limits: SpanLimits | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(span_limits=limits or SpanLimits(), shutdown_on_exit=False)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def ended(self, setter: Any, attributes: Mapping[str, Any]) -> ReadableSpan:
        span = self.tracer.start_span("s", attributes={"gen_ai.operation.name": "chat"})
        setter(span, attributes)
        span.end()
        return self.exporter.get_finished_spans()[-1]


def public(span: Any, attributes: Mapping[str, Any]) -> None:
    span.set_attributes(attributes)


def typed(attributes: Mapping[str, Any]) -> dict[str, tuple[type, Any]]:
    """Values with their types: 1 == True == 1.0, and a list == no tuple, but the SDK keeps them apart."""
    return {k: (type(v), tuple((type(x), x) for x in v) if isinstance(v, tuple) else v) for k, v in attributes.items()}


@pytest.fixture
def public_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Mapping[str, Any]]]:
    """The calls that reached the SDK's `Span.set_attributes`."""
    calls: list[Mapping[str, Any]] = []
    original = SdkSpan.set_attributes

    def recording(self: SdkSpan, attributes: Mapping[str, Any]) -> None:
        calls.append(attributes)
        original(self, attributes)

    monkeypatch.setattr(SdkSpan, "set_attributes", recording)
    yield calls


def test_a_response_s_attributes_go_in_directly_and_end_up_as_the_public_path_leaves_them(
    public_calls: list[Mapping[str, Any]],
) -> None:
    spans = Spans()
    ours = spans.ended(set_attributes, RESPONSE)
    assert public_calls == []
    theirs = spans.ended(public, RESPONSE)
    assert typed(ours.attributes or {}) == typed(theirs.attributes or {})
    assert (ours.attributes or {})["gen_ai.response.finish_reasons"] == ("stop", "length")
    assert ours.dropped_attributes == theirs.dropped_attributes == 0


def test_the_list_given_is_copied_not_kept() -> None:
    reasons = ["stop"]
    span = Spans().ended(set_attributes, {"gen_ai.response.finish_reasons": reasons})
    reasons.append("length")
    assert (span.attributes or {})["gen_ai.response.finish_reasons"] == ("stop",)


@pytest.mark.parametrize(
    "value",
    [None, [], [1, 2], ["a", 1], ("a", None), {"a": 1}, b"bytes", object(), 2**70, [True]],
    ids=["none", "empty", "ints", "mixed", "none-item", "dict", "bytes", "object", "bigint", "bools"],
)
def test_other_values_take_the_public_path(public_calls: list[Mapping[str, Any]], value: Any) -> None:
    attributes = {"gen_ai.response.id": "x", "other": value}
    spans = Spans()
    ours = spans.ended(set_attributes, attributes)
    theirs = spans.ended(public, attributes)
    # a big int is a plain int to the SDK too (as is its export's failure): written directly
    assert len(public_calls) == (1 if value == 2**70 else 2)
    assert typed(ours.attributes or {}) == typed(theirs.attributes or {})


@pytest.mark.parametrize(
    "limits",
    [SpanLimits(max_attribute_length=5), SpanLimits(max_span_attributes=4), SpanLimits(max_span_attributes=0)],
    ids=["value-length", "count", "none-allowed"],
)
def test_configured_limits_truncate_and_drop_as_the_sdk_does(
    public_calls: list[Mapping[str, Any]], limits: SpanLimits
) -> None:
    spans = Spans(limits)
    ours = spans.ended(set_attributes, RESPONSE)
    theirs = spans.ended(public, RESPONSE)
    assert len(public_calls) == 2
    assert typed(ours.attributes or {}) == typed(theirs.attributes or {})
    assert ours.dropped_attributes == theirs.dropped_attributes


def test_room_left_under_the_count_limit_is_written_directly(public_calls: list[Mapping[str, Any]]) -> None:
    spans = Spans(SpanLimits(max_span_attributes=1 + len(RESPONSE)))
    ours = spans.ended(set_attributes, RESPONSE)
    assert public_calls == []
    assert len(ours.attributes or {}) == 1 + len(RESPONSE)


def test_an_ended_span_is_left_as_it_is_with_the_sdk_s_warning(caplog: pytest.LogCaptureFixture) -> None:
    spans = Spans()
    span = spans.tracer.start_span("s")
    span.end()
    with caplog.at_level(logging.WARNING, logger="opentelemetry.sdk.trace"):
        set_attributes(span, RESPONSE)
    assert "Setting attribute on ended span" in caplog.text
    assert not spans.exporter.get_finished_spans()[-1].attributes


def test_a_non_recording_span_takes_them_without_error() -> None:
    set_attributes(INVALID_SPAN, RESPONSE)


def test_an_sdk_whose_private_shape_moved_falls_back_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    class Moved:  # the SDK's span as a release might reshape it: no `_attributes`
        def __init__(self) -> None:
            self.calls: list[Mapping[str, Any]] = []

        def set_attributes(self, attributes: Mapping[str, Any]) -> None:
            self.calls.append(attributes)

    monkeypatch.setattr(_attributes, "_SDK", (Moved, object))
    span = Moved()
    set_attributes(span, RESPONSE)  # type: ignore[arg-type]
    assert span.calls == [RESPONSE]
    assert _attributes._SDK is None
    set_attributes(span, RESPONSE)  # type: ignore[arg-type]
    assert len(span.calls) == 2


def test_an_sdk_of_another_major_version_gets_the_public_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import opentelemetry.sdk.version as version

    assert _attributes._sdk_classes() is not None
    monkeypatch.setattr(version, "__version__", "2.0.0")
    assert _attributes._sdk_classes() is None


def test_threads_setting_one_span_at_once_lose_nothing() -> None:
    spans = Spans()
    span = spans.tracer.start_span("s")
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        for j in range(200):
            setter = set_attributes if j % 2 else public
            setter(span, {f"k{i}.{j}": j})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    span.end()
    attributes = spans.exporter.get_finished_spans()[-1].attributes or {}
    # the default limit (128) keeps the newest: whichever path wrote them, the count is exact
    assert len(attributes) == 128


_KEYS = st.text(min_size=0, max_size=12)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.text(max_size=8), max_size=4),
    st.tuples(st.text(max_size=8)),
    st.lists(st.integers(), max_size=3),
    st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_whatever_the_values_the_span_ends_as_the_public_path_leaves_it(attributes: dict[str, Any]) -> None:
    spans = Spans()
    ours = spans.ended(set_attributes, attributes)
    theirs = spans.ended(public, attributes)
    assert typed(ours.attributes or {}) == typed(theirs.attributes or {})
    assert ours.dropped_attributes == theirs.dropped_attributes
