"""`show`, `list` and `view` on a run of 10,000 steps (goals: show under 1 s; the page opens and filters smoothly).

    python bench/bench_view.py [--steps 10000] [--repeat 3] [--no-browser]

The run is bench_dump.py's (a workflow root, then LLM calls with ~1 KB of message content and tool
calls, alternating), written to a fresh store through RunTraceExporter. Timed: medians of --repeat,
in CPU seconds (user + system) of the command, interpreter start-up included:
  show          `agenttrace show RUN` as a subprocess, stdout to a file
  show --errors the same, filtered (rendering is not what costs: reading and assembling the run is)
  list          `agenttrace list` with the 10k-step run in the store (its cost needs the run's spans)
  view write    `agenttrace view RUN -o FILE` as a subprocess; the page's size
  dump          `agenttrace dump RUN -o FILE`, the same run read the same way: a reference
  first render  headless Chromium (Debian's, through Playwright), wall clock: navigation start to the
                first rows on screen (the page's own mark, body[data-ready-ms]), and a filter by type
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_dump import write_run

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def timed(argv: list[str], env: dict[str, str], repeat: int, stdout: Path) -> list[float]:
    """CPU seconds (user + system) of each run of the command: on a shared machine wall-clock time
    mostly measures the neighbours; a single-threaded command's CPU time is its wall time when idle."""
    times = []
    for _ in range(repeat):
        with open(stdout, "wb") as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "otel_agenttrace.cli", *argv], env=env, stdout=out, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times


def browser(page_file: Path, repeat: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    ready, filtering = [], []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(repeat):
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(page_file.resolve().as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            ready.append(float(page.get_attribute("body", "data-ready-ms") or "nan") / 1000)
            t0 = time.perf_counter()
            page.click("#type-filters .chip[data-type='tool_call']")
            page.wait_for_selector("#list .row[data-type='tool_call']")
            filtering.append(time.perf_counter() - t0)
            page.close()
        b.close()
    return ready, filtering


def row(label: str, times: list[float], note: str = "") -> str:
    return f"| {label} | {statistics.median(times):.3f} s | {min(times):.3f} s | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        run_id = write_run(home, args.steps)
        env = {**os.environ, "AGENTTRACE_HOME": home}
        env.pop("NO_COLOR", None)
        out = Path(home) / "out.txt"
        page = Path(home) / "run.html"
        show = timed(["show", run_id], env, args.repeat, out)
        text_mb = out.stat().st_size / 1e6
        filtered = timed(["show", run_id, "--errors", "--type", "tool"], env, args.repeat, out)
        listed = timed(["list"], env, args.repeat, out)
        viewed = timed(["view", run_id, "-o", str(page)], env, args.repeat, out)
        # The same run's dump, timed alongside: on a shared machine the ratio is what carries over.
        dumped = timed(["dump", run_id, "-o", str(Path(home) / "run.json")], env, args.repeat, out)
        lines = [
            f"| {args.steps:,}-step run (CPU time) | median | min | |",
            "|---|---:|---:|---|",
            row("`agenttrace show RUN` (subprocess)", show, f"{text_mb:.1f} MB of text"),
            row("`agenttrace show RUN --errors --type tool`", filtered),
            row("`agenttrace list` (cost read from the run's spans)", listed),
            row("`agenttrace view RUN -o FILE` (subprocess)", viewed, f"{page.stat().st_size / 1e6:.1f} MB page"),
            row("reference: `agenttrace dump RUN -o FILE` (subprocess)", dumped),
        ]
        if not args.no_browser and Path(CHROMIUM).exists():
            ready, filtering = browser(page, args.repeat)
            lines.append(row("first rows on screen in headless Chromium (navigation start → rows)", ready))
            lines.append(row("filter by type (click → rows shown)", filtering))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
