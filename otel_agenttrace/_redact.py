"""Redaction: built-in secret patterns, the user's policy (extra regexes, JSON paths, switches).

Speed matters (it runs on every captured message): each pattern carries literal anchors, and its
regex only runs over a text that contains one of them. The API-key kinds are runs of 20+ key
characters, so their anchors are looked for only in such runs (prose has none; JSON has a few ids),
and typical content costs a few C-level passes per KB instead of a regex scan per pattern.

Every pattern is matched against the original text and the matches are replaced together, so a
greedy match of one kind can never consume the context another kind needs (overlaps are merged).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


class PolicyError(ValueError):
    """An invalid redaction policy; the message names the file and the key or line."""


_DOUBLED = str.maketrans("0123456789", "0246813579")  # each digit doubled, digits of the result summed


def _luhn(digits: str) -> bool:
    # C-level translate and byte sums instead of a Python loop: digit-heavy text has many candidates.
    reverse = digits[::-1]
    kept, doubled = reverse[0::2], reverse[1::2].translate(_DOUBLED)
    return (sum(kept.encode()) + sum(doubled.encode()) - 48 * len(digits)) % 10 == 0


# Text reduced to a shape (digit "d", space or hyphen "s", anything else "x") by one C-level
# translate; a card needs 13+ digits with at most one separator between them, and that regex has
# a literal prefix, so the test costs a couple of µs per KB even in digit-heavy text.
_SHAPE = bytes(100 if 48 <= i <= 57 else 115 if i in (32, 45) else 120 for i in range(256))
_CARD_SHAPE = re.compile(rb"dddd(?:s?d){9,15}")


# Key characters (and "." for JWTs) -> "t", anything else (non-ASCII bytes too) -> "x".
_RUN_SHAPE = bytes(
    116 if (48 <= i <= 57 or 65 <= i <= 90 or 97 <= i <= 122 or i in (45, 46, 95)) else 120 for i in range(256)
)
_LONG_RUN = b"t" * 20


def _long_runs(text: str) -> bytes:
    """The runs of 20+ [A-Za-z0-9_.-] in the text, joined by newlines (b"" when there is none).

    Every match of an `in_token` pattern lies inside one such run, so its anchors are looked for
    here: a few short runs instead of the whole text."""
    raw = text.encode("utf-8", "surrogatepass")
    shape = raw.translate(_RUN_SHAPE)
    find = shape.find
    i = find(_LONG_RUN)
    if i < 0:
        return b""
    pieces = []
    size = len(shape)
    while i >= 0:
        # i starts its run: the previous search began on an "x" (or at 0) and found the first 20 t's.
        end = find(b"x", i + 20)
        if end < 0:
            end = size
        pieces.append(raw[i:end])
        i = find(_LONG_RUN, end)
    return b"\n".join(pieces)


# Digits 2-6 (the first digit of a payment card) -> "D": a card starts on a "D" that follows no digit.
_CARD_START_SHAPE = bytes(
    68 if 50 <= i <= 54 else 100 if 48 <= i <= 57 else 115 if i in (32, 45) else 120 for i in range(256)
)
_CARD_START = re.compile(rb"[xs]D(?:s?[dD]){12}")


def _may_hold_card(text: str) -> bool:
    raw = text.encode("utf-8", "surrogatepass")
    if _CARD_SHAPE.search(raw.translate(_SHAPE)) is None:
        return False
    # Digit-heavy text (timestamps, ids, CSV) passes the first test; the second, slower one only runs
    # then, and spares the card regex a scan of every digit when no 13 digits start like a card.
    return _CARD_START.search(b"x" + raw.translate(_CARD_START_SHAPE)) is not None


_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_DOMAIN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def _may_be_email(text: str, at: int) -> bool:
    """An address has a local-part character right before its "@" and a domain character right after
    it: a decorator, a handle or a lone "@" costs no regex window."""
    return at > 0 and text[at - 1] in _LOCAL_CHARS and at + 1 < len(text) and text[at + 1] in _DOMAIN_CHARS


def _last_40(match: str) -> list[tuple[int, int]]:
    return [(len(match) - 40, len(match))]


_DIGIT_GROUP = re.compile(r"\d+")
_CARD_FIRST = frozenset("23456")


def _card_spans(run: str) -> list[tuple[int, int]]:
    """The card numbers in a run of 13+ digits with single spaces or hyphens between them: the whole run
    when it is a Luhn-valid 13-19 digits, else every stretch of whole groups printed like a card (first
    group of 4+ digits, the others 3+) that is one, so a number next to a card ("qty 3 4111 1111 ...")
    hides nothing; overlapping stretches are hidden together. A longer run with no separator is an id or
    a timestamp, not a card. Payment cards start with 2-6 (Mastercard, Amex, Visa, Discover...): a
    nanosecond timestamp or an id starting with 1 that happens to pass the Luhn check (one in ten) is
    not a card."""
    digits = run.replace(" ", "").replace("-", "")
    if len(digits) <= 19 and digits[0] in _CARD_FIRST and _luhn(digits):
        return [(0, len(run))]
    if len(digits) == len(run):
        return []
    groups = [m.span() for m in _DIGIT_GROUP.finditer(run)]
    spans: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(groups):
        if end - start < 4:
            continue
        count = 0
        for j in range(i, len(groups)):
            group_start, group_end = groups[j]
            if j > i and group_end - group_start < 3:
                break
            count += group_end - group_start
            if count > 19:
                break
            if (
                count >= 13
                and run[start] in _CARD_FIRST
                and _luhn(run[start:group_end].replace(" ", "").replace("-", ""))
            ):
                if spans and start <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], group_end))
                else:
                    spans.append((start, group_end))
    return spans


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: str
    # The regex runs only over a text containing one of these (empty: always runs).
    anchors: tuple[str, ...] = ()
    # Anchors are lower-case and tested against the lower-cased text.
    fold_case: bool = False
    replacement: str | None = None
    # A match is a secret only if this says so.
    check: Callable[[str], bool] | None = None
    # The secrets within a match, as spans relative to it (e.g. the Luhn-valid card numbers in a run
    # of digit groups); used instead of `check`.
    locate: Callable[[str], list[tuple[int, int]]] | None = None
    # Chars a match may start before its anchor and end after it: the regex then runs only in
    # those windows around each anchor instead of over the whole text (None: the whole text).
    window: tuple[int, int] | None = None
    # A cheap test the text must pass before the regex runs (for patterns with no literal anchor).
    prefilter: Callable[[str], bool] | None = None
    # Every match lies inside one run of 20+ [A-Za-z0-9_.-]: the anchors are looked for in those runs only.
    in_token: bool = False
    # A cheap test at each anchor found (text, index): the windowed regex runs only where it passes.
    near: Callable[[str, int], bool] | None = None


# Where a token may start: after a non-word character, or after a JSON escape such as the `\n` of a
# serialized newline (content is redacted as JSON text, where a plain `\b` would see `nghp_...` as one word).
_START = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf]))"

# Order matters where kinds overlap: the more specific formats come first.
BUILTIN: tuple[Pattern, ...] = (
    # A key with no END line (an output cut by max_tokens, a stream that broke off) still hides its
    # body: the base64 lines after BEGIN, raw or JSON-escaped (`\n`), up to the first other character.
    Pattern(
        "private_key",
        r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----"
        r"(?:.*?-----END[A-Z ]{0,40}PRIVATE KEY-----|(?:[A-Za-z0-9+/=:,\- \t\r\n]|\\+[nrt])*)",
        ("PRIVATE KEY",),
    ),
    Pattern("anthropic_key", r"sk-ant-[A-Za-z0-9_\-]{20,}", ("sk-ant-",), in_token=True),
    Pattern("openai_key", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", ("sk-",), in_token=True),
    Pattern(
        "aws_access_key",
        _START + r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        window=(1, 24),
        in_token=True,
    ),
    Pattern(
        "aws_secret_key",
        # The label as in credentials files, env vars, boto3/STS JSON (SecretAccessKey); the separator
        # may be JSON-escaped (content is serialized before it is redacted, tool arguments twice).
        r"(?i:(?:aws[_-]?)?secret[_-]?access[_-]?key|aws[_-]?secret[_-]?key)[\"'\\\s:=]{1,12}[A-Za-z0-9/+=]{40}",
        ("secret",),
        fold_case=True,
        locate=_last_40,  # the key only: the label stays, and so does the JSON around it
    ),
    Pattern(
        "github_token",
        _START + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        window=(1, 512),
        in_token=True,
    ),
    Pattern("google_api_key", _START + r"AIza[0-9A-Za-z_\-]{35}", ("AIza",), window=(1, 48), in_token=True),
    Pattern(
        "jwt",
        _START + r"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}",
        ("eyJ",),
        window=(1, 16384),
        in_token=True,
    ),
    # A token stops before another "bearer ": "Bearer a=bearer b" is two tokens, not one that hides the second.
    Pattern(
        "bearer_token",
        _START + r"(?i:bearer)\s+(?:(?!(?i:bearer)\s)[A-Za-z0-9._~+/=\-]){8,}",
        ("bearer",),
        fold_case=True,
    ),
    # The look-behinds make every position inside a word fail at once (linear in the text); a local part
    # may start after a backslash, but not on the letter of a JSON escape (`\n`): after it.
    Pattern(
        "email",
        r"(?:(?<![A-Za-z0-9._%+\-\\])|(?<=\\)(?![nrtbf])|(?<=\\[nrtbf]))[A-Za-z0-9._%+\-]{1,64}"
        r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}",
        ("@",),
        window=(66, 512),
        near=_may_be_email,
    ),
    # A whole run of digit groups (the look-behinds make a start inside a run fail at once); the
    # card numbers in it are found by _card_spans.
    Pattern(
        "credit_card",
        r"\d(?<!\d\d)(?<!\d[ -]\d)(?:[ -]?\d){12,}",
        locate=_card_spans,
        prefilter=_may_hold_card,
    ),
)
BUILTIN_NAMES = tuple(p.name for p in BUILTIN)


class _Compiled:
    __slots__ = (
        "anchors",
        "check",
        "expand",
        "fold_case",
        "in_token",
        "locate",
        "near",
        "order",
        "prefilter",
        "regex",
        "replacement",
        "token_anchors",
        "window",
    )

    def __init__(self, pattern: Pattern, order: int) -> None:
        self.order = order
        self.regex = re.compile(pattern.regex, re.DOTALL)
        self.anchors = pattern.anchors
        self.fold_case = pattern.fold_case
        self.replacement = pattern.replacement or f"[REDACTED:{pattern.name}]"
        # A user's replacement may use the match's groups (\1, \g<name>), as re.sub would.
        self.expand = "\\" in self.replacement
        self.check = pattern.check
        self.locate = pattern.locate
        self.window = pattern.window
        self.prefilter = pattern.prefilter
        self.near = pattern.near
        self.in_token = pattern.in_token
        self.token_anchors = tuple(a.encode("utf-8", "surrogatepass") for a in pattern.anchors)


# (start, end, pattern order, replacement) of one secret found
_Found = tuple[int, int, int, str]


class Redactor:
    """Replaces every secret of the enabled patterns with `[REDACTED:<kind>]` (or the pattern's replacement)."""

    def __init__(self, patterns: Iterable[Pattern] = BUILTIN) -> None:
        self.patterns = tuple(patterns)
        self._compiled = [_Compiled(p, i) for i, p in enumerate(self.patterns)]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.patterns)

    def redact(self, text: str) -> tuple[str, int]:
        """Returns the redacted text and how many secrets were replaced."""
        found: list[_Found] = []
        lowered: str | None = None
        runs: bytes | None = None
        passed: dict[Callable[[str], bool], bool] = {}  # each prefilter runs once per text
        for p in self._compiled:
            if p.prefilter is not None:
                ok = passed.get(p.prefilter)
                if ok is None:
                    ok = passed[p.prefilter] = p.prefilter(text)
                if not ok:
                    continue
            if p.in_token:
                if runs is None:
                    runs = _long_runs(text)
                if not runs:
                    continue
                for token_anchor in p.token_anchors:
                    if token_anchor in runs:
                        break
                else:
                    continue
            elif p.anchors:
                if p.fold_case:
                    if lowered is None:
                        lowered = text.lower()
                    haystack = lowered
                else:
                    haystack = text
                for anchor in p.anchors:
                    if anchor in haystack:
                        break
                else:
                    continue
            self._find(p, text, found)
        if not found:
            return text, 0
        return self._replace(text, found)

    @staticmethod
    def _find(p: _Compiled, text: str, found: list[_Found]) -> None:
        matches: Iterable[re.Match[str]] = p.regex.finditer(text) if p.window is None else Redactor._windowed(p, text)
        order, replacement = p.order, p.replacement
        for m in matches:
            start = m.start()
            if p.locate is not None:
                found.extend((start + s, start + e, order, replacement) for s, e in p.locate(m.group(0)) if s < e)
            elif m.end() > start and (p.check is None or p.check(m.group(0))):
                found.append((start, m.end(), order, m.expand(replacement) if p.expand else replacement))

    @staticmethod
    def _replace(text: str, found: list[_Found]) -> tuple[str, int]:
        """Every span replaced once; overlapping spans (of one kind or several) merge, the earliest
        start's pattern (the first in order on a tie) naming the merged one."""
        found.sort(key=lambda f: (f[0], f[2]))
        pieces: list[str] = []
        last = 0
        count = 0
        start, end, _, replacement = found[0]
        for s, e, _, r in found[1:]:
            if s < end:
                if e > end:
                    end = e
                continue
            pieces.append(text[last:start])
            pieces.append(replacement)
            count += 1
            last = end
            start, end, replacement = s, e, r
        pieces.append(text[last:start])
        pieces.append(replacement)
        pieces.append(text[end:])
        return "".join(pieces), count + 1

    @staticmethod
    def _windowed(p: _Compiled, text: str) -> Iterator[re.Match[str]]:
        """Run the regex only around each anchor (pos/endpos keep look-behinds and \\b exact)."""
        assert p.window is not None
        before, after = p.window
        size = len(text)
        near = p.near
        for anchor in p.anchors:
            i = text.find(anchor)
            while i != -1:
                if near is None or near(text, i):
                    yield from p.regex.finditer(text, max(0, i - before), min(size, i + after))
                i = text.find(anchor, i + 1)


