"""Formatting shared by every command: safe text, times, durations, tokens, cost, one-line excerpts, tables.

`printable` is the one guard between recorded content (model output, tool results, names, remote
error bodies) and the terminal: every command passes such text through it before printing.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

ELLIPSIS = "…"

# Unicode category Cc: C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F, U+009B being CSI).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: object) -> str:
    """`text` with every control character shown escaped (`\\x1b[2J`), whatever the color setting.

    A terminal acts on raw control characters: a model's output or a crafted run file could clear
    the screen, retitle the window, plant hyperlinks or forge lines. Escaped, they are seen, not obeyed.
    """
    text = str(text)
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)


def local_time(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: float | None) -> str:
    """412ms, 1.23s, 2m03s; '-' when unknown (a run still going, or killed)."""
    if ms is None:
        return "-"
    if 0 < ms < 1:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m{seconds:02d}s"


def offset(ms: float | None) -> str:
    """A start relative to the run's: +0ms, +815ms, +1.82s."""
    return "+" + duration(ms)


def tokens(input_tokens: int | None, output_tokens: int | None) -> str:
    if input_tokens is None and output_tokens is None:
        return "-"
    return f"{input_tokens or 0}/{output_tokens or 0}"


CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: float | None, currency: str | None = "USD") -> str:
    """$0.000054, $0.0123, $1.27, 0.50 CHF; '-' when unknown (never a guess)."""
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        return "-"
    code = printable(currency or "USD")
    sign = CURRENCY_SIGNS.get(code)
    if amount == 0:
        text = "0"
    elif amount < 1e-8:
        return f"<{sign}0.00000001" if sign else f"<0.00000001 {code}"
    elif amount < 0.01:
        # two significant digits: a cheap call is $0.000054, not $0.0000
        text = f"{amount:.{1 - math.floor(math.log10(amount))}f}"
    elif amount < 1:
        text = f"{amount:.4f}"
    else:
        text = f"{amount:,.2f}"
    return f"{sign}{text}" if sign else f"{text} {code}"


def run_cost(cost: dict[str, Any] | None) -> str:
    """A run's cost, with the number of LLM calls that had no price (their cost is not in the sum)."""
    if not isinstance(cost, dict):
        return "-"
    text = money(cost.get("amount"), cost.get("currency"))
    unpriced = cost.get("unpriced_calls")
    if isinstance(unpriced, int) and unpriced > 0:
        text += f" (+{unpriced} unpriced)"
    return text


def clip(text: str, width: int) -> str:
    """`text` on one line (control characters escaped), at most `width` characters, ending in … when cut."""
    text = printable(" ".join(str(text).split()))
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)].rstrip() + ELLIPSIS


# One encoder for every value: json.dumps with options builds a new encoder per call (a third of `show`'s time).
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def short_value(value: Any, width: int = 24) -> str:
    """A compact literal for an argument value: strings quoted, the rest as JSON."""
    try:
        text = _compact(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return clip(text, width)


def call(name: str, arguments: Any, width: int = 60) -> str:
    """`name(k="v", n=3)` from a dict of arguments (or a JSON string of one)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return clip(f"{name}({arguments})", width)
    if isinstance(arguments, dict):
        inner = ", ".join(f"{k}={short_value(v)}" for k, v in arguments.items())
    elif arguments is None:
        inner = ""
    else:
        inner = short_value(arguments)
    return clip(f"{name}({inner})", width)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[int] = (),
    paint: Callable[[int, str], str] | None = None,
) -> list[str]:
    """Columns two spaces apart; those whose index is in `right` right-aligned.

    `paint(column, cell)` may wrap a body cell in color codes: it is applied after padding, which
    is computed on the plain text.
    """
    widths = [display_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))

    def line(cells: Sequence[str], painted: bool) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - display_width(cell))
            shown = paint(i, cell) if painted and paint is not None else cell
            out.append(pad + shown if i in right else shown + pad)
        return "  ".join(out).rstrip()

    return [line(headers, False), *(line(r, True) for r in rows)]
