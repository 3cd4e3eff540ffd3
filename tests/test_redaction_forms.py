"""Secret-named keys in every form content carries them: YAML and header lines, `key: value` in prose, and
quoted values with quotes, backslashes and apostrophes inside, at every level of JSON escaping (content is
redacted as JSON text, and a tool's JSON inside it is escaped again). Fixed cases show what is hidden and what
is left alone (and why: docs/privacy.md); Hypothesis plants random secrets in random text."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_agenttrace._redact import BUILTIN, Pattern, Redactor
from otel_agenttrace._redact._emails import email_spans
from otel_agenttrace._redact._engine import _options

REDACTOR = Redactor()
REDACTOR.ready(60)  # every test on the prescan, as a process is once it has compiled (test_redaction_prescan: both)
CORPUS_FILE = Path(__file__).parent / "data" / "secrets" / "corpus.json"
MARK = "[REDACTED:secret_assignment]"


def encodings(text: str) -> list[str]:
    """The text raw, as a JSON string (content), and inside a JSON document inside one (tool arguments)."""
    return [text, json.dumps(text), json.dumps(json.dumps({"note": text}))]


def decoded(out: str, level: int) -> str:
    if level == 0:
        return out
    if level == 1:
        return str(json.loads(out))
    return str(json.loads(json.loads(out))["note"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML, .env-like and header lines: the whole rest of a line that starts with the key
        ("password: hunter2", f"password: {MARK}"),
        ("db:\n  password: hunter2\n  user: app", f"db:\n  password: {MARK}\n  user: app"),
        ("- api_key: 9fQ2xL7vK3mN8pR4\n- name: x", f"- api_key: {MARK}\n- name: x"),
        ("passphrase: correct horse battery staple\n", f"passphrase: {MARK}\n"),
        ("X-Api-Key: BwyMZDrXqDjrDYaz\r\nHost: a", f"X-Api-Key: {MARK}\r\nHost: a"),
        ("\tclient_secret:   s3cr3t-value  ", f"\tclient_secret:   {MARK}"),
        ("**Password:** hunter22", f"**Password:** {MARK}"),
        ('password: "quoted value"', f"password: {MARK}"),
        ("password: ab\"cd'ef\\gh", f"password: {MARK}"),
        # mid-line: a token with a digit or a symbol is a secret, a word is prose
        ("my password: hunter2 so keep it", f"my password: {MARK} so keep it"),
        ("login with api_key: abc-def-ghi, then", f"login with api_key: {MARK}, then"),
        # quoted values with quotes and backslashes inside
        ('{"password": "ab\\"cd-efgh"}', f'{{"password": "{MARK}"}}'),
        ('{"password": "abcd\\\\"}', f'{{"password": "{MARK}"}}'),  # ends with a backslash: in the secret
        ('{"password": "it\'s-a-secret"}', f'{{"password": "{MARK}"}}'),
        ("password='a\\'bcdef'", f"password='{MARK}'"),
        ("{'token': 'say \\'hi\\' 123'}", f"{{'token': '{MARK}'}}"),
        ('password = "a\\"b\\\\c\\"d"', f'password = "{MARK}"'),
        ('token: "spaces inside"', f"token: {MARK}"),
        # A quote before a key reads, once escaped, as a twice-escaped string's start: its line still ends at the
        # once-escaped line end, and the next line's value is hidden whole (found by Hypothesis).
        ('"PASSWORD:\npassword: AAA00"000000\n', f'"PASSWORD:\npassword: {MARK}\n'),
        # A single-quoted value ending in an escaped backslash, then a double quote that ends the JSON string:
        # a run of quotes is read whole, so the string's closing quote is not taken into the value (found by
        # Hypothesis: the redacted JSON was left unterminated).
        ("'password': 'AAA00000000\\\\' \"", f"'password': '{MARK}\""),
    ],
)
def test_forms_hide_the_value(text: str, expected: str) -> None:
    for level, encoded in enumerate(encodings(text)):
        out, count = REDACTOR.redact(encoded)
        assert count >= 1
        assert decoded(out, level) == expected, (level, encoded, out)


@pytest.mark.parametrize(
    "text",
    [
        # prose: the key mid-line and a plain word after it
        "the password: field is required",
        "Enter your password: then press OK.",
        "Set the token: see the docs",
        # code: type annotations at the start of a line, references, placeholders
        "class Settings:\n    password: str = ''\n    api_key: Optional[str] = None\n    token: SecretStr\n",
        "interface Config {\n  apiKey: string;\n  password: string | undefined;\n}",
        "def connect(password: str, token: int = 0) -> None: ...",
        "password: ${DB_PASSWORD}\ntoken: {{ secrets.TOKEN }}\nsecret: null\napi_key: ~\npassword: ''",
        "password: abc",  # 1-3 characters: a placeholder
        # keys that only contain the word
        "max_tokens: 1024\ntoken_count: 12\npassword_hint: first pet\nsecret_name: db-creds",
        # ids, hashes, UUIDs and base64 next to a colon
        "id: 123e4567-e89b-12d3-a456-426614174000\nsha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c",
        "image: data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA6",
        'usage: {"prompt_tokens": 12, "completion_tokens": 7}',
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    for encoded in encodings(text):
        assert REDACTOR.redact(encoded) == (encoded, 0), encoded


def test_a_line_that_starts_with_a_secret_key_is_hidden_even_when_it_reads_like_prose() -> None:
    """The documented trade-off: at the start of a line, `Token: ...` is a config or header line."""
    assert REDACTOR.redact("Password: must be 8 characters long")[0] == f"Password: {MARK}"


def test_an_unclosed_value_is_hidden_to_the_end_of_its_string() -> None:
    """Output cut by max_tokens: no closing quote, and the JSON around it stays valid."""
    text = json.dumps({"content": 'config = {"password": "ab\\"cd-efgh-ijkl'})
    out, count = REDACTOR.redact(text)
    assert count == 1 and json.loads(out) == {"content": f'config = {{"password": "{MARK}'}


# --- properties ------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
AROUND = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["\\", '"', "'", "\\n", "\n", ": ", "password", '"password": "', "=", " - ", "\\\\", '\\"']
)
SURROUNDINGS = st.lists(AROUND, max_size=4).map("".join)
KEY = st.sampled_from(["password", "db_password", "API_KEY", "client_secret", "token", "X-Api-Key", "passphrase"])
# A secret: a head no type name or placeholder has (3 letters and a digit), then anything printable, quotes
# and backslashes included.
HEAD = st.from_regex(r"[A-Za-z]{3}[0-9]", fullmatch=True)
BODY = st.text(string.ascii_letters + string.digits + " \"'\\-_!#$%&*+/=?@^~.,:;()[]{}<>|`", min_size=8, max_size=40)
SECRET = st.builds(lambda head, body: head + body, HEAD, BODY)
# A token (mid-line: up to whitespace or a delimiter)
TOKEN = st.builds(
    lambda head, body: head + body,
    HEAD,
    st.text(string.ascii_letters + string.digits + "-_+/=.", min_size=8, max_size=30),
)
PIECE = 8  # no run of this many characters of a planted secret may survive
MARKER = re.compile(r"\[REDACTED:[a-z_]+\]")  # what the built-ins put in a secret's place


def python_quoted(secret: str, quote: str) -> str:
    return quote + secret.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def planted_forms(key: str, secret: str) -> list[tuple[str, str, bool]]:
    """(text that assigns the secret to the key, the secret as it is in that text, starts a line)."""
    json_value = json.dumps(secret)
    # In a single-quoted value, a double quote before `,:}]` reads as the end of a JSON string around it (the
    # documented limit): the value stops there.
    single = python_quoted(re.sub(r'"(?=[,:}\]]|$)', '"x', secret), "'")
    forms = [
        (f'"{key}": {json_value}', json_value[1:-1], False),
        (f"'{key}': {single}", single[1:-1], False),
        (f"{key}={single}", single[1:-1], False),
        (f"{key} = {python_quoted(secret, chr(34))}", python_quoted(secret, '"')[1:-1], False),
    ]
    line = secret.strip()
    if line and "\n" not in line and "\r" not in line:
        forms.append((f"{key}: {line}", line, True))
    return forms


def leaked_pieces(secret: str, out: str, control: str) -> list[str]:
    """Runs of the secret that `out` holds more often than `control`, the text with the secret replaced by a
    marker. Every marker in `out` is counted as the control's: a secret may share 8 characters with a kind's
    name (`...secret_a...` in `[REDACTED:secret_assignment]`), which is not the secret getting through."""
    out = MARKER.sub("[REDACTED:x]", out)
    pieces = {form[i : i + PIECE] for form in _escapes(secret) for i in range(len(form) - PIECE + 1)}
    # A run of backslashes alone is escaping, not the secret: a value ending in `\` escaped twice ends in a
    # run the closing quote's escape runs into, and the run left beside the marker says no more than that.
    return sorted(p for p in pieces if out.count(p) > control.count(p) and p.strip("\\"))


def _escapes(secret: str) -> set[str]:
    once = json.dumps(secret)[1:-1]
    return {secret, once, json.dumps(once)[1:-1]}


@PROPERTY
@given(
    before=SURROUNDINGS,
    key=KEY,
    secret=SECRET,
    form=st.integers(0, 4),
    after=SURROUNDINGS,
    level=st.integers(0, 2),
)
def test_no_planted_value_gets_through_whatever_surrounds_it(
    before: str, key: str, secret: str, form: int, after: str, level: int
) -> None:
    forms = planted_forms(key, secret)
    assigned, planted, starts_line = forms[form % len(forms)]
    left = "\n" if starts_line else " "
    right = "\n" if starts_line else " "

    def text(value: str) -> str:
        raw = before + left + value + right + after
        return encodings(raw)[level]

    out, count = REDACTOR.redact(text(assigned))
    assert count >= 1
    control = text(assigned.replace(planted, "[REDACTED:x]"))
    assert leaked_pieces(planted, out, control) == [], out
    # the JSON around it stays valid
    if level:
        decoded(out, level)


@PROPERTY
@given(before=SURROUNDINGS, key=KEY, token=TOKEN, after=SURROUNDINGS, level=st.integers(0, 2))
def test_a_token_after_a_key_and_a_colon_mid_line_is_hidden(
    before: str, key: str, token: str, after: str, level: int
) -> None:
    def text(value: str) -> str:
        return encodings(f"{before} note {key}: {value} {after}")[level]

    out, count = REDACTOR.redact(text(token))
    assert count >= 1
    assert leaked_pieces(token, out, text("[REDACTED:x]")) == [], out


@PROPERTY
@given(st.lists(AROUND | KEY | SECRET, max_size=10).map("".join), st.integers(0, 2))
def test_the_forms_never_raise(text: str, level: int) -> None:
    encoded = encodings(text)[level]
    out, count = REDACTOR.redact(encoded)
    assert count == 0 or MARK in out or "[REDACTED:" in out
    if level:
        decoded(out, level)  # still valid JSON


# --- the two paths of the engine -------------------------------------------------------------------------------

CORPUS_VALUES = [e["value"] for e in json.loads(CORPUS_FILE.read_text(encoding="utf-8"))["secrets"]]


def full_path_only() -> Redactor:
    redactor = Redactor(prescan=False)  # its prescan leaves `email` out, as the gate it stands for does
    redactor._few = None  # every text with a match takes the full path (an RE2 set, then a pass per kind)
    redactor._email = None  # and e-mail addresses too: the gate of every kind, not `_emails`
    return redactor


FULL = full_path_only()


@PROPERTY
@given(
    st.lists(
        AROUND
        | st.sampled_from(CORPUS_VALUES)
        | st.sampled_from([" a@b.co ", "\\n", "x@y.dapi", "<a@b.co>", '"', "'", "?sig=", ": ", "\n", "password"]),
        max_size=8,
    ).map("".join),
    st.integers(0, 2),
)
def test_the_few_matches_path_finds_what_the_full_path_finds(text: str, level: int) -> None:
    """A text with a few matches, none inside another, takes one search per match; whatever it finds must be
    what every pattern finds on its own."""
    encoded = encodings(text)[level]
    assert REDACTOR.redact(encoded) == FULL.redact(encoded)


def test_both_paths_are_taken() -> None:
    few, gate = REDACTOR._few, REDACTOR._gate
    assert few is not None and gate is not None

    def takes_the_few_path(text: str) -> bool:
        raw = text.encode()
        first = gate(raw, 0)
        assert first is not None
        return few.find(text, raw, first, [])

    assert takes_the_few_path("Contact: ann@example.com, bob@example.org")  # two e-mail addresses
    assert not takes_the_few_path("redis://ann:p4ss@cache.example.com/0")  # an address inside a URL
    assert not takes_the_few_path("ts 1795428400120125109")  # a card-shaped run of digits: Luhn decides
    assert not takes_the_few_path(" ".join(["ann@example.com"] * 9))  # more than a few


# An address after a byte no other kind starts on takes no RE2 call but the gate's; these start where other
# kinds do (a quote or a line end: secret_assignment; `?`: a SAS signature; a backslash: a token after `\n`;
# the text's start: a key), or are one byte of context and more than an address.
LONE_LOOKALIKES = [
    '"password@x.io": "hunter2!"',
    "'token@x.io': 'v4lue-s3cret'",
    "\npassword@x.io: s3cr3t!x",
    "x \\nAKIAABCDEFGHIJKLMNOP@x.com y",
    "sk-aaaaaaaaaaaaaaaaaaaaaaaaa@x.com",
    "u ?sig=abcdefghijklmnopqrstuvw@x.com",
    "u &sig=abcdefghijklmnopqrstuvw%3D@x.com",
    "see redis://ann:p4ss@cache.example.com/0",
    "<bob@example.com>:",
    "é<bob@example.com> 私 ann@example.org",
]


@pytest.mark.parametrize("text", LONE_LOOKALIKES)
def test_an_address_takes_the_shortcut_only_where_it_is_alone(text: str) -> None:
    for level, encoded in enumerate(encodings(text)):
        assert REDACTOR.redact(encoded) == FULL.redact(encoded), (level, encoded)


@pytest.mark.parametrize("prescan", [False, True], ids=["gate", "prescan"])
def test_addresses_in_a_code_header_cost_no_set_or_pattern_call(prescan: bool) -> None:
    """Two addresses after `<`: one search of the other kinds' gate, and no RE2 call per address (each ~1 µs,
    a KB's scan ~2 µs): `_emails` finds them. With the prescan ready, not even the gate's: it said no other
    kind matches."""
    redactor = Redactor(prescan=prescan)
    assert redactor.ready(60) is prescan
    few = redactor._few
    assert few is not None
    calls: list[str] = []
    saved = few.set_native, few.anchored, redactor._gate, redactor._others_native

    def counted(name: str, fn: Any) -> Any:
        def call(*args: Any) -> Any:
            calls.append(name)
            return fn(*args)

        return call

    few.set_native = counted("set", few.set_native or few.starts.Match)
    few.anchored = [counted("pattern", a) for a in saved[1]]
    redactor._gate = counted("gate", saved[2])
    assert saved[3] is not None
    redactor._others_native = (counted("others", saved[3][0]), saved[3][1])
    others = [] if prescan else ["others"]
    try:
        text = "# Author: Ann Smith <ann@example.com>.\n# Maintainer: Bob <bob@example.org>\nimport os\n"
        assert redactor.redact(text) == (
            "# Author: Ann Smith <[REDACTED:email]>.\n# Maintainer: Bob <[REDACTED:email]>\nimport os\n",
            2,
        )
        assert calls == others
        calls.clear()
        assert redactor.redact('{"to": "ann@example.com"}')[1] == 1 and calls == others
        calls.clear()
        assert redactor.redact("ann@example.com")[1] == 1 and calls == others  # the text's start
        calls.clear()
        # another kind's match: the gate of every kind, then the few-matches path (no call for a lone address)
        assert redactor.redact("<ann@example.com> ghp_" + "a" * 36)[1] == 2
        assert calls == ["others", "gate", "set", "pattern"]
    finally:
        few.set_native, few.anchored = saved[:2]


EMAIL = next(p for p in BUILTIN if p.name == "email")
EMAIL_RE2 = re2.compile(EMAIL.regex.encode(), _options(capture=True))


def re2_email_spans(raw: bytes) -> list[tuple[int, int]]:
    """The `email` pattern's secrets as RE2 finds them, one search after another from the last match's end."""
    spans, pos = [], 0
    while (match := EMAIL_RE2.search(raw, pos)) is not None:
        spans.append(match.span(1))
        pos = max(match.end(), match.start() + 1)
    return spans


EMAIL_PARTS = st.sampled_from(
    [
        "@",
        ".",
        "a",
        "n",
        "Z",
        "9",
        "-",
        "_",
        "%",
        "+",
        "\\",
        "\\n",
        " ",
        "<",
        '"',
        "é",
        "私",
        "\n",
        "com",
        "@x.io",
        "..",
        "@@",
    ]
)


@PROPERTY
@given(st.lists(EMAIL_PARTS, max_size=24).map("".join))
def test_addresses_found_without_re2_are_the_patterns_own(text: str) -> None:
    """`_emails` finds what the `email` pattern finds with RE2, whatever surrounds the `@`s."""
    raw = text.encode("utf-8", "surrogatepass")
    assert email_spans(raw, len(raw)) == re2_email_spans(raw)
    assert REDACTOR.redact(text) == FULL.redact(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ann@example.com", "[REDACTED:email]"),
        ("x\\nann@example.com", "x\\n[REDACTED:email]"),  # JSON's `\n`: the address starts after it
        ("x\\n@example.com", "x\\[REDACTED:email]"),  # the escape's letter is all the local part there is
        ("a@b.co@c.org", "[REDACTED:email]@c.org"),  # the second `@`'s local part is inside the first match
        ("a@b.c.abcdefghijklmnopqrstuvwxyzab", "[REDACTED:email]yzab"),  # a top-level domain of 24 at most
        ("ann@localhost, bob@x.org.", "ann@localhost, [REDACTED:email]."),
        ("私ann@example.org and ann@", "私[REDACTED:email] and ann@"),
    ],
)
def test_addresses_found_without_re2(text: str, expected: str) -> None:
    assert REDACTOR.redact(text)[0] == expected
    assert FULL.redact(text)[0] == expected


def test_many_addresses_take_the_gate_of_every_kind() -> None:
    """Past a few `@`, the loop costs more than RE2's calls: `_emails` hands the text back."""
    text = " ".join(f"user{i}@example.com" for i in range(12))
    raw = text.encode()
    assert email_spans(raw, 8) is None and len(email_spans(raw, 12) or []) == 12
    assert REDACTOR.redact(text) == FULL.redact(text) == (" ".join(["[REDACTED:email]"] * 12), 12)


