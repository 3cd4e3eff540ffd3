"""The built-in secret patterns, written for RE2 (linear time: no backtracking, no look-arounds).

Each is matched against the UTF-8 bytes of the text, one byte per character (Latin-1 mode), so every
class below is ASCII and a match always starts and ends next to an ASCII character: its byte offsets
fall on character boundaries. Where a pattern has capturing groups, each group that took part is a
secret and the rest of the match (a label, a separator, the character before a token) stays.

Learned from the rule sets of gitleaks and detect-secrets (their formats and keywords, not their
regexes): token kinds are matched by their documented prefix and length, and the generic rule
(`secret_assignment`) by a key that names a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: str
    replacement: str | None = None
    # True: RE2 syntax, run by the linear-time engine (every built-in). False: Python `re`, as a user's
    # policy pattern is written (look-arounds and back-references allowed; its cost is the user's).
    linear: bool = False
    # A secret (each group that took part, else the whole match) is one only if this says so,
    # given the secret and the whole match.
    check: Callable[[str, str], bool] | None = None
    # The secrets within the secret span (relative to it), e.g. the Luhn-valid cards in a run of digit groups.
    locate: Callable[[str], list[tuple[int, int]]] | None = None
    # A cheap test of the whole text before the pattern runs (after the one pass found a match of it).
    prefilter: Callable[[str], bool] | None = None
    # A secret ends before this (lower-case) word: the search resumes at it, so "Bearer a=bearer b" is two.
    restart: str | None = None
    # The search goes on from the last secret (its opening quote, if quoted), not after the match, when the
    # secret is short: a value can hold the key of the next match (`"PASSWORD": "db_password": "v"`,
    # `pwd: password='v'`). Every byte is read a bounded number of times.
    reread_values: bool = False
    # Matches of these patterns that start inside a match of this one are not secrets of theirs (the
    # `password@db.example.com` of a URL is not an e-mail address: the host stays).
    shadows: tuple[str, ...] = ()
    # A match that is one byte of context, then only these bytes, starting on a byte not in `LONE_STARTS`,
    # is this pattern's alone: the few-matches path takes it (the secret: all but the context byte) without
    # asking RE2 its kind and groups, two calls (~2 µs, most of a 1 KB text's cost).
    lone_body: bytes | None = None


# The bytes a built-in match may start on, but for the one-byte contexts of a `lone_body` (an e-mail
# address after `<`, a space, a quote): word characters and `.%+-` (`\b` before a token or a key, a
# private key's `-`, any match at the text's start), a backslash (a JSON escape before a token). The other
# kinds that start on punctuation (secret_assignment on a quote or a line end, a SAS signature on `?&`)
# hold a quote, a backslash, `:` or `=` after their first byte: none of their matches is a `lone_body`.
# Keep this in step with the patterns (tests/test_redaction_forms.py: the few-matches path against the full).
LONE_STARTS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.%+-\\")


# An e-mail address's local part (its bytes) and domain: the `email` pattern's, and `_emails`' (which finds the
# pattern's matches without RE2).
EMAIL_LOCAL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"
EMAIL_DOMAIN = r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"


# --- helpers of the card and assignment patterns ------------------------------------------------

_DOUBLED = str.maketrans("0123456789", "0246813579")  # each digit doubled, digits of the result summed


def _luhn(digits: str) -> bool:
    # C-level translate and byte sums instead of a Python loop: digit-heavy text has many candidates.
    reverse = digits[::-1]
    kept, doubled = reverse[0::2], reverse[1::2].translate(_DOUBLED)
    return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0


# Digits 2-6 (the first digit of a payment card) -> "D", other digits "d", space or hyphen "s", else "x":
# a card starts on a "D" that follows no digit. One C-level translate and a search with a literal prefix.
_CARD_START_SHAPE = bytes(
    68 if 50 <= i <= 54 else 100 if 48 <= i <= 57 else 115 if i in (32, 45) else 120 for i in range(256)
)
_CARD_START = re.compile(rb"[xs]D(?:s?[dD]){12}")


def _may_hold_card(text: str) -> bool:
    """Digit-heavy text (timestamps, ids, CSV) has runs of 13 digits; most start with no card's first digit."""
    return _CARD_START.search(b"x" + text.encode("utf-8", "surrogatepass").translate(_CARD_START_SHAPE)) is not None


_DIGIT_GROUP = re.compile(r"\d+")
_CARD_FIRST = frozenset("23456")


