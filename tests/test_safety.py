"""Never break the user's program, never leak a secret.

The user's exceptions come back unchanged; an error in our own code is logged once and the call goes on;
instrument/uninstrument are idempotent and restore every method; content capture follows the switch, and
every built-in kind of secret is redacted from every exported attribute and event.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import inspect
import json
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
import wrapt
from fakes import (
    FakeResponse,
    anthropic_client,
    fake_transport,
    json_response,
    load_json,
    openai_client,
    sse_response,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_agenttrace import AgentTraceInstrumentor, _lifecycle, _settings
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import CapturePolicy, ContentMode, content_mode_from_env, policy_from_env
from otel_agenttrace.environment_variables import (
    AGENTTRACE_MAX_CONTENT_LENGTH,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)
from otel_agenttrace.instrumentor import PROVIDERS

USER = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the capital of France?"}]
A_USER = [{"role": "user", "content": "What is the capital of France?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
A_TOOLS = [{"name": "get_weather", "description": "Weather now", "input_schema": {"type": "object"}}]
LOGGER = "otel_agenttrace"


class UserError(Exception):
    pass


def exported(spans: list[ReadableSpan]) -> str:
    """Everything an exporter could see: every span serialized, attributes and events included."""
    return "\n".join(s.to_json() for s in spans)


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production behaviour (the suite runs strict) and a fresh "already reported" memory."""
    monkeypatch.setattr(_lifecycle, "STRICT", False)
    monkeypatch.setattr(_lifecycle, "_reported", set())


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# --- the user's exceptions ------------------------------------------------------------------

OPENAI_KEY = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zQQ"
ANTHROPIC_KEY = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDD"


def _recording_status_errors(monkeypatch: pytest.MonkeyPatch, client: Any) -> list[BaseException]:
    """The exception objects the SDK itself creates, to compare with what the user catches."""
    made: list[BaseException] = []
    original = client._make_status_error

    def make(*args: Any, **kwargs: Any) -> BaseException:
        err = original(*args, **kwargs)
        made.append(err)
        return err  # type: ignore[no-any-return]

    monkeypatch.setattr(client, "_make_status_error", make)
    return made


def _assert_error_span(span: ReadableSpan, raised: BaseException, etype: str, secret: str | None = None) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == etype
    (event,) = [e for e in span.events if e.name == sc.Event.EXCEPTION]
    assert event.attributes[sc.EXCEPTION_TYPE] == type(raised).__qualname__
    if secret is not None:
        assert secret in str(raised)  # the user's exception is untouched...
        for text in (event.attributes[sc.EXCEPTION_MESSAGE], event.attributes[sc.EXCEPTION_STACKTRACE]):
            assert secret not in text  # ...what we export is redacted
            assert "[REDACTED:" in text
        assert secret not in (span.status.description or "")
        assert secret not in span.to_json()


@pytest.mark.parametrize(
    ("status", "code", "error_cls"),
    [(429, "rate_limit_exceeded", openai.RateLimitError), (500, "server_error", openai.InternalServerError)],
)
def test_openai_status_errors_propagate_unchanged(tel, monkeypatch, status, code, error_cls) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}", "type": "requests", "code": code}}
    client = openai_client(fake_transport(json_response(body, status=status)))
    made = _recording_status_errors(monkeypatch, client)
    with pytest.raises(error_cls) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    (original,) = made
    assert caught.value is original
    assert type(caught.value) is error_cls
    assert caught.value.status_code == status
    assert caught.value.body == body["error"]
    # the traceback still reaches into the SDK, where the error was raised
    assert any("openai" in f.filename for f in traceback.extract_tb(caught.value.__traceback__))
    _assert_error_span(tel.only_span(), caught.value, code, OPENAI_KEY)


@pytest.mark.parametrize(
    ("status", "etype", "error_cls"),
    [(429, "rate_limit_error", anthropic.RateLimitError), (500, "api_error", anthropic.InternalServerError)],
)
async def test_anthropic_status_errors_propagate_unchanged(tel, monkeypatch, status, etype, error_cls) -> None:
    body = {"type": "error", "error": {"type": etype, "message": f"bad key {ANTHROPIC_KEY}"}, "request_id": "req_1"}
    client = anthropic_client(fake_transport(json_response(body, status=status)), True)
    made = _recording_status_errors(monkeypatch, client)
    with pytest.raises(error_cls) as caught:
        await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=A_USER)
    (original,) = made
    assert caught.value is original
    assert type(caught.value) is error_cls
    assert caught.value.status_code == status
    _assert_error_span(tel.only_span(), caught.value, etype, ANTHROPIC_KEY)


