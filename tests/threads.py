"""Run one function on several threads at once, for tests of what must hold under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_in_threads(target: Callable[[], None], count: int) -> list[BaseException]:
    """Runs `target` on `count` threads started together, waits for them all, and returns what they raised
    (an exception in a thread is otherwise only a warning)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