# --- JSON paths -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\.\.(?P<deep>[A-Za-z_][\w-]*|\*)|\.(?P<key>[A-Za-z_][\w-]*|\*)|\[(?P<index>\*|\d+|'[^']*'|\"[^\"]*\")\]"
)
ROOTS = ("input", "output", "system", "tools", "arguments", "result")


@dataclass(frozen=True)
class PathRule:
    """`$.arguments.password`, `$..api_key`, `$.input[*].parts[*].content` — drop or mask what they select.

    The first step names the content it applies to: input (messages sent), output (messages
    returned), system (instructions), tools (definitions), arguments and result (of tool calls);
    a path starting with `..` applies to all of them."""

    path: str
    action: str  # drop | mask
    steps: tuple[tuple[str, str], ...] = field(default=())

    @staticmethod
    def parse(path: str, action: str) -> PathRule:
        if action not in ("drop", "mask"):
            raise ValueError(f"action must be 'drop' or 'mask', got {action!r}")
        if not path.startswith("$"):
            raise ValueError(f"a JSON path starts with '$': {path!r}")
        steps: list[tuple[str, str]] = []
        rest = path[1:]
        while rest:
            m = _TOKEN.match(rest)
            if m is None:
                raise ValueError(f"cannot parse JSON path {path!r} at {rest!r}")
            if m.group("deep") is not None:
                steps.append(("deep", m.group("deep")))
            elif m.group("key") is not None:
                steps.append(("key", m.group("key")))
            else:
                index = m.group("index")
                steps.append(("key", index[1:-1]) if index[0] in "'\"" else ("index", index))
            rest = rest[m.end() :]
        if not steps:
            raise ValueError(f"JSON path {path!r} selects the whole document")
        if steps[0][0] == "key" and steps[0][1] not in (*ROOTS, "*"):
            raise ValueError(f"JSON path {path!r} must start with one of {', '.join(ROOTS)} or '..'")
        return PathRule(path, action, tuple(steps))

    def apply(self, root: str, value: Any) -> tuple[Any, int]:
        """The value with what the path selects dropped or masked (a copy when anything changed)."""
        doc = {root: value}
        hits = self._walk(doc, self.steps, probe=True)
        if not hits:
            return value, 0
        doc = {root: copy.deepcopy(value)}
        count = self._walk(doc, self.steps, probe=False)
        return doc.get(root), count  # None: the path dropped the whole value (`$.*`)

    def _edit(self, container: Any, key: Any, probe: bool) -> int:
        if not probe:
            if self.action == "drop":
                del container[key]
            else:
                container[key] = f"[REDACTED:{self.path}]"
        return 1

    def _children(self, node: Any) -> list[tuple[Any, Any]]:
        if isinstance(node, dict):
            return list(node.items())
        if isinstance(node, list):
            return list(enumerate(node))
        return []

    def _walk(self, node: Any, steps: tuple[tuple[str, str], ...], probe: bool) -> int:
        kind, arg = steps[0]
        last = len(steps) == 1
        count = 0
        if kind == "deep":
            # `..name`: this level's match, then the same step again below every child
            count += self._walk(node, (("key", arg), *steps[1:]), probe)
            for _, child in self._children(node):
                if isinstance(child, (dict, list)):
                    count += self._walk(child, steps, probe)
            return count
        keys: list[Any]
        if kind == "key" and isinstance(node, dict):
            keys = list(node) if arg == "*" else ([arg] if arg in node else [])
        elif kind == "index" and isinstance(node, list):
            keys = list(range(len(node)))[::-1] if arg == "*" else ([int(arg)] if int(arg) < len(node) else [])
        elif kind == "key" and arg == "*" and isinstance(node, list):
            keys = list(range(len(node)))[::-1]
        else:
            return 0
        for key in keys:
            if last:
                count += self._edit(node, key, probe)
            else:
                count += self._walk(node[key], steps[1:], probe)
        return count