def test_recorded_anthropic_429(tel) -> None:
    client = anthropic_client(fake_transport(json_response("anthropic/error_429.json")))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=A_USER)
    _assert_error_span(tel.only_span(), caught.value, "rate_limit_error")


def test_base_exception_from_inside_the_call_propagates(tel) -> None:
    """Ctrl-C while the request is in flight: the very same KeyboardInterrupt, and the span still ends."""
    interrupt = KeyboardInterrupt()
    client = openai_client(fake_transport(interrupt))
    with pytest.raises(KeyboardInterrupt) as caught:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value is interrupt
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "KeyboardInterrupt"


async def test_cancelled_call_propagates_and_ends_span(tel) -> None:
    started = asyncio.Event()

    async def slow(request: Any) -> Any:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    import httpx2

    client = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://llm.test:8443/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(slow)),
    )
    task = asyncio.ensure_future(client.chat.completions.create(model="gpt-4o", messages=USER))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = tel.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "CancelledError"


# --- errors of our own ------------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("bug in otel_agenttrace")


def test_internal_error_at_response_is_logged_once_and_swallowed(tel, lenient, monkeypatch, caplog) -> None:
    # chat_response is held by the CHAT endpoint; the helper it calls is looked up at call time
    monkeypatch.setattr("otel_agenttrace.providers.openai.get_each", _boom)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = openai_client(fake_transport(*[json_response("openai/chat_text.json")] * 2))
    first = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert first.choices[0].message.content == "The capital of France is Paris."
    (record,) = our_warnings(caplog)
    assert "internal error" in record.getMessage() and "RuntimeError: bug in otel_agenttrace" in record.getMessage()
    assert record.exc_info is None and "\n" not in record.getMessage()  # one line; the traceback with AGENTTRACE_DEBUG
    second = client.chat.completions.create(model="gpt-4o", messages=USER)
    assert second.id == first.id
    assert len(our_warnings(caplog)) == 1  # not logged again
    # the span still ends, with what was known at the start
    spans = tel.llm_spans()
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)
    assert spans[0].attributes[sc.GEN_AI_REQUEST_MODEL] == "gpt-4o"


def test_internal_error_at_request_leaves_call_untraced(tel, lenient, monkeypatch, caplog) -> None:
    monkeypatch.setattr("otel_agenttrace.providers.openai.server_attributes", _boom)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = openai_client(fake_transport(*[json_response("openai/chat_text.json")] * 2))
    for _ in range(2):
        result = client.chat.completions.create(model="gpt-4o", messages=USER)
        assert result.choices[0].message.content == "The capital of France is Paris."
    assert len(our_warnings(caplog)) == 1
    assert tel.llm_spans() == []


async def test_internal_error_at_anthropic_request_async(tel, lenient, monkeypatch, caplog) -> None:
    monkeypatch.setattr("otel_agenttrace.providers.anthropic.server_attributes", _boom)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = anthropic_client(fake_transport(*[json_response("anthropic/messages_text.json")] * 2), True)
    for _ in range(2):
        result = await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=A_USER)
        assert result.id == "msg_01l9JQQY5jQRQPZoOvx1S2aE"
    assert len(our_warnings(caplog)) == 1
    assert tel.llm_spans() == []


def test_internal_error_keeping_the_output_apart_keeps_the_attributes_and_the_content(tel, lenient, caplog) -> None:
    """`Endpoint.output_from`'s reader failing: the whole response is kept for the output instead, and the
    response attributes read before it stay on the span."""
    from otel_agenttrace.providers import openai as openai_provider

    endpoint = openai_provider.CHAT
    kept = endpoint.output_from
    assert kept is not None
    object.__setattr__(endpoint, "output_from", (_boom, kept[1]))  # a frozen dataclass, shared by the wrappers
    try:
        caplog.set_level(logging.WARNING, logger=LOGGER)
        client = openai_client(fake_transport(json_response("openai/chat_text.json")))
        result = client.chat.completions.create(model="gpt-4o", messages=USER)
    finally:
        object.__setattr__(endpoint, "output_from", kept)
    assert len(our_warnings(caplog)) == 1
    span = tel.only_span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == result.id
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"] == [{"type": "text", "content": result.choices[0].message.content}]


