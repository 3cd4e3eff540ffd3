"""docs/privacy.md, "What leaves the process": the table of where each kind of data goes under each setting of
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, held against the code cell by cell.

For each setting (a column) one small agent runs through the real code paths, configured from the environment as
`opentelemetry-instrument` configures it: the instrumentor takes its capture policy from the environment, and a
RunTraceExporter takes its forward target and content opt-in from the environment. The agent makes a real OpenAI
chat call (system message, tool definitions, a tool-call response) and a Responses call with instructions, runs a
tool through `otel_agenttrace.tool` with arguments and a result, runs a tool that raises, and opens a `workflow()`;
the process-level run root records the command line and the allow-listed environment. Each kind of data carries a
marker of its own.

Then, per row and setting (one test id per cell), on each side:

- the local store: the run store the exporter wrote, read back with `RunStore.spans()`;
- the OTLP forward: what a real OTLP/HTTP receiver on 127.0.0.1 got from the forwarder;

every attribute of the row is looked up on spans (`span`) and on the row's event (`event`: the
`gen_ai.client.inference.operation.details` event, or `exception` for exceptions), and every marker of the row is
looked for in span attributes, event attributes and status descriptions (`status`). Both must be exactly the cell.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_transport, json_response, openai_client
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import otel_agenttrace
from otel_agenttrace import AgentTraceInstrumentor
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import DEFAULT_MAX_LENGTH
from otel_agenttrace.environment_variables import (
    AGENTTRACE_ENV_ALLOW,
    AGENTTRACE_STRICT,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)
from otel_agenttrace.exporter._records import SpanRecord
from otel_agenttrace.exporter.run_trace import RunTraceExporter
from otel_agenttrace.exporter.store import RunStore
from tests.otlp_receiver import OTLPReceiver, span_attributes

DOC = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
SECTION = "## What leaves the process"

UNSET = "unset"
SETTINGS = (UNSET, "NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT")
LOCATIONS = frozenset({"span", "event", "log", "status"})
NOT_RECORDED = "—"

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
EXCEPTION_EVENT = "exception"

# --- what the agent sends: one marker per kind of data ----------------------------------------------------------

USER_MARKER = "WLMARK-USER-QUESTION"
CHAT_SYSTEM_MARKER = "WLMARK-CHAT-SYSTEM"
INSTRUCTIONS_MARKER = "WLMARK-INSTRUCTIONS"
TOOL_DEFINITION_MARKER = "WLMARK-TOOL-DEFINITION"
ARGUMENT_MARKER = "WLMARK-TOOL-ARGUMENT"
RESULT_MARKER = "WLMARK-TOOL-RESULT"
EXCEPTION_MARKER = "WLMARK-EXCEPTION-MESSAGE"
ENV_MARKER = "WLMARK-ENV-VALUE"
ARGV_MARKER = "WLMARK-COMMAND-LINE"

# A fake e-mail address: the redactor replaces it, so the chat span counts a redaction.
USER_MESSAGE = f"{USER_MARKER}: what is the weather in Paris? Reply to alice.smith@example.com"
# Longer than the size cap: the tool span reports a truncated attribute (the marker, at the start, survives).
TOOL_RESULT = f"{RESULT_MARKER} " + "." * DEFAULT_MAX_LENGTH
ENV_NAME = "WHATLEAVES_STAGE"

_PARAMETERS = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": f"{TOOL_DEFINITION_MARKER}: the current weather",
        "parameters": _PARAMETERS,
    },
}
RESPONSES_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": f"{TOOL_DEFINITION_MARKER}: the current weather",
    "parameters": _PARAMETERS,
}


@dataclass(frozen=True)
class Kind:
    """How the test finds one row's data: the event its attributes go on, and the markers planted in it."""

    event: str
    markers: tuple[str, ...] = ()


