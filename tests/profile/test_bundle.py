"""`agenttrace bundle`: the README demo recorded with `agenttrace run` (as a user does), bundled as a zip
and as a directory; a run holding a 5 MB base64 image; a run full of planted secrets."""

from __future__ import annotations

import base64
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_agenttrace import semconv as sc
from otel_agenttrace.cli import cli
from otel_agenttrace.cli.dump import render
from otel_agenttrace.exporter._schema import validate
from tests.profile.handmade import handmade_run
from tests.replay.test_cli_replay import REPO, agenttrace
from tests.replay.test_cli_replay import Recorded as RecordedDemo

FILES = {"run.json", "timeline.html", "profile_summary.json", "debug_context.md", "manifest.json"}
CORPUS = json.loads((REPO / "tests" / "data" / "secrets" / "corpus.json").read_text(encoding="utf-8"))["secrets"]


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def read_dir(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedDemo]:
    yield RecordedDemo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def demo_zip(demo: RecordedDemo) -> dict[str, bytes]:
    done = agenttrace(["--home", str(demo.home), "bundle", "--last", "-o", "bundle.zip", "--with-sources"], demo.tmp)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "wrote bundle.zip" in done.stderr
    return read_zip(demo.tmp / "bundle.zip")


def test_demo_bundle_has_every_file_and_a_true_manifest(demo_zip: dict[str, bytes]) -> None:
    assert set(demo_zip) >= FILES
    manifest = json.loads(demo_zip["manifest.json"])
    listed = {f["path"]: f["bytes"] for f in manifest["files"]}
    assert set(listed) == set(demo_zip) - {"manifest.json"}
    assert all(len(demo_zip[name]) == size for name, size in listed.items())
    run = json.loads(demo_zip["run.json"])
    validate(run)
    assert run["recording"]["tools"] and run["command"]["argv"]  # replayable: agenttrace replay run.json
    assert b"<!doctype html>" in demo_zip["timeline.html"][:200].lower()
    profile = json.loads(demo_zip["profile_summary.json"])
    assert {r["name"] for r in profile["components"]} >= {"llm", "tool", "node"}
    assert profile["errors"][0]["tool"] == "get_weather"


def test_debug_context_names_the_failing_tool_first_and_its_source(demo_zip: dict[str, bytes]) -> None:
    text = demo_zip["debug_context.md"].decode("utf-8")
    flagged = text.split("## Failing and suspicious steps", 1)[1]
    first = flagged.split("### 1.", 1)[1].split("###", 1)[0]
    assert "tool call `get_weather`" in first and "LookupError" in first and "Atlantis" in first
    assert "examples/agentapp/tools.py" in first  # where the tool is defined
    sources = text.split("## Source files that matter", 1)[1].split("##", 1)[0]
    assert sources.strip().splitlines()[0].split("`")[1].endswith("examples/agentapp/tools.py")
    assert "agentapp.tools.ToolRegistry.execute" in sources
    assert "examples/agentapp/nodes.py" in sources and "examples/agentapp/providers.py" in sources
    assert "agenttrace replay run.json" in text
    check = text.split("## What to check first", 1)[1]
    assert check.strip().startswith("1. tool call `get_weather`")
    copied = [n for n in demo_zip if n.startswith("sources/")]
    tools = next(n for n in copied if n.endswith("examples/agentapp/tools.py"))
    assert demo_zip[tools] == (REPO / "examples" / "agentapp" / "tools.py").read_bytes()  # nothing to redact there


def test_demo_bundle_as_a_directory(demo: RecordedDemo, demo_zip: dict[str, bytes]) -> None:
    done = agenttrace(["--home", str(demo.home), "bundle", demo.doc["run_id"][:8], "-o", "bundle-dir"], demo.tmp)
    assert done.returncode == 0, done.stderr
    files = read_dir(demo.tmp / "bundle-dir")
    assert set(files) == FILES  # no sources without --with-sources
    assert "Not copied (run `agenttrace bundle --with-sources`" in files["debug_context.md"].decode()
    again = agenttrace(["--home", str(demo.home), "bundle", "--last", "-o", "bundle-dir"], demo.tmp)
    assert again.returncode == 1 and "is not an empty directory" in again.stderr  # never overwrites


def write_run(tmp_path: Path, doc: dict[str, Any]) -> Path:
    validate(doc)
    path = tmp_path / "run.json"
    path.write_text(render(doc), encoding="utf-8")
    return path


