"""`agenttrace view`: one self-contained HTML file of a run (the timeline, filters, every LLM and tool call).

The page is template.html with view.css and view.js inlined and the run-trace JSON embedded as an
inert `application/json` block. Nothing is fetched: no CDN, no font, no request of any kind (a
Content-Security-Policy of `default-src 'none'` with hashes of our own style and script enforces it),
so the file works from file://, as a CI artifact or attached to a bug report.

Content is data, never markup: the JSON is escaped so that no `<` appears in it (`</script>` in a
model's output cannot end the block), and the script puts every string on the page as text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from otel_agenttrace.version import __version__

__all__ = ["render", "write"]

_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
# In a <script> block the HTML parser looks for `</script` and `<!--`; JSON allows \u escapes of any
# character, so these never appear raw. U+2028/2029 are escaped for older JS engines' sake.
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str]:
    files = resources.files(__package__ or "otel_agenttrace.view")
    return tuple(files.joinpath(name).read_text("utf-8") for name in ("template.html", "view.css", "view.js"))  # type: ignore[return-value]


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def embed_json(value: Any) -> str:
    """`value` as JSON that is inert inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return _UNSAFE_RE.sub(lambda m: _UNSAFE[m.group()], text)


def _summaries(steps: list[dict[str, Any]]) -> list[str]:
    from otel_agenttrace.cli.show import summary  # one summary per step, the same as `show` prints

    out = []
    for step in steps:
        try:
            out.append(summary(step) if isinstance(step, dict) else "")
        except Exception:  # a malformed step still gets a row
            out.append(str(step.get("name", "")) if isinstance(step, dict) else "")
    return out


def _comparison(doc: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """`other` and the aligned pairs of the comparison engine (the one replay reports divergence with)."""
    from otel_agenttrace.replay.compare import compare_runs

    a_index = {id(step): i for i, step in enumerate(doc.get("steps") or [])}
    b_index = {id(step): i for i, step in enumerate(other.get("steps") or [])}
    comparison = compare_runs(doc, other)
    pairs = [
        {
            "kind": pair.kind,
            "a": a_index.get(id(pair.a)) if pair.a is not None else None,
            "b": b_index.get(id(pair.b)) if pair.b is not None else None,
            "changes": [change.to_dict() for change in pair.changes],
        }
        for pair in comparison.pairs
    ]
    summaries = _summaries(other.get("steps") or [])
    return {"run": other, "summaries": summaries, "pairs": pairs, "counts": comparison.counts()}


def render(doc: dict[str, Any], compare: dict[str, Any] | None = None) -> str:
    """The HTML page of a run-trace document; with `compare`, the two runs' steps aligned side by side."""
    template, style, script = _assets()
    steps = doc.get("steps") or []
    payload: dict[str, Any] = {"run": doc, "summaries": _summaries(steps)}
    if compare is not None:
        payload["compare"] = _comparison(doc, compare)
    values = {
        "TITLE": html.escape(f"{doc.get('workflow') or 'run'} · {doc.get('status')} · agenttrace", quote=True),
        "VERSION": html.escape(__version__),
        "STYLE": style,
        "SCRIPT": script,
        "STYLE_HASH": _csp_hash(style),
        "SCRIPT_HASH": _csp_hash(script),
        "DATA": embed_json(payload),
    }
    # One pass: a placeholder-like string inside the data is never expanded.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def write(doc: dict[str, Any], path: str | os.PathLike[str], compare: dict[str, Any] | None = None) -> int:
    """Write the page of `doc` (compared with `compare`, if given) to `path`; return its size in bytes."""
    # A lone surrogate (a tool argument decoded with surrogateescape) can only sit inside a JSON
    # string, where backslashreplace turns it into a valid \\udcXX escape.
    data = render(doc, compare).encode("utf-8", errors="backslashreplace")
    Path(path).write_bytes(data)
    return len(data)
