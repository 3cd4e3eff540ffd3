"""The debug bundle of a run: what a person or a coding agent needs to act on it, as files in memory.

    run.json               the run trace (with its recording when there is one: replayable)
    timeline.html          the self-contained view
    profile_summary.json   `agenttrace profile --json`
    debug_context.md       a prompt: the run in ten lines, the failing and suspicious steps first, the
                           profile, the source files that matter and why, how to replay, what to check first
    sources/...            the source files, with --with-sources (size-capped, redacted)
    manifest.json          every file with its size and sha256, and what was left out

Everything passes the project's redaction policy first (the recorded content was redacted when it was
captured; the bundle redacts again, with the policy in force now, every string it writes: attributes,
error messages, the command line, the source files). Large values (base64 images, long documents) are
replaced by a note of their size: a bundle stays small whatever the run held.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from otel_agenttrace import semconv as sc
from otel_agenttrace._profile import component, tool_name

MAX_STRING = 16_000  # characters of one value kept whole; a longer one keeps its head and a size note
KEPT_HEAD = 2_000
MIN_BASE64 = 1_024  # a base64 run (or data: URL) this long is never useful to read: replaced whole
SOURCE_MAX_BYTES = 256 * 1024
SOURCES_MAX_BYTES = 2 * 1024 * 1024
STEP_BUDGET = 1_500  # characters of each input / output shown in debug_context.md
SUSPICIOUS_MAX = 8
_OVERLAP = 4096

_DATA_URL = re.compile(r"data:[\w.+-]+/[\w.+-]+;base64,[A-Za-z0-9+/=\s]{" + str(MIN_BASE64) + ",}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{" + str(MIN_BASE64) + ",}={0,2}")
# A path a tool was given or returned: `src/x.py`, `./a/b.md`, `/abs/c.json` (an extension is required).
_PATH = re.compile(r"(?<![\w/.:-])((?:\.{0,2}/)?(?:[\w.-]+/)*[\w-][\w.-]*\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/])")
_PATH_KEYS = frozenset({"path", "file", "filename", "file_path", "filepath", "paths", "files", "target_file"})
_LIBRARY_PARTS = ("site-packages", "dist-packages", "/lib/python")


@dataclass
class Shrunk:
    """What the size caps replaced, for the manifest."""

    values: int = 0
    chars: int = 0


def _note(kind: str, size: int, sample: str) -> str:
    digest = hashlib.sha256(sample.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"[agenttrace bundle: {kind} of {size:,} characters omitted, sha256 {digest}]"


def strip_blobs(text: str, shrunk: Shrunk) -> str:
    """`text` with data: URLs and base64 runs replaced by size notes (whole: nothing of them is kept)."""
    if len(text) < MIN_BASE64:
        return text
    before = len(text)

    def replace(kind: str) -> Callable[[re.Match[str]], str]:
        def note(m: re.Match[str]) -> str:
            shrunk.values += 1
            return _note(kind, len(m.group()), m.group())

        return note

    text = _DATA_URL.sub(replace("data URL"), text)
    text = _BASE64.sub(replace("base64 data"), text)
    shrunk.chars += max(0, before - len(text))
    return text


def cut_text(text: str, shrunk: Shrunk) -> str:
    """`text`, or its head and a size note when it is longer than MAX_STRING."""
    if len(text) <= MAX_STRING:
        return text
    shrunk.values += 1
    shrunk.chars += len(text) - KEPT_HEAD
    return text[:KEPT_HEAD] + " … " + _note("the rest of a long text", len(text) - KEPT_HEAD, text)


def shrink_text(text: str, shrunk: Shrunk, redact: Callable[[str], str] = lambda t: t) -> str:
    """Blobs out (before redaction, which is slow on megabytes of base64 and has nothing to find in what
    is removed whole), then redacted, then cut: a secret across the cut was whole when it was redacted."""
    return cut_text(redact(strip_blobs(text, shrunk)), shrunk)


def clean(value: Any, redact: Callable[[str], str], shrunk: Shrunk) -> Any:
    """A copy of a JSON value with every string (keys too) shrunk and redacted; iterative (deep content)."""
    root: list[Any] = [None]
    todo: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while todo:
        item, holder, key = todo.pop()
        if isinstance(item, str):
            holder[key] = shrink_text(item, shrunk, redact)
        elif isinstance(item, dict):
            out: dict[str, Any] = {}
            holder[key] = out
            for k, v in item.items():
                k2 = shrink_text(str(k), shrunk, redact)
                out[k2] = None
                todo.append((v, out, k2))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            holder[key] = items
            todo.extend((v, items, i) for i, v in enumerate(item))
        else:
            holder[key] = item
    return root[0]


# --- source files -----------------------------------------------------------------------------------------------


@dataclass
class Source:
    """A file that matters for the run, and why."""

    path: str  # absolute, as recorded or resolved
    shown: str  # relative to the run's working directory when under it
    reasons: list[str] = field(default_factory=list)
    failing: bool = False
    exists: bool = False
    bundled: str | None = None  # its name in the bundle, when copied
    copyable: bool = False  # code of the run, or a file under its working directory (never ~/.ssh/… a tool named)


def _is_library(path: str) -> bool:
    return any(part in path for part in _LIBRARY_PARTS)


def _shown(path: str, cwd: str | None) -> str:
    if cwd:
        try:
            return os.path.relpath(path, cwd) if Path(path).is_relative_to(cwd) else path
        except ValueError:
            return path
    return path


def _strings(value: Any, keyed: bool = False) -> list[tuple[str, bool]]:
    """Every string in a JSON value, with whether it sits under a path-like key."""
    out: list[tuple[str, bool]] = []
    todo: list[tuple[Any, bool]] = [(value, keyed)]
    while todo:
        item, under_key = todo.pop()
        if isinstance(item, str):
            out.append((item, under_key))
        elif isinstance(item, dict):
            todo.extend((v, str(k).lower() in _PATH_KEYS) for k, v in item.items())
        elif isinstance(item, list):
            todo.extend((v, under_key) for v in item)
    return out


def mentioned_paths(value: Any) -> list[str]:
    """File paths in a tool call's arguments or result (JSON text inside strings included)."""
    found: list[str] = []
    for text, under_key in _strings(value):
        if len(text) > 100_000:
            continue
        stripped = text.strip()
        if stripped[:1] in "{[":
            try:
                found.extend(mentioned_paths(json.loads(stripped)))
                continue
            except ValueError:
                pass
        if under_key and "\n" not in stripped and 0 < len(stripped) < 1024:
            found.append(stripped)
            continue
        found.extend(m.group(1) for m in _PATH.finditer(text))
    return list(dict.fromkeys(p for p in found if not p.startswith(("http", "www."))))


