"""The page `agenttrace view` writes, without a browser: self-contained, inert data, linear size, the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_agenttrace import view
from otel_agenttrace.cli import cli
from otel_agenttrace.exporter.store import RunStore

from .synthetic import big_run, llm_step, run_doc, tool_step

DATA_BLOCK = re.compile(r'<script type="application/json" id="run-data">(.*?)</script>', re.DOTALL)


def _data(page: str) -> str:
    match = DATA_BLOCK.search(page)
    assert match
    return match.group(1)


def test_content_cannot_leave_the_data_block() -> None:
    payload = "</script><script>alert(1)</script><!-- <img onerror=x> & \u2028"
    doc = run_doc([tool_step(0), llm_step(1, text=payload, answer=payload)], workflow=payload)
    page = view.render(doc)
    data = _data(page)
    assert "<" not in data and ">" not in data and "\u2028" not in data
    assert page.count("</script>") == 2  # the data block's and the program's, nothing else
    assert json.loads(data)["run"]["steps"][1]["output"][0]["parts"][0]["content"] == payload
    assert "<title>&lt;/script&gt;" in page


def test_placeholders_in_content_are_not_expanded() -> None:
    page = view.render(run_doc([tool_step(0)], workflow="{{SCRIPT}} {{DATA}}"))
    assert page.count("use strict") == 1
    assert "{{SCRIPT}} {{DATA}}" in json.loads(_data(page))["run"]["workflow"]


def test_no_external_resource_and_a_policy_that_forbids_them() -> None:
    template, style, script = (
        resources.files("otel_agenttrace.view").joinpath(name).read_text("utf-8")
        for name in ("template.html", "view.css", "view.js")
    )
    loaders = (r"https?://", r"\bsrc\s*=", r"url\(", r"@import", r"\bfetch\(", r"XMLHttpRequest", r"WebSocket")
    for text in (template, style, script):
        for pattern in loaders:
            assert not re.search(pattern, text), pattern
    page = view.render(run_doc([tool_step(0)]))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy and "default-src 'none'" in policy.group(1)
    # The hashes are those of the inlined style and script exactly as written.
    inline_script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    inline_style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    for text in (inline_script, inline_style):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy.group(1)


def test_size_grows_linearly_with_the_steps() -> None:
    sizes = {n: len(view.render(big_run(n)).encode()) for n in (1000, 2000, 4000)}
    per_step_small = (sizes[2000] - sizes[1000]) / 1000
    per_step_large = (sizes[4000] - sizes[2000]) / 2000
    assert abs(per_step_large - per_step_small) / per_step_small < 0.05, sizes


def test_a_lone_surrogate_is_kept_as_an_escape(tmp_path: Path) -> None:
    path = tmp_path / "s.html"
    view.write(run_doc([tool_step(0), llm_step(1, text="bad \udce9 byte")]), path)
    data = _data(path.read_text(encoding="utf-8"))
    assert "bad \\udce9 byte" in data
    assert json.loads(data)["run"]["steps"][1]["input"][1]["parts"][0]["content"] == "bad \udce9 byte"


def test_cli_writes_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = run_doc([tool_step(0), llm_step(1), tool_step(2, error=True)])
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(doc), encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "out" / "run.html"
    out.parent.mkdir()
    result = runner.invoke(cli, ["view", "--from", str(saved), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"agenttrace: wrote {out} (3 steps, ")
    data = json.loads(_data(out.read_text(encoding="utf-8")))
    assert data["run"]["run_id"] == doc["run_id"]
    assert data["run"]["cost"] == {"amount": 0.00298, "currency": "USD", "unpriced_calls": 0}  # 812/95 on gpt-4o
    assert data["summaries"][1] == 'gpt-4o: "On it."'
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # it holds prompts and outputs
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["view", "--from", str(saved), "--last"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"agenttrace-run-{doc['run_id'][:12]}.html").exists()

    to_stdout = runner.invoke(cli, ["view", "--from", str(saved), "-o", "-"])
    assert to_stdout.stdout.startswith("<!DOCTYPE html>")

    empty = tmp_path / "empty-store"
    RunStore(home=empty).close()
    missing = runner.invoke(cli, ["--home", str(empty), "view", "--last"])
    assert missing.exit_code == 1 and missing.stderr.startswith("agenttrace: error: no runs recorded yet")
    unwritable = runner.invoke(cli, ["view", "--from", str(saved), "-o", str(tmp_path / "no" / "x.html")])
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.stderr


def test_open_hands_the_file_to_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run_doc([tool_step(0)])), encoding="utf-8")
    out = tmp_path / "v.html"
    result = CliRunner().invoke(cli, ["view", "--from", str(saved), "-o", str(out), "--open"])
    assert result.exit_code == 0, result.output
    assert opened == [out.resolve().as_uri()]


def test_compare_from_the_command_line(tmp_path: Path) -> None:
    a = run_doc([tool_step(0), llm_step(1)])
    b = run_doc([tool_step(0), llm_step(1, answer="Something else.")])
    b["run_id"] = "f" * 32
    paths = []
    for name, doc in (("a.json", a), ("b.json", b)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "cmp.html"
    result = CliRunner().invoke(cli, ["view", "--from", str(paths[0]), "--compare", str(paths[1]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(_data(out.read_text(encoding="utf-8")))
    assert data["compare"]["run"]["run_id"] == "f" * 32
    assert data["compare"]["counts"] == {"same": 1, "changed": 1, "added": 0, "removed": 0}
    assert [(p["kind"], p["a"], p["b"]) for p in data["compare"]["pairs"]] == [("same", 0, 0), ("changed", 1, 1)]
    no_store = ["--home", str(tmp_path / "none")]
    missing = CliRunner().invoke(cli, [*no_store, "view", "--from", str(paths[0]), "--compare", "abcd"])
    assert missing.exit_code == 1 and missing.stderr.startswith("agenttrace: error: ")
