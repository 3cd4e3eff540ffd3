"""The redaction engine: every built-in pattern on RE2, linear in the text whatever the text is.

Python's `re` backtracks, and a crafted text (16 KB of `-eyJ`) made one pattern take a minute. RE2 runs
a DFA (falling back to an NFA simulation, still linear, when a text exhausts the DFA's memory), so no
input costs more than a pass per pattern. The common case, a text with no secret, costs one pass for
all patterns at once: a gate, the alternation of every built-in pattern, says whether and where the
first match starts. Before it, Hyperscan's scan of the same patterns (`_prescan`) answers whether any
matches at all, for about half the gate's cost, and a text with none skips the gate. With the built-in
`email` on, both leave it out, and a text with nothing else and a few `@` (the author lines of a source
file) has its addresses found by `_emails` without RE2.

A text with a few matches (a key in a prompt) goes on with the gate: one call per match gives the next
match, and for each an anchored set and that kind's pattern give its secrets (its own groups). That is
every pattern's own matches, as long as no match starts inside another (the next search starts one byte
after the last match's start) and one kind only matches where each match starts (the set says which).
Otherwise (a key inside a URL, a card-shaped run of digits, text full of secrets) the full path runs: an
RE2 set says in one pass which patterns match, and each of those runs over the text on its own from the
first start.

The patterns match the text's UTF-8 bytes; matches are mapped back to character offsets. Every pattern
is matched against the original text and the matches are replaced together, so a greedy match of one
kind can never consume the context another kind needs (overlaps are merged). A user's own patterns
(Python `re` syntax) run after the built-ins, over the text, as they are written.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import re2

from otel_agenttrace._redact._emails import email_spans
from otel_agenttrace._redact._patterns import BUILTIN, LONE_STARTS, Pattern
from otel_agenttrace._redact._prescan import Prescan, prescan_for

# (start, end, pattern order, replacement) of one secret found, in characters
_Found = tuple[int, int, int, str]


def _options(*, capture: bool) -> re2.Options:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # one byte, one character: UTF-8 is matched as bytes
    options.dot_nl = True
    options.log_errors = False
    options.never_capture = not capture
    # The DFA's cache: big enough that ordinary content never falls back to the (slower, linear) NFA.
    options.max_mem = 64 << 20
    return options


# A quoted value is read again as the start of the next match (its quotes are of deeper levels: keys in it
# are too, and so are their values, in it; at most four levels). An unquoted one only when it is this short:
# a chain of `password=password=...` would be read again and again to its end (quadratic), and a key inside a
# longer value is inside its secret anyway.
_REREAD_MAX = 128

_Spans = list[tuple[int, int]]  # the match's span, then each group's ((-1, -1): did not take part)


def _searcher(regex: Any, *, anchored: bool = False) -> Callable[..., _Spans | None]:
    """`search(raw, pos, endpos=-1)` -> the spans of the first match from `pos` (anchored: of the match that
    spans `pos` to `endpos` exactly), or None.

    Through the extension object when the wrapper exposes it: one C call per match, where the wrapper's
    `search` builds a generator and a match object (several µs, more than the scan of a KB)."""
    native = getattr(regex, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "ANCHOR_BOTH" if anchored else "UNANCHORED", None)
    if native is not None and anchor is not None and hasattr(native, "Match"):
        match = native.Match

        def search(raw: bytes, pos: int, endpos: int = -1) -> _Spans | None:
            spans: _Spans = match(anchor, raw, pos, len(raw) if endpos < 0 else endpos)
            return None if spans[0][0] < 0 else spans

        search.native = (match, anchor)  # type: ignore[attr-defined]  # for a caller's loop: no frame per call
        return search

    def search_public(raw: bytes, pos: int, endpos: int = -1) -> _Spans | None:
        end = len(raw) if endpos < 0 else endpos
        m = regex.fullmatch(raw, pos, end) if anchored else regex.search(raw, pos, end)
        return None if m is None else [m.span(i) for i in range(regex.groups + 1)]

    return search_public


class _Linear:
    """A built-in pattern compiled for RE2."""

    __slots__ = (
        "check",
        "locate",
        "name",
        "order",
        "prefilter",
        "replacement",
        "reread_values",
        "restart",
        "search",
        "shadows",
    )

    def __init__(self, pattern: Pattern, order: int) -> None:
        self.order = order
        self.name = pattern.name
        self.shadows = pattern.shadows
        self.reread_values = pattern.reread_values
        self.search = _searcher(re2.compile(pattern.regex.encode("utf-8"), _options(capture=True)))
        self.replacement = pattern.replacement or f"[REDACTED:{pattern.name}]"
        self.check = pattern.check
        self.locate = pattern.locate
        self.prefilter = pattern.prefilter
        self.restart = pattern.restart.encode() if pattern.restart else None

    def spans(self, raw: bytes, lowered: bytes | None, pos: int) -> Iterator[tuple[int, int, int, int]]:
        """(secret start, secret end, match start, match end) in bytes, from `pos` on: a secret per group
        that took part in a match, else the whole match."""
        search = self.search
        while True:
            spans = search(raw, pos)
            if spans is None:
                return
            start, end = spans[0]
            secrets = [group for group in spans[1:] if group[0] >= 0] or spans[:1]
            for secret in secrets:
                yield secret[0], secret[1], start, end
            if self.restart is not None and lowered is not None:
                inner = lowered.find(self.restart, secrets[0][0], end)
                if inner > start:
                    end = inner
            if self.reread_values:
                value, value_end = secrets[-1]
                if raw[value - 1 : value] in (b'"', b"'"):
                    end = max(start + 1, value - 1)
                elif value_end - value <= _REREAD_MAX:
                    end = max(start + 1, value)
                else:
                    # A long value's last _REREAD_MAX bytes: a key at its end (`...:password:`) whose value
                    # follows it (` hunter2`), and the character before the next line's end (not a backslash).
                    end = max(start + 1, value_end - _REREAD_MAX)
            pos = end if end > start else start + 1


class _Backtracking:
    """A user's policy pattern (Python `re`, matched over the text as written)."""

    __slots__ = ("expand", "order", "regex", "replacement")

    def __init__(self, pattern: Pattern, order: int) -> None:
        self.order = order
        self.regex = re.compile(pattern.regex, re.DOTALL)
        self.replacement = pattern.replacement or f"[REDACTED:{pattern.name}]"
        # A user's replacement may use the match's groups (\1, \g<name>), as re.sub would.
        self.expand = "\\" in self.replacement


