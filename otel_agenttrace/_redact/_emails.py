"""E-mail addresses found without RE2, in a text where no other built-in kind matches.

RE2 costs ~1 µs a call whatever the text, and successive searches cost a call per address plus one that
proves there is no other: two addresses in a KB of code (a source file's author lines) took three calls
past the first, most of that text's redaction. The engine's gate leaves the `email` pattern out; a text it
finds nothing in and that holds a few `@` comes here: a byte search per `@`, a strip over the bytes before
it, and an anchored `re` match of the domain after it.

The spans are the pattern's own, as one RE2 search after another finds them (each from the last match's
end). For an `@`, a match can only start on the byte before the longest run of local-part bytes that ends
there (any later byte of the run is a local-part byte, which the context excludes), or on the text's
start; after a backslash, on the backslash, the address starting after the letter of a JSON escape
(`\\nann@...`) when one follows. Its domain is the pattern's, matched where RE2 would (leftmost-first:
Python's `re` prefers what it prefers). Every byte is read a bounded number of times: a local part
stops at the last `@`, a domain at the next one.
"""

from __future__ import annotations

import re

from otel_agenttrace._redact._patterns import EMAIL_DOMAIN, EMAIL_LOCAL

_DOMAIN = re.compile(EMAIL_DOMAIN.encode())
_BACKSLASH = ord("\\")
_ESCAPES = b"nrtbf"


def email_spans(raw: bytes, most: int, at: int | None = None) -> list[tuple[int, int]] | None:
    """The byte spans of the addresses in `raw` (UTF-8), in order, none overlapping; None past `most` `@`.
    `at`: where the first `@` is, when the caller looked already."""
    spans: list[tuple[int, int]] = []
    match = _DOMAIN.match
    resume = 0  # where the next search would start: the last match's end
    after = 0  # the byte after the last `@`: a local part does not hold one
    if at is None:
        at = raw.find(b"@")
    while at >= 0:
        most -= 1
        if most < 0:
            return None
        local = after + len(raw[after:at].rstrip(EMAIL_LOCAL))
        if local < at:
            start = local - 1 if local else 0
            if local and raw[start] == _BACKSLASH and raw[local] in _ESCAPES and local + 1 < at:
                local += 1
            if start >= resume:
                domain = match(raw, at + 1)
                if domain is not None:
                    resume = domain.end()
                    spans.append((local, resume))
        after = at + 1
        at = raw.find(b"@", after)
    return spans
