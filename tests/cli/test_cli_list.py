"""`agenttrace list`: the table and the JSON of the recent runs."""

from __future__ import annotations

import json
from pathlib import Path

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import _format

from .cli_helpers import BASE_NS, CRASHED_RUN, NIGHTLY_RUN, WHALE_RUN, Invoke


def test_table_lists_newest_first_with_every_column(invoke: Invoke, home: Path) -> None:
    result = invoke("list", home=home)
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "RUN",
        "ID",
        "WORKFLOW",
        "STATUS",
        "STARTED",
        "DURATION",
        "STEPS",
        "TOKENS",
        "IN/OUT",
        "COST",
        "MODELS",
    ]
    assert [r.split()[0] for r in rows] == [CRASHED_RUN[:12], NIGHTLY_RUN[:12], WHALE_RUN[:12]]
    crashy, nightly, whale = rows
    assert whale.split()[1:3] == ["whaleflow", "ok"]
    assert _format.local_time(BASE_NS) in whale
    assert "2.40s" in whale
    # gpt-4o: (400 + 412) in x $2.50 + (40 + 55) out x $10 per million tokens
    assert whale.split()[-4:] == ["5", "812/95", "$0.0030", "gpt-4o"]
    assert nightly.split()[1:3] == ["nightly", "error"]
    assert nightly.rstrip().endswith("claude-sonnet-4")
    assert crashy.split()[1:3] == ["crashy", "incomplete"]
    assert "\x1b[" not in result.stdout  # not a terminal: no color


def test_limit(invoke: Invoke, home: Path) -> None:
    result = invoke("list", "--limit", "1", home=home)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    assert CRASHED_RUN[:12] in result.stdout


def test_json_has_full_ids_and_numbers(invoke: Invoke, home: Path) -> None:
    result = invoke("list", "--json", "-n", "5", home=home)
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [r["run_id"] for r in runs] == [CRASHED_RUN, NIGHTLY_RUN, WHALE_RUN]
    whale = runs[2]
    assert whale == {
        "run_id": WHALE_RUN,
        "workflow": "whaleflow",
        "status": "ok",
        "started_at": "2026-11-23T10:00:00.000000Z",
        "started_ns": BASE_NS,
        "duration_ms": 2400.0,
        "steps": 5,
        "input_tokens": 812,
        "output_tokens": 95,
        "models": ["gpt-4o"],
        "cost": {"amount": 0.00298, "currency": "USD", "unpriced_calls": 0},
        "lost_spans": 0,
    }
    assert runs[0]["duration_ms"] is not None  # a finished span ended, the run is still incomplete
    assert runs[0]["status"] == "incomplete"


def test_home_from_the_environment(invoke: Invoke, home: Path) -> None:
    result = invoke("list", "--json", env={"AGENTTRACE_HOME": str(home)})
    assert len(json.loads(result.stdout)) == 3


def test_home_option_on_the_command(invoke: Invoke, home: Path) -> None:
    result = invoke("list", "--json", "--home", str(home))
    assert len(json.loads(result.stdout)) == 3


def test_empty_or_missing_store_is_not_an_error(invoke: Invoke, empty_home: Path, tmp_path: Path) -> None:
    for where in (empty_home, tmp_path / "nowhere"):
        result = invoke("list", home=where)
        assert result.exit_code == 0
        assert result.stdout == ""
        assert result.stderr.startswith("agenttrace: no runs recorded yet in")
        assert json.loads(invoke("list", "--json", home=where).stdout) == []
    assert not (tmp_path / "nowhere").exists()  # listing never creates a store


def test_bad_limit_is_a_usage_error(invoke: Invoke, home: Path, one_line_error) -> None:
    one_line_error(invoke("list", "--limit", "0", home=home), 2, "--limit")
    one_line_error(invoke("list", "--limit", "many", home=home), 2, "--limit")


def test_a_call_two_instrumentations_traced_counts_once_in_every_column(invoke: Invoke, tmp_path: Path) -> None:
    """Pydantic AI's `chat` span (instrument_all) with our SDK span inside, our span written first (children
    end first): `list` shows one LLM step, its tokens and its cost once, as `dump` does."""
    from otel_agenttrace.exporter.store import RunStore

    from .cli_helpers import span

    run_id = "beef" + "0" * 27 + "4"
    chat = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}
    counts = {sc.GEN_AI_USAGE_INPUT_TOKENS: 249, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 30}
    root = span(run_id, "a" * 16, None, "agent run", 0, 100, {sc.GEN_AI_OPERATION_NAME: "invoke_agent"})
    theirs = span(run_id, "b" * 16, "a" * 16, "chat gpt-4o", 1, 90, {**chat, **counts})
    ours = span(run_id, "c" * 16, "b" * 16, "chat gpt-4o", 2, 80, {**chat, **counts}, kind="CLIENT")
    root.scope = theirs.scope = "pydantic-ai"
    ours.scope = "otel_agenttrace"
    home = tmp_path / "store"
    with RunStore(home=home) as store:
        store.write_spans([ours])
        store.write_spans([theirs, root])
    listed = json.loads(invoke("list", "--json", home=home).stdout)[0]
    doc = json.loads(invoke("dump", run_id, home=home).stdout)
    assert (listed["input_tokens"], listed["output_tokens"]) == (249, 30)
    assert (doc["usage"]["input_tokens"], doc["usage"]["output_tokens"]) == (249, 30)
    assert listed["steps"] == len(doc["steps"]) == 2
    # gpt-4o: 249 in x $2.50 + 30 out x $10 per million tokens, once
    assert listed["cost"] == {"amount": 0.0009225, "currency": "USD", "unpriced_calls": 0}
