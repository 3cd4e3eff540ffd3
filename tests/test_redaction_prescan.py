"""The redaction prescan: Hyperscan says whether any built-in pattern matches before RE2's first pass runs.

It may only ever skip that pass for a text in which RE2 finds nothing: every test here holds the prescan's
"no match" against the gate's own answer, or the redacted text against a Redactor without a prescan.
"""

from __future__ import annotations

import json
import os
import string
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threads import run_in_threads

from otel_agenttrace._redact import BUILTIN, Redactor, _prescan
from otel_agenttrace._redact._prescan import Prescan, hyperscan_source, prescan_for

hs = pytest.importorskip("hyperscan")

CORPUS = json.loads((Path(__file__).parent / "data" / "secrets" / "corpus.json").read_text(encoding="utf-8"))
VALUES = [entry["value"] for entry in CORPUS["secrets"]]
# An address is found apart (`_emails`): the prescan, like the gate it stands for, leaves `email` out.
EMAILS = {entry["value"] for entry in CORPUS["secrets"] if entry["kind"] == "email"}
ON = Redactor()
OFF = Redactor(prescan=False)
assert ON.ready(60), "the built-ins' prescan did not compile"
PROPERTY = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def gate_finds(redactor: Redactor, raw: bytes) -> bool:
    """Whether the RE2 pass the prescan stands for (the other kinds' gate, `email` being found apart) matches."""
    gate = redactor._others_gate if redactor._email is not None else redactor._gate
    assert gate is not None
    return gate(raw, 0) is not None


def prescan_of(redactor: Redactor) -> Prescan:
    assert redactor._prescan is not None
    return redactor._prescan


# --- the dialects made the same ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"a\s+b", rb"a[\t\n\f\r ]+b"),
        (r"[^\s:/]+", rb"[^\t\n\f\r :/]+"),
        (r"x\S", rb"x[^\t\n\f\r ]"),
        (r"[]\s]", rb"[]\t\n\f\r ]"),  # a `]` first in a class is a member: the class goes on
        (r"[^]\s]", rb"[^]\t\n\f\r ]"),
        (r"\\s", rb"\\s"),  # an escaped backslash, then a letter
        (r"\b(?i:token)\d{2,}", rb"\b(?i:token)\d{2,}"),
        ("contrase(?:ñ|n)a", "contrase(?:ñ|n)a".encode()),
    ],
)
def test_re2_escapes_are_spelt_out_as_re2_reads_them(regex: str, expected: bytes) -> None:
    assert hyperscan_source(regex) == expected


@pytest.mark.parametrize("regex", [r"[\S]", r"\pL+", r"\PN", r"\C", r"\Qa.b\E"])
def test_an_escape_read_otherwise_leaves_the_gate_alone(regex: str) -> None:
    assert hyperscan_source(regex) is None
    assert prescan_for(["token", regex]) is None


def test_a_vertical_tab_in_a_url_password_is_not_missed() -> None:
    """RE2's `\\s` takes no vertical tab, PCRE's does: read as written, `[^\\s...]` would skip this password."""
    text = "see https://deploy:hun\x0bter2-s3cret@db.example.com/app"
    url = next(p for p in BUILTIN if p.name == "url_credentials")
    as_written = Prescan([url.regex.encode()])
    assert as_written.wait(60)
    assert as_written.clear(text.encode())  # the hazard the spelling-out removes
    assert not prescan_of(ON).clear(text.encode())
    assert (
        ON.redact(text) == OFF.redact(text) == ("see https://deploy:[REDACTED:url_credentials]@db.example.com/app", 1)
    )


# --- never a text RE2 would find something in ---------------------------------------------------------------

PIECES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.text(string.printable + "\x0b\x0c", max_size=30),
    st.sampled_from(VALUES),
    st.sampled_from(["password", "token", ": ", "=", '"', "'", "\\", "\\n", "://", "@", "Bearer ", "AccountKey="]),
    st.from_regex(r"\d{1,5}([ -]\d{1,5}){0,5}", fullmatch=True),
)
TEXTS = st.lists(PIECES, max_size=10).map("".join)


