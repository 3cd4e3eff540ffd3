"""Fresh locks in a forked child.

`fork` copies a lock in whatever state it is in, but only the forking thread survives: a lock that
another thread (an export thread, a metrics thread) held at that moment stays held forever in the
child, whose first call needing it hangs. Objects on our paths re-create their locks in the child
with `renew_after_fork`; what the locks protect is at worst half-updated by a thread that no longer
exists, which each owner tolerates (plain dicts and counters, or state it resets in `reset`).
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)


def renew_after_fork(owner: Any, reset: Callable[[Any], None] | None = None, **locks: Callable[[], Any]) -> None:
    """In a forked child, set each attribute `name` of `owner` to `factory()` (a new lock, condition or
    event), then call `reset(owner)`. `owner` is held weakly: the hook outlives it harmlessly."""
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.ref(owner)

    def _after_fork_in_child() -> None:
        target = ref()
        if target is None:
            return
        try:
            for name, factory in locks.items():
                setattr(target, name, factory())
            if reset is not None:
                reset(target)
        except Exception as exc:  # an at-fork hook must never raise into the child
            _log.debug("agenttrace: cannot renew %r after fork: %s", target, exc)

    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["renew_after_fork"]
