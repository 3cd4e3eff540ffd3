"""The recording format's pieces: event-stream redaction, request normalisation, the comparison engine."""

from __future__ import annotations

import json
from typing import Any

from otel_agenttrace._capture import policy_from_env
from otel_agenttrace.replay._format import request_key
from otel_agenttrace.replay._sse import redact_event_stream, secret_spans
from otel_agenttrace.replay.compare import align, compare_runs, first_difference

KEY = "ghp_" + "N" * 10 + "Izjq2tqwXeBq3zmvpSf3wfH7abcd"
REDACT = policy_from_env({}).redactor.redact


def _events(*docs: dict[str, Any]) -> str:
    return "".join(f"event: x\ndata: {json.dumps(d)}\n\n" for d in docs)


def test_a_secret_cut_across_events_is_masked_in_every_piece() -> None:
    # Anthropic-style deltas with other fields between the pieces.
    text = _events(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "key: " + KEY[:9]}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": KEY[9:20]}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": KEY[20:] + " ok"}},
    )
    out = redact_event_stream(text, REDACT)
    texts = [json.loads(line[6:])["delta"]["text"] for line in out.splitlines() if line.startswith("data: ")]
    assert texts == ["key: [REDACTED:github_token]", "", " ok"]
    assert all(piece not in out for piece in (KEY[:9], KEY[9:20], KEY[20:]))
    assert out.count("event: x") == 3  # the other lines are kept


def test_secret_spans_from_markers() -> None:
    original = "a sk-x b SECRET c"
    assert secret_spans(original, "a [REDACTED:k] b [REDACTED:s] c") == [
        (2, 6, "[REDACTED:k]"),
        (9, 15, "[REDACTED:s]"),
    ]
    assert secret_spans("xy", "[REDACTED:a][REDACTED:b]") == [(0, 2, "[REDACTED:a]")]


def test_request_key_is_canonical_and_redacted() -> None:
    policy = policy_from_env({})
    a = request_key(json.dumps({"model": "m", "messages": [{"content": KEY}]}), policy)
    b = request_key('{"messages":[{"content":"' + KEY + '"}],   "model":"m"}', policy)
    assert a == b and KEY not in a and "[REDACTED:" in a


def test_first_difference_paths() -> None:
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ("/a/1/b", 2, 3)
    assert first_difference([1], [1, 2]) == ("/1", None, 2)
    assert first_difference({"a": 1}, {"a": 1}) is None


def _step(i: int, kind: str, name: str, node: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": i, "type": kind, "name": name, "node": node, "status": "ok", **fields}


def test_alignment_survives_an_inserted_step_and_pairs_a_changed_model() -> None:
    a = [_step(0, "workflow", "w"), _step(1, "llm_call", "chat m1", "p"), _step(2, "tool_call", "t", "p")]
    b = [
        _step(0, "workflow", "w"),
        _step(1, "tool_call", "extra", "p"),
        _step(2, "llm_call", "chat m2", "p"),
        _step(3, "tool_call", "t", "p", output=1),
    ]
    assert align(a, b) == [(0, 0), (None, 1), (1, 2), (2, 3)]
    comparison = compare_runs({"steps": a}, {"steps": b})
    assert [p.kind for p in comparison.pairs] == ["same", "added", "changed", "changed"]
    assert comparison.first_divergence is not None and comparison.first_divergence.kind == "added"
    assert comparison.pairs[2].changes[0].field == "name"
    assert comparison.pairs[3].changes[0].field == "output"
    assert comparison.counts() == {"same": 1, "changed": 2, "added": 1, "removed": 0}


def test_durations_and_tokens_are_deltas_not_differences() -> None:
    a = [_step(0, "llm_call", "chat m", duration_ms=10.0, usage={"input_tokens": 5, "output_tokens": 1})]
    b = [_step(0, "llm_call", "chat m", duration_ms=30.0, usage={"input_tokens": 7, "output_tokens": 1})]
    comparison = compare_runs({"steps": a}, {"steps": b})
    assert comparison.equivalent
    assert comparison.pairs[0].deltas == {"duration_ms": 20.0, "input_tokens": 2}
