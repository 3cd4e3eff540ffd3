"""One lifecycle for every span we make: start, then `stop()` or `fail(exc)`.

Provider, tool, node and workflow wrappers all go through here, so the rules live in one place:
the span is current while the call runs (HTTP spans nest under it), content passes the capture
policy before it is set, the user's exception is re-raised by the caller unchanged, and no error
of ours ever reaches user code (`internal_error` logs it once and the call goes on).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_agenttrace import _logging, _settings, semconv
from otel_agenttrace._attributes import set_attributes
from otel_agenttrace._beside import CHANNEL, Later, Piece, resolve, snapshot_values
from otel_agenttrace._capture import BESIDE, CapturePolicy, env_snapshot
from otel_agenttrace._code import KEYS as CODE_KEYS
from otel_agenttrace._folder import BLOCKED_S
from otel_agenttrace._metrics import MetricsRecorder

_log = logging.getLogger("otel_agenttrace")

# None: AGENTTRACE_STRICT from the settings (the test-suite sets it, so that bugs in our wrappers
# surface instead of being swallowed); a test may set True/False here.
STRICT: bool | None = None
_reported: set[tuple[str, type[BaseException]]] = set()


def describe(exc: BaseException) -> str:
    """`Class: message` on one line, whatever the exception's `__str__` does (raise, span lines)."""
    try:
        message = str(exc)
    except Exception:
        message = "<str() failed>"
    text = f"{type(exc).__qualname__}: {message}" if message else type(exc).__qualname__
    return " ".join(text.split())[:1000]


def internal_error(where: str, exc: BaseException) -> None:
    """An error in our own code: logged once per place and kind, never raised into user code.
    One line (redacted, like every line we log); the traceback only with AGENTTRACE_DEBUG."""
    if STRICT if STRICT is not None else _settings.current().strict:
        raise exc
    key = (where, type(exc))
    if key in _reported:
        return
    _reported.add(key)
    _logging.install()  # the line is redacted, like every line we log
    debug = _settings.current().debug
    _log.warning(
        "otel-agenttrace: internal error in %s; the call goes on untraced: %s%s",
        where,
        describe(exc),
        "" if debug else " (AGENTTRACE_DEBUG=1 shows the traceback)",
        exc_info=exc if debug else None,
    )


