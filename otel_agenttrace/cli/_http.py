"""GET JSON from a trace backend (Tempo, Jaeger, Phoenix): bounded in time and size, errors in one line.

Every read has a connect timeout, a read timeout (the longest silence between two bytes) and one
total deadline shared by every request of a command, enforced by a watchdog that shuts the socket
down: a server that drips one byte every few seconds cannot hold a command past its deadline.
Bodies over `max_bytes` are refused (by Content-Length up front, else as they arrive). Header
values (credentials) and a URL's password never appear in a message.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_agenttrace.environment_variables import AGENTTRACE_BACKEND_HEADERS
from otel_agenttrace.exporter._records import TraceFormatError, loads_bounded
from otel_agenttrace.version import __version__

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
DEADLINE_S = 60.0
MAX_BODY_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5


class BackendError(Exception):
    """The backend could not be asked or did not answer with JSON; the message is one line."""


class NotFoundError(BackendError):
    """The backend answered 404."""


def safe_url(url: str) -> str:
    """`url` with any `user:password@` replaced by `user:***@`: fit for a message."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        parts = None
    netloc = parts.netloc if parts is not None else ""
    if "@" not in netloc:
        if parts is None and "@" in url:
            return "<URL with credentials>"
        return url
    userinfo, _, host = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}")) if parts else url