def infer_sources(doc: dict[str, Any]) -> list[Source]:
    """The source files of the run: where its traced nodes, tools and providers are defined
    (`code.file.path`), and the files its tool calls named, resolved against the recorded working
    directory. Files of failing steps first, then by how many steps point at them."""
    cwd = (doc.get("command") or {}).get("cwd")
    cwd = cwd if isinstance(cwd, str) and cwd else None
    sources: dict[str, Source] = {}
    counts: dict[str, int] = {}

    def add(path: str, reason: str, failing: bool, copyable: bool) -> None:
        source = sources.get(path)
        if source is None:
            source = sources[path] = Source(path, _shown(path, cwd), exists=Path(path).is_file())
        source.copyable = source.copyable or copyable
        if reason not in source.reasons:
            source.reasons.append(reason)
        source.failing = source.failing or failing
        counts[path] = counts.get(path, 0) + 1

    for step in doc.get("steps") or []:
        if not isinstance(step, dict):
            continue
        attrs = step.get("attributes") or {}
        failing = step.get("status") == "error"
        where = attrs.get(sc.CODE_FILE_PATH)
        if isinstance(where, str) and where and not _is_library(where):
            function = attrs.get(sc.CODE_FUNCTION_NAME) or "?"
            line = attrs.get(sc.CODE_LINE_NUMBER)
            what = _what(step)
            at = f"{function}" + (f", line {line}" if line else "")
            add(os.path.normpath(where), f"defines {what} ({at})", failing, True)
        if step.get("type") == "tool_call":
            for raw in mentioned_paths([step.get("input"), step.get("output")]):
                path = raw if os.path.isabs(raw) else os.path.join(cwd, raw) if cwd else None
                if path is None:
                    continue
                path = os.path.normpath(path)
                if Path(path).is_file():  # words that only look like paths (`example.com`, `e.g`) resolve to nothing
                    inside = cwd is not None and Path(path).is_relative_to(cwd)
                    add(path, f"named by tool call {tool_name(step)} (step #{step.get('index')})", failing, inside)
    ordered = sorted(sources.values(), key=lambda s: (not s.failing, not s.exists, -counts[s.path], s.shown))
    return ordered