# Every row of the table, by its `data` cell. A row not here is an error: the test would not know how to check it.
KINDS = {
    "messages": Kind(DETAILS_EVENT, (USER_MARKER, CHAT_SYSTEM_MARKER)),
    "system instructions": Kind(DETAILS_EVENT, (INSTRUCTIONS_MARKER,)),
    "tool definitions": Kind(DETAILS_EVENT, (TOOL_DEFINITION_MARKER,)),
    "tool arguments and results": Kind(DETAILS_EVENT, (ARGUMENT_MARKER, RESULT_MARKER)),
    "redaction and truncation counts": Kind(DETAILS_EVENT),
    "metadata": Kind(DETAILS_EVENT),
    "exception messages and stack traces": Kind(EXCEPTION_EVENT, (EXCEPTION_MARKER,)),
    "allow-listed environment": Kind(DETAILS_EVENT, (ENV_MARKER,)),
    "command line": Kind(DETAILS_EVENT, (ARGV_MARKER,)),
}


# --- the table ---------------------------------------------------------------------------------------------------


class TableError(AssertionError):
    pass


@dataclass(frozen=True)
class Cell:
    local: frozenset[str]
    forward: frozenset[str]


@dataclass(frozen=True)
class Row:
    data: str
    attributes: tuple[str, ...]
    cells: dict[str, Cell]


def _split(line: str, number: int) -> list[str]:
    text = line.strip()
    if not (text.startswith("|") and text.endswith("|")):
        raise TableError(f"line {number}: not a table row: {line!r}")
    return [cell.strip() for cell in text[1:-1].split("|")]


def _side(text: str, where: str) -> frozenset[str]:
    if text == NOT_RECORDED:
        return frozenset()
    items = [item.strip() for item in text.split(",")]
    unknown = [item for item in items if item not in LOCATIONS]
    if unknown:
        raise TableError(f"{where}: {unknown} not one of span, event, log, status, {NOT_RECORDED}")
    if len(set(items)) != len(items):
        raise TableError(f"{where}: {text!r} names a place twice")
    return frozenset(items)


