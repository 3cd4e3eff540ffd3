"""Redaction cost per KB of content, with the default policy (every built-in pattern, no user rules).

    python bench/bench_redaction.py                 # the full table, about 20 seconds
    python bench/bench_redaction.py --runs 15       # a quick look
    python bench/bench_redaction.py --profile chat  # where the time goes, for one kind of content

Content kinds (deterministic, built once):
  prose     English prose, no secret
  chat      the JSON of a chat exchange in the parts format: ids, tool calls with JSON arguments, tool results
  code      Python source code (the standard library's own)
  digits    digit-heavy text: CSV rows of prices, quantities, timestamps, phone and order numbers
  secrets   prose with a few secrets of different kinds planted in it (each KB-sized chunk has some)

Rows:
  redact    `Redactor().redact(text)` on a str of the given size (1 KB, 16 KB)
  content   `CapturePolicy().content({...})`: what every span with content pays (JSON serialisation of the
            message objects, redaction, size cap); for `chat` only, per KB of the serialised JSON

Each number is the median over --runs timed runs of the per-call mean (each run loops long enough to
take about --run-ms), in µs per KB (1 KB = 1024 characters). The clock is the thread's CPU time. The
goal is at most 5 µs per KB with the default policy on typical content (prose, chat, code).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import CapturePolicy
from otel_agenttrace._redact import Redactor

KB = 1024
SIZES = (1, 16)
GOAL_US_PER_KB = 5.0

_WORDS = [
    "the",
    "agent",
    "reads",
    "each",
    "step",
    "of",
    "the",
    "plan",
    "and",
    "calls",
    "a",
    "tool",
    "when",
    "the",
    "answer",
    "needs",
    "fresh",
    "data",
    "from",
    "the",
    "outside",
    "world",
    "then",
    "it",
    "writes",
    "a",
    "short",
    "summary",
    "for",
    "the",
    "user",
    "who",
    "asked",
    "about",
    "flights",
    "hotels",
    "and",
    "the",
    "weather",
    "in",
    "Lisbon",
    "next",
    "week",
    "while",
    "keeping",
    "the",
    "budget",
    "under",
    "control",
    "and",
    "noting",
    "every",
    "assumption",
    "it",
    "made",
    "along",
    "the",
    "way",
    "so",
    "that",
    "a",
    "later",
    "run",
    "can",
    "check",
    "them",
    "against",
    "what",
    "actually",
    "happened",
]


def _prose(rng: random.Random, size: int) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 22)))
        sentence = sentence[0].upper() + sentence[1:] + rng.choice((". ", ", and then ", "? ", ".\n\n"))
        out.append(sentence)
        length += len(sentence)
    return "".join(out)[:size]


def _token(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _chat_messages(rng: random.Random, size: int) -> list[dict[str, Any]]:
    """Parts-format messages whose JSON is at least `size` characters."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"type": "text", "content": _prose(rng, 300)}]},
    ]
    while len(json.dumps(messages, ensure_ascii=False)) < size:
        call_id = f"call_{_token(rng, 24)}"
        messages.append(
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": call_id,
                        "name": rng.choice(("search_flights", "get_weather", "book_hotel")),
                        "arguments": {
                            "city": rng.choice(("Lisbon", "Porto", "Madrid")),
                            "date": f"2026-11-{rng.randint(10, 28)}",
                            "max_price_eur": rng.randint(80, 400),
                            "request_id": f"req_{_token(rng, 20)}",
                        },
                    }
                ],
                "finish_reason": "tool_call",
            }
        )
        messages.append(
            {
                "role": "tool",
                "parts": [
                    {
                        "type": "tool_call_response",
                        "id": call_id,
                        "response": {
                            "results": [
                                {"id": f"res-{_token(rng, 16)}", "price": rng.randint(80, 400), "note": _prose(rng, 80)}
                                for _ in range(2)
                            ]
                        },
                    }
                ],
            }
        )
    return messages


def _chat(rng: random.Random, size: int) -> str:
    return json.dumps(_chat_messages(rng, size), ensure_ascii=False)[:size]


def _code(_rng: random.Random, size: int) -> str:
    import argparse as source_module  # any sizeable pure-Python module of the standard library

    text = inspect.getsource(source_module)
    while len(text) < size:
        text += text
    return text[:size]


