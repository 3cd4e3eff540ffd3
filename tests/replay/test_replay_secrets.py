"""The secret corpus through record and replay: no planted secret in the recording, in the store or in
`dump --with-recording`, and the run still replays (requests are matched in their redacted form)."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import httpx2
from fakes import openai_client
from test_secret_corpus import CORPUS, leaks, secret_of

import otel_agenttrace
from otel_agenttrace import tool, workflow
from otel_agenttrace.replay._format import unpack


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-s",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }


def _sse(pieces: list[str]) -> bytes:
    events = [
        {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        for piece in pieces
    ]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def secret_server() -> httpx2.MockTransport:
    """Answers with the secret the request names, plainly or streamed with the secret cut across chunks."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        i = int(re.match(r"entry #(\d+)", str(body["messages"][0]["content"])).group(1))  # type: ignore[union-attr]
        secret = CORPUS[i]["value"]
        lead = "your key:\n" if CORPUS[i].get("line") else "your key: "
        if body.get("stream"):
            half = len(secret) // 2
            stream = _sse([lead, secret[:half], secret[half:], " (keep it)"])
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=stream)
        return httpx2.Response(200, json=_completion(f"{lead}{secret} (keep it)"))

    return httpx2.MockTransport(answer)


@tool
def vault(key: str) -> dict[str, str]:
    if key.endswith("!"):
        raise PermissionError(f"vault refused:\n{key}")  # on a line of its own, as a header-line secret is
    return {"stored": key}


def program(client: Any) -> list[str]:
    """The model's answers, as the program got them."""
    answers = []
    with workflow("secrets"):
        for i, entry in enumerate(CORPUS):
            value = entry["value"]
            # a YAML or header-line secret is one only where it starts a line (the corpus's `line` entries)
            prompt = f"entry #{i}:\n{value}" if entry.get("line") else f"entry #{i} is {value}"
            if i % 2:
                stream = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
                )
                answers.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
            else:
                r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
                answers.append(str(r.choices[0].message.content))
            vault(value)
            with contextlib.suppress(PermissionError):
                vault(value + "!")
    return answers


def test_no_planted_secret_in_the_recording_and_it_replays(recorder: Any) -> None:
    answers = program(openai_client(secret_server()))
    doc = recorder.run()
    recording = doc["recording"]
    assert len(recording["exchanges"]) == len(CORPUS) and len(recording["tools"]) == 2 * len(CORPUS)
    # Positive control: the program got every secret back from the model; markers stand in their place.
    assert all(secret_of(e) in answer for e, answer in zip(CORPUS, answers, strict=True))
    text = json.dumps(doc, ensure_ascii=False)
    assert "[REDACTED:" in text
    assert leaks(text) == {}
    assert leaks(json.dumps(doc)) == {}  # JSON-escaped too
    raw = "\n".join(
        json.dumps(unpack(data), ensure_ascii=False) for _, data in recorder.store.recordings(doc["run_id"])
    )
    assert leaks(raw) == {}

    with otel_agenttrace.replay(doc) as r:
        replayed = program(openai_client(secret_server()))  # model mode: answered from the (redacted) recording
    r.assert_reproduced()
    assert leaks("\n".join(replayed)) == {} and "[REDACTED:" in replayed[0]
    assert leaks(json.dumps(recorder.run(), ensure_ascii=False)) == {}