def test_internal_error_in_stream_accumulator_keeps_the_stream(tel, lenient, monkeypatch, caplog) -> None:
    from otel_agenttrace.providers.openai import ChatStreamAccumulator

    # Per chunk (content on the span) and the output alone (content beside it, folded as the stream ends).
    monkeypatch.setattr(ChatStreamAccumulator, "add", _boom)
    monkeypatch.setattr(ChatStreamAccumulator, "_add_choices", _boom)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = openai_client(fake_transport(sse_response("openai/chat_stream_text.sse")))
    stream = client.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    chunks = list(stream)
    assert len(chunks) == 23  # every chunk reached the user
    assert len(our_warnings(caplog)) == 1
    assert tel.only_span().status.status_code is StatusCode.UNSET


def test_internal_error_when_ending_the_span(tel, lenient, caplog) -> None:
    """A span processor that raises at on_end (ours or anyone's) must not fail the user's call."""

    class Broken(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            raise RuntimeError("broken processor")

    tel.tracer_provider.add_span_processor(Broken())
    caplog.set_level(logging.WARNING, logger=LOGGER)
    client = openai_client(
        fake_transport(json_response("openai/chat_text.json"), json_response("openai/error_429.json"))
    )
    assert client.chat.completions.create(model="gpt-4o", messages=USER).id
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=USER)
    # once per place: ending the span of the call that succeeded, and of the one that failed
    places = [r.getMessage().split(";")[0] for r in our_warnings(caplog)]
    assert places == ["otel-agenttrace: internal error in chat end", "otel-agenttrace: internal error in llm fail"]


# --- instrument / uninstrument --------------------------------------------------------------


def _target_rows() -> Iterator[tuple[Any, str]]:
    """Every row of every provider's target table that resolves in this environment, once each."""
    seen: set[tuple[int, str]] = set()
    for _, provider_path in PROVIDERS:
        provider = importlib.import_module(provider_path)
        for target in provider.TARGETS:
            try:
                module = importlib.import_module(target.module)
            except ImportError:
                continue
            owner = module if target.owner is None else getattr(module, target.owner, None)
            if owner is None or not hasattr(owner, target.method):
                continue
            if (id(owner), target.method) not in seen:
                seen.add((id(owner), target.method))
                yield owner, target.method


def _snapshot() -> dict[tuple[int, str], Any]:
    return {(id(owner), name): inspect.getattr_static(owner, name) for owner, name in _target_rows()}


def test_target_rows_resolve() -> None:
    # a silently empty walk would make the restore test vacuous
    assert len(list(_target_rows())) >= 20


def test_uninstrument_restores_every_method_and_reinstrument_works(instrument) -> None:
    before = _snapshot()
    assert not any(isinstance(f, wrapt.BaseObjectProxy) for f in before.values())
    instrument()
    during = _snapshot()
    unwrapped = [key for key, f in during.items() if not isinstance(f, wrapt.BaseObjectProxy)]
    assert unwrapped == []
    AgentTraceInstrumentor().uninstrument()
    after = _snapshot()
    assert after.keys() == before.keys()
    changed = [key for key in before if after[key] is not before[key]]
    assert changed == []

    # and instrumenting again works
    t = instrument()
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert len(t.llm_spans()) == 1


def test_uninstrumented_calls_make_no_spans(instrument) -> None:
    t = instrument()
    AgentTraceInstrumentor().uninstrument()
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert t.llm_spans() == []


def test_instrument_twice_is_a_no_op(instrument) -> None:
    first = instrument()
    second = instrument()
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=USER)
    assert len(first.llm_spans()) == 1
    assert second.llm_spans() == []
    for owner, name in _target_rows():
        wrapper = inspect.getattr_static(owner, name)
        assert not isinstance(wrapper.__wrapped__, wrapt.BaseObjectProxy), (owner, name)  # wrapped once


