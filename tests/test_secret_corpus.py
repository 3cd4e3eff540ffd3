"""End to end: not one secret of the corpus leaves the process, wherever the agent puts it.

The corpus is tests/data/secrets/corpus.json and lines.json (YAML and header lines, planted at the start of a
line; every value fake; `secret`, by default the whole `value`, is
the part that must never leave the process). `agenttrace run -- python agent.py --api-key ...` runs
tests/scripts/secret_corpus_agent.py as a real process: real `openai` and `anthropic` clients (only their
HTTP transport is faked), `otel_agenttrace.tool`, the agenttrace exporter forwarding to an OTLP/HTTP
receiver on 127.0.0.1. The test plants each corpus entry in four places among: system instructions, user
prompts, tool definitions, tool calls and results in the history, model responses (plain and streamed,
the secrets split across chunks), API errors, a tool's arguments, result and exception, the allow-listed
environment (AGENTTRACE_ENV_ALLOW=MYAPP_*) and one not allow-listed; and a few on the command line, one of
them across the 512 characters kept of it. Then no secret, nor any 12-character piece of one (plain or
JSON-escaped), may be in:

- the files under AGENTTRACE_HOME (raw bytes: the SQLite database and its journal), nor what the store API
  returns;
- the OTLP requests the receiver got (protobuf bytes and their JSON form), with content forwarded
  (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_AND_EVENT) and by default (content stripped);
- `agenttrace dump --last` and `agenttrace show --last`;
- the output of the processes, the agent logging otel_agenttrace at DEBUG.

Positive controls keep it honest: the agent reports each entry it really planted (seen in what the SDK sent,
returned or raised); the run has its LLM, tool and error steps; next to the secrets of each place is a
canary, which must be recorded (content was captured and forwarded, not dropped) where docs/privacy.md says
that place goes; and every kind's `[REDACTED:<kind>]` marker is there instead of the secrets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from otlp_receiver import OTLPReceiver

from otel_agenttrace.environment_variables import OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
from otel_agenttrace.exporter.store import RunStore

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CORPUS_FILE = TESTS / "data" / "secrets" / "corpus.json"
AGENT = TESTS / "scripts" / "secret_corpus_agent.py"
LINES_FILE = TESTS / "data" / "secrets" / "lines.json"  # secrets only at the start of a line (YAML, headers)
CORPUS: list[dict[str, Any]] = [
    *json.loads(CORPUS_FILE.read_text(encoding="utf-8"))["secrets"],
    # a passphrase with spaces is a secret only at the start of its line: other tests plant these values anywhere
    *(
        {**e, "line": True}
        for e in json.loads(LINES_FILE.read_text(encoding="utf-8"))["secrets"]
        if " " not in e.get("secret", e["value"])
    ),
]
FRAGMENT = 12  # no run of this many characters of a secret may get out (as in test_redaction.py)
TIMEOUT_S = 60
KEPT_COMMAND_LINE = 512  # characters of the command line on the run root (agenttrace.run.script)

# Where the agent puts secrets, and where docs/privacy.md says each place is recorded.
CONTENT = (
    "openai.system",
    "openai.user",
    "openai.tools",
    "openai.history_tool_call",
    "openai.tool_result",
    "openai.response_text",
    "openai.response_tool_call",
    "openai.stream",
    "openai.responses_instructions",
    "openai.responses_output",
    "anthropic.system",
    "anthropic.user",
    "anthropic.tools",
    "anthropic.tool_result",
    "anthropic.response_text",
    "anthropic.response_tool_use",
    "anthropic.stream_text",
    "anthropic.stream_tool_use",
    "tool.arguments",
    "tool.result",
)
ERRORS = ("openai.error", "anthropic.error", "tool.exception")  # exception messages: always recorded
ENV, UNLISTED, ARGV = "env", "env.unlisted", "argv"
ROUND_ROBIN = (*CONTENT, *ERRORS, ENV, UNLISTED)
LOCATIONS = (*ROUND_ROBIN, ARGV)
RECORDED = set(LOCATIONS) - {UNLISTED}  # in the local store, whatever the content mode
FORWARDED_WITHOUT_OPT_IN = {*ERRORS, ENV, ARGV}  # content stays local unless the user opts in
KINDS = {e["kind"] for e in CORPUS}
PLACES = (0, 6, 12, 18)  # each entry goes to ROUND_ROBIN[i + offset] (mod its length) for each offset


def canary(location: str) -> str:
    """A harmless marker planted next to the secrets of a place: it must be recorded where the place is."""
    return f"canary {location} ok"


def secret_of(entry: dict[str, str]) -> str:
    return entry.get("secret", entry["value"])


def masked_value(entry: dict[str, str]) -> str:
    return entry["value"].replace(secret_of(entry), f"[REDACTED:{entry['kind']}]")


def corpus_id(i: int) -> str:
    return f"{i}:{CORPUS[i]['kind']}-{CORPUS[i]['note']}"


def first_of(kind: str) -> int:
    return next(i for i, e in enumerate(CORPUS) if e["kind"] == kind)


def plan() -> dict[str, list[int]]:
    """Each entry in four places (so a kind with one entry is in four too), and three keys on the command line."""
    placements: dict[str, list[int]] = {location: [] for location in LOCATIONS}
    for i in range(len(CORPUS)):
        for offset in PLACES:
            placements[ROUND_ROBIN[(i + offset) % len(ROUND_ROBIN)]].append(i)
    # --api-key, --token, and last the one cut by the 512-character limit
    placements[ARGV] = [first_of("openai_key"), first_of("github_token"), first_of("anthropic_key")]
    return placements


PLACEMENTS = plan()


def command_line(placements: dict[str, list[int]]) -> list[str]:
    """The agent's arguments. The last secret starts 16 characters before the end of what the run root keeps
    of the command line: a key cut there is too short for its pattern, so it must be redacted before the cut."""
    first, second, last = (CORPUS[i]["value"] for i in placements[ARGV])
    args = ["--canary", canary(ARGV), "--api-key", first, "--token", second]
    before = " ".join(["agent.py", *args, "--pad", "", "--secret", ""])
    pad = "p" * (KEPT_COMMAND_LINE - 16 - len(before))
    assert len(pad) > 0
    args += ["--pad", pad, "--secret", last]
    assert " ".join(["agent.py", *args]).index(last) == KEPT_COMMAND_LINE - 16
    return args


def environment(placements: dict[str, list[int]]) -> dict[str, str]:
    """Secrets in allow-listed variables (MYAPP_*) and in others (DEPLOY_*), each group with its canary."""
    env = {"MYAPP_CANARY": canary(ENV), "DEPLOY_CANARY": canary(UNLISTED)}
    env.update({f"MYAPP_SECRET_{i:02d}": CORPUS[i]["value"] for i in placements[ENV]})
    env.update({f"DEPLOY_SECRET_{i:02d}": CORPUS[i]["value"] for i in placements[UNLISTED]})
    return env


# --- finding secrets --------------------------------------------------------------------------------------------


def _forms(secret: str) -> set[str]:
    """The secret as planted, JSON-escaped once (content attributes) and twice (JSON text inside them)."""
    once = json.dumps(secret)[1:-1]
    return {secret, once, json.dumps(once)[1:-1]}


def _fragments(text: str) -> set[str]:
    return {text[i : i + FRAGMENT] for i in range(len(text) - FRAGMENT + 1)} or {text}


# fragment -> the corpus entries it belongs to
NEEDLES: dict[str, set[int]] = {}
for _i, _entry in enumerate(CORPUS):
    for _form in _forms(secret_of(_entry)):
        for _fragment in _fragments(_form):
            NEEDLES.setdefault(_fragment, set()).add(_i)


def leaks(text: str) -> dict[str, list[str]]:
    """corpus entry -> the pieces of its secret found in `text` (one pass over the text's 12-char windows)."""
    found: dict[str, set[str]] = {}
    for i in range(len(text) - FRAGMENT + 1):
        window = text[i : i + FRAGMENT]
        owners = NEEDLES.get(window)
        if owners:
            for owner in owners:
                found.setdefault(corpus_id(owner), set()).add(window)
    return {entry: sorted(pieces) for entry, pieces in sorted(found.items())}


# --- the run ----------------------------------------------------------------------------------------------------


class RecordingReceiver(OTLPReceiver):
    """The loopback receiver, keeping every export request whole (resource and scope included)."""

    def __init__(self) -> None:
        super().__init__("http")
        self.payloads: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def _accept(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        self.payloads.append(request)
        super()._accept(request)


@dataclasses.dataclass
class Recorded:
    mode: str | None
    home: Path
    manifest: dict[str, Any]
    run: subprocess.CompletedProcess[str]
    dump: subprocess.CompletedProcess[str]
    show: subprocess.CompletedProcess[str]
    payloads: list[trace_service_pb2.ExportTraceServiceRequest]

    def store_files(self) -> dict[str, str]:
        """Every file of the store, raw (bytes that are not UTF-8 become U+FFFD; ASCII text stays as it is)."""
        files = sorted(p for p in self.home.rglob("*") if p.is_file())
        return {str(p.relative_to(self.home)): p.read_bytes().decode("utf-8", "replace") for p in files}

    def store_api(self) -> str:
        with RunStore(self.home) as store:
            runs = store.list_runs(limit=100)
            records = [record for run in runs for record in store.spans(run.run_id)]
        items = [dataclasses.asdict(run) for run in runs] + [dataclasses.asdict(record) for record in records]
        return json.dumps(items, ensure_ascii=False, default=str)

    def otlp(self) -> dict[str, str]:
        return {
            "protobuf": b"".join(p.SerializeToString() for p in self.payloads).decode("utf-8", "replace"),
            "json": "\n".join(json_format.MessageToJson(p, ensure_ascii=False) for p in self.payloads),
        }

    def logs(self) -> str:
        return "\n".join((self.run.stdout, self.run.stderr, self.dump.stderr, self.show.stderr))

    def sinks(self) -> dict[str, str]:
        """Everything that left the agent, by where it went."""
        return {
            **{f"store file {name}": text for name, text in self.store_files().items()},
            "store API": self.store_api(),
            **{f"OTLP {form}": text for form, text in self.otlp().items()},
            "agenttrace dump --last": self.dump.stdout,
            "agenttrace show --last": self.show.stdout,
            "process output": self.logs(),
        }


def _child_environment(home: Path, receiver: OTLPReceiver, plan_file: Path, mode: str | None) -> dict[str, str]:
    prefixes = ("OTEL_", "AGENTTRACE_", "OPENAI_", "ANTHROPIC_", "MYAPP_", "DEPLOY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_COLOR"):
        env.pop(name, None)
    paths = [str(REPO), str(TESTS)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONUNBUFFERED": "1",
            "AGENTTRACE_STRICT": "1",  # an error in our wrappers fails the run instead of being logged
            "AGENTTRACE_HOME": str(home),
            "AGENTTRACE_ENV_ALLOW": "MYAPP_*",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "5",
            "SECRET_CORPUS_PLAN": str(plan_file),
            **environment(PLACEMENTS),
        }
    )
    if mode is not None:
        env[OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT] = mode
    return env


def _agenttrace(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_agenttrace.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


MODES = {"content-forwarded": "SPAN_AND_EVENT", "default": None}


def _record(mode: str | None, work: Path) -> Recorded:
    """Run the agent under `agenttrace run` with content mode `mode`, then `agenttrace dump` and `show` its run."""
    shutil.copyfile(AGENT, work / "agent.py")
    home = work / "runs"
    plan_file = work / "plan.json"
    manifest_file = work / "manifest.json"
    corpus_file = work / "corpus.json"  # corpus.json and lines.json, each line entry marked to start a line
    corpus_file.write_text(json.dumps({"secrets": CORPUS}), encoding="utf-8")
    plan_file.write_text(
        json.dumps(
            {
                "corpus": str(corpus_file),
                "placements": PLACEMENTS,
                "canaries": {location: canary(location) for location in LOCATIONS},
                "manifest": str(manifest_file),
            }
        ),
        encoding="utf-8",
    )
    receiver = RecordingReceiver()
    with receiver:
        env = _child_environment(home, receiver, plan_file, mode)
        run = _agenttrace(["run", "--", sys.executable, "agent.py", *command_line(PLACEMENTS)], env, work)
        # The agent has exited: its exporter's shutdown handed every span to the receiver already.
        payloads = list(receiver.payloads)
    dump = _agenttrace(["dump", "--last"], env, work)
    show = _agenttrace(["show", "--last"], env, work)
    assert run.returncode == 0, run.stderr
    assert manifest_file.is_file(), run.stderr
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    return Recorded(mode, home, manifest, run, dump, show, payloads)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recorded]:
    """Both runs at once (most of their time is importing the SDKs): the test stays fast."""
    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        futures = {name: pool.submit(_record, mode, tmp_path_factory.mktemp(name)) for name, mode in MODES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=list(MODES))
def recorded(request: pytest.FixtureRequest, recordings: dict[str, Recorded]) -> Recorded:
    return recordings[request.param]


# --- the plan ---------------------------------------------------------------------------------------------------


def test_the_plan_puts_every_entry_in_two_places_and_every_kind_in_many() -> None:
    assert len(CORPUS) >= 30
    for i in range(len(CORPUS)):
        places = {location for location, entries in PLACEMENTS.items() if i in entries}
        assert len(places - {ARGV}) == len(PLACES), corpus_id(i)
        assert places & RECORDED, corpus_id(i)
    assert all(PLACEMENTS[location] for location in LOCATIONS)
    for kind in KINDS:
        places = {location for location, entries in PLACEMENTS.items() for i in entries if CORPUS[i]["kind"] == kind}
        assert len(places) >= 4, kind


def test_the_scanner_finds_every_secret_plain_and_escaped() -> None:
    everything = "\n".join(f"{e['note']}: {e['value']}" for e in CORPUS)
    for text in (everything, json.dumps(everything), json.dumps({"arguments": json.dumps({"note": everything})})):
        assert set(leaks(text)) == {corpus_id(i) for i in range(len(CORPUS))}
    # a piece of a PEM key's body is enough
    pem = next(secret_of(e) for e in CORPUS if e["kind"] == "private_key")
    assert leaks("xx " + pem.splitlines()[2][20:40] + " yy")


def test_every_entry_was_planted(recorded: Recorded) -> None:
    """The agent saw each entry go where it was meant to: in what the SDK sent or returned, what a tool got,
    what was raised, its environment and its command line."""
    assert recorded.manifest["argv0"] == "agent.py"  # as command_line() counted the 512 characters
    assert recorded.manifest["planted"] == PLACEMENTS
    planted = {i for entries in recorded.manifest["planted"].values() for i in entries}
    assert planted == set(range(len(CORPUS)))


# --- nothing leaks ----------------------------------------------------------------------------------------------


def assert_no_secrets(sinks: dict[str, str]) -> None:
    found = {sink: leaked for sink, text in sinks.items() if (leaked := leaks(text))}
    assert not found, "secrets got out:\n" + "\n".join(
        f"  {sink}: {entry}: {pieces[:3]}" for sink, leaked in found.items() for entry, pieces in leaked.items()
    )


def test_no_secret_in_the_store(recorded: Recorded) -> None:
    files = recorded.store_files()
    assert "runs.db" in files
    assert_no_secrets(
        {**{f"store file {name}": text for name, text in files.items()}, "store API": recorded.store_api()}
    )


def test_no_secret_forwarded(recorded: Recorded) -> None:
    assert recorded.payloads
    assert_no_secrets({f"OTLP {form}": text for form, text in recorded.otlp().items()})


def test_no_secret_in_dump_or_show(recorded: Recorded) -> None:
    assert recorded.dump.returncode == 0, recorded.dump.stderr
    assert recorded.show.returncode == 0, recorded.show.stderr
    assert_no_secrets({"agenttrace dump --last": recorded.dump.stdout, "agenttrace show --last": recorded.show.stdout})


def test_no_secret_in_the_logs(recorded: Recorded) -> None:
    assert "DEBUG otel_agenttrace.agent: the agent logs at DEBUG" in recorded.run.stderr  # the logs are captured
    assert "agent done" in recorded.run.stderr
    assert_no_secrets({"process output": recorded.logs()})


# --- the controls -----------------------------------------------------------------------------------------------


def test_the_run_has_its_steps(recorded: Recorded) -> None:
    with RunStore(recorded.home) as store:
        (run,) = store.list_runs()
    assert f"agenttrace: run {run.run_id[:12]} agent " in recorded.run.stderr
    doc = json.loads(recorded.dump.stdout)
    assert doc["run_id"] == run.run_id
    steps = doc["steps"]
    types = [s["type"] for s in steps]
    assert (types.count("workflow"), types.count("llm_call"), types.count("tool_call")) == (1, 7, 2)
    assert len(types) == 10
    assert {s["provider"] for s in steps if s["type"] == "llm_call"} == {"openai", "anthropic"}
    failed = sorted(s["name"] for s in steps if s["status"] == "error")
    assert failed == ["chat claude-sonnet-4-6", "chat gpt-4o", "execute_tool rotate_key"]
    for step in steps:
        if step["status"] == "error":  # the SDK's own line ("Error code: 400 - {...}"; anthropic>=2.17: "500 ...")
            message = step["error"]["message"]
            if step["type"] == "tool_call":
                assert message.startswith("canary "), message
            else:
                assert re.match(r"(Error code: )?(400|500)\b", message), message
    # the backend got every finished span
    forwarded = [
        span for p in recorded.payloads for rs in p.resource_spans for ss in rs.scope_spans for span in ss.spans
    ]
    assert sorted(span.span_id.hex() for span in forwarded) == sorted(s["id"] for s in steps)


def _canaries(text: str) -> set[str]:
    return {location for location in LOCATIONS if canary(location) in text}


def _markers(text: str) -> set[str]:
    return {kind for kind in KINDS if f"[REDACTED:{kind}]" in text}


def test_everything_is_recorded_locally_with_every_secret_masked(recorded: Recorded) -> None:
    """Whatever the mode (SPAN_AND_EVENT, or unset: content local only), the store and the dump hold the content,
    the errors, the allowed environment and the command line: every canary but that of the variables not allowed,
    and every kind's marker in place of its secrets."""
    # What the store holds, read through its API: the raw files (scanned for leaks above) may split a long value
    # across SQLite overflow pages, so a marker can be there yet not be contiguous in the file's bytes.
    for text in (recorded.store_api(), recorded.dump.stdout):
        assert _canaries(text) == RECORDED
        assert _markers(text) == KINDS
    root = json.loads(recorded.dump.stdout)["steps"][0]
    env = json.loads(root["attributes"]["agenttrace.env"])
    assert env.pop("MYAPP_CANARY") == canary(ENV)
    # each value with its secret masked, and only that (a label, a key, a URL's user and host stay)
    assert env == {f"MYAPP_SECRET_{i:02d}": masked_value(CORPUS[i]) for i in PLACEMENTS[ENV]}
    # the command line is redacted first, then cut: the last key would be cut in two by the 512-character limit
    masked = {CORPUS[i]["value"]: f"[REDACTED:{CORPUS[i]['kind']}]" for i in PLACEMENTS[ARGV]}
    args = [masked.get(arg, arg) for arg in command_line(PLACEMENTS)]
    assert root["attributes"]["agenttrace.run.script"] == " ".join(["agent.py", *args])[:KEPT_COMMAND_LINE]


def test_what_is_forwarded_follows_the_content_switch(recorded: Recorded) -> None:
    """With SPAN_AND_EVENT the backend gets the content too (redacted); by default only what is not content:
    exception messages, the allowed environment and the command line (docs/privacy.md)."""
    for form, text in recorded.otlp().items():
        if recorded.mode == "SPAN_AND_EVENT":
            assert _canaries(text) == RECORDED, form
            assert _markers(text) == KINDS, form
        else:
            assert _canaries(text) == FORWARDED_WITHOUT_OPT_IN, form
            assert "[REDACTED:" in text, form