def error_type(exc: BaseException) -> str:
    """Low-cardinality class of an error: the provider's error code when it gives one, else the class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and isinstance(err.get("type"), str):
            return str(err["type"])
    return type(exc).__qualname__


# The LLM invocation active in this context: an instrumented call made inside another one
# (a user's provider wrapping the SDK) adds to the outer span instead of making a second one.
current_llm: ContextVar[LLMInvocation | None] = ContextVar("agenttrace_current_llm", default=None)


class RunRoot:
    """The process-level run root: parent of spans that start with no active span, so a script
    that makes many calls from threads and tasks is one run, not one per call."""

    def __init__(self, tracer: Tracer, name: str | None = None, policy: CapturePolicy | None = None) -> None:
        self._tracer = tracer
        self._name = name
        # Redacts the command line and records the allow-listed environment (agenttrace.env).
        self._policy = policy
        self._lock = threading.Lock()
        self._span: Span | None = None
        self._context: otel_context.Context | None = None
        self._pid = os.getpid()
        # The run's first input and latest output, when content is opted in to leave the process.
        self._io: dict[str, Any] = {}

    def context(self) -> otel_context.Context:
        ctx = self._context
        if ctx is not None:
            return ctx
        with self._lock:
            if self._context is None:
                script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
                script = script[:-3] if script.endswith(".py") else script
                name = self._name or _settings.current().workflow or script
                command = " ".join(sys.argv) if sys.argv else script
                # A command line may carry a key (`--api-key sk-...`). Redacted whole, then cut: a key cut
                # in two is too short for its pattern, and its first characters would be recorded.
                if self._policy is not None:
                    command = self._policy.redactor.redact(command)[0]
                attributes: dict[str, Any] = {
                    semconv.GEN_AI_OPERATION_NAME: semconv.Operation.INVOKE_WORKFLOW,
                    semconv.GEN_AI_WORKFLOW_NAME: name,
                    semconv.AGENTTRACE_RUN_ROOT: True,
                    semconv.AGENTTRACE_RUN_SCRIPT: command[:512],
                }
                env = env_snapshot(self._policy) if self._policy is not None else None
                if env is not None:
                    attributes[semconv.AGENTTRACE_ENV] = env
                self._span = self._tracer.start_span(
                    f"{semconv.Operation.INVOKE_WORKFLOW} {name}",
                    context=otel_context.Context(),
                    kind=SpanKind.INTERNAL,
                    attributes=attributes,
                )
                self._context = trace.set_span_in_context(self._span, otel_context.Context())
                self._pid = os.getpid()
                # Registered after the SDK's own shutdown hook, so it runs first (atexit is LIFO).
                atexit.register(self.end)
            return self._context

    def note_content(self, span: Span, captured: Mapping[str, Any]) -> None:
        """Content set on a call's span (opted in): the run's first input messages and latest output messages
        go on the root when it ends, as the GenAI conventions allow on an invocation span, so a backend's run
        list (Phoenix's) has the run's input and output. Calls of other traces (explicit workflows) are skipped."""
        root = self._span
        if root is None or span.get_span_context().trace_id != root.get_span_context().trace_id:
            return
        if semconv.GEN_AI_INPUT_MESSAGES in captured:
            self._io.setdefault(semconv.GEN_AI_INPUT_MESSAGES, captured[semconv.GEN_AI_INPUT_MESSAGES])
        if semconv.GEN_AI_OUTPUT_MESSAGES in captured:
            self._io[semconv.GEN_AI_OUTPUT_MESSAGES] = captured[semconv.GEN_AI_OUTPUT_MESSAGES]

    def end(self) -> None:
        if self._pid != os.getpid():
            return  # a forked child: the root is the parent's to end (the child's steps stay under it)
        with self._lock:
            span, self._span, self._context = self._span, None, None
            io, self._io = self._io, {}
        if span is not None:
            if io:
                set_attributes(span, io)
            span.end()


@dataclass
class Telemetry:
    """What every wrapper needs, built once per `instrument()`."""

    tracer: Tracer
    meter: Meter | None
    policy: CapturePolicy
    run_root: RunRoot | None = None
    # OTel Logs API logger for `gen_ai.client.inference.operation.details` (EVENT_ONLY, SPAN_AND_EVENT)
    logger: Any = None
    metrics: MetricsRecorder | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.meter is not None:
            duration = self.meter.create_histogram(
                semconv.Metric.OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=list(semconv.Metric.DURATION_BUCKETS),
            )
            tokens = self.meter.create_histogram(
                semconv.Metric.TOKEN_USAGE,
                unit="{token}",
                description="Measures number of input and output tokens used",
                explicit_bucket_boundaries_advisory=list(semconv.Metric.TOKEN_USAGE_BUCKETS),
            )
            self.metrics = MetricsRecorder(duration, tokens, _METRIC_KEYS)

    def flush_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.flush()

    def parent_context(self, current: otel_context.Context | None = None) -> otel_context.Context | None:
        """`current` (the current context, None: looked up) unless no span is active in it: then the
        run root's."""
        if self.run_root is None or trace.get_current_span(current).get_span_context().is_valid:
            return current
        return self.run_root.context()


_METRIC_KEYS = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
    semconv.ERROR_TYPE,
    semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    # the OpenAI conventions add these to both metrics
    semconv.OPENAI_REQUEST_SERVICE_TIER,
    semconv.OPENAI_RESPONSE_SERVICE_TIER,
    semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)