# --- content capture switch -----------------------------------------------------------------

SYSTEM = "Answer in one word."


def _call_everything(content_kind: str = "chat") -> None:
    """A chat with system prompt and tools, a responses call with instructions, an Anthropic call with all three."""
    oa = openai_client(
        fake_transport(json_response("openai/chat_tool_call.json"), json_response("openai/responses_text.json"))
    )
    oa.chat.completions.create(model="gpt-4o", messages=USER, tools=TOOLS)
    oa.responses.create(model="gpt-4o", input="Capital?", instructions=SYSTEM)
    an = anthropic_client(fake_transport(json_response("anthropic/messages_tool_use.json")))
    an.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=A_USER, system=SYSTEM, tools=A_TOOLS)


def _details(span: ReadableSpan) -> list[Any]:
    return [e for e in span.events if e.name == sc.Event.OPERATION_DETAILS]


CONTENT_OF_EACH = [
    {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_TOOL_DEFINITIONS},
    {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS},
    {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_TOOL_DEFINITIONS},
]


def test_no_content(instrument, monkeypatch) -> None:
    monkeypatch.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, "NO_CONTENT")
    t = instrument(policy_from_env())
    _call_everything()
    spans = t.llm_spans()
    assert len(spans) == 3
    for span in spans:
        assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES
        assert not [k for k in span.attributes if k.startswith("agenttrace.content.")]
        assert _details(span) == []
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0  # metadata stays
    text = exported(spans)
    assert "capital of France" not in text and SYSTEM not in text and "get_weather" not in text


def test_default_captures_content_on_the_span(instrument, monkeypatch) -> None:
    monkeypatch.delenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, raising=False)
    policy = policy_from_env()
    assert policy.mode is ContentMode.LOCAL_ONLY
    t = instrument(policy)
    _call_everything()
    for span, expected in zip(t.llm_spans(), CONTENT_OF_EACH, strict=True):
        assert expected <= set(span.attributes), span.name
        assert _details(span) == []


@pytest.mark.parametrize(
    ("value", "on_span", "on_event"),
    [("SPAN_ONLY", True, False), ("event_only", False, True), ("Span_And_Event", True, True)],
)
def test_capture_modes(instrument, monkeypatch, value, on_span, on_event) -> None:
    monkeypatch.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, value)
    t = instrument(policy_from_env(), local_content=False)  # spans as any exporter sees them
    _call_everything()
    for span, expected in zip(t.llm_spans(), CONTENT_OF_EACH, strict=True):
        assert (expected <= set(span.attributes)) is on_span
        if not on_span:
            assert not set(span.attributes) & sc.CONTENT_ATTRIBUTES
        assert _details(span) == []  # never a span event: a log record in the span's context
        events = t.details(span)
        if on_event:
            (event,) = events
            assert expected <= set(event.attributes)
            out = json.loads(event.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
            assert out[0]["role"] == "assistant"
        else:
            assert events == []


@pytest.mark.parametrize(("alias", "mode"), [("true", ContentMode.SPAN_ONLY), ("FALSE", ContentMode.NO_CONTENT)])
def test_boolean_aliases_warn_once(monkeypatch, caplog, alias, mode) -> None:
    monkeypatch.setattr(_settings, "_warned", set())
    caplog.set_level(logging.WARNING)
    env = {OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: alias}
    assert content_mode_from_env(env) is mode
    assert content_mode_from_env(env) is mode
    warnings = [r for r in caplog.records if "alias" in r.getMessage()]
    assert len(warnings) == 1
    assert mode.value in warnings[0].getMessage()


def test_unknown_mode_captures_nothing_and_warns(caplog) -> None:
    caplog.set_level(logging.WARNING)
    assert content_mode_from_env({OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "everything"}) is (
        ContentMode.NO_CONTENT
    )
    assert any("everything" in r.getMessage() for r in caplog.records)


def test_size_cap_truncates_with_a_marker(instrument) -> None:
    t = instrument(policy_from_env({AGENTTRACE_MAX_CONTENT_LENGTH: "300"}))
    long = "word " * 200
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": long}])
    a = t.only_span().attributes
    value = a[sc.GEN_AI_INPUT_MESSAGES]
    full = json.dumps([{"role": "user", "parts": [{"type": "text", "content": long}]}], ensure_ascii=False)
    assert value.startswith(full[:300])
    assert value.endswith(f"…[truncated {len(full) - 300} chars]")
    assert list(a[sc.AGENTTRACE_CONTENT_TRUNCATED]) == [sc.GEN_AI_INPUT_MESSAGES]
    # the short output is untouched
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "The capital of France is Paris."


# --- redaction --------------------------------------------------------------------------------

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAq7BFUAkGuniquePemBodyLine0123456789abcdefABCDEF\n"
    "-----END RSA PRIVATE KEY-----"
)
# kind -> (secret as planted, a fragment that must never be exported)
SECRETS: dict[str, tuple[str, str]] = {
    "openai_key": (OPENAI_KEY, "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zQQ"),
    "anthropic_key": (ANTHROPIC_KEY, "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDD"),
    "aws_access_key": ("AKIAQ7RZ3WXYZ2EXAMPL", "AKIAQ7RZ3WXYZ2EXAMPL"),
    "github_token": ("ghp_" + "R7kP2mQ9xL4vW8nT3bY6" * 2, "R7kP2mQ9xL4vW8nT3bY6"),
    "google_api_key": ("AIzaSyD3x9Kq2Lm7Np4Rs8Tv1Wx5Yz0Ab6Cd3Ef", "SyD3x9Kq2Lm7Np4Rs8Tv1Wx5Yz0Ab6Cd3Ef"),
    "bearer_token": ("Authorization: Bearer tok3nV4lu3.Xyz-987_abc", "tok3nV4lu3.Xyz-987_abc"),
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    "private_key": (PEM, "uniquePemBodyLine0123456789"),
    "email": ("alice.smith@example.com", "alice.smith@example.com"),
}
PLANTED = " | ".join(secret for secret, _ in SECRETS.values())


