"""`agenttrace bundle`: a run as a debug bundle (a zip or a directory) for a person or a coding agent.

What goes in is decided in otel_agenttrace/_bundle.py; this file loads the run, applies the redaction
policy in force and writes the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from otel_agenttrace.cli import _format
from otel_agenttrace.cli._app import App, abort, home_option, pass_app
from otel_agenttrace.cli._sources import Selection, load_run_trace, source_options

FILES = ("run.json", "timeline.html", "profile_summary.json", "debug_context.md")


def default_path(run_id: str) -> Path:
    short = re.sub(r"[^0-9a-zA-Z]", "", run_id)[:12] or "run"
    return Path(f"agenttrace-bundle-{short}.zip")


@click.command("bundle")
@source_options
@click.option(
    "-o",
    "--output",
    metavar="DIR|FILE.zip",
    help="Write a zip (FILE.zip) or a new directory [default: ./agenttrace-bundle-<id>.zip].",
)
@click.option(
    "--with-sources", is_flag=True, help="Copy the source files that matter into sources/ (size-capped, redacted)."
)
@home_option
@pass_app
def bundle_command(
    app: App, ids: tuple[str, ...], source: str | None, last: bool, output: str | None, with_sources: bool
) -> None:
    """Write a debug bundle of a run: everything a person or a coding agent needs to act on it.

    \b
      run.json              the run trace, with its recording when there is one (replayable)
      timeline.html         the self-contained view (agenttrace view)
      profile_summary.json  where the time, tokens and cost went (agenttrace profile --json)
      debug_context.md      a prompt: the run in ten lines, failing and suspicious steps first,
                            the profile, the source files that matter and why, how to replay
      sources/              with --with-sources: those files (redacted, at most 256 KiB each)
      manifest.json         every file with its size and sha256
    Everything is redacted with the project's policy; base64 images and long texts become size notes.
      agenttrace bundle --last -o bundle.zip
      agenttrace bundle 4bf92f35 -o bundle/ --with-sources
    """
    doc = load_run_trace(app, Selection(source, ids, last))
    if source is None:  # the store keeps the command line and the recording beside the run
        from otel_agenttrace.replay._document import add_recording

        add_recording(doc, app.store(), True)
    files, summary = build(doc, with_sources)
    target = Path(output) if output else default_path(str(doc.get("run_id") or ""))
    try:
        write = _write_zip if target.suffix.lower() == ".zip" else _write_directory
        size = write(files, target)
    except OSError as exc:
        abort(f"cannot write {target}: {exc.strerror or exc}")
    app.note(f"wrote {_format.printable(target)} ({len(files)} files, {size / 1024:,.0f} KB){summary}")


def build(doc: dict[str, Any], with_sources: bool) -> tuple[dict[str, bytes], str]:
    """The bundle's files by name, and a remark for the command's one line of output."""
    from otel_agenttrace import view
    from otel_agenttrace._bundle import Shrunk, bundle_name, clean, debug_context, infer_sources, read_source
    from otel_agenttrace._profile import profile
    from otel_agenttrace.cli.dump import render_checked
    from otel_agenttrace.version import __version__

    redact = _redactor()
    sources = infer_sources(doc)  # from the run as recorded (paths are resolved on this machine)
    shrunk = Shrunk()
    safe = _redact_json(clean(doc, redact, shrunk), redact)
    prof = profile(safe)
    files: dict[str, bytes] = {}
    files["run.json"] = render_checked(safe).encode("utf-8")
    files["timeline.html"] = view.render(safe).encode("utf-8", errors="backslashreplace")
    files["profile_summary.json"] = (json.dumps(prof, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    copied = 0
    if with_sources:
        budget = SOURCES_BUDGET
        for item in sources:
            if not item.exists or not item.copyable or budget <= 0:
                continue
            data = read_source(item, redact, budget)
            if data is None:
                continue
            name = bundle_name(item)
            files[name] = data
            item.bundled = name
            budget -= len(data)
            copied += 1
    names = [*FILES, *(n for n in files if n.startswith("sources/")), "manifest.json"]
    recording = isinstance(safe.get("recording"), dict)
    context = debug_context(safe, prof, sources, names, _replay_hint(recording))
    files["debug_context.md"] = redact(context).encode("utf-8")
    files["manifest.json"] = _manifest(safe, files, shrunk, sources, __version__)
    order = {name: i for i, name in enumerate(names)}
    files = dict(sorted(files.items(), key=lambda kv: order.get(kv[0], len(order))))
    remark = f"; {len(sources)} source files named, {copied} copied" if sources else ""
    if shrunk.values:
        remark += f"; {shrunk.values} large values replaced by size notes"
    return files, remark


SOURCES_BUDGET = 2 * 1024 * 1024


def _redactor() -> Any:
    """The project's redaction policy as `text -> text`; an invalid policy stops the command (fail closed)."""
    from otel_agenttrace import _settings
    from otel_agenttrace._capture import load_redaction_policy
    from otel_agenttrace._redact import PolicyError

    try:
        redactor = load_redaction_policy(_settings.current()).redactor()
    except PolicyError as exc:
        abort(f"redaction policy: {exc} (no bundle written)")
    return lambda text: redactor.redact(text)[0]


def _redact_json(doc: dict[str, Any], redact: Any) -> dict[str, Any]:
    """Patterns that need JSON context (a secret-named key and its value) on each step and the recording:
    redacted as JSON text, kept when the result still parses (it does: a replacement stays inside a string)."""

    def again(value: Any) -> Any:
        text = json.dumps(value, ensure_ascii=False)
        red = redact(text)
        if red == text:
            return value
        try:
            return json.loads(red)
        except ValueError:
            return value  # every string in it was redacted on its own already

    out = dict(doc)
    out["steps"] = [again(s) for s in doc.get("steps") or []]
    for key in ("recording", "command", "final_output"):
        if key in out:
            out[key] = again(out[key])
    return out


def _replay_hint(recording: bool) -> str:
    if recording:
        return (
            "`run.json` holds the recording. `agenttrace replay run.json` re-runs the recorded command (in its "
            "recorded working directory) with every LLM call answered from the recording: no network, no cost. "
            "`agenttrace replay run.json -- python path/to/changed_agent.py` replays against changed code; "
            "`--mode live` sends the LLM calls for real. The report names the first step that diverged."
        )
    return (
        "This run has no recording (its content was not captured), so it cannot be replayed: record it again "
        "with `agenttrace run -- python your_agent.py`, then `agenttrace bundle --last`."
    )


def _manifest(doc: dict[str, Any], files: dict[str, bytes], shrunk: Any, sources: list[Any], version: str) -> bytes:
    manifest = {
        "bundle_version": 1,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agenttrace_version": version,
        "run_id": doc.get("run_id"),
        "workflow": doc.get("workflow"),
        "status": doc.get("status"),
        "files": [
            {"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in files.items()
        ],
        "omitted": {"large_values": shrunk.values, "characters": shrunk.chars},
        "sources": [
            {"path": s.shown, "exists": s.exists, "bundled": s.bundled, "failing": s.failing, "reasons": s.reasons}
            for s in sources
        ],
        "redaction": "every string redacted with the redaction policy in force when the bundle was written",
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write_zip(files: dict[str, bytes], target: Path) -> int:
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".agenttrace-bundle-", suffix=".zip", dir=directory)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target.stat().st_size


def _write_directory(files: dict[str, bytes], target: Path) -> int:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        abort(f"{target} exists and is not an empty directory: give a new directory or FILE.zip")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, data in files.items():
        path = target / name
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return sum(len(d) for d in files.values())
