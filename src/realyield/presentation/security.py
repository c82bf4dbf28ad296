"""The HTTP security policy of the server (API and dashboard alike), as one ASGI
middleware that runs before any route, any other middleware and any error handler.

For every request, in this order:

1. **Host.** The ``Host`` header must name a trusted host (``api_trusted_hosts``:
   127.0.0.1, localhost and ::1 by default; ``*.example.org`` matches subdomains; ``*``
   turns the check off). Anything else is answered 421 before a route runs: a web page
   that rebinds its own DNS name to 127.0.0.1 reaches the socket, but never a route.
2. **Malformed headers.** Credentials, ``Host`` and ``Origin`` must be printable ASCII
   (400 otherwise, naming the header), and may be sent once.
3. **Origin.** A state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket
   handshake (``/v1/ws``: browsers open those cross-origin without CORS) that carries an
   ``Origin`` (every browser sends one) must come from this server's own origin (the
   authority of ``Origin`` equals ``Host``) or from ``api_cors_origins``; otherwise 403.
   A request with no ``Origin`` is not from a browser page and still needs its API key.
4. **Body size.** A declared ``Content-Length`` past ``api_max_body_bytes`` is refused
   with 413 before a byte is read; a streamed (chunked) body is counted as it arrives
   and the read that crosses the limit fails with 413, so no more than the limit is
   ever held.

Every response, errors and the dashboard included, gets the security headers of
``security_headers`` (CSP, nosniff, frame and referrer policies).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the dashboard's pages: scripts only from this server (no inline script, no eval);
#: inline styles are allowed because Plotly sizes and colours its SVG through them
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
#: everything that is not HTML (JSON, CSV, scripts, styles): nothing may run or embed it
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_FIXED_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
_FIXED = tuple((name.encode(), value.encode()) for name, value in _FIXED_HEADERS)
_CSP = b"content-security-policy"
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: headers that must be printable ASCII and sent at most once (ASGI names are lower case)
_STRICT = (b"host", b"origin", b"authorization", b"x-api-key", b"x-dashboard-token")
_WATCHED = frozenset((*_STRICT, b"content-length"))
_PRINTABLE = re.compile(rb"[\t\x20-\x7e]*\Z")
_CACHE_SIZE = 1024  # distinct Host / Origin values whose verdict is remembered


def is_loopback(address: str | None) -> bool:
    """True for a client address on this machine (127.0.0.0/8, ::1, IPv4-mapped
    loopback); False for names and anything unparsable."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def from_this_machine(request: Request, *, loopback_host: bool = False) -> bool:
    """Whether ``request`` comes from a browser or process on this machine: a loopback
    peer that did not come through a proxy (a reverse proxy on this machine makes every
    remote visitor a loopback peer, and says so with ``Forwarded``/``X-Forwarded-For``).
    ``loopback_host`` also asks that the page was opened as localhost/127.0.0.1/[::1]
    (not a public name a proxy passes on), for pages of private data."""
    if not is_loopback(request.client.host if request.client else None):
        return False
    if any(name in request.headers for name in _FORWARDED):
        return False
    return not loopback_host or split_host(request.headers.get("host", "")) in _LOOPBACK_NAMES


def split_host(value: str) -> str | None:
    """The host name of a ``Host`` header (lower case, without port or trailing dot),
    or None when it is not a valid ``host[:port]`` / ``[v6]:port``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[1:end], value[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return host or None
    host, _, port = value.partition(":")
    if (port and not port.isdigit()) or ":" in port or not host:
        return None
    return host.rstrip(".") or None


def host_allowed(host: str, trusted: Iterable[str]) -> bool:
    """Whether ``host`` (from ``split_host``) is one of ``trusted`` (exact names,
    ``*.domain`` for its subdomains, ``*`` for any)."""
    for pattern in trusted:
        pattern = pattern.strip().lower().strip("[]")
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]:
            return True
    return False


@dataclass(frozen=True)
class SecurityPolicy:
    """What ``RequestGuard`` enforces; built from the settings by the app."""

    trusted_hosts: tuple[str, ...]
    cors_origins: tuple[str, ...]
    max_body_bytes: int

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"api_max_body_bytes must be positive, not {self.max_body_bytes}")
        if not self.trusted_hosts:
            raise ValueError("api_trusted_hosts is empty: no request could be answered")


def _too_large(limit: int) -> HTTPException:
    """The 413 a streamed body gets when it grows past ``limit``: an ``HTTPException``
    (not one of ours) so FastAPI's body reading lets it through to the error handlers."""
    return HTTPException(
        413,
        f"request body larger than {limit:,} bytes (api_max_body_bytes); "
        "send less, or raise the setting",
        headers={"Connection": "close"},
    )


def security_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``raw`` response headers plus every security header they do not set already;
    the CSP is the dashboard's for HTML and the closed one for anything else."""
    present = {name.lower() for name, _ in raw}
    out = raw + [h for h in _FIXED if h[0] not in present]
    if _CSP not in present:
        ctype = next((v for n, v in raw if n.lower() == b"content-type"), b"")
        html = ctype[:9].lower() == b"text/html"
        out.append((_CSP, _DASHBOARD_CSP if html else _API_CSP))
    return out