class Redactor:
    """Replaces every secret of the enabled patterns with `[REDACTED:<kind>]` (or the pattern's replacement)."""

    def __init__(self, patterns: Iterable[Pattern] = BUILTIN, *, prescan: bool = True) -> None:
        """`prescan=False`: the RE2 gate alone on every text (tests and benchmarks compare the two)."""
        self.patterns = tuple(patterns)
        compiled = _compile(self.patterns)
        self._linear, self._other, self._gate, self._set = compiled.linear, compiled.other, compiled.gate, compiled.set
        self._few = compiled.few
        # With the built-in `email` on: that pattern (found by `_emails`), and the gate of the other kinds.
        self._email, self._others_gate = compiled.email, compiled.others_gate
        self._prescan = compiled.prescan if prescan else None
        # The gates' extension methods: every text pays one of these calls, without a wrapper frame around it.
        self._gate_native: tuple[Callable[..., _Spans], Any] | None = getattr(self._gate, "native", None)
        self._others_native: tuple[Callable[..., _Spans], Any] | None = getattr(self._others_gate, "native", None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.patterns)

    def ready(self, timeout: float | None = None) -> bool:
        """Waits for the prescan (compiled on a thread of its own, from the first text on): True when every
        text now takes it, False when this Redactor has none (the gate alone, as correct and slower)."""
        return self._prescan is not None and self._prescan.wait(timeout)

    def redact(self, text: str) -> tuple[str, int]:
        """Returns the redacted text and how many secrets were replaced."""
        found: list[_Found] = []
        if self._gate is not None:
            raw = text.encode("utf-8", "surrogatepass")
            email = self._email
            # The first pass: the gate of the kinds other than `email` when it is found apart, else of every kind.
            gate, native = (
                (self._others_gate, self._others_native) if email is not None else (self._gate, self._gate_native)
            )
            first: _Spans | None
            if self._prescan is not None and self._prescan.clear(raw):
                first = None
            elif native is None:
                first = gate(raw, 0)  # type: ignore[misc]
            else:
                first = native[0](native[1], raw, 0, len(raw))
                if first[0][0] < 0:
                    first = None
            at = raw.find(b"@") if email is not None else -1
            if at >= 0:
                assert email is not None
                addresses = email_spans(raw, _FEW, at) if first is None else None
                if addresses is None:  # an address may come before that match, or there are many
                    first = self._gate(raw, 0)
                elif not self._other:
                    return _replace_spans(text, raw, addresses, email.replacement)
                else:
                    found.extend((s, e, email.order, email.replacement) for s, e in _chars(text, raw, addresses))
            if first is not None and not (self._few is not None and self._few.find(text, raw, first, found)):
                self._find_linear(text, raw, first[0][0], found)
        for p in self._other:
            self._find_other(p, text, found)
        if not found:
            return text, 0
        return _replace(text, found)

    def _find_linear(self, text: str, raw: bytes, pos: int, found: list[_Found]) -> None:
        """The full path: which patterns match (an RE2 set, one pass), then each of them over the text."""
        assert self._set is not None
        hits = self._set.Match(raw)
        # The set runs a DFA only: when a crafted text exhausts its memory it answers nothing, and every
        # pattern runs instead (the gate, which can fall back to the NFA, has seen a match).
        chosen = [self._linear[i] for i in hits] if hits else self._linear
        lowered = raw.lower() if any(p.restart for p in chosen) else None
        spans: list[tuple[int, int, _Linear, int, int]] = []
        passed: dict[object, bool] = {}
        for p in chosen:
            if p.prefilter is not None:
                ok = passed.get(p.prefilter)
                if ok is None:
                    ok = passed[p.prefilter] = p.prefilter(text)
                if not ok:
                    continue
            spans.extend((s, e, p, ms, me) for s, e, ms, me in p.spans(raw, lowered, pos) if e > s)
        if not spans:
            return
        if any(p.shadows for _, _, p, _, _ in spans):
            spans = _unshadowed(spans)
        to_char = _char_offsets(text, raw, [x for s, e, _, ms, me in spans for x in (s, e, ms, me)])
        for s, e, p, ms, me in spans:
            start, end = to_char(s), to_char(e)
            if p.locate is not None:
                found.extend(
                    (start + a, start + b, p.order, p.replacement) for a, b in p.locate(text[start:end]) if a < b
                )
            elif p.check is None or p.check(text[start:end], text[to_char(ms) : to_char(me)]):
                found.append((start, end, p.order, p.replacement))

    @staticmethod
    def _find_other(p: _Backtracking, text: str, found: list[_Found]) -> None:
        for m in p.regex.finditer(text):
            if m.end() > m.start():
                found.append((m.start(), m.end(), p.order, m.expand(p.replacement) if p.expand else p.replacement))


