"""GET a provider's JSON with the operator's key, as a hostile server is assumed to answer.

Why not urllib's opener: it follows 30x redirects carrying `Authorization` to any host (even
`http://`), its timeout is per read (a server dripping a byte every few seconds never times out),
and its errors are tracebacks that may quote what the server sent. Here:
- no redirect is followed (a key goes only to the URL the operator configured);
- one deadline covers the whole request, connection to last byte;
- the body is capped, parsed with NaN/Infinity refused and any nesting depth survived;
- every failure is one `SweboardError` line, with the provider's text redacted and shortened.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request
from urllib.parse import urlsplit

from sweboard.credentials import redact
from sweboard.errors import SweboardError


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON here")


def printable(text: str, secrets: list[str], limit: int = 160) -> str:
    """Provider-controlled text fit for a terminal: secrets redacted, control characters dropped, short."""
    clean = "".join(c if c.isprintable() else " " for c in redact(text, secrets))
    return clean[:limit] + ("…" if len(clean) > limit else "")


def get_json(url: str, api_key: str | None, deadline_seconds: float = 30.0, max_bytes: int = 20_000_000):
    """The parsed JSON body of `GET url` (200 only), or a one-line SweboardError."""
    secrets = [api_key] if api_key else []
    where = printable(url, secrets)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SweboardError(f"{where}: not an http(s) URL")
    end = time.monotonic() + deadline_seconds
    try:
        body = _fetch(parts, api_key, end, max_bytes)
    except socket.timeout:
        raise SweboardError(f"{where}: no complete answer within {deadline_seconds:g}s") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise SweboardError(f"{where}: could not be read ({type(exc).__name__}: "
                            f"{printable(str(exc), secrets, 120)})") from None
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        kind = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        raise SweboardError(f"{where}: the answer is {kind}") from None


def connection(parts, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to a split URL, through the environment's proxy unless it is loopback
    (shared with the gateway: the machine's proxy is how providers are reached behind a firewall)."""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    proxy = urllib.request.getproxies().get(parts.scheme) if parts.hostname not in ("127.0.0.1", "localhost") else None
    cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
    if not proxy:
        return cls(parts.hostname, port, timeout=timeout)
    p = urlsplit(proxy)
    conn = cls(p.hostname, p.port, timeout=timeout)
    conn.set_tunnel(parts.hostname, port)
    return conn


def _fetch(parts, api_key: str | None, end: float, max_bytes: int) -> bytes:
    left = lambda: max(0.05, end - time.monotonic())  # noqa: E731
    conn = connection(parts, left())
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
        sock = conn.sock  # http.client lets go of it once a closing response is read
        sock.settimeout(left())
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            raise ValueError(f"HTTP {resp.status} redirect refused (a key goes only to the configured URL)")
        chunks, size = [], 0
        while True:
            if time.monotonic() >= end:
                raise socket.timeout()
            sock.settimeout(left())
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ValueError(f"answer larger than {max_bytes} bytes")
            chunks.append(chunk)
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: {b''.join(chunks)[:200].decode('utf-8', 'replace')}")
        return b"".join(chunks)
    finally:
        conn.close()
