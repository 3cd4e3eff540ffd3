"""Redaction: the built-in patterns against a corpus of fake secrets, whatever text surrounds them (property-based
with hypothesis), the user's policy (patterns, JSON paths, switches), and policy errors that fail closed.

The corpus is tests/data/secrets/corpus.json: every value in it is fake. The end-to-end run of the same corpus
through real SDK calls, the store, OTLP, `agenttrace dump` and the logs is tests/test_secret_corpus.py.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import anthropic_client, fake_transport, json_response, openai_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oteltest import Telemetry

from otel_agenttrace import AgentTraceInstrumentor, tool
from otel_agenttrace import semconv as sc
from otel_agenttrace._capture import (
    CapturePolicy,
    ContentMode,
    env_snapshot,
    load_redaction_policy,
    policy_from_env,
)
from otel_agenttrace._redact import (
    BUILTIN,
    BUILTIN_NAMES,
    ROOTS,
    PathRule,
    PolicyError,
    RedactionPolicy,
    Redactor,
    apply_paths,
    load_policy_file,
    parse_policy,
)
from otel_agenttrace.environment_variables import (
    AGENTTRACE_ENV_ALLOW,
    AGENTTRACE_REDACTION_POLICY,
    AGENTTRACE_TARGETS,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
)

DATA = Path(__file__).parent / "data" / "secrets" / "corpus.json"
PRIVACY_DOC = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
FRAGMENT = 12  # no run of this many characters of a secret may survive


def load_corpus() -> list[dict[str, str]]:
    """corpus.json, then lines.json (secrets only at the start of a line: YAML and header lines), marked."""
    entries: list[dict[str, str]] = json.loads(DATA.read_text(encoding="utf-8"))["secrets"]
    lines = json.loads(DATA.with_name("lines.json").read_text(encoding="utf-8"))["secrets"]
    return entries + [{**e, "line": True} for e in lines]


CORPUS = load_corpus()
REDACTOR = Redactor()
REDACTOR.ready(60)  # every test on the prescan, as a process is once it has compiled (test_redaction_prescan: both)


def secret_of(entry: dict[str, str]) -> str:
    return entry.get("secret", entry["value"])


def fragments(secret: str) -> set[str]:
    return {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)} or {secret}


def leaked(entry: dict[str, str], text: str) -> list[str]:
    return sorted(f for f in fragments(secret_of(entry)) if f in text)


def corpus_id(entry: dict[str, str]) -> str:
    return f"{entry['kind']}-{entry['note']}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        AGENTTRACE_REDACTION_POLICY,
        AGENTTRACE_ENV_ALLOW,
        AGENTTRACE_TARGETS,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
    ):
        monkeypatch.delenv(name, raising=False)
    # No pyproject.toml above the working directory: [tool.agenttrace] comes only from where a test puts it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(tmp_path / "agent.py")])


# --- the corpus -------------------------------------------------------------------------------


def test_the_corpus_plants_every_builtin_kind() -> None:
    assert len(CORPUS) >= 30
    assert {e["kind"] for e in CORPUS} == set(BUILTIN_NAMES)
    values = [e["value"] for e in CORPUS]
    assert len(set(values)) == len(values)
    for entry in CORPUS:
        assert secret_of(entry) in entry["value"]
        assert len(secret_of(entry)) >= FRAGMENT


@pytest.mark.parametrize("entry", CORPUS, ids=corpus_id)
def test_each_secret_alone_is_replaced_by_its_kind(entry: dict[str, str]) -> None:
    out, count = REDACTOR.redact(entry["value"])
    assert leaked(entry, out) == []
    assert f"[REDACTED:{entry['kind']}]" in out
    assert count >= 1
    # ...and by its own pattern, with every other one switched off
    own = Redactor([p for p in BUILTIN if p.name == entry["kind"]])
    assert leaked(entry, own.redact(entry["value"])[0]) == []


CONTEXTS = (
    "{}",
    "my key is {} ok",
    "KEY={}\n",
    '{{"value": "{}"}}',
    "({})",
    "{}.",
    "'{}'",
    "line one\n{}\nline three",
    "\t{}\r\n",
    "<{}>",
    "C:\\{}",
    "token:{},next",
)


# Where a line of its own (a YAML or header line whose value is a secret only at the start of a line) goes.
LINE_CONTEXTS = ("{}", "line one\n{}\nline three", "\t{}\r\n", "config:\n  {}\n  user: app", "{}\n")


def contexts_of(entry: dict[str, Any]) -> tuple[str, ...]:
    return LINE_CONTEXTS if entry.get("line") else CONTEXTS


@pytest.mark.parametrize("entry", CORPUS, ids=corpus_id)
def test_each_secret_in_context_raw_and_as_json(entry: dict[str, str]) -> None:
    """Content is redacted as serialized JSON, and a tool's JSON text inside it is escaped twice: a newline
    before a secret becomes the two characters backslash-n."""
    for context in contexts_of(entry):
        raw = context.format(entry["value"])
        once = json.dumps(raw)
        twice = json.dumps(json.dumps({"note": raw}))
        for text in (raw, once, twice):
            out, _ = REDACTOR.redact(text)
            assert leaked(entry, out) == [], (context, text)
        # redacting JSON text leaves valid JSON (the run trace parses it back)
        assert isinstance(json.loads(REDACTOR.redact(once)[0]), str)
        assert isinstance(json.loads(json.loads(REDACTOR.redact(twice)[0])), dict)


def test_every_secret_of_the_corpus_at_once() -> None:
    text = "\n".join(f"{e['note']}:\n{e['value']}" if e.get("line") else f"{e['note']}: {e['value']}" for e in CORPUS)
    out, count = REDACTOR.redact(json.dumps({"all": text}))
    assert [corpus_id(e) for e in CORPUS if leaked(e, out)] == []
    assert count >= len(CORPUS)


# --- the documented defaults ------------------------------------------------------------------


def documented_patterns() -> dict[str, str]:
    """name -> example, from the table under '## Built-in patterns' in docs/privacy.md."""
    section = PRIVACY_DOC.read_text(encoding="utf-8").split("## Built-in patterns", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| .+ \| `(.+)` \|$", section, re.MULTILINE)
    return {name: example.replace("\\n", "\n") for name, example in rows}


def test_docs_list_every_builtin_pattern_in_order() -> None:
    assert list(documented_patterns()) == list(BUILTIN_NAMES)


@pytest.mark.parametrize(("name", "example"), list(documented_patterns().items()))
def test_each_documented_example_is_caught_by_its_pattern(name: str, example: str) -> None:
    out, count = REDACTOR.redact(example)
    assert f"[REDACTED:{name}]" in out and count == 1
    assert Redactor([p for p in BUILTIN if p.name == name]).redact(example)[1] == 1


# --- what is not a secret stays --------------------------------------------------------------

NOT_SECRETS = (
    "The capital of France is Paris; the task-list has 3 items and sk-8 is a model name.",
    "uuid 123e4567-e89b-12d3-a456-426614174000 and trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "order 4111 1111 1111 1112 fails the Luhn check",
    "timestamp 1795428000000000000123 is 22 digits with no separator",
    "call +1 415 555 0199 or 2026-11-23, total 1234.56 EUR",
    "the standard bearer of the party",
    "Basic authentication: the Authorization header carries Basic credentials (Authorization: Basic auth, "
    'Authorization: Basic <credentials>); WWW-Authenticate: Basic realm="api"; basic income, Basic ZGVwbG95',
    "AKIA is not a key; neither is AKIAshort nor ghp_short nor AIzaShort",
    "email me at alice at example dot com",
    "a.b@c is not an address, nor is @handle",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "secret_access_key is documented in the AWS guide",
    # near misses of the scanner rule families: prefixes in ordinary words, ids, hashes, code, usage counts
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, md5 d41d8cd98f00b204e9800998ecf8427e",
    "git 4bf92f3577b34da6a3ce929d0e0e4736a1b2c3d4 and SKU SK-8, SKd41d8cd98f00b204e9800998ecf8427e00 (34 hex)",
    "xoxo, see you; hf_hub_download(repo_id='gpt2'); npm_config_cache; the pypi-server package; SG.1 of the spec",
    "glpat-short, dapi-docs, dop_v1_ and shpat_ without a token; d41d8cd98f00b204e9800998ecf8427e-usage",
    "Node.js v18.17.1 and MTIzNDU2Nzg5MDEyMzQ1Njc4.short.token are not Discord tokens",
    'usage {"max_tokens": 1024, "prompt_tokens": "12", "token_count": "345", "tokenizer": "cl100k_base"}',
    '{"password_hint": "first pet", "secretary": "Ms Jones", "api_key": "k", "token": "[REDACTED:openai_key]"}',
    "PWD=/home/me/project OLDPWD=/tmp; set the password in the settings page; token: see the docs",
    'login(user, password=password, token=self.token, passwd=Passwd, api_key=os.environ["API_KEY"], secret=None)',
    'password = get_password(); token = ""; api_key = None',
    "https://example.com:8443/path?q=1&sig=abc and ssh://github.com/org/repo.git and mailto:ann@",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
)


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert REDACTOR.redact(text) == (text, 0)
    assert REDACTOR.redact(json.dumps(text)) == (json.dumps(text), 0)


# --- the scanner rule families, in their usual places ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"password": "hunter2!!"}', '{"password": "[REDACTED:secret_assignment]"}'),
        ("{'client_secret': 'abc123def'}", "{'client_secret': '[REDACTED:secret_assignment]'}"),
        ('{"X-Api-Key" : "abcd1234"}', '{"X-Api-Key" : "[REDACTED:secret_assignment]"}'),
        ('{"DB_Password":"hunter"}', '{"DB_Password":"[REDACTED:secret_assignment]"}'),
        ('password = "correct horse"', 'password = "[REDACTED:secret_assignment]"'),
        ("DB_PASSWORD=hunter2!!\nUSER=app", "DB_PASSWORD=[REDACTED:secret_assignment]\nUSER=app"),
        ("GET /cb?access_token=abcd1234&state=x", "GET /cb?access_token=[REDACTED:secret_assignment]&state=x"),
        ("Server=db;User Id=sa;Password=Pa55w0rd!;", "Server=db;User Id=sa;Password=[REDACTED:secret_assignment];"),
        ("redis://:p4ssw0rd-xyz@cache:6379/0", "redis://:[REDACTED:url_credentials]@cache:6379/0"),
        ("https://ann:pa%40ss@example.com/x", "https://ann:[REDACTED:url_credentials]@example.com/x"),
        (
            "mysql://root:hunter2@10.0.0.7:3306/db?x=ann@example.com",
            "mysql://root:[REDACTED:url_credentials]@10.0.0.7:3306/db?x=[REDACTED:email]",
        ),
        (
            "Authorization: Bearer abcdefgh=bearer ijklmnop",
            "Authorization: Bearer [REDACTED:bearer_token] [REDACTED:bearer_token]",
        ),
        ("SharedAccessKey=" + "a" * 43 + "=;", "SharedAccessKey=[REDACTED:azure_storage_key];"),
    ],
)
def test_assignments_urls_and_headers_hide_the_value_only(text: str, expected: str) -> None:
    assert REDACTOR.redact(text)[0] == expected
    assert json.loads(REDACTOR.redact(json.dumps(text))[0]) == expected
    assert json.loads(json.loads(REDACTOR.redact(json.dumps(json.dumps(text)))[0])) == expected


def test_the_secret_assignment_rule_can_be_switched_off() -> None:
    redactor = parse_policy({"disable": ["secret_assignment"]}, "t").redactor()
    assert redactor.redact('{"db_password": "hunter2!!"}') == ('{"db_password": "hunter2!!"}', 0)
    # a token of a known kind is still caught under any key
    assert redactor.redact('{"db_password": "npm_' + "a1B2" * 9 + '"}')[0] == '{"db_password": "[REDACTED:npm_token]"}'


# The worst cases of issue 9: `-eyJ` repeated cost 59-75 s per 16 KB, `-----BEGIN PRIVATE KEY-----!` repeated
# 8 s per 250 KB. The built-ins run on RE2 now, linear by construction: the time budget per pattern is
# checked in bench/bench_redaction.py --worst; here, that such text is still redacted right.
def test_adversarial_repetitions_are_redacted_right() -> None:
    header = "-----BEGIN PRIVATE KEY-----"
    out, count = REDACTOR.redact((header + "!") * 2000)
    assert (out, count) == ("[REDACTED:private_key]!" * 2000, 2000)
    assert REDACTOR.redact("-eyJ" * 16384) == ("-eyJ" * 16384, 0)
    jwt = next(e["value"] for e in CORPUS if e["kind"] == "jwt")
    out, count = REDACTOR.redact("-eyJ" * 4096 + " " + jwt + " " + "-eyJ" * 4096)
    assert (out, count) == ("-eyJ" * 4096 + " [REDACTED:jwt] " + "-eyJ" * 4096, 1)


# --- card numbers -----------------------------------------------------------------------------

VISA = "4539 5787 6362 1486"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VISA, "[REDACTED:credit_card]"),
        (VISA.replace(" ", "-"), "[REDACTED:credit_card]"),
        (VISA.replace(" ", ""), "[REDACTED:credit_card]"),
        ("3782 822463 10005", "[REDACTED:credit_card]"),  # Amex, 4-6-5
        (f"qty 3 {VISA}", "qty 3 [REDACTED:credit_card]"),  # a number right before it
        (f"{VISA} 12 27", "[REDACTED:credit_card] 12 27"),  # ...and right after it
        (f"ref 2024 {VISA}", "ref 2024 [REDACTED:credit_card]"),  # 2024 4539 5787 6362 fails the Luhn check
        (f"card-{VISA.replace(' ', '-')}", "card-[REDACTED:credit_card]"),
        (f"#{VISA.replace(' ', '')}#", "#[REDACTED:credit_card]#"),
        ("4539578763621487", "4539578763621487"),  # Luhn fails
        ("ts 1795428400120125109", "ts 1795428400120125109"),  # Luhn passes, but no card starts with 1
        ("1795 4284 0012 0127", "1795 4284 0012 0127"),  # nor grouped (Luhn passes too)
        ("45395787636214861234", "45395787636214861234"),  # 20 digits, no separator: an id
    ],
)
def test_card_numbers(text: str, expected: str) -> None:
    assert REDACTOR.redact(text)[0] == expected


def test_a_card_between_other_digit_groups_is_hidden_whole() -> None:
    for before in ("1234 5678", "12", "9999 999", "7"):
        for after in ("", " 1", " 123 456", " 4321"):
            out = REDACTOR.redact(f"{before} {VISA}{after}")[0]
            assert "6362 1486" not in out and "5787 6362" not in out, (before, after, out)


# --- JSON escapes --------------------------------------------------------------------------------


CUT_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7Zq3bW9\nQm4tYk2LpR8sVn0Hc6Jd1Ue5"


@pytest.mark.parametrize("after", ["", '"tail', "\n", "."])
def test_a_private_key_cut_before_its_end_line_hides_its_body(after: str) -> None:
    """An output cut by max_tokens or a broken stream leaves a key with no END line."""
    for text in (
        f"key: {CUT_KEY}{after}",
        json.dumps({"o": CUT_KEY + after}),
        json.dumps(json.dumps([CUT_KEY + after])),
    ):
        out, count = REDACTOR.redact(text)
        assert count == 1 and "[REDACTED:private_key]" in out
        assert "MIIEow" not in out and "Qm4tYk" not in out and "Ue5" not in out
        if text.startswith(("{", '"')):
            json.loads(out)  # still valid JSON
    assert REDACTOR.redact(f"{CUT_KEY}. Done.")[0] == "[REDACTED:private_key]. Done."


def test_a_secret_after_a_serialized_newline_is_caught_and_the_json_stays_valid() -> None:
    text = json.dumps("Keys:\nghp_R7kP2mQ9xL4vW8nT3bY6R7kP2mQ9xL4vW8nT\nContact:\njohn.doe@example.com\n")
    out, count = REDACTOR.redact(text)
    assert count == 2
    assert json.loads(out) == "Keys:\n[REDACTED:github_token]\nContact:\n[REDACTED:email]\n"


def test_an_email_after_a_backslash() -> None:
    assert REDACTOR.redact("DOMAIN\\alice@example.com")[0] == "DOMAIN\\[REDACTED:email]"
    assert json.loads(REDACTOR.redact(json.dumps("DOMAIN\\alice@example.com"))[0]) == "DOMAIN\\[REDACTED:email]"


# --- properties -------------------------------------------------------------------------------

# The literal parts of the patterns: prefixes, labels, keys, separators (the text most likely to confuse them).
ANCHORS = [
    *(
        "PRIVATE KEY",
        "-----BEGIN ",
        "-----END ",
        "sk-",
        "sk-ant-",
        "sk-proj-",
        "AKIA",
        "ASIA",
        "aws_secret_access_key=",
    ),
    *("ghp_", "github_pat_", "glpat-", "xoxb-", "xapp-1-", "hooks.slack.com/services/", "sk_live_", "whsec_", "hf_"),
    *("npm_", "pypi-AgE", "SG.", "SK", "AccountKey=", "&sig=", "dapi", "discord.com/api/webhooks/", "dop_v1_"),
    *("shpat_", "-us", "AIza", "eyJ", ".eyJ", "Bearer ", "bearer", "://", "://user:", "@", "password", '"password": "'),
    *("token=", "secret", "'", '"', "\\", "=", " ", "\n", "\\n", "4111", "-"),
]
# Any text, surrogates and control characters included, salted with the patterns' own anchors and digit groups.
ANY_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_categories=()), max_size=40),
        st.sampled_from(ANCHORS),
        st.from_regex(r"\d{1,5}([ -]\d{1,5}){0,5}", fullmatch=True),
    ),
    max_size=12,
).map("".join)
SEPARATOR = st.sampled_from(list(" \n\t\r\"'()<>[]{},;:=|!?"))
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(ANY_TEXT)
def test_redaction_never_raises(text: str) -> None:
    out, count = REDACTOR.redact(text)
    assert isinstance(out, str) and count >= 0
    assert count == 0 or "[REDACTED:" in out
    policy = CapturePolicy(paths=(PathRule.parse("$..password", "mask"),))
    captured = policy.content({sc.GEN_AI_INPUT_MESSAGES: [{"role": "user", "content": text}], "x": text})
    assert set(captured) >= {sc.GEN_AI_INPUT_MESSAGES, "x"}


@PROPERTY
@given(
    before=ANY_TEXT,
    left=SEPARATOR,
    entry=st.sampled_from(CORPUS),
    right=SEPARATOR,
    after=ANY_TEXT,
    encode=st.sampled_from(["raw", "json", "json-twice"]),
)
def test_no_planted_secret_gets_through_whatever_surrounds_it(
    before: str, left: str, entry: dict[str, str], right: str, after: str, encode: str
) -> None:
    if entry.get("line"):  # a YAML or header line starts a line
        left = "\n"

    def encoded(value: str) -> str:
        text = before + left + value + right + after
        if encode == "json":
            return json.dumps({"content": text}, ensure_ascii=False)
        if encode == "json-twice":
            return json.dumps([{"arguments": json.dumps({"note": text})}])
        return text

    out, count = REDACTOR.redact(encoded(entry["value"]))
    # The surroundings may hold pieces of the secret themselves (`PRIVATE KEY` after a key, "-----"): a piece
    # leaks when the output holds it more often than the same text with the secret already masked does.
    control = encoded(entry["value"].replace(secret_of(entry), f"[REDACTED:{entry['kind']}]"))
    assert sorted(f for f in fragments(secret_of(entry)) if out.count(f) > control.count(f)) == []
    assert count >= 1


@PROPERTY
@given(st.lists(st.sampled_from(CORPUS), min_size=1, max_size=6), st.lists(SEPARATOR, min_size=6, max_size=6))
def test_secrets_next_to_each_other(entries: list[dict[str, str]], separators: list[str]) -> None:
    text = "".join(("\n" if e.get("line") else sep) + e["value"] for sep, e in zip(separators, entries, strict=False))
    out, _ = REDACTOR.redact(json.dumps(text))
    assert [corpus_id(e) for e in entries if leaked(e, out)] == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["password", "api_key", "q", "parts", "content", "x-y"]), children, max_size=4
        )
    ),
    max_leaves=20,
)
PATHS = st.sampled_from(
    ["$..password", "$..api_key", "$.arguments.password", "$.input[*].parts[*].content", "$.result[0]", "$.*", "$..*"]
)


@PROPERTY
@given(JSON_VALUES, PATHS, st.sampled_from(["mask", "drop"]), st.sampled_from(ROOTS))
def test_json_paths_never_raise_nor_touch_their_input(value: Any, path: str, action: str, root: str) -> None:
    before = copy.deepcopy(value)
    out, count = apply_paths([PathRule.parse(path, action)], root, value)
    assert value == before
    assert count >= 0 and (count > 0 or out == value)
    json.dumps(out)


# --- JSON paths -------------------------------------------------------------------------------


def rule(path: str, action: str = "mask") -> PathRule:
    return PathRule.parse(path, action)


def test_a_path_masks_or_drops_a_tool_argument() -> None:
    args = {"user": "ann", "password": "hunter2-hunter2", "nested": {"password": "x"}}
    masked, count = rule("$.arguments.password").apply("arguments", args)
    assert (masked, count) == ({**args, "password": "[REDACTED:$.arguments.password]"}, 1)
    dropped, count = rule("$.arguments.password", "drop").apply("arguments", args)
    assert (dropped, count) == ({"user": "ann", "nested": {"password": "x"}}, 1)
    assert args["password"] == "hunter2-hunter2"  # the user's object is never changed
    assert rule("$.arguments.password").apply("result", args) == (args, 0)  # another root: untouched


def test_a_deep_path_reaches_every_depth_and_every_root() -> None:
    doc = [{"role": "user", "parts": [{"type": "tool_call", "arguments": {"api_key": "k1", "q": {"api_key": "k2"}}}]}]
    for root in ROOTS:
        out, count = rule("$..api_key", "drop").apply(root, doc)
        assert count == 2
        assert "api_key" not in json.dumps(out)


def test_wildcards_indexes_and_quoted_keys() -> None:
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "a"}]},
        {"role": "user", "parts": [{"type": "text", "content": "b"}, {"type": "text", "content": "c"}]},
    ]
    out, count = rule("$.input[*].parts[*].content").apply("input", messages)
    assert count == 3
    assert [p["content"] for m in out for p in m["parts"]] == ["[REDACTED:$.input[*].parts[*].content]"] * 3
    assert [m["role"] for m in out] == ["system", "user"]
    out, count = rule("$.input[1].parts[0]", "drop").apply("input", messages)
    assert count == 1 and out[1]["parts"] == [{"type": "text", "content": "c"}]
    out, count = rule("$.result['x-api-key']").apply("result", {"x-api-key": "v", "y": 1})
    assert (out, count) == ({"x-api-key": "[REDACTED:$.result['x-api-key']]", "y": 1}, 1)


def test_paths_apply_to_json_text_of_tool_arguments_and_results() -> None:
    policy = CapturePolicy(paths=(rule("$.result.password"), rule("$.arguments.token", "drop")))
    captured = policy.content(
        {
            sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"token": "t0k3n-VALUE-1", "q": 1}',
            sc.GEN_AI_TOOL_CALL_RESULT: json.dumps({"password": "pw-VALUE-2", "ok": True}),
        }
    )
    assert json.loads(captured[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"q": 1}
    assert json.loads(captured[sc.GEN_AI_TOOL_CALL_RESULT]) == {"password": "[REDACTED:$.result.password]", "ok": True}
    assert captured[sc.AGENTTRACE_CONTENT_REDACTIONS] == 2
    # text that is not JSON, or JSON the paths do not touch, is kept exactly as it was
    plain = policy.content({sc.GEN_AI_TOOL_CALL_RESULT: '{"ok":  true}', sc.GEN_AI_TOOL_CALL_ARGUMENTS: "{not json"})
    assert plain == {sc.GEN_AI_TOOL_CALL_RESULT: '{"ok":  true}', sc.GEN_AI_TOOL_CALL_ARGUMENTS: "{not json"}


# --- the policy -------------------------------------------------------------------------------


def test_a_policy_adds_patterns_switches_builtins_off_and_counts() -> None:
    policy = parse_policy(
        {
            "disable": ["email"],
            "patterns": [
                {"name": "acme_id", "regex": r"ACME-\d{6}", "replacement": "[CUSTOMER]"},
                {"name": "ticket", "regex": r"TCK\d+"},
            ],
            "paths": [{"path": "$..password", "action": "drop"}],
        },
        "test",
    )
    assert "email" not in [p.name for p in policy.patterns]
    assert [p.name for p in policy.patterns][-2:] == ["acme_id", "ticket"]
    out, count = policy.redactor().redact("ACME-123456 TCK42 bob@example.com sk-proj-Tq3Wm8Zr1Kx6Vb9Nc2Lf5Hs7")
    assert out == "[CUSTOMER] [REDACTED:ticket] bob@example.com [REDACTED:openai_key]"
    assert count == 3
    assert policy.paths == (PathRule.parse("$..password", "drop"),)


def test_an_empty_policy_is_the_defaults() -> None:
    assert parse_policy({}, "test") == RedactionPolicy()


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ([], "src: expected a table"),
        ({"patern": []}, "src.patern: unknown key"),
        ({"disable": "email"}, "src.disable: expected a list"),
        ({"disable": ["emails"]}, "src.disable: no built-in pattern 'emails'"),
        ({"patterns": {}}, "src.patterns: expected an array"),
        ({"patterns": ["x"]}, "src.patterns[0]: expected a table"),
        ({"patterns": [{"regex": "x"}]}, "src.patterns[0].name: expected a non-empty string"),
        ({"patterns": [{"name": "n"}]}, "src.patterns[0].regex: expected a non-empty string"),
        ({"patterns": [{"name": "n", "regex": "("}]}, "src.patterns[0].regex: invalid regular expression"),
        ({"patterns": [{"name": "n", "regex": "x", "label": "y"}]}, "src.patterns[0].label: unknown key"),
        ({"patterns": [{"name": "n", "regex": "x", "replacement": 3}]}, "src.patterns[0].replacement: expected"),
        ({"paths": "$..x"}, "src.paths: expected an array"),
        ({"paths": [{"path": 3}]}, "src.paths[0].path: expected a JSON path"),
        ({"paths": [{"path": "$.input.x"}, {"path": "$..y", "actoin": "drop"}]}, "src.paths[1].actoin: unknown key"),
        ({"paths": [{"path": "$..y", "action": "hide"}]}, "src.paths[0]: action must be 'drop' or 'mask'"),
        ({"paths": [{"path": "arguments.x"}]}, "src.paths[0]: a JSON path starts with '$'"),
        ({"paths": [{"path": "$"}]}, "src.paths[0]: JSON path '$' selects the whole document"),
        ({"paths": [{"path": "$.args.x"}]}, "src.paths[0]: JSON path '$.args.x' must start with one of input"),
        ({"paths": [{"path": "$.input[x]"}]}, "src.paths[0]: cannot parse JSON path"),
    ],
)
def test_policy_errors_name_the_key(table: Any, where: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(table, "src")
    message = str(caught.value)
    assert message.startswith(where), message
    assert "\n" not in message


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PRIVACY_DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_documented_policy_examples_load_and_agree(tmp_path: Path) -> None:
    (toml_example,) = doc_blocks("toml")
    (json_example,) = doc_blocks("json")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(toml_example, encoding="utf-8")
    from_pyproject = load_redaction_policy({})
    policy_file = tmp_path / "redaction.json"
    policy_file.write_text(json_example, encoding="utf-8")
    from_file = load_policy_file(str(policy_file))
    assert from_pyproject == from_file
    assert [p.name for p in from_file.patterns] == [n for n in BUILTIN_NAMES if n != "email"] + ["acme_customer_id"]
    assert [(r.path, r.action) for r in from_file.paths] == [("$.arguments.password", "drop"), ("$..api_key", "mask")]
    # the file wins over pyproject.toml
    policy_file.write_text('{"disable": ["jwt"]}', encoding="utf-8")
    chosen = load_redaction_policy({AGENTTRACE_REDACTION_POLICY: str(policy_file)})
    assert "jwt" not in [p.name for p in chosen.patterns] and "email" in [p.name for p in chosen.patterns]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{\n  "disable": ["email"],\n  "patterns": [,]\n}', r"bad\.json:3: invalid JSON"),
        ("bad.toml", 'disable = ["email"]\npatterns = [}\n', r"bad\.toml: invalid TOML: .*line 2"),
        ("keys.toml", 'disable = ["mail"]\n', r"keys\.toml\.disable: no built-in pattern 'mail'"),
        ("regex.json", '{"patterns": [{"name": "n", "regex": "[a-"}]}', r"regex\.json\.patterns\[0\]\.regex: invalid"),
    ],
)
def test_policy_file_errors_name_the_line_or_key(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy_file(str(path))


def test_a_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.toml: cannot read the redaction policy"):
        load_policy_file(str(tmp_path / "nope.toml"))


# --- fail closed ------------------------------------------------------------------------------


@pytest.fixture
def instrumented_from_env() -> Iterator[Telemetry]:
    """Instrumented as opentelemetry-instrument does it: no capture policy given, so it comes from the environment."""
    tel = Telemetry()
    instrumentor = AgentTraceInstrumentor()
    instrumentor.instrument(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider, run_root=False)
    yield tel
    instrumentor.uninstrument()


PROMPT = "my address is bob@example.com and ACME-123456, password hunter2"


def _chat_and_tool(tel: Telemetry) -> dict[str, dict[str, Any]]:
    client = openai_client(fake_transport(json_response("openai/chat_text.json")))
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])

    @tool
    def login(user: str, password: str) -> dict[str, str]:
        return {"session": "s-1", "password_echo": password}

    login("bob", "hunter2-secret")
    return {s.name: dict(s.attributes or {}) for s in tel.llm_spans()}


BAD_POLICY = 'disable = ["email"]\n\n[[patterns]]\nname = "acme"\nregex = "ACME-(\\\\d{6}"\n'


def _write_bad_policy(tmp_path: Path, where: str) -> None:
    if where == "file":
        (tmp_path / "policy.toml").write_text(BAD_POLICY, encoding="utf-8")
        return
    table = BAD_POLICY.replace("[[patterns]]", "[[tool.agenttrace.redaction.patterns]]")
    (tmp_path / "pyproject.toml").write_text("[tool.agenttrace.redaction]\n" + table, encoding="utf-8")


@pytest.mark.parametrize("where", ["file", "pyproject"])
def test_an_invalid_policy_is_one_error_line_and_no_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    _write_bad_policy(tmp_path, where)
    if where == "file":
        monkeypatch.setenv(AGENTTRACE_REDACTION_POLICY, str(tmp_path / "policy.toml"))
    monkeypatch.setenv(AGENTTRACE_ENV_ALLOW, "HOME")
    with caplog.at_level(logging.DEBUG):
        tel = Telemetry()
        instrumentor = AgentTraceInstrumentor()
        instrumentor.instrument(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider, run_root=True)
        try:
            spans = _chat_and_tool(tel)
        finally:
            instrumentor.uninstrument()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert "\n" not in message
    assert "patterns[0].regex: invalid regular expression" in message
    assert ("policy.toml" if where == "file" else "pyproject.toml [tool.agenttrace].redaction") in message
    assert message.endswith("capturing no content")
    assert set(spans) == {"chat gpt-4o", "execute_tool login"}
    for attributes in spans.values():
        assert sc.CONTENT_ATTRIBUTES.isdisjoint(attributes)
    root = next(s for s in tel.spans() if (s.attributes or {}).get(sc.AGENTTRACE_RUN_ROOT))
    assert sc.AGENTTRACE_ENV not in (root.attributes or {})
    everything = "\n".join(s.to_json() for s in tel.spans())
    assert "bob@example.com" not in everything and "hunter2" not in everything


def test_an_unreadable_pyproject_fails_closed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.agenttrace\nredaction = {}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"pyproject\.toml"):
        load_redaction_policy({})
    assert policy_from_env({}).mode is ContentMode.NO_CONTENT


def test_the_instrumentor_takes_a_valid_policy_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instrumented_from_env: Telemetry
) -> None:
    # The instrumentor read the environment when the fixture ran: set it up again, then reinstrument.
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(
            {
                "disable": ["email"],
                "patterns": [{"name": "acme", "regex": r"ACME-\d{6}", "replacement": "[CUSTOMER]"}],
                "paths": [{"path": "$.arguments.password", "action": "drop"}, {"path": "$..password_echo"}],
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv(AGENTTRACE_REDACTION_POLICY, str(path))
    instrumentor = AgentTraceInstrumentor()
    instrumentor.uninstrument()
    tel = instrumented_from_env
    instrumentor.instrument(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider, run_root=False)
    spans = _chat_and_tool(tel)
    chat = spans["chat gpt-4o"]
    (message,) = json.loads(chat[sc.GEN_AI_INPUT_MESSAGES])
    assert message["parts"][0]["content"] == "my address is bob@example.com and [CUSTOMER], password hunter2"
    assert chat[sc.AGENTTRACE_CONTENT_REDACTIONS] == 1
    login = spans["execute_tool login"]
    assert json.loads(login[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"user": "bob"}
    assert json.loads(login[sc.GEN_AI_TOOL_CALL_RESULT]) == {
        "session": "s-1",
        "password_echo": "[REDACTED:$..password_echo]",
    }


def test_anthropic_system_and_tools_pass_the_policy(instrument: Any) -> None:
    policy = parse_policy({"paths": [{"path": "$.tools[*].description"}, {"path": "$.system", "action": "mask"}]}, "t")
    tel = instrument(CapturePolicy(redactor=policy.redactor(), paths=policy.paths))
    client = anthropic_client(fake_transport(json_response("anthropic/messages_text.json")), sdk_tracing=False)
    client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=16,
        system="internal instructions",
        messages=[{"role": "user", "content": "hi"}],
        tools=[{"name": "lookup", "description": "uses key AKIAQ7RZ3WXYZ2EXAMPL", "input_schema": {"type": "object"}}],
    )
    attributes = tel.only_span().attributes
    assert attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] == "[REDACTED:$.system]"  # the whole value, masked
    (definition,) = json.loads(attributes[sc.GEN_AI_TOOL_DEFINITIONS])
    assert definition["description"] == "[REDACTED:$.tools[*].description]"
    assert definition["name"] == "lookup"


# --- the environment --------------------------------------------------------------------------

ENVIRON = {
    "APP_VERSION": "1.4.2",
    "MYAPP_REGION": "eu-west-1",
    "MYAPP_OPENAI_KEY": "sk-proj-Tq3Wm8Zr1Kx6Vb9Nc2Lf5Hs7Jd4Pg0Ya",
    "MYAPPX": "not a prefix match",
    "HOME": "/home/me",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY12",
}


def test_no_environment_without_an_allow_list() -> None:
    assert env_snapshot(CapturePolicy(), ENVIRON) is None
    assert env_snapshot(CapturePolicy(), {**ENVIRON, AGENTTRACE_ENV_ALLOW: " , "}) is None
    assert env_snapshot(CapturePolicy(), {**ENVIRON, AGENTTRACE_ENV_ALLOW: "NOT_SET"}) is None


def test_the_allow_list_takes_names_and_prefixes_and_values_are_redacted() -> None:
    environ = {**ENVIRON, AGENTTRACE_ENV_ALLOW: "APP_VERSION, MYAPP_*"}
    snapshot = env_snapshot(CapturePolicy(), environ)
    assert snapshot is not None
    assert json.loads(snapshot) == {
        "APP_VERSION": "1.4.2",
        "MYAPP_OPENAI_KEY": "[REDACTED:openai_key]",
        "MYAPP_REGION": "eu-west-1",
    }


def test_an_allow_listed_aws_secret_is_masked_and_the_json_stays_valid() -> None:
    snapshot = env_snapshot(CapturePolicy(), {**ENVIRON, AGENTTRACE_ENV_ALLOW: "AWS_*"})
    assert snapshot is not None
    assert json.loads(snapshot) == {"AWS_SECRET_ACCESS_KEY": "[REDACTED:aws_secret_key]"}


def test_no_environment_without_content() -> None:
    environ = {**ENVIRON, AGENTTRACE_ENV_ALLOW: "APP_VERSION"}
    assert env_snapshot(CapturePolicy(mode=ContentMode.NO_CONTENT), environ) is None
    for mode in (ContentMode.LOCAL_ONLY, ContentMode.SPAN_ONLY, ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT):
        assert env_snapshot(CapturePolicy(mode=mode), environ) == '{"APP_VERSION": "1.4.2"}'


def test_the_run_root_and_workflows_carry_the_environment_and_a_redacted_command_line(
    instrument: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import otel_agenttrace

    monkeypatch.setenv(AGENTTRACE_ENV_ALLOW, "MYAPP_*")
    monkeypatch.setenv("MYAPP_TOKEN", "ghp_R7kP2mQ9xL4vW8nT3bY6R7kP2mQ9xL4vW8nT")
    monkeypatch.setenv("MYAPP_STAGE", "prod")
    monkeypatch.setattr("sys.argv", ["agent.py", "--api-key", "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDD"])
    tel = instrument(run_root=True)
    client = openai_client(
        fake_transport(json_response("openai/chat_text.json"), json_response("openai/chat_text.json"))
    )
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with otel_agenttrace.workflow("nightly"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    AgentTraceInstrumentor().uninstrument()  # ends the run root
    roots = {s.name: dict(s.attributes or {}) for s in tel.spans() if s.name.startswith("invoke_workflow")}
    assert set(roots) == {"invoke_workflow agent", "invoke_workflow nightly"}
    expected = {"MYAPP_STAGE": "prod", "MYAPP_TOKEN": "[REDACTED:github_token]"}
    for attributes in roots.values():
        assert json.loads(attributes[sc.AGENTTRACE_ENV]) == expected
    assert roots["invoke_workflow agent"][sc.AGENTTRACE_RUN_SCRIPT] == "agent.py --api-key [REDACTED:anthropic_key]"


def test_a_path_that_drops_everything_drops_the_attribute() -> None:
    policy = CapturePolicy(paths=(rule("$.result", "drop"),))
    captured = policy.content({sc.GEN_AI_TOOL_CALL_RESULT: {"rows": [1, 2]}, sc.GEN_AI_TOOL_CALL_ARGUMENTS: {"q": 1}})
    assert captured == {sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"q": 1}', sc.AGENTTRACE_CONTENT_REDACTIONS: 1}


@pytest.mark.parametrize("escape", [False, True], ids=["raw", "json"])
def test_a_key_at_the_end_of_a_long_unquoted_value_still_hides_its_own_value(escape: bool) -> None:
    """`CLIENT_SECRET=<200 bytes>:password: hunter2`: the first value runs over the second key (no space in it),
    whose value comes after; the search rereads the long value's tail, so both are hidden (found by Hypothesis)."""
    text = "CLIENT_SECRET=a8CCWaRSIvCpsZR0xQYhwafP9yotla4jX3" + ":x" * 90 + ":password: kNtaU4-i5GpIpatEJc2vP end"
    out, _ = REDACTOR.redact(json.dumps(text) if escape else text)
    assert "a8CCWaRSIvCp" not in out
    assert "kNtaU4" not in out
    assert out.endswith("end" + ('"' if escape else ""))
