"""A program that makes many tool steps as fast as it can, for the adversarial tests.

    python steps.py burst N            N tool calls in a tight loop
    python steps.py procs P N          P processes (fork) of N tool calls each, under one workflow
    python steps.py pool W N [M]       a multiprocessing pool (start method M, default fork) of W workers
                                       running N tasks, left by `with Pool` (Pool.terminate())
    python steps.py exit N             a forked child makes N calls, then leaves with os._exit(0)
    python steps.py spawn N            N multiprocessing spawn workers, each one tool call
    python steps.py surrogate N        N calls, one of them with a lone surrogate in its argument

Prints nothing on stdout but "done"; the tests count steps in the store.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

import otel_agenttrace


@otel_agenttrace.tool("search")
def search(query: str) -> str:
    return query.upper()


def calls(n: int, tag: str = "") -> None:
    for i in range(n):
        search(f"{tag}{i}")


def task(i: int) -> int:
    search(f"task{i}")
    return i


def main() -> None:
    mode, *rest = sys.argv[1:]
    args = [int(x) for x in rest if x.isdigit()]
    method = next((x for x in rest if not x.isdigit()), "fork")
    if mode == "burst":
        calls(args[0])
    elif mode == "procs":
        with otel_agenttrace.workflow("burst"):
            children = []
            for p in range(args[0]):
                pid = os.fork()
                if pid == 0:
                    calls(args[1], f"p{p}-")
                    os._exit(0)
                children.append(pid)
            for pid in children:
                os.waitpid(pid, 0)
    elif mode == "pool":
        with otel_agenttrace.workflow("pooled"), multiprocessing.get_context(method).Pool(args[0]) as pool:
            assert sorted(pool.map(task, range(args[1]))) == list(range(args[1]))
    elif mode == "exit":
        with otel_agenttrace.workflow("exiting"):
            pid = os.fork()
            if pid == 0:
                calls(args[0])
                os._exit(0)
            os.waitpid(pid, 0)
    elif mode == "spawn":
        with otel_agenttrace.workflow("spawned"):
            ctx = multiprocessing.get_context("spawn")
            workers = [ctx.Process(target=task, args=(i,)) for i in range(args[0])]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
    elif mode == "surrogate":
        bad = b"caf\xe9".decode("utf-8", "surrogateescape")
        for i in range(args[0]):
            search(bad if i == args[0] // 2 else f"q{i}")
    print("done")


if __name__ == "__main__":
    main()
