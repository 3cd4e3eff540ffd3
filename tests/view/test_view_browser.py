"""The HTML view in a real headless Chromium: rows, filters, the expanded calls, keyboard, no network, safety."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from otel_agenttrace import view

from .conftest import Page
from .synthetic import big_run, llm_step, run_doc, tool_step


def rows(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        "#list .row",
        "rs => rs.map(r => ({index: Number(r.dataset.index), type: r.dataset.type,"
        " error: r.classList.contains('error'), text: r.innerText}))",
    )


def wait_count(page: Any, prefix: str, timeout_s: float = 10.0) -> None:
    """Poll the event count (wait_for_function would eval a string, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.inner_text("#count").startswith(prefix):
        assert time.monotonic() < deadline, page.inner_text("#count")
        page.wait_for_timeout(20)


def test_demo_rows_and_header(page: Page, demo_html: Path) -> None:
    p = page.open(demo_html)
    shown = rows(p)
    assert [r["type"] for r in shown] == [
        "workflow", "node", "llm_call", "node", "llm_call", "tool_call", "llm_call",
        "tool_call", "tool_call", "llm_call", "node", "llm_call",
    ]  # fmt: skip
    failed = [r for r in shown if r["error"]]
    assert len(failed) == 1 and "Atlantis" in failed[0]["text"] and "LookupError" in failed[0]["text"]
    assert p.inner_text("#count") == "12 events"
    facts = p.inner_text("#run-facts")
    assert "demo_agent" in p.inner_text("#run-title") and p.inner_text("#run-status") == "ok"
    assert "gpt-4o-mini" in facts and "1172/" in facts and "cost\n$0.000" in facts


def test_filters(page: Page, demo_html: Path) -> None:
    p = page.open(demo_html)
    p.click("#type-filters .chip[data-type='tool_call']")
    assert [r["type"] for r in rows(p)] == ["tool_call"] * 3
    p.check("#errors-only")
    assert len(rows(p)) == 1 and p.inner_text("#count") == "1 of 12 events"
    p.uncheck("#errors-only")
    p.click("#type-filters .chip[data-type='tool_call']")  # off again
    p.select_option("#node-filter", "planner")
    assert [r["type"] for r in rows(p)] == ["node", "llm_call"]
    p.select_option("#node-filter", "")
    # The search reaches content that no row shows: the system prompt of the planner's call.
    p.fill("#search", "break the user's request")
    wait_count(p, "1 of")
    assert [r["type"] for r in rows(p)] == ["llm_call"]
    p.fill("#search", "no such words anywhere")
    wait_count(p, "0 of")
    assert rows(p) == [] and "No event matches" in p.inner_text("#list")


def test_expanded_llm_call(page: Page, demo_html: Path) -> None:
    p = page.open(demo_html)
    p.click("#list .row[data-type='llm_call']")
    detail = p.inner_text("#detail")
    roles = p.eval_on_selector_all("#detail .message .role", "es => es.map(e => e.firstChild.textContent)")
    assert roles == ["system", "user", "assistant"]
    contents = p.eval_on_selector_all("#detail .message pre", "es => es.map(e => e.textContent)")
    assert contents[0] == "You plan. Break the user's request into short steps; submit them."
    assert "Lisbon and then Atlantis" in contents[1]
    assert contents[2].startswith("submit_plan(") and "Get the weather in Atlantis" in contents[2]
    facts = ("gpt-4o-mini", "openai", "tool_calls", "125", "58", "$0.000054", "temperature", "finish: tool_call")
    for expected in facts:
        assert expected in detail, expected
    assert "tool definitions (1)" in detail.lower()
    p.keyboard.press("End")  # the streamed final answer
    assert "stream\ntrue" in p.inner_text("#detail")


def test_expanded_failed_tool_call_and_keyboard(page: Page, demo_html: Path) -> None:
    p = page.open(demo_html)
    p.keyboard.press("j")  # the first row
    assert p.inner_text("#detail-title").startswith("#0 workflow")
    p.keyboard.press("n")  # the next error
    detail = p.inner_text("#detail")
    assert "get_weather" in p.inner_text("#detail-title")
    assert "ARGUMENTS" in detail.upper() and '"city": "Atlantis"' in detail
    assert "LookupError" in detail and "no forecast for 'Atlantis'" in detail
    p.keyboard.press("k")
    assert "get_weather" in p.inner_text("#detail-title")  # the Lisbon call, one row up
    assert "sunny" in p.inner_text("#detail")
    p.keyboard.press("Escape")
    assert p.is_hidden("#detail")
    p.keyboard.press("/")
    assert p.evaluate("document.activeElement.id") == "search"


def test_no_network_request(page: Page, demo_html: Path) -> None:
    p = page.open(demo_html)
    for selector in ("#list .row[data-type='llm_call']", "#list .row[data-type='tool_call']"):
        p.click(selector)
    p.wait_for_timeout(300)
    assert page.requests == [demo_html.resolve().as_uri()]
    # The export link is the embedded JSON, as a blob: nothing is fetched.
    href = p.get_attribute("#export", "href")
    assert href and href.startswith("blob:")
    with p.expect_download() as download:
        p.click("#export")
    saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert download.value.suggested_filename == f"run-{saved['run_id'][:12]}.json"
    assert len(saved["steps"]) == 12 and saved["cost"]["currency"] == "USD"
    assert page.requests[0] == demo_html.resolve().as_uri() and all(u.startswith("blob:") for u in page.requests[1:])


PAYLOAD = '</script><img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'


def test_html_and_script_in_content_are_text(page: Page, tmp_path: Path) -> None:
    hostile = llm_step(1, text=PAYLOAD, answer="<b>bold?</b> " + PAYLOAD)
    hostile["node"] = '<img src=x onerror="window.__pwned = 3">'
    hostile["attributes"]["gen_ai.response.time_to_first_chunk"] = 0.25
    tool = tool_step(2)
    tool["output"] = PAYLOAD
    doc = run_doc([tool_step(0), hostile, tool], workflow="<svg onload=window.__pwned=4>")
    path = tmp_path / "hostile.html"
    view.write(doc, path)
    p = page.open(path)
    p.click("#list .row[data-index='1']")
    texts = p.eval_on_selector_all("#detail .message pre", "es => es.map(e => e.textContent)")
    assert PAYLOAD in texts[1] and texts[2] == "<b>bold?</b> " + PAYLOAD
    assert "first chunk\n250ms" in p.inner_text("#detail")
    p.click("#list .row[data-index='2']")
    assert PAYLOAD in p.inner_text("#detail")
    assert p.inner_text("#run-title") == "<svg onload=window.__pwned=4>"
    assert p.evaluate("window.__pwned") is None
    assert p.evaluate("document.querySelectorAll('img, svg, b').length") == 0
    assert page.requests == [path.resolve().as_uri()]  # not even the img's src=x


def test_ten_thousand_steps(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "big.html"
    view.write(big_run(10_000), path)
    p = page.open(path)
    assert p.inner_text("#count") == "10000 events"
    in_dom = len(rows(p))
    assert 0 < in_dom < 150  # only what is on screen (plus a margin)
    p.click("#type-filters .chip[data-type='tool_call']")
    p.check("#errors-only")
    assert p.inner_text("#count") == "49 of 10000 events"
    p.uncheck("#errors-only")
    p.keyboard.press("End")  # the last tool call, scrolled into view
    last = rows(p)
    assert any(r["index"] == 9998 for r in last)
    assert "#9998 tool" in p.inner_text("#detail-title")
    p.fill("#search", "query 4242")
    wait_count(p, "1 of")
    assert [r["index"] for r in rows(p)] == [4242]


def test_compare_two_runs(page: Page, tmp_path: Path) -> None:
    a = run_doc([tool_step(0), llm_step(1, answer="Paris."), tool_step(2), llm_step(3)])
    b = json.loads(json.dumps(a))
    b["run_id"] = "f" * 32
    b["steps"][1]["output"][0]["parts"][0]["content"] = "Lyon."  # a changed answer
    del b["steps"][2]  # a tool call the second run did not make
    path = tmp_path / "cmp.html"
    view.write(a, path, compare=b)
    p = page.open(path)
    kinds = p.eval_on_selector_all("#list .row", "rs => rs.map(r => r.dataset.kind)")
    assert kinds == ["same", "changed", "removed", "same"]
    assert "1 changed" in p.inner_text("#run-facts") and "1 removed" in p.inner_text("#run-facts")
    p.check("#diffs-only")
    assert p.eval_on_selector_all("#list .row", "rs => rs.map(r => r.dataset.kind)") == ["changed", "removed"]
    p.click("#list .row[data-kind='changed']")
    detail = p.inner_text("#detail")
    assert "output/0/parts/0/content" in detail and "A: Paris." in detail and "B: Lyon." in detail
    sides = p.eval_on_selector_all("#detail .side", "es => es.map(e => e.innerText)")
    assert "Paris." in sides[0] and "Lyon." in sides[1]
    p.click("#list .row[data-kind='removed']")
    assert "not in run B" in p.inner_text("#detail")
    assert page.requests == [path.resolve().as_uri()]