_DASHBOARD_CSP = DASHBOARD_CSP.encode()
_API_CSP = API_CSP.encode()


def _problem(status: int, kind: str, detail: str) -> tuple[int, bytes]:
    return status, json.dumps({"detail": detail, "type": kind}).encode()


class RequestGuard:
    """The ASGI middleware of this module's policy (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy
        self._hosts: dict[bytes, bool] = {}  # Host header -> trusted
        self._origins: dict[tuple[bytes, bytes], bool] = {}  # (Origin, Host) -> allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self._check(scope) is not None:
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = security_headers(list(message.get("headers", [])))
            await send(message)

        refused = self._check(scope)
        if refused is not None:
            await _answer(guarded_send, *refused)
            return
        try:  # counted even with a declared length: a proxy or server may not hold to it
            await self.app(scope, self._limited(receive), guarded_send)
        except HTTPException as exc:  # a 413 raised where no handler answered it
            if exc.status_code != 413:
                raise
            if started:
                log.warning("request body too large after the response started: %s", exc)
                return
            await _answer(guarded_send, *_problem(413, "too_large", str(exc.detail)), close=True)

    def _check(self, scope: Scope) -> tuple[int, bytes] | None:
        """The refusal of this request (status, JSON body), or None to let it through."""
        headers: dict[bytes, list[bytes]] = {}
        for name, value in scope.get("headers", ()):
            if name in _WATCHED:
                headers.setdefault(name, []).append(value)
        for name in _STRICT:
            values = headers.get(name)
            if not values:
                continue
            if len(values) > 1:
                return _problem(
                    400, "bad_header", f"header {name.decode()!r} sent {len(values)} times"
                )
            if not _PRINTABLE.match(values[0]):
                return _problem(
                    400,
                    "bad_header",
                    f"header {name.decode()!r} holds non-ASCII or control characters; "
                    "API keys, tokens, hosts and origins are plain ASCII",
                )
        host_header = headers.get(b"host", [b""])[0]
        if not self._host_trusted(host_header):
            shown = host_header.decode("ascii")[:100] or "(none)"
            return _problem(
                421,
                "untrusted_host",
                f"this server does not answer for Host {shown!r}: add the name to "
                "api_trusted_hosts (REALYIELD_API_TRUSTED_HOSTS) if clients really use it",
            )
        # a WebSocket handshake is a GET that browsers send cross-origin without CORS
        if scope["type"] == "websocket" or scope.get("method", "GET") in _STATE_CHANGING:
            origin = headers.get(b"origin", [None])[0]
            if origin is not None and not self._origin_ok(origin, host_header):
                return _problem(
                    403,
                    "forbidden_origin",
                    f"cross-origin request refused: Origin {origin.decode()[:100]!r} is not "
                    "this server; a browser app on another origin must be listed in "
                    "api_cors_origins",
                )
        return self._check_length(headers.get(b"content-length", []))

    def _host_trusted(self, header: bytes) -> bool:
        verdict = self._hosts.get(header)
        if verdict is None:
            host = split_host(header.decode("ascii"))
            verdict = host is not None and host_allowed(host, self.policy.trusted_hosts)
            if len(self._hosts) >= _CACHE_SIZE:
                self._hosts.clear()
            self._hosts[header] = verdict
        return verdict

    def _origin_ok(self, origin: bytes, host_header: bytes) -> bool:
        verdict = self._origins.get((origin, host_header))
        if verdict is None:
            verdict = self._origin_allowed(origin.decode("ascii"), host_header.decode("ascii"))
            if len(self._origins) >= _CACHE_SIZE:
                self._origins.clear()
            self._origins[(origin, host_header)] = verdict
        return verdict

    def _origin_allowed(self, origin: str, host_header: str) -> bool:
        """Same authority as the ``Host`` the request was sent to (scheme aside: a TLS
        proxy in front changes it), or a configured CORS origin; ``null`` never."""
        if origin.rstrip("/") in {o.rstrip("/") for o in self.policy.cors_origins}:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        same = parts.netloc.lower() == host_header.strip().lower()
        return parts.scheme in ("http", "https") and same

    def _check_length(self, values: list[bytes]) -> tuple[int, bytes] | None:
        if not values:
            return None
        if len(set(values)) > 1 or not values[0].strip().isdigit():
            return _problem(400, "bad_header", "Content-Length is not one whole number")
        if int(values[0]) > self.policy.max_body_bytes:
            return _problem(
                413,
                "too_large",
                f"request body of {int(values[0]):,} bytes is larger than "
                f"{self.policy.max_body_bytes:,} (api_max_body_bytes)",
            )
        return None

    def _limited(self, receive: Receive) -> Receive:
        limit = self.policy.max_body_bytes
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        return counted


async def _answer(send: Send, status: int, body: bytes, *, close: bool = True) -> None:
    """Send a whole JSON error; ``close`` asks the client to drop the connection (its
    unread body is not wanted)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