def _what(step: dict[str, Any]) -> str:
    kind = step.get("type")
    if kind == "tool_call":
        return f"tool {tool_name(step)}"
    if kind == "node":
        return f"node {step.get('node') or step.get('name')}"
    if kind == "llm_call":
        return f"LLM provider call ({step.get('model') or step.get('name')})"
    return f"{component(step)} {step.get('name')}"


def read_source(source: Source, redact: Callable[[str], str], budget: int) -> bytes | None:
    """The redacted text of a source file, at most SOURCE_MAX_BYTES (cut with a note); None if unreadable."""
    limit = min(SOURCE_MAX_BYTES, budget)
    try:
        with open(source.path, "rb") as f:
            data = f.read(limit + _OVERLAP)
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None  # binary
    # Redacted before the cut (with some text past it): a secret across the cut is still whole when redacted.
    text = redact(data.decode("utf-8", errors="replace"))
    out = text.encode("utf-8")
    if len(data) > limit:
        out = out[:limit].decode("utf-8", errors="ignore").encode("utf-8")
        out += f"\n[agenttrace bundle: file cut at {limit:,} bytes]\n".encode()
    return out


def bundle_name(source: Source) -> str:
    """sources/<path relative to the run's directory>, or sources/abs/<absolute path> outside it."""
    shown = PurePosixPath(source.shown.replace(os.sep, "/"))
    if shown.is_absolute() or ".." in shown.parts:
        parts = [p for p in PurePosixPath(source.path.replace(os.sep, "/")).parts if p not in ("/", "..")]
        return str(PurePosixPath("sources", "abs", *parts))
    return str(PurePosixPath("sources", *shown.parts))


# --- debug_context.md -------------------------------------------------------------------------------------------


def _trim(value: Any, budget: int = STEP_BUDGET) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)
    if len(text) > budget:
        text = text[:budget] + f"\n… ({len(text) - budget:,} more characters in run.json)"
    return text


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}\n{text}\n{ticks}"