class _Compiled:
    __slots__ = ("email", "few", "gate", "linear", "other", "others_gate", "prescan", "set")

    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.linear = [_Linear(p, i) for i, p in enumerate(patterns) if p.linear]
        self.other = [_Backtracking(p, i) for i, p in enumerate(patterns) if not p.linear]
        self.gate: Callable[[bytes, int], _Spans | None] | None = None
        self.set: re2.Set | None = None
        self.few: _FewMatches | None = None
        self.others_gate: Callable[[bytes, int], _Spans | None] | None = None
        self.email: _Linear | None = None
        self.prescan: Prescan | None = None
        if not self.linear:
            return
        sources = [p.regex.encode("utf-8") for p in patterns if p.linear]
        self.gate = _searcher(re2.compile(b"|".join(b"(?:" + s + b")" for s in sources), _options(capture=False)))
        self.set = re2.Set.SearchSet(_options(capture=False))
        for source in sources:
            self.set.Add(source)
        self.set.Compile()
        linear = [p for p in patterns if p.linear]
        lone = [i for i, p in enumerate(linear) if p.lone_body]
        # LONE_STARTS holds for the built-ins (and any subset of them), not for other linear patterns.
        shortcut = None
        if len(lone) == 1 and all(p in BUILTIN for p in linear) and linear[lone[0]].locate is None:
            shortcut = (lone[0], linear[lone[0]].lone_body or b"")
        self.few = _FewMatches(self.linear, sources, self.gate, shortcut)
        email = [p for p in self.linear if patterns[p.order] == _EMAIL]
        if email and len(self.linear) > 1:
            others = b"|".join(
                b"(?:" + s + b")" for p, s in zip(self.linear, sources, strict=True) if p is not email[0]
            )
            self.others_gate = _searcher(re2.compile(others, _options(capture=False)))
            self.email = email[0]
        # Before the first pass: the patterns of its gate (the others' when `email` is found apart).
        self.prescan = prescan_for([patterns[p.order].regex for p in self.linear if p is not self.email])


