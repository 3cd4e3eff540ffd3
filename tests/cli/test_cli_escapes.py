"""Terminal escapes in recorded content are shown escaped, never sent raw (issue 9, item 5).

A model's output, a tool result, a node or workflow name, a crafted run file or a backend's error
body can hold ESC[2J (clear screen), OSC 0 (window title), OSC 8 (hyperlinks), 8-bit CSI (\\x9b), BEL,
DEL. `show`, `list` and every error message pass them through `_format.printable`, colour on or off.
The pty test runs the real commands on a terminal, where colour is on, and reads what reached it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import _format, show
from otel_agenttrace.cli._app import one_line
from otel_agenttrace.exporter.store import RunStore

from .cli_helpers import WHALE_RUN, Invoke, span

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CSI8 = "\x9b31m"  # the 8-bit (C1) form of ESC [
RED = "\x1b[31m"  # looks like our own colour codes: must be escaped too
NASTY = f"a{CLEAR}b{TITLE}c{LINK}d{CSI8}e\x7ff\x00g{RED}h\x85i"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # every control character but \t and \n
OUR_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


def test_printable_escapes_c0_c1_and_del_only() -> None:
    assert _format.printable(NASTY) == (
        "a\\x1b[2J\\x1b[Hb\\x1b]0;pwned\\x07c\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\"
        "d\\x9b31me\\x7ff\\x00g\\x1b[31mh\\x85i"
    )
    assert _format.printable("plain → ünïcode 日本 \u200b") == "plain → ünïcode 日本 \u200b"
    assert one_line(f"backend said:\n{TITLE}\tbusy") == "backend said: \\x1b]0;pwned\\x07 busy"


def _crafted(invoke: Invoke, home: Path, tmp_path: Path) -> Path:
    """The whale run with escapes in every field show prints."""
    doc: dict[str, Any] = json.loads(invoke("dump", WHALE_RUN, home=home).stdout)
    doc["workflow"] = "wf" + NASTY
    doc["models"] = ["gpt" + NASTY]
    doc["service"]["name"] = "svc" + NASTY
    doc["final_output"] = "final" + NASTY
    for step in doc["steps"]:
        step["node"] = "node" + NASTY
        if step["type"] == "llm_call":
            step["model"] = "m" + NASTY
            step["output"] = [{"role": "assistant", "parts": [{"type": "text", "content": "out" + NASTY}]}]
        if step["type"] == "tool_call":
            step["input"] = {"q" + NASTY: NASTY}
            step["error"] = {"type": "Err" + NASTY, "message": "msg" + NASTY}
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_show_escapes_everything(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    crafted = _crafted(invoke, home, tmp_path)
    result = invoke("show", "--from", str(crafted))
    assert result.exit_code == 0, result.stderr
    assert not RAW.search(result.stdout), [m.group() for m in RAW.finditer(result.stdout)]
    assert result.stdout.count("\\x1b]0;pwned\\x07") >= 8  # shown, escaped, in each place
    doc = json.loads(crafted.read_text(encoding="utf-8"))
    colored = show.render(doc, lambda text, **styles: f"\x1b[1m{text}\x1b[0m")
    assert not RAW.search(OUR_COLOURS.sub("", "\n".join(colored)))


def _run_on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> bytes:
    """Run `agenttrace ARGS` with stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "otel_agenttrace.cli", *args], stdout=slave, stderr=slave, env=env, cwd=cwd
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert child.wait(timeout=60) in (0, 1)
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_no_raw_escape_reaches_the_terminal(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    crafted = _crafted(invoke, home, tmp_path)
    with RunStore(home=home) as store:  # a recorded run whose names carry escapes, for `list`
        store.write_spans(
            [
                span(
                    "beef" + "0" * 28,
                    "1111222233334444",
                    None,
                    "invoke_workflow x" + NASTY,
                    0,
                    5,
                    {sc.GEN_AI_OPERATION_NAME: sc.Operation.INVOKE_WORKFLOW, sc.GEN_AI_WORKFLOW_NAME: "wf" + NASTY},
                )
            ]
        )
    bad_id = tmp_path / "bad-id.json"
    doc = json.loads(crafted.read_text(encoding="utf-8"))
    doc["run_id"] = "ffff" + TITLE
    bad_id.write_text(json.dumps(doc), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "AGENTTRACE_HOME")}
    env["TERM"] = "xterm-256color"
    outputs = {
        "show": _run_on_a_terminal(["show", "--from", str(crafted)], env, tmp_path),
        "show --errors": _run_on_a_terminal(["show", "--from", str(crafted), "--errors"], env, tmp_path),
        "list": _run_on_a_terminal(["--home", str(home), "list"], env, tmp_path),
        "error": _run_on_a_terminal(["show", "--from", str(bad_id), "abcd"], env, tmp_path),
    }
    for name, raw in outputs.items():
        text = raw.decode("utf-8")
        assert "\x1b[" in text or name == "error", f"{name}: colour should be on, on a terminal"
        left = RAW.findall(OUR_COLOURS.sub("", text).replace("\r", ""))
        assert left == [], f"{name}: raw control characters reached the terminal: {left}"
        assert "\\x1b]0;pwned\\x07" in text, name
    assert "\\x1b[31m" in outputs["show"].decode()  # a colour code in content is content: escaped


def test_dump_escapes_del_and_c1_in_json(invoke: Invoke, home: Path, tmp_path: Path) -> None:
    crafted = _crafted(invoke, home, tmp_path)
    result = invoke("dump", "--from", str(crafted))
    assert result.exit_code == 0, result.stderr
    assert not RAW.search(result.stdout)
    assert json.loads(result.stdout)["workflow"] == "wf" + NASTY  # the same JSON, escaped differently


def test_notes_and_errors_escape(capsys: pytest.CaptureFixture[str]) -> None:
    from otel_agenttrace.cli._app import abort, note

    note(f"run 4bf92f3577b3 wf{NASTY} ok")  # the `run` summary's line
    with pytest.raises(SystemExit):
        abort(f"tempo answered 502: {NASTY}")  # a backend's body in an error
    err = capsys.readouterr().err
    assert not RAW.search(err.replace("\n", "")) and err.count("\\x1b]0;pwned\\x07") == 2


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_the_run_summary_on_a_terminal(tmp_path: Path) -> None:
    """`agenttrace run --workflow NAME` with escapes in NAME: the summary line it prints shows them escaped."""
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_", "NO_COLOR"))}
    env.update(AGENTTRACE_DEMO_STUB="1", PYTHONPATH=str(repo), TERM="xterm-256color")
    name = "demo" + TITLE + CLEAR + CSI8
    args = ["--home", str(tmp_path / "home"), "run", "--workflow", name, "--", sys.executable]
    text = _run_on_a_terminal([*args, str(repo / "examples" / "demo_agent.py")], env, tmp_path).decode("utf-8")
    summary = [line for line in text.splitlines() if line.startswith("agenttrace: run ")]
    assert len(summary) == 1, text
    assert "demo\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31m ok" in summary[0]
    assert RAW.findall(OUR_COLOURS.sub("", text).replace("\r", "")) == []