def check_base_url(url: str) -> str:
    """The base URL without its trailing slash, or BackendError when it is not an http(s) URL with a host."""
    shown = safe_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise BackendError(f"bad URL {shown!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"bad URL {shown!r}: expected http(s)://HOST[:PORT][/PATH]")
    if parts.query or parts.fragment:
        raise BackendError(f"bad URL {shown!r}: no query or fragment expected")
    return url.rstrip("/")


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` (or `Name=value`) -> (name, value); ValueError without echoing the value."""
    for sep in (":", "="):
        name, found, value = text.partition(sep)
        if found and name.strip() and _token(name.strip()):
            if any(c in value for c in "\r\n\0"):
                raise ValueError(f"header {name.strip()!r}: the value holds a line break or NUL")
            return name.strip(), value.strip()
    raise ValueError("expected 'Name: value' (the value is not shown)")


def _token(name: str) -> bool:
    return all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name)


def headers_from_env(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """AGENTTRACE_BACKEND_HEADERS: `Name=value,Name2=value2`, values URL-encoded (as OTEL_EXPORTER_OTLP_HEADERS)."""
    raw = (os.environ if environ is None else environ).get(AGENTTRACE_BACKEND_HEADERS, "")
    out: list[tuple[str, str]] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        name, found, value = item.partition("=")
        if not found or not _token(name.strip()):
            raise ValueError(f"{AGENTTRACE_BACKEND_HEADERS}: expected Name=value[,Name=value] (values not shown)")
        out.append((name.strip(), urllib.parse.unquote(value.strip())))
    return out


@dataclass
class Client:
    """One command's HTTP reads: shared headers, timeouts and a total deadline."""

    headers: Sequence[tuple[str, str]] = ()
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    deadline: float = DEADLINE_S
    max_bytes: int = MAX_BODY_BYTES
    _started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.deadline - (time.monotonic() - self._started)

    def get_json(self, url: str) -> Any:
        """GET `url` and parse its JSON body (nesting depth capped); BackendError/NotFoundError in one line."""
        body = self.get(url)
        try:
            return loads_bounded(body, "the answer")
        except TraceFormatError as exc:
            raise BackendError(f"{safe_url(url)}: {_not_json(body, exc)}") from None

    def get(self, url: str) -> bytes:
        target = url
        origin = _origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            # Credentials go only to the origin the user named, never to where a redirect points elsewhere.
            status, reason, location, body = self._once(target, credentials=_origin(target) == origin)
            if status in (301, 302, 303, 307, 308) and location:
                target = urllib.parse.urljoin(target, location)
                if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
                    raise BackendError(f"{safe_url(url)}: redirected to a non-HTTP URL")
                continue
            if status == 404:
                raise NotFoundError(f"{safe_url(url)}: not found (HTTP 404){_detail(body)}")
            if status >= 400:
                hint = " (check --header or AGENTTRACE_BACKEND_HEADERS)" if status in (401, 403) else ""
                raise BackendError(f"{safe_url(url)}: HTTP {status} {reason}{hint}{_detail(body)}")
            if status >= 300:
                raise BackendError(f"{safe_url(url)}: HTTP {status} {reason} without a Location to follow")
            return body
        raise BackendError(f"{safe_url(url)}: more than {_MAX_REDIRECTS} redirects")

    def _once(self, url: str, credentials: bool = True) -> tuple[int, str, str | None, bytes]:
        shown = safe_url(url)
        left = self.remaining()
        if left <= 0:
            raise BackendError(f"{shown}: no complete answer within the {self.deadline:g} s deadline")
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {"Accept": "application/json", "User-Agent": f"agenttrace/{__version__}", "Connection": "close"}
        if credentials and parts.username is not None:
            creds = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        if credentials:
            headers.update(self.headers)
        timeout = min(self.connect_timeout, left)
        proxy = _proxy_for(parts)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if proxy:
                conn = http.client.HTTPSConnection(proxy[0], proxy[1], timeout=timeout, context=context)
                conn.set_tunnel(host, port)
            else:
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        elif proxy:
            conn = http.client.HTTPConnection(proxy[0], proxy[1], timeout=timeout)
            path = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], path, "", ""))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(left, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            try:
                conn.connect()
            except TimeoutError:
                raise BackendError(f"{shown}: cannot connect within {timeout:g} s") from None
            except OSError as exc:
                if expired.is_set():
                    raise BackendError(f"{shown}: no complete answer within the {self.deadline:g} s deadline") from None
                raise BackendError(f"cannot reach {shown}: {exc.strerror or exc}") from None
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            status, reason = response.status, " ".join(response.reason.split())
            location = response.getheader("Location")
            if status >= 300:
                return status, reason, location, response.read1(2048) if status >= 400 else b""
            body = self._body(response, shown)
            if expired.is_set():  # the watchdog's shutdown looks like the end of the body
                raise BackendError(f"{shown}: no complete answer within the {self.deadline:g} s deadline")
            length = response.getheader("Content-Length")
            if length and length.isdigit() and len(body) < int(length):
                raise BackendError(f"{shown}: the answer ended after {len(body)} of {length} bytes")
            return status, reason, location, body
        except BackendError:
            raise
        except TimeoutError:
            raise BackendError(f"{shown}: no answer within {self.read_timeout:g} s") from None
        except (http.client.HTTPException, OSError, ValueError) as exc:
            if expired.is_set():
                raise BackendError(f"{shown}: no complete answer within the {self.deadline:g} s deadline") from None
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise BackendError(f"cannot read {shown}: {text[:200]}") from None
        finally:
            watchdog.cancel()
            conn.close()

    def _body(self, response: http.client.HTTPResponse, shown: str) -> bytes:
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise BackendError(f"{shown}: the answer is {int(length)} bytes, over the {_mib(self.max_bytes)} limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_bytes:
                raise BackendError(f"{shown}: the answer is over the {_mib(self.max_bytes)} limit")
            chunks.append(chunk)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _proxy_for(parts: urllib.parse.SplitResult) -> tuple[str, int] | None:
    """The (host, port) of the proxy the environment names for this URL (http_proxy, no_proxy), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not proxy_parts.hostname:
        return None
    return proxy_parts.hostname, proxy_parts.port or 80


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


def _not_json(body: bytes, exc: TraceFormatError) -> str:
    head = body.lstrip()[:1]
    if head == b"<":
        return "the answer is HTML, not JSON (is this the backend's API URL, and the right --from kind?)"
    return str(exc)


def _detail(body: bytes) -> str:
    """A short excerpt of an error body (backends explain themselves there), or nothing."""
    from otel_agenttrace.cli._app import one_line

    text = one_line(body[:300].decode("utf-8", "replace"))
    text = "".join(c if c.isprintable() else "?" for c in text)
    return f": {text[:200]}" if text else ""