@functools.lru_cache(maxsize=32)
def _compile(patterns: tuple[Pattern, ...]) -> _Compiled:
    """The compiled form of a pattern list, shared by every Redactor of the same list (RE2 objects are
    thread-safe; compiling the built-ins takes ~30 ms, and a CapturePolicy makes a Redactor)."""
    return _Compiled(patterns)


_EMAIL = next(p for p in BUILTIN if p.name == "email")

# More matches than this, and the full path is cheaper than a few calls per match.
_FEW = 8
# The anchored set reads this far from a match's start: a longer match (a private key) takes the full path.
_WINDOW = 4096


class _FewMatches:
    """The path of a text with a few matches, none inside another: per match, the gate finds it, an anchored
    set names its kind, and that pattern, anchored there, gives its groups.

    At 1 KB the calls into the binding (~1 µs each, about the scan of a KB) are what a match costs: they go to
    the extension objects directly (no wrapper frame), and an ASCII text skips the byte-to-character mapping."""

    __slots__ = ("anchored", "gate", "gate_native", "linear", "lone", "set_native", "starts")

    def __init__(
        self,
        linear: list[_Linear],
        sources: list[bytes],
        gate: Callable[[bytes, int], _Spans | None],
        lone: tuple[int, bytes] | None = None,
    ) -> None:
        self.linear = linear
        self.gate = gate
        # (index, bytes of its body) of the pattern whose matches need no RE2 call (Pattern.lone_body)
        self.lone = lone
        self.anchored = [_searcher(re2.compile(s, _options(capture=True)), anchored=True) for s in sources]
        self.starts = re2.Set.MatchSet(_options(capture=False))
        for source in sources:
            self.starts.Add(source)
        self.starts.Compile()
        # The extension objects' own methods, when the wrapper exposes them: no Python frame per call.
        self.set_native: Callable[[Any], list[int]] | None = getattr(getattr(self.starts, "_set", None), "Match", None)
        self.gate_native: tuple[Callable[..., _Spans], Any] | None = getattr(gate, "native", None)

    def find(self, text: str, raw: bytes, first: _Spans, found: list[_Found]) -> bool:
        """Adds the secrets of a text with a few matches, the first of them `first` (the gate's), to `found`;
        False (nothing added) when the text needs the full path."""
        matches: list[tuple[_Linear, list[tuple[int, int]], int, int]] = []
        size = len(raw)
        kinds_at = self.set_native or self.starts.Match
        gate_native = self.gate_native
        gate = self.gate
        linear, anchored, lone = self.linear, self.anchored, self.lone
        spans: _Spans | None = first
        while spans is not None:
            start, end = spans[0]
            if end <= start or len(matches) == _FEW:
                return False
            if lone is not None and raw[start] not in LONE_STARTS and not raw[start + 1 : end].translate(None, lone[1]):
                # Only the lone kind starts on this byte with a match of this shape: the gate's match is its own.
                p, secrets = linear[lone[0]], [(start + 1, end)]
            else:
                kinds = kinds_at(memoryview(raw)[start : start + _WINDOW])
                if not kinds or len(kinds) != 1:
                    return False  # several kinds start here (or a crafted text filled the set's DFA memory)
                p = linear[kinds[0]]
                if p.locate is not None or p.prefilter is not None:
                    return False
                own = anchored[kinds[0]](raw, start, end)
                if own is None:
                    return False
                secrets = [g for g in own[1:] if g[0] >= 0] or own[:1]
            if gate_native is not None:
                following: _Spans | None = gate_native[0](gate_native[1], raw, start + 1, size)
                if following is not None and following[0][0] < 0:
                    following = None
            else:
                following = gate(raw, start + 1)
            if following is not None and following[0][0] < end:
                return False  # a match inside this one
            matches.append((p, secrets, start, end))
            spans = following
        if len(raw) == len(text):  # ASCII: byte offsets are character offsets
            for p, secrets, ms, me in matches:
                for s, e in secrets:
                    if e > s and (p.check is None or p.check(text[s:e], text[ms:me])):
                        found.append((s, e, p.order, p.replacement))
            return True
        to_char = _char_offsets(
            text, raw, [x for _, secrets, ms, me in matches for x in (ms, me, *(y for g in secrets for y in g))]
        )
        for p, secrets, ms, me in matches:
            for s, e in secrets:
                if e > s:
                    start, end = to_char(s), to_char(e)
                    if p.check is None or p.check(text[start:end], text[to_char(ms) : to_char(me)]):
                        found.append((start, end, p.order, p.replacement))
        return True