@PROPERTY
@given(TEXTS)
def test_the_prescan_clears_only_what_the_gate_clears(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    if prescan_of(ON).clear(raw):
        assert not gate_finds(ON, raw)


@PROPERTY
@given(TEXTS)
def test_redaction_is_the_same_with_and_without_it(text: str) -> None:
    assert ON.redact(text) == OFF.redact(text)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("context", ["{}", "x {} y", '{{"k": "{}"}}', "\x0b{}\x0b", "é{}€"])
def test_every_corpus_secret_is_seen(value: str, context: str) -> None:
    text = context.format(value)
    assert prescan_of(ON).clear(text.encode()) is (value in EMAILS)
    assert ON.redact(text) == OFF.redact(text)
    assert ON.redact(text)[1] >= 1


def test_ordinary_text_skips_the_gate() -> None:
    for text in ("", "hello", "The model answered in 3 paragraphs.", '{"role": "user", "content": "hi"}'):
        assert prescan_of(ON).clear(text.encode())
        assert not gate_finds(ON, text.encode())


def test_without_the_email_pattern_the_prescan_stands_for_the_whole_gate() -> None:
    """With `email` switched off there is no address path: the prescan and the gate are of every other kind."""
    patterns = tuple(p for p in BUILTIN if p.name != "email")
    redactor = Redactor(patterns)
    assert redactor.ready(60) and redactor._email is None
    text = "write to ann@example.com, token: 9f8e7d6c5b4a3f2e"
    assert not prescan_of(redactor).clear(text.encode())
    assert redactor.redact(text) == ("write to ann@example.com, token: [REDACTED:secret_assignment]", 1)
    assert ON.redact(text) == ("write to [REDACTED:email], token: [REDACTED:secret_assignment]", 2)


# --- when it is not there -----------------------------------------------------------------------------------


def test_before_it_is_compiled_every_text_takes_the_gate() -> None:
    prescan = Prescan([b"s3cret"])
    prescan._pid = os.getpid()  # as if this process had started compiling it
    assert not prescan.clear(b"nothing here")  # "maybe": the gate decides
    prescan._pid = 0
    assert prescan.wait(60) and prescan.clear(b"nothing here") and not prescan.clear(b"a s3cret")


def test_a_pattern_hyperscan_rejects_leaves_the_gate_alone() -> None:
    prescan = Prescan([rb"(a)\1"])  # a back-reference: Hyperscan has none
    assert not prescan.wait(60)
    assert not prescan.clear(b"nothing here")


def test_no_hyperscan_no_prescan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_prescan, "_hs", None)
    assert prescan_for([p.regex for p in BUILTIN]) is None


def test_a_scan_error_is_a_maybe() -> None:
    prescan = Prescan([b"s3cret"])
    assert prescan.wait(60)
    prescan._scratch[:] = [object()]  # not a scratch: the binding raises
    assert not prescan.clear(b"nothing here")


# --- threads and processes ----------------------------------------------------------------------------------


def test_threads_scan_at_once_each_with_a_scratch_of_its_own() -> None:
    """A scratch serves one scan at a time (the binding releases the GIL while it scans)."""
    text = ("plain words of a long prose text, " * 2000) + " and a key sk-ant-" + "a" * 30
    clean = "plain words of a long prose text, " * 2000

    def work() -> None:
        for _ in range(20):
            assert ON.redact(clean) == (clean, 0)
            assert ON.redact(text)[1] == 1

    assert run_in_threads(work, 4) == []
    assert 1 <= len(prescan_of(ON)._scratch) <= 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_compiles_its_own() -> None:
    """A child forked while the parent compiles has no compiling thread: its first text starts one."""
    prescan = Prescan([b"s3cret"])
    prescan._pid = os.getpid()  # the parent "is compiling" (no thread will finish it in the child)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = not prescan.clear(b"x") and prescan.wait(60) and prescan.clear(b"x") and not prescan.clear(b"s3cret")
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert prescan._db is None  # the parent's own is still "being compiled"


def test_no_thread_to_compile_it_leaves_the_gate_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """At interpreter shutdown (or out of threads) `Thread.start` raises: redaction goes on without a prescan."""

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refused)
    prescan = Prescan([b"s3cret"])
    assert not prescan.clear(b"nothing here") and not prescan.clear(b"nothing here")
    assert not prescan.wait(1)