def _card_spans(run: str) -> list[tuple[int, int]]:
    """The card numbers in a run of 13+ digits with single spaces or hyphens between them: the whole run
    when it is a Luhn-valid 13-19 digits, else every stretch of whole groups printed like a card (first
    group of 4+ digits, the others 3+) that is one, so a number next to a card ("qty 3 4111 1111 ...")
    hides nothing; overlapping stretches are hidden together. A longer run with no separator is an id or
    a timestamp, not a card. Payment cards start with 2-6 (Mastercard, Amex, Visa, Discover...): a
    nanosecond timestamp or an id starting with 1 that happens to pass the Luhn check (one in ten) is
    not a card. Each group starts at most 19 digits of work: linear in the run."""
    digits = run.replace(" ", "").replace("-", "")
    if len(digits) <= 19 and digits[0] in _CARD_FIRST and _luhn(digits):
        return [(0, len(run))]
    if len(digits) == len(run):
        return []
    groups = [m.span() for m in _DIGIT_GROUP.finditer(run)]
    spans: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(groups):
        if end - start < 4 or run[start] not in _CARD_FIRST:
            continue
        count = 0
        for j in range(i, len(groups)):
            group_start, group_end = groups[j]
            if j > i and group_end - group_start < 3:
                break
            count += group_end - group_start
            if count > 19:
                break
            if count >= 13 and _luhn(run[start:group_end].replace(" ", "").replace("-", "")):
                if spans and start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], group_end))
                else:
                    spans.append((start, group_end))
    return spans


_NOT_A_VALUE = frozenset({"none", "null", "nil", "true", "false", "undefined", "~"})
# The first word of a value that is a type, not a secret: `password: str = ""`, `api_key: Optional[str]` (a
# dataclass field or a TypeScript property at the start of a line looks like a YAML line).
_TYPE_NAME = re.compile(
    r"(?:str|bytes|int|bool|float|dict|list|string|number|boolean|any|unknown|object|None|Optional|Union|"
    r"SecretStr|SecretBytes|Secret|Any)\b(?![.\-])"
)
_KEY_BEFORE = re.compile(r"([A-Za-z0-9_.\-]+)[^A-Za-z0-9_.\-]*\Z")


def _unquoted(value: str) -> str:
    """A YAML line's value without its quotes (any JSON escaping) and trailing blanks."""
    value = value.rstrip(" \t")
    stripped = value.lstrip("\\")
    if stripped[:1] in ("'", '"') and len(stripped) >= 2 and value.endswith(stripped[0]):
        return stripped[1:].rstrip("\\" + stripped[0])
    return value


def _is_assigned_secret(value: str, match: str) -> bool:
    """A value worth hiding: not already a marker, not a placeholder of 1-3 characters, not a literal of a
    language, not a reference (`${DB_PASSWORD}`, `{{ secrets.TOKEN }}`); and, unquoted, not code
    (`password=password`, `token=self.token`, `key=os.environ[...]`, `password: str = ""`)."""
    prefix = match[: match.rfind(value)]
    plain = _unquoted(value)
    if len(plain) < 4 or plain.startswith(("[REDACTED", "${", "{{", "$(")) or plain.lower() in _NOT_A_VALUE:
        return False
    if prefix.rstrip("\\").endswith(("'", '"')):
        return True
    key = _KEY_BEFORE.search(prefix[-256:])
    return not (
        (key is not None and plain.lower() == key.group(1).lower())
        or plain.startswith(("self.", "os."))
        or _TYPE_NAME.match(plain) is not None
    )


def _builtin(name: str, regex: str, **options: Any) -> Pattern:
    return Pattern(name, regex, linear=True, **options)


# --- the patterns ------------------------------------------------------------------------------

# A token starts after a non-word character, or after a JSON escape such as the `\n` of a serialized newline
# (content is redacted as JSON text, where a word boundary would see `\nghp_...` as one word): the escape
# is matched outside the secret's group, so it stays.
_T = r"(?:\b|\\[nrtbf])"
# A key that names a secret: it ends in one of these words (detect-secrets' and gitleaks' keywords), so
# `db_password`, `client_secret`, `x-api-key` and `access_token` do, and `max_tokens`, `token_count`,
# `password_hint`, `secretary` and `PWD` (the working directory) do not.
_SECRET_KEY = (
    r"[A-Za-z0-9_.-]*?(?i:passwd|password|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|secret[_-]?key|auth[_-]?key|account[_-]?key|client[_-]?key|service[_-]?key|"
    r"credentials?|db[_-]?pass|contrase(?:ñ|n)a)"
)
# An unquoted value: printable ASCII but for quotes, backslashes (a JSON escape ends it) and delimiters.
_BARE_CHARS = [c for c in map(chr, range(0x21, 0x7F)) if c not in "\"'\\&;,()[]{}<>`"]


