"""A multi-pattern prescan before the RE2 gate: does any of the patterns match anywhere in the text?

The gate (one RE2 pass of the alternation of every pattern) runs a DFA over each byte, ~2 ns a byte here,
plus ~0.55 µs a call: most of a KB of code's redaction. Hyperscan finds the literal factors of all the
patterns at once with SIMD and only then runs their automata, ~1 µs for the same KB, call included. It
answers only "none of them" or "maybe": on "none" the gate is skipped, on "maybe" (or an error, or while
the database is being built) the gate runs as before, so RE2 stays the only judge of where a secret is.

The database is the patterns' own (no prefilter approximation), so its answer is exact but for what the
two dialects read differently, made the same here: PCRE's `\\s` also takes a vertical tab, RE2's does not,
and `[^\\s]` would then miss a match RE2 finds; every `\\s` is spelt out as RE2's class. Both match the
UTF-8 bytes one byte a character (RE2's Latin-1 mode, Hyperscan without its UTF-8 flag), with `.` taking a
line end. A pattern Hyperscan cannot take (or a platform with no wheel of it) leaves the gate alone.

Compiling the built-ins takes ~150 ms, with the GIL released: it runs on a thread of its own, started by
the first text, so neither a caller's first call (redaction on the caller's thread, when content is
opted in on spans) nor a short CLI command waits for it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

_hs: Any
try:
    import hyperscan as _hs
except ImportError:  # no wheel for this platform or interpreter: the gate alone
    _hs = None

_log = logging.getLogger(__name__)

# RE2's `\s` (PCRE's adds \v): inside a class, and as a class of its own.
_SPACE_MEMBERS = r"\t\n\f\r "


def hyperscan_source(regex: str) -> bytes | None:
    """`regex` (RE2 syntax) as Hyperscan reads it to mean the same, or None when it holds an escape whose
    meaning differs and cannot be spelt out here (`\\S` in a class, Unicode classes)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex):
            escape = regex[i + 1]
            if escape == "s":
                out.append(_SPACE_MEMBERS if in_class else "[" + _SPACE_MEMBERS + "]")
            elif escape == "S" and not in_class:
                out.append("[^" + _SPACE_MEMBERS + "]")
            elif escape in "SpPCQ":
                return None
            else:
                out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # A `]` right after `[` or `[^` is a member, not the class's end.
            head = regex[i + 1 : i + 3]
            skip = 2 if head.startswith("^]") else 1 if head.startswith("]") else 0
            out.append(regex[i : i + 1 + skip])
            i += 1 + skip
            continue
        out.append(char)
        i += 1
    return "".join(out).encode("utf-8")


def _stop(_ident: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
    # One match is the answer. Stopping there (the binding raises ScanTerminated, ~0.85 µs) also bounds the
    # work on a text made of one token's prefix (`glpat-glpat-...`), which Hyperscan, reporting each pattern
    # once but still running it, scans in time quadratic in the text.
    return True


class Prescan:
    """`clear(raw)`: True when no pattern matches anywhere in `raw`, so the gate need not run."""

    __slots__ = ("_db", "_pid", "_scratch", "_sources", "_thread")

    def __init__(self, sources: list[bytes]) -> None:
        self._sources = sources
        self._db: Any = None
        self._scratch: list[Any] = []  # one per thread scanning at once (a scratch is not shared)
        self._pid = 0  # the process that started the compilation (a forked child starts its own)
        self._thread: threading.Thread | None = None

    def clear(self, raw: bytes) -> bool:
        db = self._db
        if db is None:
            if self._pid != os.getpid():
                self._start()
            return False
        pool = self._scratch
        try:
            scratch = pool.pop()
        except IndexError:  # another thread holds every scratch there is
            try:
                scratch = _hs.Scratch(db)
            except Exception:
                return False
        try:
            # (data, handler, flags, context, scratch), by position: keywords cost the binding ~0.3 µs a call
            db.scan(raw, _stop, 0, None, scratch)
        except Exception:  # ScanTerminated: a match; any other error: as if one (the gate decides)
            return False
        finally:
            pool.append(scratch)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Starts the compilation if it has not started and waits for it: True when the database is ready
        (benchmarks and tests, which must not measure the gate while it compiles)."""
        if self._db is None and self._pid != os.getpid():
            self._start()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._db is not None

    def _start(self) -> None:
        # Two threads may both start one: the second database replaces the first, both are right.
        self._pid = os.getpid()
        self._scratch = []
        thread = threading.Thread(target=self._compile, name="agenttrace-prescan", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # interpreter shutdown, or no more threads: the gate alone, never an error
            _log.debug("agenttrace: redaction prescan not started: %s", exc)
            return
        self._thread = thread

    def _compile(self) -> None:
        try:
            db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            flags = _hs.HS_FLAG_DOTALL | _hs.HS_FLAG_SINGLEMATCH
            count = len(self._sources)
            db.compile(expressions=self._sources, ids=list(range(count)), elements=count, flags=[flags] * count)
            self._scratch.append(_hs.Scratch(db))
        except Exception as exc:  # the gate alone, as without Hyperscan
            _log.debug("agenttrace: redaction prescan unavailable: %s", exc)
            return
        self._db = db


def prescan_for(regexes: list[str]) -> Prescan | None:
    """A prescan of these RE2 patterns, or None (no Hyperscan here, or a pattern it would read otherwise)."""
    if _hs is None or not regexes:
        return None
    sources = [hyperscan_source(r) for r in regexes]
    if any(s is None for s in sources):
        return None
    return Prescan([s for s in sources if s is not None])