def test_a_5mb_base64_image_and_a_long_document_give_a_small_bundle(tmp_path: Path) -> None:
    doc = handmade_run()
    image = base64.b64encode(os.urandom(3_750_000)).decode()  # 5 MB of base64
    document = "The quarterly report says revenue grew. " * 10_000  # 400 KB of text
    llm = next(s for s in doc["steps"] if s["type"] == "llm_call")
    llm["input"] = [
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "What is in this picture?"},
                {"type": "image_url", "url": f"data:image/png;base64,{image}"},
            ],
        },
    ]
    tool = next(s for s in doc["steps"] if s["type"] == "tool_call")
    tool["output"] = {"document": document, "thumbnail": image}
    source = write_run(tmp_path, doc)
    assert source.stat().st_size > 10_000_000
    done = CliRunner().invoke(cli, ["bundle", "--from", str(source), "-o", str(tmp_path / "b.zip")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "b.zip").stat().st_size < 150_000
    files = read_zip(tmp_path / "b.zip")
    assert all(len(data) < 400_000 for data in files.values()), {n: len(d) for n, d in files.items()}
    run = json.loads(files["run.json"])
    validate(run)
    kept = run["steps"][llm["index"]]["input"][0]["parts"][1]["url"]
    assert "data URL of 5,000,0" in kept and image[:64] not in files["run.json"].decode()
    assert run["steps"][tool["index"]]["output"]["document"].startswith("The quarterly report says revenue grew.")
    manifest = json.loads(files["manifest.json"])
    assert manifest["omitted"]["large_values"] == 3 and manifest["omitted"]["characters"] > 10_000_000


def test_no_planted_secret_in_any_file_of_the_bundle(tmp_path: Path) -> None:
    values = [e["value"] for e in CORPUS]
    secrets = [e.get("secret", e["value"]) for e in CORPUS]
    code = tmp_path / "app" / "agent_tools.py"
    code.parent.mkdir()
    code.write_text(
        "def fetch(path):\n    return open(path).read()\n\n" + "\n".join(f"# {v}" for v in values) + "\n",
        encoding="utf-8",
    )
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"  # named by a tool, outside the run's directory
    outside.write_text("private", encoding="utf-8")
    notes = tmp_path / "notes.md"
    notes.write_text("\n\n".join(values), encoding="utf-8")
    doc = handmade_run()
    doc["command"] = {"argv": ["agent.py", "--api-key", values[0]], "cwd": str(tmp_path), "env": {"KEY": values[1]}}
    doc["final_output"] = " ".join(values)
    for i, step in enumerate(doc["steps"]):
        planted = values[i % len(values)]
        step["attributes"]["app.note"] = planted
        if step["type"] == "tool_call":
            step["input"] = {"path": "notes.md", "token": planted, "all": values, "also": str(outside)}
            step["output"] = f"read notes.md: {planted}"
            step["attributes"].update(
                {sc.CODE_FILE_PATH: str(code), sc.CODE_FUNCTION_NAME: "app.agent_tools.fetch", sc.CODE_LINE_NUMBER: 1}
            )
        if step["type"] == "llm_call":
            step["output"] = [{"role": "assistant", "parts": [{"type": "text", "content": planted}]}]
    across = next(e for e in CORPUS if e["kind"] == "openai_key")["value"]  # starts 10 characters before the cut
    doc["steps"][0]["input"] = "x" * (2_000 - 10) + across + " and more" * 3_000
    failing = next(s for s in doc["steps"] if s["status"] == "error")
    failing["error"] = {"type": "AuthError", "message": f"rejected {values[2]}"}
    source = write_run(tmp_path, doc)
    for form in ("b.zip", "b-dir"):
        done = CliRunner().invoke(cli, ["bundle", "--from", str(source), "-o", str(tmp_path / form), "--with-sources"])
        assert done.exit_code == 0, done.output
        files = read_zip(tmp_path / form) if form.endswith(".zip") else read_dir(tmp_path / form)
        copied = {n for n in files if n.startswith("sources/")}
        assert any(n.endswith("app/agent_tools.py") for n in copied) and any(n.endswith("notes.md") for n in copied)
        for name, data in files.items():
            text = data.decode("utf-8")
            for secret in secrets:
                for shown in {secret, json.dumps(secret)[1:-1]}:
                    assert shown not in text, f"{name} holds {shown[:12]}…"
        assert "[REDACTED:" in files["debug_context.md"].decode()
        assert across[:10] not in files["run.json"].decode()  # redacted before the long text was cut
        assert not any(n.endswith("-outside.txt") for n in copied)  # listed, never copied
        assert "outside the run's working directory" in files["debug_context.md"].decode()


def test_the_bundled_run_replays_with_no_listener(demo: RecordedDemo, demo_zip: dict[str, bytes]) -> None:
    bundled = demo.tmp / "from-bundle.json"
    bundled.write_bytes(demo_zip["run.json"])
    done = agenttrace(["--home", str(demo.tmp / "replay-home"), "replay", str(bundled)], demo.tmp)
    assert done.returncode == 0, done.stdout + done.stderr  # the stub is stopped: every answer is the recording's
    assert "reproduced" in done.stdout