def _class(chars: list[str]) -> str:
    return "[" + "".join("\\" + c if not c.isalnum() else c for c in chars) + "]"


_BARE = _class(_BARE_CHARS)
# A digit or a symbol in a word; a letter or the punctuation of a sentence ("the password: field.").
_BARE_STRONG = _class([c for c in _BARE_CHARS if not c.isalpha() and c not in ".:!?"])
_BARE_WEAK = _class([c for c in _BARE_CHARS if c.isalpha() or c in ".:!?"])
# A quote, JSON-escaped any number of times (`"`, `\"`, `\\\"`) or single.
_Q = r"\\{0,7}[\"']"


# --- quoted values and YAML lines, at any level of JSON escaping ---------------------------------
#
# Content is redacted as JSON text, and a tool's JSON inside it is escaped again, so a value's own quotes
# and line ends arrive under 0, 1, 3 or 7 backslashes. A double quote after a run of c backslashes belongs
# to the level given by the trailing ones of c in binary (0, 1, 3, 7 -> levels 0-3; 2 = an escaped backslash
# and then a level-0 quote). A value opened at level L ends at a quote of level L, goes on over quotes of a
# deeper level (quotes inside the secret, `"ab\"cd"`) and stops, unclosed, at a shallower one (the end of
# the JSON string around it), so the replacement never breaks the JSON. Each run of backslashes is read
# whole (a unit never ends inside one), which is what makes the counting regular.


def _run(n: int) -> str:
    """Exactly n backslashes."""
    return "" if n == 0 else r"\\" if n == 1 else r"\\{" + str(n) + "}"


def _dquote(level: int, *, exact: bool) -> str:
    """A double quote of this level (exact) or of this level or a deeper one."""
    period = 2 ** (level + 1) if exact else 2**level
    return "(?:" + _run(period) + ")*" + _run(2**level - 1) + '"'


def _double_quoted(level: int) -> str:
    units = r'[^"\\\r\n]|\\+[^"\\\r\n]|' + _dquote(level + 1, exact=False)
    # The escaped backslashes before the closing quote end the value (`"ab\\"` is `ab\`): in the secret.
    escaped = "(?:" + _run(2 ** (level + 1)) + ")*"
    return _run(2**level - 1) + '"((?:' + units + ")+" + escaped + ")(?:" + _run(2**level - 1) + '")?'


# A single-quoted value (Python, shell): JSON never escapes `'`, so a `'` after any backslash is inside the
# value and a bare one ends it (opened by an escaped one, as Python's repr writes it, `password=\\'x\\'`, the value
# runs on to the end of its line or string). A double quote (after any run of backslashes) followed by text is inside it
# (`'say "hi" 2'`, `'a""b'`); followed by `,`, `:`, `}`, `]` or a line end it is the end of a JSON string around the
# value, at whatever level, and the value stops there. A run of quotes is read whole, by what follows it: `\""`
# at the end of a JSON string is a quote of the value's and the string's own closing one.
_SINGLE_QUOTED = (
    r"\\*'((?:[^'\"\\\r\n]|\\+[^'\"\\\r\n]|\\+'|(?:\\*\")+(?:[^,:}\]'\"\\\r\n]|\\+[^\"\\\r\n]))+)(?:\\*\"'|')?"
)
_QUOTED = "(?:" + "|".join([*(_double_quoted(level) for level in range(4)), _SINGLE_QUOTED]) + ")"


def _line_value(level: int) -> str:
    """A YAML line's value, up to the end of the line: in raw text a raw line end (a backslash is text); in
    JSON text an escaped one of its level or of a shallower one (a run of backslashes and n or r), or a double
    quote of a shallower level (the end of the JSON string)."""
    if level == 0:
        return r"([^\r\n]+)"
    # n or r after c backslashes, read by the lowest set bit of c: with c a multiple of 2^L it is text (`\\n` in a
    # once-escaped value is a backslash and the letter n); with c = 2^(L-1) modulo 2^L this level's line end (`\n`,
    # `\\n`); any other c a shallower level's (`\n` in a twice-escaped value), which the JSON string around the
    # value cannot hold inside it: the line, and the value, end there too.
    text_nr = "(?:" + _run(2**level) + ")+[nr]"
    units = r'[^"\\\r\n]|\\+[^"\\\r\nnr]|' + text_nr + "|" + _dquote(level, exact=False)
    return "((?:" + units + ")+)"


