"""Showing run ids short enough to read and long enough to tell apart."""

from __future__ import annotations

import os.path
from collections.abc import Sequence

SHORT = 12


def distinct_prefixes(ids: Sequence[str], shown: int = 5, minimum: int = SHORT) -> str:
    """The first `shown` ids, each cut to the shortest prefix (at least `minimum` chars) that tells it from
    every other id listed: ids that share 12 characters are not printed as 12 identical characters."""
    ordered = sorted(ids)
    out = []
    for i, current in enumerate(ordered[:shown]):
        length = minimum
        for other in (ordered[i - 1] if i else None, ordered[i + 1] if i + 1 < len(ordered) else None):
            if other is not None:
                common = os.path.commonprefix([current, other])  # noqa: RUF071 -- characters are what we want
                length = max(length, len(common) + 1)
        out.append(current[:length])
    text = ", ".join(out)
    return text + (f", … {len(ordered) - shown} more" if len(ordered) > shown else "")