def _assert_nothing_leaks(spans: list[ReadableSpan]) -> None:
    text = exported(spans)
    leaked = [kind for kind, (_, fragment) in SECRETS.items() if fragment in text]
    assert leaked == []
    redacted = {kind for kind in SECRETS if f"[REDACTED:{kind}]" in text}
    assert redacted == set(SECRETS)


def _secret_chat_response() -> dict[str, Any]:
    body = load_json("openai/chat_tool_call.json")
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = json.dumps({"note": PLANTED})
    return body  # type: ignore[no-any-return]


def _secret_tool_use_response() -> dict[str, Any]:
    body = load_json("anthropic/messages_tool_use.json")
    body["content"][1]["input"] = {"note": PLANTED}
    return body  # type: ignore[no-any-return]


def _secret_chat_stream() -> FakeResponse:
    """A streamed tool call whose arguments arrive in 7-character deltas: every secret is split across chunks."""
    arguments = json.dumps({"note": PLANTED})
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n"

    first = {"index": 0, "id": "call_s", "type": "function", "function": {"name": "remember", "arguments": ""}}
    events = [chunk({"role": "assistant", "tool_calls": [first]})]
    for i in range(0, len(arguments), 7):
        events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 7]}}]}))
    events.append(chunk({}, "tool_calls"))
    events.append(b"data: [DONE]\n\n")
    return FakeResponse(200, b"".join(events), content_type="text/event-stream", streamed=True)


def _call_with_secrets() -> None:
    messages = [{"role": "system", "content": f"System: {PLANTED}"}, {"role": "user", "content": PLANTED}]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "remember",
                "description": f"Stores {PLANTED}",
                "parameters": {"type": "object", "properties": {"note": {"description": PLANTED}}},
            },
        }
    ]
    oa = openai_client(
        fake_transport(
            json_response(_secret_chat_response()),
            _secret_chat_stream(),
            json_response("openai/responses_text.json"),
        )
    )
    oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    for _ in oa.chat.completions.create(model="gpt-4o", messages=messages, tools=tools, stream=True):
        pass
    oa.responses.create(model="gpt-4o", input=[{"role": "user", "content": PLANTED}], instructions=PLANTED)
    an = anthropic_client(fake_transport(json_response(_secret_tool_use_response())))
    an.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        system=PLANTED,
        messages=[{"role": "user", "content": [{"type": "text", "text": PLANTED}]}],
        tools=[{"name": "remember", "description": PLANTED, "input_schema": {"type": "object"}}],
    )


