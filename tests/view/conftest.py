"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright; skipped when either is absent.

`.ci/run` installs chromium, so CI runs these. Playwright never downloads a browser here: it is
given the system executable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("AGENTTRACE_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no network: without these, Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo_agent.py"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page and every request it made (the file itself included)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        return self.page


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield Page(context.new_page())
    finally:
        context.close()


def _agenttrace(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_agenttrace.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def demo_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README demo recorded by `agenttrace run` (its stub server, no network), written by `agenttrace view`."""
    work = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTTRACE_", "OPENAI_", "ANTHROPIC_"))}
    env.update(AGENTTRACE_DEMO_STUB="1", AGENTTRACE_HOME=str(work / "home"), PYTHONPATH=str(REPO))
    done = _agenttrace(["run", "--", sys.executable, str(DEMO)], env, work)
    assert done.returncode == 0, done.stderr
    out = work / "demo.html"
    viewed = _agenttrace(["view", "--last", "-o", str(out)], env, work)
    assert viewed.returncode == 0, viewed.stderr
    assert f"wrote {out}" in viewed.stderr
    return out
