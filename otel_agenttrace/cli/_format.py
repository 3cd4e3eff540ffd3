"""Formatting shared by `list` and `show`: times, durations, tokens, one-line excerpts, tables."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

ELLIPSIS = "…"


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


def clip(text: str, width: int) -> str:
    """`text` on one line, at most `width` characters, ending in … when cut."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)].rstrip() + ELLIPSIS


def short_value(value: Any, width: int = 24) -> str:
    """A compact literal for an argument value: strings quoted, the rest as JSON."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
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