def _ms(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    return f"{value / 1000:.2f}s" if value >= 1000 else f"{value:.0f}ms"


def _one(text: Any, width: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _is_empty(value: Any) -> bool:
    if value in (None, "", [], {}):
        return True
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        parts = [p for m in value for p in (m.get("parts") or [])]
        return not any(
            isinstance(p, dict) and (p.get("type") != "text" or str(p.get("content") or "").strip()) for p in parts
        )
    return False


def suspicious(doc: dict[str, Any], prof: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(step, why) for the steps to look at first: errors (tool calls before the rest), retries, empty
    outputs, then the slowest; each step once."""
    steps = {s.get("id"): s for s in doc.get("steps") or [] if isinstance(s, dict)}
    out: dict[Any, tuple[dict[str, Any], str]] = {}
    errors = [s for s in steps.values() if s.get("status") == "error"]
    # The innermost failure says most: a tool's error before the node and workflow it failed.
    errors.sort(key=lambda s: ({"tool_call": 0, "llm_call": 1, "span": 2}.get(str(s.get("type")), 3), s.get("index")))
    for step in errors:
        error = step.get("error") or {}
        why = f"failed: {error.get('type') or 'error'}" + (f": {error.get('message')}" if error.get("message") else "")
        out.setdefault(step.get("id"), (step, why))
    for retry in prof.get("retries") or []:
        again = steps.get(retry.get("id"))
        if again is not None:
            out.setdefault(again.get("id"), (again, "a retry of a failed call"))
    for step in steps.values():
        if (
            step.get("status") == "ok"
            and step.get("type") in ("llm_call", "tool_call")
            and _is_empty(step.get("output"))
        ):
            out.setdefault(step.get("id"), (step, "returned nothing"))
    slow_work = [r for r in prof.get("slowest") or [] if r.get("type") in ("llm_call", "tool_call", "span")]
    for row in slow_work[:3]:
        slow = steps.get(row.get("id"))
        if slow is not None:
            out.setdefault(slow.get("id"), (slow, f"among the slowest steps ({_ms(row.get('duration_ms'))})"))
    return list(out.values())[:SUSPICIOUS_MAX]


def _step_title(step: dict[str, Any]) -> str:
    kind = {"llm_call": "LLM call", "tool_call": "tool call", "node": "node", "workflow": "workflow"}.get(
        str(step.get("type")), f"{component(step)} span"
    )
    name = tool_name(step) if step.get("type") == "tool_call" else step.get("name")
    where = f", node {step.get('node')}" if step.get("node") else ""
    return f"{kind} `{_one(name, 80)}` (step #{step.get('index')}{where}, {_ms(step.get('duration_ms'))})"


def debug_context(
    doc: dict[str, Any], prof: dict[str, Any], sources: list[Source], files: list[str], replay_hint: str
) -> str:
    """The prompt a coding agent can act on."""
    steps = [s for s in doc.get("steps") or [] if isinstance(s, dict)]
    kinds: dict[str, int] = {}
    for s in steps:
        kinds[str(s.get("type"))] = kinds.get(str(s.get("type")), 0) + 1
    usage = doc.get("usage") or {}
    cost = doc.get("cost")
    command = doc.get("command") or {}
    errors = [s for s in steps if s.get("status") == "error"]
    flagged = suspicious(doc, prof)
    by_id = {s.get("id"): s for s in steps}
    lines = [
        f"# Debug context: run {doc.get('run_id')} ({_one(doc.get('workflow'), 80)})",
        "",
        "A recorded run of an LLM agent, bundled by `agenttrace bundle`. The files beside this one: "
        + ", ".join(f"`{f}`" for f in files)
        + ". Secrets were redacted and large values replaced by size notes.",
        "",
        "## The run in ten lines",
        "",
        f"1. Workflow `{_one(doc.get('workflow'), 80)}`, status **{doc.get('status')}**, "
        f"{_ms(doc.get('duration_ms'))}.",
        "2. Steps: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ".",
        f"3. Models: {', '.join(map(str, doc.get('models') or [])) or 'none'}; tokens in/out "
        f"{usage.get('input_tokens', 0)}/{usage.get('output_tokens', 0)}"
        + (f"; cost {cost.get('amount')} {cost.get('currency')}" if isinstance(cost, dict) else "")
        + ".",
        "4. Command: "
        + (
            f"`{_one(' '.join(map(str, command.get('argv') or [])), 200)}` in `{command.get('cwd')}`"
            if command
            else "not recorded"
        )
        + ".",
        f"5. Errors: {len(errors)}"
        + (f"; the first: {_step_title(flagged[0][0])} — {_one(flagged[0][1], 200)}" if errors and flagged else "")
        + ".",
        f"6. Retries: {len(prof.get('retries') or [])}.",
        "7. Slowest step: "
        + (f"{_step_title(by_id[prof['slowest'][0]['id']])}" if prof.get("slowest") else "none")
        + ".",
        "8. Time on the critical path: "
        + (", ".join(f"{k} {_ms(v)}" for k, v in (prof.get("critical_path_by_component") or {}).items()) or "-")
        + ".",
        f"9. Concurrency: at most {prof['concurrency']['max_in_flight']} calls in flight; "
        f"{_ms(prof['concurrency']['parallel_ms'])} with more than one.",
        f"10. Final output: {_one(doc.get('final_output') or '(none)', 300)}",
        "",
        "## Failing and suspicious steps (first things first)",
        "",
    ]
    if not flagged:
        lines += ["None: every step succeeded and returned something.", ""]
    for number, (step, why) in enumerate(flagged, 1):
        attrs = step.get("attributes") or {}
        lines.append(f"### {number}. {_step_title(step)}: {_one(why, 300)}")
        lines.append("")
        where = attrs.get(sc.CODE_FILE_PATH)
        if isinstance(where, str):
            shown = _shown(where, (doc.get("command") or {}).get("cwd"))
            lines.append(
                f"Defined in `{shown}` line {attrs.get(sc.CODE_LINE_NUMBER)} (`{attrs.get(sc.CODE_FUNCTION_NAME)}`)."
            )
            lines.append("")
        parent = by_id.get(step.get("parent_id"))
        if parent is not None:
            lines.append(f"Called from {_step_title(parent)}.")
            lines.append("")
        if step.get("input") is not None or step.get("type") in ("llm_call", "tool_call"):
            lines += ["Input:", "", _fence(_trim(step.get("input"))), ""]
        if step.get("status") == "error":
            lines += ["Error:", "", _fence(_trim(step.get("error"))), ""]
        elif step.get("output") is not None or step.get("type") in ("llm_call", "tool_call"):
            lines += ["Output:", "", _fence(_trim(step.get("output"))), ""]
    lines += ["## Profile summary", "", "(All of it in `profile_summary.json`.)", ""]
    lines.append("| component | steps | wall | total | self | errors | retries |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for row in prof.get("components") or []:
        lines.append(
            f"| {row['name']} | {row['count']} | {_ms(row['wall_ms'])} | {_ms(row['total_ms'])} | "
            f"{_ms(row['self_ms'])} | {row['errors']} | {row['retries']} |"
        )
    lines.append("")
    if prof.get("slowest"):
        lines.append(
            "Slowest steps: "
            + "; ".join(f"#{r['index']} {_one(r['name'], 60)} {_ms(r['duration_ms'])}" for r in prof["slowest"][:5])
            + "."
        )
        lines.append("")
    lines += ["## Source files that matter", ""]
    if not sources:
        lines += [
            "None recorded: no traced function carried a code location (`code.file.path`)"
            " and no tool call named a file.",
            "",
        ]
    for source in sources:
        state = (
            f"in the bundle as `{source.bundled}`"
            if source.bundled
            else (
                "not copied (outside the run's working directory: read it yourself if it matters)"
                if source.exists and not source.copyable
                else "not copied (run `agenttrace bundle --with-sources` to include it)"
                if source.exists
                else "not found on this machine"
            )
        )
        lines.append(
            f"- `{source.shown}`{' (failing step)' if source.failing else ''}: "
            f"{'; '.join(source.reasons[:4])}. {state[:1].upper()}{state[1:]}."
        )
    lines += ["", "## How to replay", "", replay_hint, "", "## What to check first", ""]
    lines += _checks(flagged, sources, prof)
    return "\n".join(lines) + "\n"


def _checks(flagged: list[tuple[dict[str, Any], str]], sources: list[Source], prof: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for step, why in flagged[:3]:
        where = (step.get("attributes") or {}).get(sc.CODE_FILE_PATH)
        source = (
            next((s for s in sources if s.path == os.path.normpath(where)), None) if isinstance(where, str) else None
        )
        at = f" in `{source.shown}`" if source else ""
        out.append(
            f"{len(out) + 1}. {_step_title(step)}{at}: {_one(why, 200)}."
            " Read its input above and the code that handles it."
        )
    path = prof.get("critical_path_by_component") or {}
    if path:
        top = next(iter(path))
        out.append(
            f"{len(out) + 1}. Most of the run's critical path is `{top}` time: start there if the run is too slow."
        )
    out.append(
        f"{len(out) + 1}. After a fix, replay the run (above): the first divergent step should be the one you changed."
    )
    return out
