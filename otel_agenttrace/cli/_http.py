"""GET a JSON document from a trace backend (Tempo, Jaeger) with the standard library, as one-line errors."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from otel_agenttrace.version import __version__

TIMEOUT_S = 10.0


class BackendError(Exception):
    """The backend could not be asked or did not answer with a trace; the message is one line."""


class NotFoundError(BackendError):
    """The backend answered 404."""


def check_base_url(url: str) -> str:
    """The base URL without its trailing slash, or BackendError when it is not an http(s) URL with a host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"bad URL {url!r}: expected http(s)://HOST[:PORT][/PATH]")
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise BackendError(f"bad URL {url!r}: {exc}") from None
    if parts.query or parts.fragment:
        raise BackendError(f"bad URL {url!r}: no query or fragment expected")
    return url.rstrip("/")


def get_json(url: str, timeout: float = TIMEOUT_S) -> Any:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": f"agenttrace/{__version__}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        if exc.code == 404:
            raise NotFoundError(f"{url}: not found (HTTP 404){detail}") from None
        raise BackendError(f"{url}: HTTP {exc.code} {exc.reason}{detail}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise BackendError(f"{url}: no answer within {timeout:g} s") from None
        raise BackendError(f"cannot reach {url}: {getattr(reason, 'strerror', None) or reason}") from None
    except TimeoutError:
        raise BackendError(f"{url}: no answer within {timeout:g} s") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise BackendError(f"cannot read {url}: {exc or type(exc).__name__}") from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackendError(f"{url}: the answer is not JSON ({exc})") from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """A short excerpt of an error body (backends explain themselves there), or nothing."""
    try:
        text = exc.read(300).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    text = " ".join(text.split())
    return f": {text[:200]}" if text else ""