# How old the thread's last reading of its CPU time may be for a call to measure its waits from it (seconds).
# The CPU time is a system call, and one a call is ~4 us of a streamed call's time where it runs (a few times
# what the same call costs in a loop of it: bench/README.md); the wall clock is not. A call soon after another
# on the same thread measures from that one's last reading, so a loop of calls reads at most once a call (at
# its end, if it lasted BLOCKED_S and still asks), a loop of short ones once in FRESH_S. Its window then starts
# up to FRESH_S early: a wait just before the call counts, as a thread that waits now and then lets the
# folding thread run.
FRESH_S = 0.02


class _Clock(threading.local):
    reading: tuple[float, float] = (float("-inf"), 0.0)  # this thread's last (perf_counter, thread_time)


_CLOCK = _Clock()
_WAITED = (float("-inf"), 1.0)  # the call is known to have waited
# The call's content is held, whatever it waited for (`quiet()`), or there is none beside the span to hand on.
_QUIET = (float("-inf"), 2.0)


def _since(start: float) -> tuple[float, float]:
    reading = _CLOCK.reading
    if start - reading[0] > FRESH_S:
        reading = _CLOCK.reading = (start, time.thread_time())
    return reading


class Invocation:
    """A started span with the attributes and content that will be set when it ends."""

    __slots__ = (
        "_ctx_token",
        "_since",
        "_start",
        "attributes",
        "capture",
        "content",
        "done",
        "inner",
        "policy",
        "span",
        "tel",
    )

    def __init__(
        self,
        tel: Telemetry,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
        content: Piece | None = None,
        attach: bool = True,
        under_run_root: bool = True,
        capture: int | None = None,
        current: otel_context.Context | None = None,
    ) -> None:
        self.tel = tel
        self.attributes = attributes
        # Where content goes, decided once for the whole call (`capture`: the caller looked already).
        policy = self.policy = tel.policy
        capture = self.capture = policy.capture if capture is None else capture
        if content and capture == BESIDE and type(content) is dict:
            # Recorded later, off this thread: what the call was given, not what it became.
            content = snapshot_values(content)
        self.content: Piece | None = content
        self.done = False
        # Nested instrumented calls' views (an LLM call's: `LLMInvocation.absorb`), merged when it ends.
        self.inner: dict[str, Any] | None = None
        start = self._start = time.perf_counter()
        # Where `blocked()` measures from (content beside the span only): the thread's last reading of its CPU
        # time, or a new one if that is older than `FRESH_S`.
        self._since = _since(start) if capture == BESIDE else _QUIET
        # The current context, looked up once (`current`: the caller did) and handed to the SDK, which
        # otherwise looks it up again for the parent, the sampler and the span's own context.
        if current is None:
            current = otel_context.get_current()
        parent = tel.parent_context(current) if under_run_root and tel.run_root is not None else current
        span = self.span = tel.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        self._ctx_token: Token[otel_context.Context] | None = (
            otel_context.attach(trace.set_span_in_context(span, current)) if attach else None
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def blocked(self) -> bool:
        """Whether this thread waited (wall time it did not run) for `_folder.BLOCKED_S` or more since the
        call started, or shortly before (`FRESH_S`): then the folding thread is woken for its content, as it can
        run in such waits."""
        now = time.perf_counter()
        # Read first: a call shorter than BLOCKED_S cannot have waited that long, and the thread's CPU time is a
        # system call (no vDSO path), where the wall clock is not.
        if now - self._start < BLOCKED_S:
            return False
        since = self._since
        if since is _WAITED or since is _QUIET:
            return since is _WAITED
        cpu = time.thread_time()
        _CLOCK.reading = (now, cpu)
        if (now - since[0]) - (cpu - since[1]) < BLOCKED_S:
            return False
        self._since = _WAITED  # waiting only adds up
        return True

    def quiet(self) -> None:
        """The call's content is cheap to hold until the exporter asks (a stream decoded from its body, `_tap`):
        `blocked()` answers False from now on, with no reading of the clock, whatever the call waits for."""
        self._since = _QUIET

    def detach(self) -> None:
        """Leave the span's context: the call has returned (a stream's span stays open until it ends)."""
        token, self._ctx_token = self._ctx_token, None
        if token is not None:
            otel_context.detach(token)

    def _set_content(self, output: Piece | None) -> None:
        capture = self.capture
        if not capture:
            return
        content = self.content
        pieces = (content, output) if content and output else (content,) if content else (output,) if output else ()
        if not pieces:
            return
        if capture == BESIDE:
            CHANNEL.put(self.span, self.policy, pieces, self.blocked())
        else:
            record_content(self.tel, self.span, pieces, self.attributes)

    def stop(self, attributes: Mapping[str, Any] | None = None, output: Piece | None = None) -> None:
        if self.done:
            return
        self.done = True
        try:
            if self.inner is not None:
                attributes, output = self._merge_inner(attributes, output)
            if attributes:
                self.attributes.update(attributes)
                set_attributes(self.span, attributes)
            if self.capture and (self.content or output):  # no call when there is no content to hand on
                self._set_content(output)
            self._record_metrics()
        finally:  # whatever failed above, the span still ends exactly once
            self.span.end()

    def fail(
        self,
        exc: BaseException,
        attributes: Mapping[str, Any] | None = None,
        output: Piece | None = None,
        etype: str | None = None,
    ) -> None:
        if self.done:
            return
        self.done = True
        try:
            if self.inner is not None:
                attributes, output = self._merge_inner(attributes, output)
            etype = etype or error_type(exc)
            attrs = dict(attributes) if attributes else {}
            attrs[semconv.ERROR_TYPE] = etype
            self.attributes.update(attrs)
            set_attributes(self.span, attrs)
            try:
                text = str(exc)
            except Exception:  # an exception whose __str__ raises still fails the span, with a marker
                text = f"[unrepresentable {type(exc).__qualname__}]"
            message, _, _ = self.tel.policy.text(text)
            self.span.set_status(Status(StatusCode.ERROR, message))
            self.span.add_event(
                semconv.Event.EXCEPTION,
                {
                    semconv.EXCEPTION_TYPE: type(exc).__qualname__,
                    semconv.EXCEPTION_MESSAGE: message,
                    semconv.EXCEPTION_STACKTRACE: self.tel.policy.text(
                        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                    )[0],
                },
            )
            self._set_content(output)
            self._record_metrics()
        finally:
            self.span.end()

    def _record_metrics(self) -> None:
        pass

    def _merge_inner(
        self, attributes: Mapping[str, Any] | None, output: Piece | None
    ) -> tuple[Mapping[str, Any] | None, Piece | None]:
        return attributes, output


class LLMInvocation(Invocation):
    """An LLM call: CLIENT span named `{operation} {model}`, GenAI metrics at the end."""

    __slots__ = ("_llm_token", "_outer")

    def __init__(
        self,
        tel: Telemetry,
        operation: str,
        attributes: dict[str, Any],
        content: Piece | None = None,
        capture: int | None = None,
    ) -> None:
        model = attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        name = f"{operation} {model}" if model else operation
        current = otel_context.get_current()
        # Where the call started: the recorder (off this thread) leaves out what another instrumentation's LLM
        # span current there measures for the same call.
        self._outer = current
        # Invocation.__init__ by position, not super() with keywords: on every call's path
        Invocation.__init__(self, tel, name, SpanKind.CLIENT, attributes, content, True, True, capture, current)
        self._llm_token: Token[LLMInvocation | None] | None = current_llm.set(self)

    def detach(self) -> None:
        token, self._llm_token = self._llm_token, None
        if token is not None:
            current_llm.reset(token)
        ctx_token, self._ctx_token = self._ctx_token, None
        if ctx_token is not None:
            otel_context.detach(ctx_token)

    def absorb(self, attributes: Mapping[str, Any], output: dict[str, Any] | None, authoritative: bool) -> None:
        """A nested instrumented call's view. An SDK's view (authoritative: it saw the exact request
        and response) wins over this outer one; a user-class view (a subclass calling super()) only
        fills what the outer view lacks."""
        if self.inner is None:
            self.inner = {"authoritative": ({}, {}), "fallback": ({}, {})}
        attrs, out = self.inner["authoritative" if authoritative else "fallback"]
        # The code location is the outer call's: the method the program called, not the one it delegated to.
        attrs.update((k, v) for k, v in attributes.items() if k not in CODE_KEYS)
        if output:
            out.update(output)

    def _merge_inner(
        self, attributes: Mapping[str, Any] | None, output: Piece | None
    ) -> tuple[dict[str, Any], Piece | None]:
        assert self.inner is not None
        (strong_attrs, strong_out), (weak_attrs, weak_out) = self.inner["authoritative"], self.inner["fallback"]
        merged = {**weak_attrs, **{k: v for k, v in (attributes or {}).items() if v is not None}, **strong_attrs}
        if strong_out or weak_out:
            if isinstance(output, Later):
                output = Later(resolve, ({**weak_out}, output, {**strong_out}))
            else:
                output = {**weak_out, **(output or {}), **strong_out}
            content = self.content
            if content and strong_out:
                if isinstance(content, Later):
                    self.content = content.without(strong_out)
                else:
                    self.content = {k: v for k, v in content.items() if k not in strong_out}
        model = merged.get(semconv.GEN_AI_REQUEST_MODEL)
        if model and model != self.attributes.get(semconv.GEN_AI_REQUEST_MODEL):
            self.span.update_name(f"{self.attributes.get(semconv.GEN_AI_OPERATION_NAME)} {model}")
        return merged, output

    def _record_metrics(self) -> None:
        metrics = self.tel.metrics
        if metrics is None:
            return
        # The attributes are final: the recorder reads the token counts and metric attributes on its own thread.
        metrics.record(time.perf_counter() - self._start, self.attributes, self._outer)  # elapsed(), inlined


def tool_attributes(name: str, call_id: str | None = None, tool_type: str = "function") -> dict[str, Any]:
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.Operation.EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: name,
        semconv.GEN_AI_TOOL_TYPE: tool_type,
    }
    if call_id:
        attrs[semconv.GEN_AI_TOOL_CALL_ID] = call_id
    return attrs