def apply_paths(rules: Iterable[PathRule], root: str, value: Any) -> tuple[Any, int]:
    total = 0
    for rule in rules:
        value, count = rule.apply(root, value)
        total += count
    return value, total


# --- the policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedactionPolicy:
    patterns: tuple[Pattern, ...] = BUILTIN
    paths: tuple[PathRule, ...] = ()

    def redactor(self) -> Redactor:
        return Redactor(self.patterns)


_POLICY_KEYS = {"disable", "patterns", "paths"}


def parse_policy(table: Any, source: str) -> RedactionPolicy:
    """`{disable = [...], patterns = [{name, regex, replacement?}], paths = [{path, action}]}`."""
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: expected a table, got {type(table).__name__}")
    for key in table:
        if key not in _POLICY_KEYS:
            raise PolicyError(f"{source}.{key}: unknown key (allowed: {', '.join(sorted(_POLICY_KEYS))})")
    disable = table.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(n, str) for n in disable):
        raise PolicyError(f"{source}.disable: expected a list of built-in pattern names")
    for name in disable:
        if name not in BUILTIN_NAMES:
            raise PolicyError(f"{source}.disable: no built-in pattern {name!r} (known: {', '.join(BUILTIN_NAMES)})")
    patterns = [p for p in BUILTIN if p.name not in disable]
    raw_patterns = table.get("patterns", [])
    if not isinstance(raw_patterns, list):
        raise PolicyError(f"{source}.patterns: expected an array of tables")
    for i, raw in enumerate(raw_patterns):
        where = f"{source}.patterns[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: expected a table with name and regex")
        unknown = set(raw) - {"name", "regex", "replacement"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key (allowed: name, regex, replacement)")
        name, regex = raw.get("name"), raw.get("regex")
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{where}.name: expected a non-empty string")
        if not isinstance(regex, str) or not regex:
            raise PolicyError(f"{where}.regex: expected a non-empty string")
        try:
            re.compile(regex)
        except re.error as exc:
            raise PolicyError(f"{where}.regex: invalid regular expression: {exc}") from None
        replacement = raw.get("replacement")
        if replacement is not None and not isinstance(replacement, str):
            raise PolicyError(f"{where}.replacement: expected a string")
        patterns.append(Pattern(name, regex, replacement=replacement))
    raw_paths = table.get("paths", [])
    if not isinstance(raw_paths, list):
        raise PolicyError(f"{source}.paths: expected an array of tables")
    paths = []
    for i, raw in enumerate(raw_paths):
        where = f"{source}.paths[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
            raise PolicyError(f"{where}.path: expected a JSON path string")
        unknown = set(raw) - {"path", "action"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key (allowed: path, action)")
        try:
            paths.append(PathRule.parse(raw["path"], raw.get("action", "mask")))
        except ValueError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    return RedactionPolicy(tuple(patterns), tuple(paths))


def load_policy_file(path: str) -> RedactionPolicy:
    """A policy file: TOML (`.toml`) or JSON, with the keys of `[tool.agenttrace.redaction]` at the top."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the redaction policy: {exc.strerror}") from None
    try:
        table = json.loads(text) if not path.endswith(".toml") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from None
    return parse_policy(table, path)