def _digits(rng: random.Random, size: int) -> str:
    rows = ["order_id,timestamp_ns,qty,unit_price,total,phone,zip"]
    length = len(rows[0])
    while length < size:
        qty = rng.randint(1, 40)
        price = rng.randint(100, 99999) / 100
        row = (
            f"{rng.randint(10**9, 10**10 - 1)},{1_795_428_000_000_000_000 + rng.randint(0, 10**12)},{qty},"
            f"{price:.2f},{qty * price:.2f},+1 415 555 {rng.randint(1000, 9999)},{rng.randint(10000, 99999)}"
        )
        rows.append(row)
        length += len(row) + 1
    return "\n".join(rows)[:size]


_SECRETS = (
    "sk-proj-" + "Q7vLm2Xr9KpT4wZb8NcY3dHf6JsAe1Ug5RiOo0Pq",
    "AKIAQ7RZ3WXYZ2EXAMPL",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "Authorization: Bearer tok3nV4lu3.Xyz-987_abc",
    "alice.smith@example.com",
    "4539 5787 6362 1486",
)


def _secrets(rng: random.Random, size: int) -> str:
    """Prose with two secrets in every KB."""
    chunks = []
    for i in range(max(1, size // KB)):
        words = _prose(rng, KB).split(" ")
        for j in (2, 1):
            secret = _SECRETS[(2 * i + j) % len(_SECRETS)]
            words.insert(rng.randrange(len(words)), secret)
        chunks.append(" ".join(words))
    return "".join(chunks)[:size]


KINDS: dict[str, Callable[[random.Random, int], str]] = {
    "prose": _prose,
    "chat": _chat,
    "code": _code,
    "digits": _digits,
    "secrets": _secrets,
}


def _clock() -> float:
    return time.thread_time()


def measure(fn: Callable[[], object], runs: int, run_ms: float) -> float:
    """Median over `runs` of the mean seconds per call (each run loops for about `run_ms`)."""
    fn()
    loops = 1
    while True:  # calibrate: enough calls for one run to take run_ms
        start = _clock()
        for _ in range(loops):
            fn()
        if _clock() - start >= run_ms / 1000 or loops >= 1_000_000:
            break
        loops *= 2
    samples = []
    for _ in range(runs):
        start = _clock()
        for _ in range(loops):
            fn()
        samples.append((_clock() - start) / loops)
    return statistics.median(samples)


def build() -> dict[tuple[str, int], str]:
    return {
        (kind, size): make(random.Random(f"{kind}-{size}"), size * KB) for kind, make in KINDS.items() for size in SIZES
    }


def run(runs: int, run_ms: float) -> list[tuple[str, str, int, float, int]]:
    """(row, kind, size in KB, µs per KB, secrets found) for every row."""
    redactor = Redactor()
    policy = CapturePolicy()
    texts = build()
    results = []
    for (kind, size), text in texts.items():
        found = redactor.redact(text)[1]
        seconds = measure(lambda text=text: redactor.redact(text), runs, run_ms)  # type: ignore[misc]
        results.append(("redact", kind, size, seconds * 1e6 / (len(text) / KB), found))
    for size in SIZES:
        messages = _chat_messages(random.Random(f"content-{size}"), size * KB)
        serialized = len(json.dumps(messages, ensure_ascii=False))
        values = {sc.GEN_AI_INPUT_MESSAGES: messages}
        big = CapturePolicy(max_length=serialized + 1)  # no truncation: the whole text is redacted
        seconds = measure(lambda big=big, values=values: big.content(values), runs, run_ms)  # type: ignore[misc]
        found = int(big.content(values).get(sc.AGENTTRACE_CONTENT_REDACTIONS, 0))
        results.append(("content", "chat", size, seconds * 1e6 / (serialized / KB), found))
    del policy
    return results


def table(results: list[tuple[str, str, int, float, int]]) -> str:
    lines = [
        "| row | content | size | µs per KB | secrets found |",
        "|---|---|---:|---:|---:|",
    ]
    for row, kind, size, us_per_kb, found in results:
        lines.append(f"| {row} | {kind} | {size} KB | {us_per_kb:.2f} | {found} |")
    return "\n".join(lines)


def profile(kind: str, size: int = 16) -> str:
    redactor = Redactor()
    text = KINDS[kind](random.Random(f"{kind}-{size}"), size * KB)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(2000):
        redactor.redact(text)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=41, help="timed runs per row; the median is shown (default 41)")
    parser.add_argument("--run-ms", type=float, default=10.0, help="length of one timed run (default 10 ms)")
    parser.add_argument("--profile", choices=sorted(KINDS), help="profile the redaction of one kind (16 KB)")
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile))
        return
    results = run(args.runs, args.run_ms)
    print(f"Redaction, default policy; median of {args.runs} runs; goal <= {GOAL_US_PER_KB:g} µs/KB\n")
    print(table(results))


if __name__ == "__main__":
    main()
