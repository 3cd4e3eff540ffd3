"""`list --from` and `dump/show --from phoenix` against loopback servers shaped like the real APIs; auth headers,
timeouts, HTTP errors, HTML answers and oversized bodies, each in one line."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .cli_helpers import Invoke
from .fake_backends import (
    PHOENIX_TRACE,
    SERVICE,
    TRACE,
    dripping,
    endless_body,
    jaeger_v1_api,
    jaeger_v3_api,
    js,
    phoenix_api,
    raw_server,
    sample,
    serve,
    silent,
    tempo_api,
)

LONG_AGO = ("--since", "36500d")  # the samples were recorded on 2026-11-23


def _json(invoke: Invoke, *args: str) -> Any:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- Phoenix reading ----------------------------------------------------------------------------------------------


def test_phoenix_dump_follows_the_cursor(invoke: Invoke, schema_validator: Any) -> None:
    with serve(phoenix_api) as (url, seen):
        doc = _json(invoke, "dump", "--from", "phoenix", url, PHOENIX_TRACE)
    schema_validator.validate(doc)
    assert doc["run_id"] == PHOENIX_TRACE and doc["workflow"] == "demo_agent" and doc["status"] == "ok"
    assert len(doc["steps"]) == 12  # 5 + 5 + 2 spans over three pages
    assert doc["usage"] == {"input_tokens": 1172, "output_tokens": 217}
    assert [s["type"] for s in doc["steps"]].count("llm_call") == 5
    assert seen.paths == ["/v1/projects/default/spans/otlpv1"] * 3
    assert [q.get("cursor") for q in seen.queries] == [None, ["U3BhbjozMQ=="], ["U3BhbjoyNg=="]]
    assert all(q["trace_id"] == [PHOENIX_TRACE] for q in seen.queries)


def test_phoenix_show_and_project(invoke: Invoke, one_line_error) -> None:
    with serve(phoenix_api) as (url, _):
        result = invoke("show", "--from", "phoenix", url, PHOENIX_TRACE, "--project", "default")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"run {PHOENIX_TRACE}  demo_agent  ok")
        one_line_error(
            invoke("dump", "--from", "phoenix", url, PHOENIX_TRACE, "--project", "nope"),
            1,
            "HTTP 404",
            "Phoenix project 'nope'",
        )
        one_line_error(invoke("dump", "--from", "phoenix", url, "0" * 31 + "1"), 1, "not found in phoenix", "no spans")
    one_line_error(invoke("dump", "--from", "tempo", "http://127.0.0.1:1", TRACE, "--project", "x"), 2, "--project")


# --- listing ------------------------------------------------------------------------------------------------------


def _columns(run: dict[str, Any]) -> tuple[Any, ...]:
    return (run["run_id"], run["workflow"], run["status"], run["steps"], run["input_tokens"], run["output_tokens"])


def test_list_from_tempo(invoke: Invoke) -> None:
    with serve(tempo_api) as (url, seen):
        runs = _json(invoke, "list", "--from", "tempo", url, "--json", *LONG_AGO, "--service", SERVICE, "-n", "5")
        table = invoke("list", "--from", "tempo", url, *LONG_AGO)
    assert [_columns(r) for r in runs] == [(TRACE, "whaleflow", "ok", 5, 812, 95)]
    search = seen.queries[0]
    assert seen.paths[0] == "/api/search"
    assert search["q"] == [
        '{ span.gen_ai.operation.name = "invoke_workflow" && resource.service.name = "whaleflow-agent" }'
    ]
    assert search["limit"] == ["5"] and int(search["end"][0]) > int(search["start"][0])
    assert seen.paths[1] == f"/api/v2/traces/{TRACE}"
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "RUN",
        "ID",
        "WORKFLOW",
        "STATUS",
        "STARTED",
        "DURATION",
        "STEPS",
        "TOKENS",
        "IN/OUT",
        "COST",
        "MODELS",
    ]
    assert lines[1].startswith(TRACE[:12] + "  whaleflow")
    # a backend's run is priced as the store's (its LLM calls are gpt-4o's)
    assert runs[0]["cost"]["currency"] == "USD" and runs[0]["cost"]["amount"] > 0


def test_list_from_tempo_errors_only_is_pushed_into_traceql(invoke: Invoke) -> None:
    with serve(tempo_api) as (url, seen):
        runs = _json(invoke, "list", "--from", "tempo", url, "--json", *LONG_AGO, "--status", "error")
    assert runs == []  # the sample run is ok: filtered again after assembly
    assert "&& status = error" in seen.queries[0]["q"][0]


@pytest.mark.parametrize("api", [jaeger_v3_api, jaeger_v1_api], ids=["v3", "v1"])
def test_list_from_jaeger(invoke: Invoke, api: Any) -> None:
    with serve(api) as (url, seen):
        runs = _json(invoke, "list", "--from", "jaeger", url, "--json", *LONG_AGO)
    assert [_columns(r) for r in runs] == [(TRACE, "whaleflow", "ok", 5, 812, 95)]
    if api is jaeger_v3_api:
        search = seen.queries[seen.paths.index("/api/v3/traces")]
        assert search["query.service_name"] == [SERVICE]
        assert search["query.operation_name"] == ["invoke_workflow whaleflow"]
        assert "query.start_time_min" in search and "query.start_time_max" in search
    else:
        assert seen.paths[0] == "/api/v3/services"  # probed, 404, then the v1 API
        assert "/api/services" in seen.paths and "/api/traces" in seen.paths


def test_list_from_phoenix(invoke: Invoke) -> None:
    with serve(phoenix_api) as (url, seen):
        runs = _json(invoke, "list", "--from", "phoenix", url, "--json", *LONG_AGO)
        errors = _json(invoke, "list", "--from", "phoenix", url, "--json", *LONG_AGO, "--status", "error")
    assert [_columns(r) for r in runs] == [(PHOENIX_TRACE, "demo_agent", "ok", 12, 1172, 217)]
    assert seen.queries[0]["parent_id"] == ["null"] and "start_time" in seen.queries[0]
    assert errors == []


def test_list_since_filters_by_age(invoke: Invoke) -> None:
    with serve(tempo_api) as (url, _):
        assert _json(invoke, "list", "--from", "tempo", url, "--json", "--since", "1h") == []


def test_list_usage_errors(invoke: Invoke, one_line_error) -> None:
    one_line_error(invoke("list", "--from", "tempo"), 2, "takes a URL")
    one_line_error(invoke("list", "http://x"), 2, "unexpected argument")
    one_line_error(invoke("list", "--service", "x"), 2, "--service")
    one_line_error(invoke("list", "--from", "phoenix", "http://127.0.0.1:1", "--service", "x"), 2, "phoenix")
    one_line_error(invoke("list", "--since", "soon"), 2, "not a duration")
    one_line_error(invoke("list", "--from", "zipkin", "http://x"), 2, "zipkin")


# --- auth headers -------------------------------------------------------------------------------------------------


def _needs_token(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, bytes, str]:
    if headers.get("authorization") != "Bearer s3cr3t-t0ken" or headers.get("x-scope-orgid") != "team":
        return 401, b"unauthorized\n", "text/plain"
    return tempo_api(path, query, headers)


def test_headers_from_option_and_environment_never_shown(invoke: Invoke, one_line_error) -> None:
    with serve(_needs_token) as (url, seen):
        line = one_line_error(invoke("dump", "--from", "tempo", url, TRACE), 1, "HTTP 401", "--header")
        ok = invoke(
            "dump",
            "--from",
            "tempo",
            url,
            TRACE,
            "--header",
            "Authorization: Bearer s3cr3t-t0ken",
            env={"AGENTTRACE_BACKEND_HEADERS": "X-Scope-OrgID=team,Authorization=Bearer%20wrong"},
        )
        assert ok.exit_code == 0, ok.stderr  # --header wins over the environment for the same name
        bad = invoke("dump", "--from", "tempo", url, TRACE, "--header", "Authorization: Bearer wrong-s3cr3t")
    assert seen.headers[1]["x-scope-orgid"] == "team"
    assert "s3cr3t" not in line + bad.stderr
    one_line_error(bad, 1, "HTTP 401")
    result = invoke("dump", "--from", "tempo", "http://127.0.0.1:1", TRACE, "--header", "no colon s3cr3t")
    assert "s3cr3t" not in one_line_error(result, 2, "--header")


def test_basic_auth_from_the_url_and_no_password_in_messages(invoke: Invoke, one_line_error) -> None:
    def basic(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, bytes, str]:
        if headers.get("authorization") != "Basic dTpodW50ZXIy":  # u:hunter2
            return 401, b"", "text/plain"
        return 500, b"storage down", "text/plain"

    with serve(basic) as (url, _):
        authed = url.replace("http://", "http://u:hunter2@")
        line = one_line_error(invoke("dump", "--from", "tempo", authed, TRACE), 1, "HTTP 500", "u:***@")
    assert "hunter2" not in line
    for bad in ("http://u:hunter2@[bad", "ftp://u:hunter2@host/", "http://u:hunter2@host:99999"):
        assert "hunter2" not in one_line_error(invoke("dump", "--from", "tempo", bad, TRACE), 1, "bad URL")


# --- a backend that misbehaves ------------------------------------------------------------------------------------


def test_http_errors_html_and_oversized_bodies(invoke: Invoke, one_line_error) -> None:
    def answers(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, bytes, str]:
        if path.startswith("/html/"):
            return 200, b"<!doctype html><html><body>Grafana</body></html>", "text/html"
        if path.startswith("/big/"):
            return js({"trace": {"resourceSpans": []}, "pad": "x" * (2 * 1024 * 1024)})
        if path.startswith("/teapot/"):
            return 500, b"<html>\n<h1>Internal\x1b[2J error</h1>", "text/html"
        return js({})

    with serve(answers) as (url, _):
        one_line_error(invoke("dump", "--from", "tempo", url + "/html", TRACE), 1, "HTML, not JSON")
        one_line_error(invoke("dump", "--from", "tempo", url + "/big", TRACE, "--max-size", "1"), 1, "over the 1 MiB")
        line = one_line_error(invoke("dump", "--from", "tempo", url + "/teapot", TRACE), 1, "HTTP 500")
        assert "\x1b" not in line


def test_endless_body_is_cut_at_the_limit(invoke: Invoke, one_line_error) -> None:
    with raw_server(endless_body) as url:
        one_line_error(invoke("dump", "--from", "tempo", url, TRACE, "--max-size", "2"), 1, "over the 2 MiB limit")


def test_read_timeout(invoke: Invoke, one_line_error) -> None:
    with raw_server(silent(3)) as url:
        started = time.monotonic()
        one_line_error(
            invoke("dump", "--from", "jaeger", url, TRACE, "--read-timeout", "0.3"), 1, "no answer within 0.3 s"
        )
    assert time.monotonic() - started < 2.5


def test_total_deadline_against_a_dripping_server(invoke: Invoke, one_line_error) -> None:
    # One byte every 0.2 s never trips a 1 s read timeout; the 1.5 s total deadline ends it.
    with raw_server(dripping(0.2, 6)) as url:
        started = time.monotonic()
        one_line_error(
            invoke("dump", "--from", "tempo", url, TRACE, "--read-timeout", "1", "--timeout", "1.5"),
            1,
            "1.5 s deadline",
        )
    assert time.monotonic() - started < 4


def test_redirects_are_followed_and_credentials_stay_with_their_origin(invoke: Invoke) -> None:
    with serve(tempo_api) as (other, other_seen):

        def respond(conn: Any) -> None:
            location = f"{other}/api/v2/traces/{TRACE}"
            conn.sendall(
                f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
            )

        with raw_server(respond) as url:
            doc = _json(invoke, "dump", "--from", "tempo", url, TRACE, "--header", "Authorization: Bearer tok")
    assert doc["run_id"] == TRACE
    assert other_seen.paths == [f"/api/v2/traces/{TRACE}"]
    assert "authorization" not in other_seen.headers[0]  # another origin: the token is not sent there


def test_tempo_before_2_5_falls_back_to_the_v1_api(invoke: Invoke, schema_validator: Any) -> None:
    def old_tempo(path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, bytes, str]:
        if path == f"/api/traces/{TRACE}":
            return js(sample("tempo-api-traces-v1.json"))
        return 404, b"404 page not found\n", "text/plain"

    with serve(old_tempo) as (url, seen):
        doc = _json(invoke, "dump", "--from", "tempo", url, TRACE)
    schema_validator.validate(doc)
    assert doc["run_id"] == TRACE and len(doc["steps"]) == 5
    assert seen.paths == [f"/api/v2/traces/{TRACE}", f"/api/traces/{TRACE}"]


def test_split_selection_for_commands_that_read_several_runs() -> None:
    import click

    from otel_agenttrace.cli._sources import Selection, split_selection

    remote = split_selection(Selection("tempo", ("http://t:3200", "aaaa", "bbbb"), False), 2)
    assert remote == [
        Selection("tempo", ("http://t:3200", "aaaa"), False),
        Selection("tempo", ("http://t:3200", "bbbb"), False),
    ]
    assert split_selection(Selection(None, ("aaaa", "bbbb"), False), 2)[1] == Selection(None, ("bbbb",), False)
    with pytest.raises(click.UsageError):
        split_selection(Selection("phoenix", ("http://p", "aaaa"), False), 2)


def test_bad_header_environment_is_a_usage_error(invoke: Invoke, one_line_error) -> None:
    result = invoke(
        "dump", "--from", "tempo", "http://127.0.0.1:1", TRACE, env={"AGENTTRACE_BACKEND_HEADERS": "novalue-s3cr3t"}
    )
    assert "s3cr3t" not in one_line_error(result, 2, "AGENTTRACE_BACKEND_HEADERS")
