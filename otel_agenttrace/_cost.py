"""What an LLM call cost: token usage times the model's price, from an offline price table.

Prices come from `genai-prices` (Pydantic's maintained table of LLM API prices; its data ships inside
the package and we never ask it to update over the network) and from an optional user file named by
AGENTTRACE_PRICES, which wins over the table. A model found in neither has no cost: a run's total says
how many calls it could not price instead of guessing.

Token counts follow the GenAI conventions: `input_tokens` includes the cache-read and cache-creation
tokens, so the uncached part is priced at the input rate and each cached part at its own rate. A rate
may be tiered by the call's input tokens (above 200k tokens some models cost more per token, on all of
them); that follows genai-prices' rule: the highest tier whose start the input exceeds.

The computation here is ours (a few multiplications per call) rather than genai-prices' per-call
`calc_price`, which costs ~0.2 ms a call: 10,000 calls would add two seconds to `show`. A test checks
both agree.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from otel_agenttrace.environment_variables import AGENTTRACE_PRICES

_log = logging.getLogger(__name__)

USD = "USD"
KINDS = ("input", "output", "cache_read", "cache_write")
_PER = 1_000_000  # prices are per million tokens

# gen_ai.provider.name (OTel GenAI conventions) -> genai-prices provider id.
PROVIDER_IDS: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "perplexity": "perplexity",
    "cohere": "cohere",
}

# A rate: (base per million tokens, ((threshold, rate), ...) ascending); the tiers are often empty.
Rate = tuple[float, tuple[tuple[int, float], ...]]


class PriceFileError(ValueError):
    """The AGENTTRACE_PRICES file cannot be used."""


@dataclass(frozen=True)
class Prices:
    """The rates of one model, per million tokens. A missing cache rate is the input rate."""

    input: Rate
    output: Rate
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    currency: str = USD

    def cost(self, usage: Mapping[str, Any]) -> float:
        """The cost of one call with this `usage` (the run trace's usage fields)."""
        total_in = _count(usage.get("input_tokens"))
        cache_read = _count(usage.get("cache_read_input_tokens"))
        cache_write = _count(usage.get("cache_creation_input_tokens"))
        uncached = max(0, total_in - cache_read - cache_write)
        amount = uncached * _rate(self.input, total_in)
        amount += cache_read * _rate(self.cache_read or self.input, total_in)
        amount += cache_write * _rate(self.cache_write or self.input, total_in)
        amount += _count(usage.get("output_tokens")) * _rate(self.output, total_in)
        return amount / _PER


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _rate(rate: Rate, total_input: int) -> float:
    base, tiers = rate
    for start, price in reversed(tiers):
        if total_input > start:
            return price
    return base


class PriceTable:
    """Prices by (provider, model): the user's overrides first, then genai-prices. Lookups are cached."""

    def __init__(self, overrides: Mapping[str, Prices] | None = None, use_genai_prices: bool = True) -> None:
        self._exact = {k.lower(): v for k, v in (overrides or {}).items() if not k.endswith("*")}
        self._prefixes = sorted(
            ((k[:-1].lower(), v) for k, v in (overrides or {}).items() if k.endswith("*")),
            key=lambda item: -len(item[0]),
        )
        self._use_genai_prices = use_genai_prices
        self._cache: dict[tuple[str | None, str, str], Prices | None] = {}
        self._lock = threading.Lock()

    def lookup(self, provider: str | None, model: str, when: datetime | None = None) -> Prices | None:
        day = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
        key = (provider, model, day)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        found = self._override(model)
        if found is None and self._use_genai_prices:
            found = _from_genai_prices(provider, model, when)
        with self._lock:
            self._cache[key] = found
        return found

    def _override(self, model: str) -> Prices | None:
        name = model.lower()
        found = self._exact.get(name)
        if found is not None:
            return found
        for prefix, prices in self._prefixes:
            if name.startswith(prefix):
                return prices
        return None

    def step_cost(self, step: Mapping[str, Any], when: datetime | None = None) -> dict[str, Any] | None:
        """{"amount", "currency"} of an llm_call step with a model and token usage; None when unpriced."""
        usage = step.get("usage")
        model = step.get("model")
        if not isinstance(usage, dict) or not usage or not isinstance(model, str) or not model:
            return None
        provider = step.get("provider")
        prices = self.lookup(provider if isinstance(provider, str) else None, model, when)
        if prices is None:
            return None
        return {"amount": round(prices.cost(usage), 10), "currency": prices.currency}

    def annotate(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Add `cost` to every priced llm_call step and to the run (the sum; calls without a price counted)."""
        when = _parse_time(doc.get("started_at"))
        total = 0.0
        currencies: set[str] = set()
        priced = unpriced = 0
        for step in doc.get("steps") or []:
            if not isinstance(step, dict) or step.get("type") != "llm_call":
                continue
            step.pop("cost", None)
            if not step.get("usage"):
                continue  # no tokens reported: nothing was billed that we could know of
            cost = self.step_cost(step, when)
            if cost is None:
                unpriced += 1
                continue
            step["cost"] = cost
            priced += 1
            total += cost["amount"]
            currencies.add(cost["currency"])
        doc.pop("cost", None)
        if priced and len(currencies) == 1:
            doc["cost"] = {"amount": round(total, 10), "currency": currencies.pop(), "unpriced_calls": unpriced}
        return doc


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _from_genai_prices(provider: str | None, model: str, when: datetime | None) -> Prices | None:
    try:
        from genai_prices import data_snapshot
    except ImportError:  # not installed (it is a dependency, but a trimmed environment may lack it)
        return None
    provider_id = PROVIDER_IDS.get(provider, provider) if provider else None
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
        price = info.get_prices(when or datetime.now(timezone.utc))
    except LookupError:
        return None
    except Exception as exc:  # a malformed table entry must not break `show`
        _log.debug("genai-prices lookup of %r failed: %s", model, exc)
        return None
    rates = {kind: _genai_rate(getattr(price, f"{kind}_mtok", None)) for kind in KINDS}
    input_rate, output_rate = rates["input"], rates["output"]
    if input_rate is None or output_rate is None:
        return None  # priced by something else (per request, per image): not a token price we can apply
    return Prices(input_rate, output_rate, rates["cache_read"], rates["cache_write"])


def _genai_rate(value: Any) -> Rate | None:
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is not None:
        return float(value.base), tuple((int(t.start), float(t.price)) for t in tiers)
    return float(value), ()


# --- the user's price file ------------------------------------------------------------------------------------------


def load_price_file(path: str) -> dict[str, Prices]:
    """Read an AGENTTRACE_PRICES file: {"currency": "USD", "models": {"NAME or PREFIX*": {"input": 3, ...}}}."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise PriceFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PriceFileError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        raise PriceFileError(f'{path}: expected {{"models": {{"MODEL": {{"input": …, "output": …}}}}}}')
    currency = doc.get("currency", USD)
    if not isinstance(currency, str) or not currency:
        raise PriceFileError(f"{path}: currency must be a code such as USD")
    table: dict[str, Prices] = {}
    for name, entry in doc["models"].items():
        if not isinstance(entry, dict):
            raise PriceFileError(f"{path}: model {name!r}: expected an object of prices per million tokens")
        rates: dict[str, Rate | None] = {}
        for kind in KINDS:
            value = entry.get(kind)
            if value is None and kind.startswith("cache"):
                rates[kind] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                rates[kind] = (float(value), ())
            else:
                raise PriceFileError(f"{path}: model {name!r}: {kind} must be a price >= 0 per million tokens")
        unknown = set(entry) - set(KINDS)
        if unknown:
            raise PriceFileError(f"{path}: model {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
        input_rate, output_rate = rates["input"], rates["output"]
        assert input_rate is not None and output_rate is not None
        table[name] = Prices(input_rate, output_rate, rates["cache_read"], rates["cache_write"], currency)
    return table


_default: PriceTable | None = None
_default_key: str | None = None


def default_table(environ: Mapping[str, str] | None = None) -> PriceTable:
    """genai-prices plus the AGENTTRACE_PRICES file, if set (re-read when the variable changes)."""
    global _default, _default_key
    path = (os.environ if environ is None else environ).get(AGENTTRACE_PRICES) or ""
    if _default is None or _default_key != path:
        _default = PriceTable(load_price_file(path) if path else None)
        _default_key = path
    return _default


def annotate(doc: dict[str, Any]) -> dict[str, Any]:
    """Add costs to a run-trace document with the default price table."""
    return default_table().annotate(doc)