def _unshadowed(spans: list[tuple[int, int, _Linear, int, int]]) -> list[tuple[int, int, _Linear, int, int]]:
    """The spans without those of a shadowed kind that start inside a match of a kind shadowing it: one sweep
    over the spans in order of start (a crafted text of URL after URL stays linear)."""
    regions: dict[str, list[tuple[int, int]]] = {}
    for _, _, p, ms, me in spans:
        for name in p.shadows:
            regions.setdefault(name, []).append((ms, me))
    for intervals in regions.values():
        intervals.sort()
    kept = []
    reach: dict[str, tuple[int, int]] = {}  # name -> (index of the next region, furthest end seen so far)
    for span in sorted(spans, key=lambda x: x[0]):
        shadowing = regions.get(span[2].name)
        if shadowing is None:
            kept.append(span)
            continue
        index, furthest = reach.get(span[2].name, (0, -1))
        while index < len(shadowing) and shadowing[index][0] <= span[0]:
            furthest = max(furthest, shadowing[index][1])
            index += 1
        reach[span[2].name] = (index, furthest)
        if span[0] >= furthest:
            kept.append(span)
    return kept


def _char_offsets(text: str, raw: bytes, offsets: list[int]) -> Callable[[int], int]:
    """Byte offset -> character offset. A secret's offsets are on character boundaries (every class of the
    patterns is ASCII); a match's start may be inside a character (the byte before an e-mail address is the
    last of `à`): such an offset maps to the next character."""
    if len(raw) == len(text):  # ASCII: the same offsets
        return int
    mapping: dict[int, int] = {0: 0}
    last_byte = last_char = 0
    for offset in sorted(set(offsets)):
        boundary = offset
        while boundary < len(raw) and raw[boundary] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            boundary += 1
        last_char += len(raw[last_byte:boundary].decode("utf-8", "surrogatepass"))
        last_byte = boundary
        mapping[offset] = last_char
    return mapping.__getitem__


def _chars(text: str, raw: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte spans of ASCII bytes as character spans."""
    if len(raw) == len(text):
        return spans
    to_char = _char_offsets(text, raw, [x for span in spans for x in span])
    return [(to_char(s), to_char(e)) for s, e in spans]


def _replace_spans(text: str, raw: bytes, spans: list[tuple[int, int]], replacement: str) -> tuple[str, int]:
    """`_replace` for spans of one kind, in order, none overlapping (an e-mail address per span)."""
    if not spans:
        return text, 0
    pieces: list[str] = []
    append = pieces.append
    last = 0
    for start, end in spans if len(raw) == len(text) else _chars(text, raw, spans):
        append(text[last:start])
        append(replacement)
        last = end
    append(text[last:])
    return "".join(pieces), len(spans)


_START_THEN_ORDER = operator.itemgetter(0, 2)


def _replace(text: str, found: list[_Found]) -> tuple[str, int]:
    """Every span replaced once; overlapping spans (of one kind or several) merge, the earliest start's
    pattern (the first in order on a tie) naming the merged one."""
    if len(found) > 1:
        found.sort(key=_START_THEN_ORDER)
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