@pytest.mark.parametrize("mode", [ContentMode.LOCAL_ONLY, ContentMode.SPAN_AND_EVENT, ContentMode.EVENT_ONLY])
def test_no_secret_reaches_an_exported_span(instrument, mode) -> None:
    t = instrument(CapturePolicy(mode=mode))
    _call_with_secrets()
    spans = t.llm_spans()
    assert len(spans) == 4
    _assert_nothing_leaks(spans)
    for span in spans:  # as the local run trace gets them: content on the span's record in every mode
        assert span.attributes[sc.AGENTTRACE_CONTENT_REDACTIONS] > 0
    if mode is not ContentMode.LOCAL_ONLY:  # and the details log records
        records = t.details()
        assert len(records) == 4
        text = json.dumps([dict(r.attributes) for r in records], default=str)
        assert [kind for kind, (_, fragment) in SECRETS.items() if fragment in text] == []
        assert all(r.attributes[sc.AGENTTRACE_CONTENT_REDACTIONS] > 0 for r in records)


def test_streamed_secret_split_across_chunks_is_redacted(tel) -> None:
    client = openai_client(fake_transport(_secret_chat_stream()))
    for _ in client.chat.completions.create(model="gpt-4o", messages=A_USER, stream=True):
        pass
    span = tel.only_span()
    _assert_nothing_leaks([span])
    (message,) = json.loads(span.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"][0]["name"] == "remember"


def test_secret_in_the_user_exception_message(tel) -> None:
    """An exception text may quote the request (some SDKs and proxies do): the exported event is redacted."""
    body = {"error": {"message": PLANTED, "type": "invalid_request_error", "code": "invalid_api_key"}}
    client = openai_client(fake_transport(json_response(body, status=401)))
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=A_USER)
    assert OPENAI_KEY in str(caught.value)
    span = tel.only_span()
    assert span.attributes[sc.ERROR_TYPE] == "invalid_api_key"
    _assert_nothing_leaks([span])


def test_user_objects_are_not_mutated(tel) -> None:
    """Capturing and redacting reads the user's arguments and the SDK's result; it changes neither."""
    messages = [{"role": "user", "content": PLANTED}]
    tools = copy.deepcopy(TOOLS)
    before = copy.deepcopy((messages, tools))
    client = openai_client(fake_transport(json_response(_secret_chat_response())))
    result = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    assert (messages, tools) == before
    assert json.loads(result.choices[0].message.tool_calls[0].function.arguments) == {"note": PLANTED}


def test_a_library_outside_its_supported_range_is_skipped_with_one_log_line(instrument, monkeypatch, caplog) -> None:
    from anthropic.resources.messages.messages import Messages
    from openai.resources.chat.completions.completions import Completions

    from otel_agenttrace.providers import openai as openai_provider

    monkeypatch.setattr(openai_provider, "INSTRUMENTS", "openai >= 99")
    with caplog.at_level(logging.WARNING, logger="otel_agenttrace"):
        instrument()
    lines = [r.getMessage() for r in caplog.records if "not instrumenting" in r.getMessage()]
    assert len(lines) == 1 and "openai" in lines[0] and "99" in lines[0], lines
    assert not isinstance(inspect.getattr_static(Completions, "create"), wrapt.BaseObjectProxy)
    assert isinstance(inspect.getattr_static(Messages, "create"), wrapt.BaseObjectProxy)  # the others still are


def test_a_library_that_is_not_installed_is_skipped_silently(instrument, monkeypatch, caplog) -> None:
    from anthropic.resources.messages.messages import Messages
    from openai.resources.chat.completions.completions import Completions

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openai" else real_find_spec(name, *a)
    )
    with caplog.at_level(logging.DEBUG, logger="otel_agenttrace"):
        instrument()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not isinstance(inspect.getattr_static(Completions, "create"), wrapt.BaseObjectProxy)
    assert isinstance(inspect.getattr_static(Messages, "create"), wrapt.BaseObjectProxy)
