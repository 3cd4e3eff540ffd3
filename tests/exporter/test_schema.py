"""The run-trace JSON Schema, its packaged copy, and the version check every reader runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from otel_agenttrace.exporter._assemble import assemble
from otel_agenttrace.exporter._records import TraceFormatError, read_tempo
from otel_agenttrace.exporter._schema import SCHEMA_VERSION, SchemaVersionError, check_run_trace, load_schema, validate

ROOT = Path(__file__).parent.parent.parent
DATA = ROOT / "tests" / "data" / "backends"


@pytest.fixture
def doc() -> dict[str, Any]:
    return assemble(read_tempo(json.loads((DATA / "tempo-api-v2-traces.json").read_text(encoding="utf-8"))))


def test_the_packaged_schema_is_the_published_one_byte_for_byte() -> None:
    published = (ROOT / "semconv" / "run-trace.schema.json").read_bytes()
    packaged = (ROOT / "otel_agenttrace" / "exporter" / "run-trace.schema.json").read_bytes()
    assert packaged == published, "copy semconv/run-trace.schema.json to otel_agenttrace/exporter/"
    assert load_schema() == json.loads(published)


def test_the_schema_is_a_valid_draft_2020_12_schema_for_version_1() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["enum"] == [1, 2]
    assert SCHEMA_VERSION == 2


def test_load_schema_returns_a_fresh_dict() -> None:
    load_schema()["properties"].clear()
    assert "steps" in load_schema()["properties"]


def test_check_run_trace_accepts_version_1(doc: dict[str, Any]) -> None:
    assert check_run_trace(doc) is doc
    validate(doc)


def test_a_newer_schema_version_is_refused_with_one_line() -> None:
    with pytest.raises(SchemaVersionError) as info:
        check_run_trace({"schema_version": 3, "run_id": "x"})
    message = str(info.value)
    assert "schema_version 3" in message and "upgrade" in message and "\n" not in message
    assert isinstance(info.value, TraceFormatError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({}, "no schema_version"),
        ({"schema_version": None}, "no schema_version"),
        ({"schema_version": "1"}, "invalid schema_version"),
        ({"schema_version": 1.0}, "invalid schema_version"),
        ({"schema_version": True}, "invalid schema_version"),
        ({"schema_version": 0}, "invalid schema_version"),
        ([], "JSON object"),
        ("text", "JSON object"),
    ],
)
def test_a_missing_or_invalid_version_is_a_format_error(doc: Any, fragment: str) -> None:
    with pytest.raises(TraceFormatError, match=fragment) as info:
        check_run_trace(doc)
    assert not isinstance(info.value, SchemaVersionError)


def _broken(doc: dict[str, Any], path: str, value: Any = ..., *, delete: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split("/")
    target: Any = out
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if delete:
        del target[last]
    else:
        target[int(last) if isinstance(target, list) else last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "delete", "where"),
    [
        ("final_output", None, True, "(root)"),
        ("steps/2/usage", None, True, "steps/2"),
        ("surprise", 1, False, "(root)"),
        ("steps/0/surprise", 1, False, "steps/0"),
        ("run_id", "4BF92F3577B34DA6A3CE929D0E0E4736", False, "run_id"),
        ("steps/1/id", "xyz", False, "steps/1/id"),
        ("steps/1/type", "agent", False, "steps/1/type"),
        ("status", "done", False, "status"),
        ("started_at", "2026-11-23 10:00:00", False, "started_at"),
        ("usage/input_tokens", -1, False, "usage/input_tokens"),
        ("usage/input_tokens", None, True, "usage"),
        ("usage/reasoning_tokens", 5, False, "usage"),
        ("steps/3/error", None, False, "steps/3/error"),  # the failed tool step must say why
        ("steps/0/error", {"type": "X", "message": None}, False, "steps/0/error"),  # an ok step has no error
        ("steps/0/duration_ms", None, False, "steps/0/duration_ms"),  # only incomplete steps lack a duration
        ("steps/2/input", {"not": "messages"}, False, "steps/2/input"),
        ("steps/2/output/0/parts", "text", False, "steps/2/output"),
        ("service/name", 3, False, "service/name"),
        ("models", ["a", "a"], False, "models"),
        ("steps", [], False, "steps"),
    ],
)
def test_violations_are_reported_on_one_line(
    doc: dict[str, Any], path: str, value: Any, delete: bool, where: str
) -> None:
    with pytest.raises(TraceFormatError) as info:
        validate(_broken(doc, path, value, delete=delete))
    message = str(info.value)
    assert message.startswith(f"run trace does not match schema v2 at {where}")
    assert "\n" not in message


def test_free_form_where_the_design_says_so(doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(doc)
    doc["steps"][2]["attributes"]["anything.at.all"] = {"nested": [1, None, True]}
    doc["steps"][2]["request"]["reasoning_effort"] = "high"
    doc["steps"][3]["input"] = ["tool", "args", "may", "be", "any", "JSON"]
    doc["steps"][3]["output"] = 42
    doc["steps"][2]["input"] = "cut at the size cap…"
    validate(doc)


def test_validate_refuses_a_newer_version_before_the_schema(doc: dict[str, Any]) -> None:
    with pytest.raises(SchemaVersionError):
        validate({**doc, "schema_version": 3})


def test_a_committed_version_1_document_is_still_read() -> None:
    """A run trace written by the version-1 writer (before replay): readers of version 2 accept it as it is."""
    v1 = json.loads((ROOT / "tests" / "data" / "run-trace-v1.json").read_text(encoding="utf-8"))
    assert v1["schema_version"] == 1 and "recording" not in v1
    assert check_run_trace(v1) is v1
    validate(v1)