def parse_table(text: str) -> dict[str, Row]:
    """The rows of the table under SECTION, by their `data` cell. Anything unexpected raises TableError."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == SECTION)
    except StopIteration:
        raise TableError(f"no section {SECTION!r}") from None
    table: list[tuple[int, str]] = []
    for number, line in enumerate(lines[start + 1 :], start + 2):
        if line.startswith("## "):
            break
        if line.lstrip().startswith("|"):
            table.append((number, line))
        elif table:
            break
    if len(table) < 3:
        raise TableError(f"no table (header, separator and rows) under {SECTION!r}")

    (header_no, header_line), (sep_no, sep_line), *body = table
    header = [cell.strip("`") for cell in _split(header_line, header_no)]
    if header[:2] != ["data", "attributes"]:
        raise TableError(f"line {header_no}: the first two columns must be data, attributes; got {header[:2]}")
    columns = header[2:]
    unknown = [c for c in columns if c not in SETTINGS]
    if unknown:
        raise TableError(f"line {header_no}: unknown setting column(s) {unknown}; known: {list(SETTINGS)}")
    if sorted(columns) != sorted(SETTINGS):
        raise TableError(f"line {header_no}: columns {columns} must be each of {list(SETTINGS)} once")
    separator = _split(sep_line, sep_no)
    if len(separator) != len(header) or not all(re.fullmatch(r":?-{3,}:?", c) for c in separator):
        raise TableError(f"line {sep_no}: not the separator row of a {len(header)}-column table")

    rows: dict[str, Row] = {}
    for number, line in body:
        cells = _split(line, number)
        if len(cells) != len(header):
            raise TableError(f"line {number}: {len(cells)} cells, the header has {len(header)}")
        data, attributes_cell, *settings = cells
        if data not in KINDS:
            raise TableError(f"line {number}: unknown row {data!r}; this test knows {sorted(KINDS)}")
        if data in rows:
            raise TableError(f"line {number}: row {data!r} twice")
        if not re.fullmatch(r"`[^`]+`(?:, `[^`]+`)*", attributes_cell):
            raise TableError(f"line {number}: attributes must be `name`, `name`, ...; got {attributes_cell!r}")
        attributes = tuple(re.findall(r"`([^`]+)`", attributes_cell))
        parsed: dict[str, Cell] = {}
        for column, cell in zip(columns, settings, strict=True):
            where = f"line {number} ({data}, {column})"
            match = re.fullmatch(r"(.+?) / (.+)", cell)
            if match is None:
                raise TableError(f"{where}: {cell!r} is not '<local store> / <OTLP forward>'")
            parsed[column] = Cell(_side(match.group(1).strip(), where), _side(match.group(2).strip(), where))
        rows[data] = Row(data, attributes, parsed)
    missing = sorted(set(KINDS) - set(rows))
    if missing:
        raise TableError(f"the table has no row for {missing}")
    return rows


def _load_table() -> tuple[dict[str, Row], str | None]:
    try:
        return parse_table(DOC.read_text(encoding="utf-8")), None
    except (OSError, TableError) as exc:
        return {}, f"{DOC}: {exc}"


TABLE, TABLE_ERROR = _load_table()
CELLS = [
    pytest.param(data, setting, id=f"{data.replace(' ', '_')}-{setting}") for data in TABLE for setting in SETTINGS
] or [pytest.param(None, None, id="no-table")]


# --- running the agent -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanView:
    """A span as either side holds it."""

    name: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: str


@dataclass(frozen=True)
class Observed:
    local: list[SpanView]
    forwarded: list[SpanView]
    # details log records (attributes), as the logs pipeline ships them: they leave the process, never the store
    logs: list[dict[str, Any]]


def _from_record(record: SpanRecord) -> SpanView:
    events = [(e.name, dict(e.attributes)) for e in record.events]
    return SpanView(record.name, dict(record.attributes), events, record.status_message or "")


def _from_otlp(span: Any) -> SpanView:
    events = [(e.name, span_attributes(e)) for e in span.events]
    return SpanView(span.name, span_attributes(span), events, span.status.message)


def agent() -> None:
    """What a small agent does: everything the table has a row for."""
    transport = fake_transport(
        json_response("openai/chat_tool_call.json"), json_response("openai/responses_tool_call.json")
    )
    client = openai_client(transport)
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": f"{CHAT_SYSTEM_MARKER}: answer briefly"},
            {"role": "user", "content": USER_MESSAGE},
        ],
        tools=[CHAT_TOOL],  # type: ignore[list-item]
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]

    @otel_agenttrace.tool(call.function.name, **{sc.GEN_AI_TOOL_CALL_ID: call.id})  # type: ignore[union-attr]
    def get_weather(location: str) -> str:
        return TOOL_RESULT

    assert get_weather(ARGUMENT_MARKER) == TOOL_RESULT

    @otel_agenttrace.tool("explode")
    def explode(attempt: int) -> None:
        raise RuntimeError(EXCEPTION_MARKER)

    try:
        explode(1)
    except RuntimeError as exc:
        assert str(exc) == EXCEPTION_MARKER
    else:
        raise AssertionError("the failing tool did not raise")

    client.responses.create(
        model="gpt-4o", instructions=f"{INSTRUCTIONS_MARKER}: be brief", input=USER_MESSAGE, tools=[RESPONSES_TOOL]
    )
    with otel_agenttrace.workflow("nightly"):
        pass
    transport.assert_all_served()


# The Responses call is a `chat` operation too; the workflow is a run of its own beside the run root's.
EXPECTED_SPANS = sorted(
    [
        "chat gpt-4o",
        "chat gpt-4o",
        "execute_tool get_weather",
        "execute_tool explode",
        "invoke_workflow agent",
        "invoke_workflow nightly",
    ]
)


def run_agent(setting: str, workdir: Path) -> Observed:
    """Run the agent configured from the environment under `setting`; return what the store and the backend got."""
    home = workdir / "home"
    with OTLPReceiver("http") as receiver, pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("OTEL_", "AGENTTRACE_")) and name != AGENTTRACE_STRICT:
                mp.delenv(name)
        if setting != UNSET:
            mp.setenv(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, setting)
        mp.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        mp.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        mp.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "5")
        mp.setenv(AGENTTRACE_ENV_ALLOW, "WHATLEAVES_*")
        mp.setenv(ENV_NAME, ENV_MARKER)
        # No pyproject.toml above the working directory or the script: no [tool.agenttrace] from the repository.
        mp.chdir(workdir)
        mp.setattr("sys.argv", [str(workdir / "agent.py"), "--tag", ARGV_MARKER])

        exporter = RunTraceExporter(store=home)  # forward target and content opt-in from the environment
        assert exporter.forwarder is not None, "the exporter does not forward to the test receiver"
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=50))
        meter_provider = MeterProvider()
        log_exporter = InMemoryLogRecordExporter()
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
        instrumentor = AgentTraceInstrumentor()
        assert not instrumentor.is_instrumented_by_opentelemetry, "instrumented already: a test did not clean up"
        # No capture policy given: it comes from the environment, as with opentelemetry-instrument.
        instrumentor.instrument(
            tracer_provider=provider, meter_provider=meter_provider, logger_provider=logger_provider, run_root=True
        )
        try:
            agent()
        finally:
            instrumentor.uninstrument()  # ends the process-level run root
            provider.shutdown()  # flushes to the exporter, which drains the forwarder
            meter_provider.shutdown()
            logger_provider.shutdown()
        assert receiver.wait_for_spans(len(EXPECTED_SPANS), timeout=10)
        forwarded = [_from_otlp(span) for span in receiver.spans]
        logs = [dict(d.log_record.attributes or {}) for d in log_exporter.get_finished_logs()]

    with RunStore(home) as store:
        local = [_from_record(r) for run in store.list_runs(limit=100) for r in store.spans(run.run_id)]
    assert sorted(s.name for s in local) == EXPECTED_SPANS
    assert sorted(s.name for s in forwarded) == EXPECTED_SPANS
    return Observed(local, forwarded, logs)


@pytest.fixture(scope="module")
def observe(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Observed]:
    """Runs the agent once per setting, on first use."""
    cache: dict[str, Observed | BaseException] = {}

    def get(setting: str) -> Observed:
        if setting not in cache:
            try:
                cache[setting] = run_agent(setting, tmp_path_factory.mktemp(f"what-leaves-{setting}"))
            except BaseException as exc:
                cache[setting] = exc
        found = cache[setting]
        if isinstance(found, BaseException):
            raise found
        return found

    return get


# --- where things are --------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def attribute_places(
    spans: Iterable[SpanView], attribute: str, event: str, logs: Iterable[dict[str, Any]] = ()
) -> set[str]:
    """Where an attribute is set: `span`, `event` (the row's event), `log` (a details log record), or another
    event, named."""
    places: set[str] = {"log"} if any(attribute in record for record in logs) else set()
    for span in spans:
        if attribute in span.attributes:
            places.add("span")
        for name, attributes in span.events:
            if attribute in attributes:
                places.add("event" if name == event else f"the {name!r} event")
    return places


def data_places(spans: Iterable[SpanView], marker: str, event: str, logs: Iterable[dict[str, Any]] = ()) -> set[str]:
    """Where a piece of data shows up: in a span attribute, in the row's event, in a details log record, in a
    status description, elsewhere."""
    places: set[str] = {"log"} if any(marker in _text(v) for r in logs for v in r.values()) else set()
    for span in spans:
        if marker in span.name:
            places.add("a span name")
        if any(marker in _text(v) for v in span.attributes.values()):
            places.add("span")
        for name, attributes in span.events:
            if marker in name or any(marker in _text(v) for v in attributes.values()):
                places.add("event" if name == event else f"the {name!r} event")
        if marker in span.status:
            places.add("status")
    return places


def _show(places: Iterable[str]) -> str:
    order = {"span": 0, "event": 1, "log": 2, "status": 3}
    return ", ".join(sorted(places, key=lambda p: (order.get(p, 3), p))) or NOT_RECORDED


# --- the tests ---------------------------------------------------------------------------------------------------


def test_the_table_parses() -> None:
    assert TABLE_ERROR is None, TABLE_ERROR
    assert set(TABLE) == set(KINDS)


@pytest.mark.parametrize(("data", "setting"), CELLS)
def test_each_cell_holds(observe: Callable[[str], Observed], data: str | None, setting: str | None) -> None:
    if TABLE_ERROR is not None or data is None or setting is None:
        pytest.fail(f"the table cannot be read: {TABLE_ERROR}")
    row, kind = TABLE[data], KINDS[data]
    cell = row.cells[setting]
    observed = observe(setting)
    problems: list[str] = []
    for side, expected, spans, logs in (
        ("local store", cell.local, observed.local, []),
        ("OTLP forward", cell.forward, observed.forwarded, observed.logs),
    ):
        for attribute in row.attributes:
            found = attribute_places(spans, attribute, kind.event, logs)
            wanted = expected - {"status"}
            if found != wanted:
                problems.append(f"{side}: `{attribute}` is on {_show(found)}; the table says {_show(wanted)}")
        for marker in kind.markers:
            found = data_places(spans, marker, kind.event, logs)
            if found != expected:
                problems.append(
                    f"{side}: the data marked {marker!r} is in {_show(found)}; the table says {_show(expected)}"
                )
        if "status" in expected and not kind.markers:
            problems.append(f"{side}: the table says status, but the test plants no data of this row to look for")
    if problems:
        pytest.fail(f"docs/privacy.md row {data!r} under {setting}:\n" + "\n".join(problems), pytrace=False)


def test_the_content_rows_name_every_content_attribute() -> None:
    """What the forwarder strips without an opt-in is exactly the data the table keeps local under `unset`."""
    assert TABLE_ERROR is None, TABLE_ERROR
    local_only = {
        attribute
        for row in TABLE.values()
        for attribute in row.attributes
        if KINDS[row.data].markers and row.cells[UNSET].local and not row.cells[UNSET].forward
    }
    assert local_only == set(sc.CONTENT_ATTRIBUTES)
    assert sc.Event.OPERATION_DETAILS == DETAILS_EVENT and sc.Event.EXCEPTION == EXCEPTION_EVENT


# --- the parser fails loudly ------------------------------------------------------------------------------------

DOC_TEXT = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (SECTION, "## Where data goes", "no section"),
        ("| data | attributes |", "| data | attrs |", "the first two columns"),
        ("`SPAN_ONLY` |", "`SPANS_ONLY` |", "unknown setting column"),
        ("| `SPAN_AND_EVENT` |", "|", "must be each of"),
        ("| command line |", "| the command line |", "unknown row"),
        ("| command line |", "| allow-listed environment |", "twice"),
        ("| messages | `gen_ai.input.messages`", "| messages | gen_ai.input.messages", "attributes must be"),
        ("| span / — | — / — | span / span |", "| span / — | — / — | spam / span |", "not one of"),
        ("| span / — | — / — | span / span |", "| span / — | — | span / span |", "is not '<local store>"),
        ("| span / — | — / — | span / span |", "| span / — | — / — |", "cells, the header has"),
        ("| span / — | — / — | span / span |", "| span / — | — / — | span, span / span |", "names a place twice"),
    ],
)
def test_a_malformed_table_is_an_error(old: str, new: str, message: str) -> None:
    assert old in DOC_TEXT, f"the doc no longer has {old!r}: update this test"
    with pytest.raises(TableError, match=re.escape(message)):
        parse_table(DOC_TEXT.replace(old, new, 1))


def test_a_missing_row_is_an_error() -> None:
    text = "\n".join(line for line in DOC_TEXT.splitlines() if not line.startswith("| command line |"))
    with pytest.raises(TableError, match="no row for"):
        parse_table(text)
