"""The pytest plugin's `agenttrace_replay` fixture (available in every session, no import): a run kept
with `fixture add` replayed inside a test function, with no network; a fixture without recording skips."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes import fake_transport, json_response, openai_client

from otel_agenttrace import workflow
from otel_agenttrace.replay import NotReproduced, fixtures
from tests.replay.test_sdk_replay import chat, no_network


def kept(recorder: Any, tmp_path: Path) -> tuple[Path, str]:
    with workflow("t"):
        original = chat(openai_client(fake_transport(json_response("openai/chat_text.json"))))
    return fixtures.write(recorder.run(), tmp_path / "fixtures", "chat", tmp_path), original


def test_a_fixture_replays_in_the_test_process(
    recorder: Any, tmp_path: Path, agenttrace_replay: Callable[..., Any]
) -> None:
    path, original = kept(recorder, tmp_path)
    with agenttrace_replay(path) as r, workflow("t"):
        assert chat(openai_client(no_network())) == original
    r.assert_reproduced()
    with agenttrace_replay(str(path)) as r, workflow("t"):
        chat(openai_client(no_network()), "something else")
    with pytest.raises(NotReproduced, match="differs from the recording"):
        r.assert_reproduced()


def test_a_fixture_without_recording_skips(
    recorder: Any, tmp_path: Path, agenttrace_replay: Callable[..., Any]
) -> None:
    path, _ = kept(recorder, tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["run"]["recording"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(pytest.skip.Exception, match="has no recording"):
        agenttrace_replay(path)