# Where a line starts, and the level of escaping inside it: the text's start or a raw line end (0); an
# escaped line end (`\n` 1, `\\n` 2, `\\\\n` 3: n or r after c backslashes, c = 2^(L-1) modulo 2^L) or the
# opening quote of a JSON string (`"` 1, `\"` 2, `\\\"` 3: a quote of level L-1). Each reads its run of
# backslashes whole (it follows no backslash), so only the marker of the right level matches.
def _line_start(level: int) -> str:
    if level == 0:
        return r"(?:^|[\r\n])"
    line_end = "(?:" + _run(2**level) + ")*" + _run(2 ** (level - 1)) + "[nr]"
    return r"(?:^|[^\\])(?:" + line_end + "|" + _dquote(level - 1, exact=True) + ")"


_LINE_STARTS = tuple((level, _line_start(level)) for level in range(4))
# Indentation (raw or escaped tabs), a YAML list item's dash, Markdown bold around the key.
_INDENT = r"(?:[ \t]|\\+t)*(?:-[ \t]+)?(?:\*\*|__)?"
_COLON = r"(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*"
# Mid-line, `password: hunter2` is a secret and `the password: field is required` prose: a token with a
# digit or a symbol in it.
_MIXED_TOKEN = "(" + _BARE_WEAK + "*" + _BARE_STRONG + _BARE + "*)"

