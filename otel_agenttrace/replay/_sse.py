"""Redaction of a recorded event stream, where a secret may be cut across events; and the stream's
chunking (the pieces the SDK read), carried over to the redacted text and served again on replay.

A model that streams a key sends it in pieces, one per event (`"content":"sk-ab"`, then `"cd…"`): no
single event holds it, so redacting the stream's text finds nothing. Here the string values found at the
same JSON path in successive events (`choices/0/delta/content`, Anthropic's `delta/text`, tool-call
argument deltas) are joined in order and redacted as one text, as the accumulated output is for the span;
each secret found is blanked in every piece it spans (its marker in the first), and the events are
written back. Only `Redactor.redact()` is used: the spans come from the markers in its output.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

_MARKER = re.compile(r"\[REDACTED:[^\]\n]*\]")
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _leaves(node: Any, path: tuple[Any, ...], out: dict[tuple[Any, ...], list[tuple[Any, Any]]]) -> None:
    """(container, key) of every string in `node`, by JSON path, in document order."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str):
            out.setdefault((*path, key), []).append((node, key))
        else:
            _leaves(value, (*path, key), out)


def secret_spans(original: str, redacted: str) -> list[tuple[int, int, str]]:
    """(start, end, marker) in `original` of what `redacted` replaced (adjacent markers merged)."""
    parts = _MARKER.split(redacted)
    markers = _MARKER.findall(redacted)
    spans: list[tuple[int, int, str]] = []
    pos = len(parts[0])
    k = 0
    while k < len(markers):
        marker = markers[k]
        while k + 1 < len(markers) and parts[k + 1] == "":
            k += 1
        following = parts[k + 1]
        end = original.find(following, pos) if following else len(original)
        if end < 0:
            end = len(original)
        spans.append((pos, end, marker))
        pos = end + len(following)
        k += 1
    return spans


def redact_event_stream(text: str, redact: Any) -> str:
    """`text` (server-sent events) with every secret masked, including secrets cut across events."""
    lines = text.split("\n")
    docs: list[tuple[int, Any]] = []
    for i, line in enumerate(lines):
        if line.startswith("data:"):
            payload = line[5:].lstrip(" ")
            if payload.startswith(("{", "[")):
                with contextlib.suppress(ValueError):
                    docs.append((i, json.loads(payload)))
    groups: dict[tuple[Any, ...], list[tuple[Any, Any]]] = {}
    for _, doc in docs:
        _leaves(doc, (), groups)
    changed = False
    for leaves in groups.values():
        if len(leaves) > 1:
            changed = _redact_pieces(leaves, redact) or changed
    if changed:
        for i, doc in docs:
            lines[i] = "data: " + _COMPACT(doc)
    return str(redact("\n".join(lines))[0])


def _redact_pieces(leaves: list[tuple[Any, Any]], redact: Any) -> bool:
    """Redact the strings of `leaves` as one text; write the result back piece by piece."""
    values = [str(c[k]) for c, k in leaves]
    joined = "".join(values)
    redacted, count = redact(joined)
    if not count:
        return False
    spans = secret_spans(joined, redacted)
    start = 0
    for (container, key), value in zip(leaves, values, strict=True):
        end = start + len(value)
        pieces: list[str] = []
        cursor = start
        for s, e, marker in spans:
            if e <= start or s >= end or e <= s:
                continue
            pieces.append(joined[cursor : max(s, start)])
            if s >= start:
                pieces.append(marker)  # the secret starts in this piece
            cursor = min(e, end)
        if pieces:
            pieces.append(joined[cursor:end])
            container[key] = "".join(pieces)
        start = end
    return True


# --- chunking ------------------------------------------------------------------------------------------


def chunk_lengths(chunks: Sequence[bytes]) -> list[int]:
    """The length in characters of each chunk the SDK read (a character cut between two chunks counts in
    the chunk where it ends). On the export thread: the tee only keeps the chunks it already passes on."""
    if all(chunk.isascii() for chunk in chunks):  # the usual stream: a byte is a character
        return [len(chunk) for chunk in chunks] or [0]
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return [len(decoder.decode(chunk)) for chunk in chunks[:-1]] + [
        len(decoder.decode(chunks[-1], final=True)) if chunks else 0
    ]


def _event_starts(text: str) -> list[int]:
    starts = [0]
    at = text.find("\n\n")
    while at >= 0:
        starts.append(at + 2)
        at = text.find("\n\n", at + 2)
    return starts


def carry_chunks(original: str, stored: str, lengths: list[int]) -> list[int] | None:
    """`lengths` (chunks of `original`) for `stored`, the redacted text: each chunk boundary keeps its
    event and its place in it (clamped to the event's new length). None when the events no longer line up
    (a redaction across an event boundary): the replay then cuts the stream after each event."""
    lengths = [n for n in lengths if n > 0]
    if sum(lengths) != len(original) or len(lengths) < 2:
        return None
    if stored == original:
        return lengths
    old_starts, new_starts = _event_starts(original), _event_starts(stored)
    if len(old_starts) != len(new_starts):
        return None
    new_ends = [*new_starts[1:], len(stored)]
    cuts: list[int] = []
    end = 0
    for n in lengths[:-1]:
        end += n
        k = bisect.bisect_right(old_starts, end) - 1
        offset = min(end - old_starts[k], new_ends[k] - new_starts[k])
        cut = new_starts[k] + offset
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
    bounds = [0, *cuts, len(stored)]
    out = [b - a for a, b in itertools.pairwise(bounds) if b > a]
    return out if sum(out) == len(stored) else None


def split_chunks(text: str, lengths: Any) -> list[bytes] | None:
    """`text` cut into the recorded chunks, as bytes; None when the lengths do not fit the text."""
    if not isinstance(lengths, list) or not all(isinstance(n, int) and n > 0 for n in lengths):
        return None
    if sum(lengths) != len(text):
        return None
    out: list[bytes] = []
    start = 0
    for n in lengths:
        out.append(text[start : start + n].encode("utf-8"))
        start += n
    return out