def start_tool(
    tel: Telemetry,
    name: str,
    arguments: Any = None,
    call_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attach: bool = True,
) -> Invocation:
    """An `execute_tool {name}` span; arguments become content under the capture policy.
    End it with `stop(output={GEN_AI_TOOL_CALL_RESULT: result})` or `fail(exc)`."""
    attrs = tool_attributes(name, call_id)
    if extra:
        attrs.update(extra)
    content = {semconv.GEN_AI_TOOL_CALL_ARGUMENTS: arguments} if arguments is not None else None
    return Invocation(tel, f"{semconv.Operation.EXECUTE_TOOL} {name}", kind, attrs, content, attach)


# The workflow node running in this context: replay matches LLM requests per node.
current_node: ContextVar[str | None] = ContextVar("agenttrace_current_node", default=None)


class NodeInvocation(Invocation):
    __slots__ = ("_node_token",)

    def __init__(self, tel: Telemetry, name: str, attributes: dict[str, Any], attach: bool) -> None:
        super().__init__(tel, f"{semconv.Operation.INVOKE_AGENT} {name}", SpanKind.INTERNAL, attributes, None, attach)
        self._node_token: Token[str | None] | None = current_node.set(name) if attach else None

    def detach(self) -> None:
        token, self._node_token = self._node_token, None
        if token is not None:
            with contextlib.suppress(ValueError):  # ended in another context than it started in
                current_node.reset(token)
        super().detach()