def test_addresses_beside_a_policy_pattern() -> None:
    """A user's pattern runs over the same text: its matches and the addresses are replaced together."""
    redactor = Redactor((*BUILTIN, Pattern("ticket", r"TICKET-\d+")))
    assert redactor.redact("TICKET-42 from ann@example.com") == ("[REDACTED:ticket] from [REDACTED:email]", 2)


def test_an_address_right_after_a_non_ascii_character() -> None:
    """The byte before the address is the last of a UTF-8 character: the match starts inside it."""
    assert REDACTOR.redact("àbob@example.com") == ("à[REDACTED:email]", 1)
    assert REDACTOR.redact("\x800@0.AA") == ("\x80[REDACTED:email]", 1)
    assert FULL.redact("ébob@example.com, 私ann@example.org") == ("é[REDACTED:email], 私[REDACTED:email]", 2)


def test_a_long_line_value_then_another_line() -> None:
    """The next line's start reads the character before its escaped line end: a long value must not take it."""
    text = "  api_key: 4422a9bfd7e9d3c4 " + "x" * 200 + " \nX-Api-Key: BwyMZDrXqDjrDYazmDtlRyIS"
    for level, encoded in enumerate(encodings(text)):
        out, count = REDACTOR.redact(encoded)
        assert count == 2 and "BwyMZDrX" not in out, (level, out)


def test_a_value_quoted_as_pythons_repr_writes_it() -> None:
    """An exception's repr escapes the quotes: `password=\\'it\\\\\\'s-...\\'` (found end to end)."""
    text = repr(PermissionError("password='it\\'s-3mAueyN14AQzGehK'"))
    for encoded in encodings(text):
        out, count = REDACTOR.redact(encoded)
        assert count == 1 and "3mAueyN14" not in out, out