# Order matters where kinds overlap (the earliest start names a merged span; on a tie the first here).
BUILTIN: tuple[Pattern, ...] = (
    # A key with no END line (an output cut by max_tokens, a stream that broke off) still hides its body:
    # base64 lines, PEM headers ("Proc-Type: 4,ENCRYPTED"), raw or JSON-escaped newlines. A hyphen in the
    # body is followed by another character, so the body stops at "-----END" and the END line ends it.
    _builtin(
        "private_key",
        r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----(?:[A-Za-z0-9+/=:, \t\r\n]|\\+[nrt]|-[A-Za-z0-9+/=:, \t\r\n])*"
        r"(?:-----END[A-Z ]{0,40}PRIVATE KEY-----)?",
    ),
    _builtin("anthropic_key", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
    _builtin("openai_key", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    _builtin("aws_access_key", _T + r"((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b"),
    # The label as in credentials files, env vars, boto3/STS JSON (SecretAccessKey); the separator may be
    # JSON-escaped (content is serialized before it is redacted, tool arguments twice).
    _builtin(
        "aws_secret_key",
        r"(?i:(?:aws[_-]?)?secret[_-]?access[_-]?key|aws[_-]?secret[_-]?key)[\"'\\\s:=]{1,12}([A-Za-z0-9/+=]{40})",
    ),
    _builtin("github_token", _T + r"(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    # Personal, deploy, runner, pipeline-trigger, CI-job, incoming-mail, service-account, OAuth-app,
    # feature-flag and agent tokens, and runner registration tokens.
    _builtin(
        "gitlab_token",
        _T + r"((?:gl(?:pat|dt|rt|ptt|cbt|imt|soat|oas|ffct|agent)-|GR1348941)[A-Za-z0-9_\-]{20,}"
        r"(?:\.[A-Za-z0-9_\-]{2,}){0,3})",
    ),
    # Bot, user, app-level, refresh and configuration tokens.
    _builtin(
        "slack_token",
        _T
        + r"(xox[abposre]-[0-9]{6,}-[A-Za-z0-9\-]{8,}|xoxe\.xox[bp]-[A-Za-z0-9\-]{20,}|xapp-[0-9]-[A-Za-z0-9\-]{20,})",
    ),
    _builtin("slack_webhook", r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,}"),
    # Secret and restricted keys (live, test), and webhook signing secrets; publishable keys (pk_) are public.
    _builtin("stripe_key", _T + r"((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{24,})"),
    _builtin("huggingface_token", _T + r"((?:hf_|api_org_)[A-Za-z0-9]{30,40})\b"),
    _builtin("npm_token", _T + r"(npm_[A-Za-z0-9]{36})\b"),
    _builtin("pypi_token", _T + r"(pypi-AgE[A-Za-z0-9_\-]{50,})"),
    _builtin("sendgrid_key", _T + r"(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})"),
    # API key SIDs: "SK" and 32 lower-case hex digits (a longer hex string, a hash, is not one).
    _builtin("twilio_key", _T + r"(SK[0-9a-f]{32})\b"),
    # Storage account keys and shared access keys in connection strings, and the signature of a SAS URL.
    _builtin(
        "azure_storage_key",
        r"(?i:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{20,}={0,2})|[?&]sig=([A-Za-z0-9%+/]{20,}(?:=|%3[Dd]){0,2})",
    ),
    _builtin("databricks_token", _T + r"(dapi[0-9a-f]{32}(?:-[0-9])?)\b"),
    _builtin(
        "discord_webhook",
        r"(?:https?://(?:[a-z]+\.)?)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,68}",
    ),
    # A bot token: the user id in base64, a timestamp and an HMAC, dot-separated.
    _builtin("discord_token", _T + r"([MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40})"),
    _builtin("digitalocean_token", _T + r"(do[opr]_v1_[0-9a-f]{64})\b"),
    _builtin("shopify_token", _T + r"(shp(?:at|ca|pa|ss)_[0-9a-fA-F]{32})\b"),
    _builtin("mailchimp_key", _T + r"([0-9a-f]{32}-us[0-9]{1,2})\b"),
    _builtin("google_api_key", _T + r"(AIza[0-9A-Za-z_\-]{35})"),
    _builtin("jwt", _T + r"(eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,})"),
    # The password of `scheme://user:password@host` (the user and the host stay).
    _builtin(
        "url_credentials",
        r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@\"'<>\\]*:([^\s/?#@\"'<>\\]+)@",
        shadows=("email",),
    ),
    _builtin("bearer_token", _T + r"(?i:bearer)\s+([A-Za-z0-9._~+/=\-]{8,})", restart="bearer"),
    # HTTP basic credentials (base64 of `user:password`) only after an Authorization header's name, as a
    # header line, a JSON or dict key, or escaped in JSON: "Basic" alone is an ordinary word.
    _builtin(
        "basic_auth",
        _T + r"(?i:(?:proxy-)?authorization)(?:\\*[\"'])?\s*[:=]\s*(?:\\*[\"'])?(?i:basic)\s+([A-Za-z0-9+/]{6,}={0,2})",
    ),
    # The value of a JSON key, a Python dict key, a `key=value` assignment or a YAML/header line whose key
    # names a secret: quoted (any JSON escaping, quotes and backslashes inside), the rest of a line that
    # starts with the key, or unquoted up to whitespace, a delimiter or a non-ASCII character.
    _builtin(
        "secret_assignment",
        "|".join(
            (
                r"[\"']" + _SECRET_KEY + _Q + r"\s*:\s*" + _QUOTED,  # "key": "value", 'key': 'value'
                # password: hunter2 (a YAML, config or header line; the whole rest of it)
                *(start + _INDENT + _SECRET_KEY + _COLON + _line_value(level) for level, start in _LINE_STARTS),
                r"\b" + _SECRET_KEY + r"\s*[:=]\s*" + _QUOTED,  # key = "value", key: "value"
                r"\b" + _SECRET_KEY + "=(" + _BARE + "+)",  # key=value
                r"\b" + _SECRET_KEY + _COLON + _MIXED_TOKEN,  # ... key: s3cr3t ...
            )
        ),
        check=_is_assigned_secret,
        # `"PASSWORD": "db_password": "v"`, `KEY="token": "v"`: a value may be a key itself
        reread_values=True,
    ),
    # A local part may start after a backslash, but not on the letter of a JSON escape (`\n`): after it.
    _builtin(
        "email",
        r"(?:^|[^A-Za-z0-9._%+\-\\]|\\[nrtbf]|\\)([A-Za-z0-9._%+\-]+@" + EMAIL_DOMAIN + ")",
        lone_body=EMAIL_LOCAL + b"@",
    ),
    # A whole run of digit groups (leftmost match: it starts on the run's first digit); the card numbers in
    # it are found by _card_spans.
    _builtin("credit_card", r"[0-9](?:[ \-]?[0-9]){12,}", locate=_card_spans, prefilter=_may_hold_card),
)
BUILTIN_NAMES = tuple(p.name for p in BUILTIN)