def start_node(
    tel: Telemetry, name: str, node_type: str | None = None, extra: Mapping[str, Any] | None = None, attach: bool = True
) -> Invocation:
    """An `invoke_agent {name}` span for a workflow node."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.Operation.INVOKE_AGENT,
        semconv.GEN_AI_AGENT_NAME: name,
        semconv.AGENTTRACE_NODE_NAME: name,
    }
    if node_type:
        attrs[semconv.AGENTTRACE_NODE_TYPE] = node_type
    if extra:
        attrs.update(extra)
    return NodeInvocation(tel, name, attrs, attach)


def start_workflow(
    tel: Telemetry, name: str, extra: Mapping[str, Any] | None = None, attach: bool = True
) -> Invocation:
    """An `invoke_workflow {name}` span: a run of its own (never under the process-level run root)."""
    attrs: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: semconv.Operation.INVOKE_WORKFLOW,
        semconv.GEN_AI_WORKFLOW_NAME: name,
    }
    env = env_snapshot(tel.policy)
    if env is not None:
        attrs[semconv.AGENTTRACE_ENV] = env
    if extra:
        attrs.update(extra)
    return Invocation(
        tel, f"{semconv.Operation.INVOKE_WORKFLOW} {name}", SpanKind.INTERNAL, attrs, None, attach, under_run_root=False
    )


# Metadata a details log record carries beside the content (the event's attributes in the conventions).
_DETAILS_KEYS = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_RESPONSE_ID,
    semconv.GEN_AI_RESPONSE_FINISH_REASONS,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_TOOL_NAME,
    semconv.GEN_AI_TOOL_CALL_ID,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
    semconv.ERROR_TYPE,
)


def record_content(
    tel: Telemetry,
    span: Span,
    pieces: tuple[Piece, ...],
    metadata: Mapping[str, Any] | None = None,
    event: bool = True,
) -> None:
    """Content of a span, where the capture policy says: beside the span (the switch unset: a
    snapshot, built and redacted off this thread), or redacted here and set on the span
    and/or emitted as a `gen_ai.client.inference.operation.details` log record (opted in; `event`
    False: not yet, more content follows in a later call)."""
    policy = tel.policy
    if policy.beside:
        CHANNEL.put(span, policy, pieces)
        return
    captured = policy.content({k: v for k, v in resolve(pieces).items() if v is not None})
    if not captured:
        return
    if policy.on_span:
        set_attributes(span, captured)
        if tel.run_root is not None:
            tel.run_root.note_content(span, captured)
    if policy.on_event:
        if event:
            emit_details(tel, span, captured, metadata)
        if not policy.on_span:
            # EVENT_ONLY: the local run trace still gets the content (redacted already), beside the span.
            CHANNEL.put(span, None, (captured,))


def emit_details(
    tel: Telemetry, span: Span, captured: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
) -> None:
    """The `gen_ai.client.inference.operation.details` event as a log record through the OTel Logs API,
    in the span's context (trace and span ids), on the logger the instrumentor was given."""
    logger = tel.logger
    if logger is None:
        return
    attributes: dict[str, Any] = {}
    if metadata:
        attributes.update((k, metadata[k]) for k in _DETAILS_KEYS if k in metadata)
    attributes.update(captured)
    logger.emit(details_record(span, attributes))


def details_record(span: Span, attributes: dict[str, Any]) -> Any:
    from opentelemetry._logs import LogRecord

    name = semconv.Event.OPERATION_DETAILS
    try:
        return LogRecord(event_name=name, context=trace.set_span_in_context(span), attributes=attributes)
    except TypeError:  # an API older than event_name (< 1.35): the name as the event.name attribute
        ctx = span.get_span_context()
        return LogRecord(
            trace_id=ctx.trace_id,
            span_id=ctx.span_id,
            trace_flags=ctx.trace_flags,
            attributes={**attributes, "event.name": name},
        )


def guarded(where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a piece of our own code; an error in it is reported, never raised."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        internal_error(where, exc)
        return None
