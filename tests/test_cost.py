"""Cost: hand-computed prices for three models, genai-prices agreeing, overrides, and no guess for unknown models."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace._cost import PriceFileError, PriceTable, annotate, default_table, load_price_file

WHEN = datetime(2026, 11, 23, tzinfo=timezone.utc)


def llm(model: str, provider: str | None, **usage: int) -> dict[str, Any]:
    return {"type": "llm_call", "model": model, "provider": provider, "usage": usage or None}


def doc(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"started_at": "2026-11-23T10:00:00.000000Z", "steps": [{"type": "workflow"}, *steps]}


# Prices per million tokens in genai-prices' table (checked by hand against the providers' pages):
#   gpt-4o             input 2.50, cached input 1.25, output 10
#   claude-sonnet-4-5  input 3, cache read 0.30, cache write 3.75, output 15; above 200k input: 6 / 0.60 / 7.50 / 22.50
#   gemini-2.5-pro     input 1.25, output 10 (up to 200k input)
CASES = [
    # 800 uncached x 2.50 + 200 cached x 1.25 + 100 out x 10 = 3,250 per million
    (llm("gpt-4o-2024-08-06", "openai", input_tokens=1000, cache_read_input_tokens=200, output_tokens=100), 0.00325),
    # 4,000 x 3 + 4,000 read x 0.30 + 2,000 write x 3.75 + 500 out x 15 = 28,200 per million
    (
        llm(
            "claude-sonnet-4-5",
            "anthropic",
            input_tokens=10_000,
            cache_read_input_tokens=4_000,
            cache_creation_input_tokens=2_000,
            output_tokens=500,
        ),
        0.0282,
    ),
    # above the 200k tier every token costs the tier's rate: 250,000 x 6 + 1,000 x 22.50
    (llm("claude-sonnet-4-5", "anthropic", input_tokens=250_000, output_tokens=1_000), 1.5225),
    # 2,000 x 1.25 + 300 x 10 = 5,500 per million (gcp.gemini is the conventions' name for Google's Gemini API)
    (llm("gemini-2.5-pro", "gcp.gemini", input_tokens=2_000, output_tokens=300), 0.0055),
]


@pytest.mark.parametrize(("step", "expected"), CASES)
def test_hand_computed_costs(step: dict[str, Any], expected: float) -> None:
    cost = PriceTable().step_cost(step, WHEN)
    assert cost is not None
    assert cost["currency"] == "USD"
    assert cost["amount"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("step", "expected"), CASES)
def test_genai_prices_agrees(step: dict[str, Any], expected: float) -> None:
    genai_prices = pytest.importorskip("genai_prices")
    from otel_agenttrace._cost import PROVIDER_IDS

    u = step["usage"]
    usage = genai_prices.Usage(
        input_tokens=u.get("input_tokens", 0),
        output_tokens=u.get("output_tokens", 0),
        cache_read_tokens=u.get("cache_read_input_tokens", 0),
        cache_write_tokens=u.get("cache_creation_input_tokens", 0),
    )
    theirs = genai_prices.calc_price(
        usage, step["model"], provider_id=PROVIDER_IDS[step["provider"]], genai_request_timestamp=WHEN
    )
    assert float(theirs.total_price) == pytest.approx(expected, rel=1e-9)


def test_run_cost_sums_priced_calls_and_counts_the_others() -> None:
    run = doc(
        CASES[0][0],
        llm("my-own-finetune", "openai", input_tokens=1000, output_tokens=10),
        llm("llama3", "ollama", input_tokens=50, output_tokens=5),
        llm("gpt-4o", "openai"),  # no usage reported: nothing to price, not counted as unpriced
        {"type": "tool_call"},
    )
    PriceTable().annotate(run)
    steps = run["steps"]
    assert steps[1]["cost"]["amount"] == pytest.approx(0.00325)
    assert "cost" not in steps[2] and "cost" not in steps[3] and "cost" not in steps[4] and "cost" not in steps[5]
    assert run["cost"] == {"amount": pytest.approx(0.00325), "currency": "USD", "unpriced_calls": 2}


def test_no_priced_call_means_no_run_cost() -> None:
    run = doc(llm("my-own-finetune", None, input_tokens=1000, output_tokens=10))
    PriceTable().annotate(run)
    assert "cost" not in run and "cost" not in run["steps"][1]


def _price_file(tmp_path: Path, body: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _price_file(
        tmp_path,
        {
            "currency": "EUR",
            "models": {
                "my-own-finetune": {"input": 1.0, "output": 2.0},
                "acme-*": {"input": 10, "output": 20, "cache_read": 1},
                "gpt-4o-2024-08-06": {"input": 0, "output": 0},  # a model we do not pay for
            },
        },
    )
    monkeypatch.setenv("AGENTTRACE_PRICES", str(path))
    run = annotate(
        doc(
            llm("my-own-finetune", None, input_tokens=1_000_000, output_tokens=500_000),  # 1 + 1 EUR
            llm("ACME-large-2", "acme", input_tokens=1_000_000, cache_read_input_tokens=500_000),  # 5 + 0.5
            llm("gpt-4o-2024-08-06", "openai", input_tokens=1000, output_tokens=100),
        )
    )
    assert [s.get("cost") for s in run["steps"][1:]] == [
        {"amount": 2.0, "currency": "EUR"},
        {"amount": 5.5, "currency": "EUR"},
        {"amount": 0.0, "currency": "EUR"},
    ]
    assert run["cost"] == {"amount": 7.5, "currency": "EUR", "unpriced_calls": 0}
    monkeypatch.delenv("AGENTTRACE_PRICES")
    assert default_table().step_cost(llm("my-own-finetune", None, input_tokens=1, output_tokens=1)) is None


def test_mixed_currencies_have_no_run_total(tmp_path: Path) -> None:
    euro = _price_file(tmp_path, {"currency": "EUR", "models": {"x": {"input": 1, "output": 1}}})
    table = PriceTable(load_price_file(str(euro)))
    run = table.annotate(doc(llm("x", None, input_tokens=1), CASES[0][0]))
    assert run["steps"][1]["cost"]["currency"] == "EUR" and run["steps"][2]["cost"]["currency"] == "USD"
    assert "cost" not in run


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ({"x": 1}, "expected"),
        ({"models": {"m": {"input": 1}}}, "output must be a price"),
        ({"models": {"m": {"input": -1, "output": 1}}}, "input must be a price"),
        ({"models": {"m": {"input": 1, "output": 1, "cahce_read": 1}}}, "unknown field(s) cahce_read"),
        ({"currency": 5, "models": {}}, "currency"),
    ],
)
def test_bad_price_files(tmp_path: Path, body: Any, message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    with pytest.raises(PriceFileError, match=r".*" + message.replace("(", r"\(").replace(")", r"\)")):
        load_price_file(str(path))
    with pytest.raises(PriceFileError, match="cannot read"):
        load_price_file(str(tmp_path / "missing.json"))
