"""Who is calling: API keys for everything that writes or runs jobs, with a token
bucket per key (429 + Retry-After when it is empty).

A key is sent as ``Authorization: Bearer ry_...`` or ``X-API-Key: ry_...``. Two route
dependencies, and every protected route names one:

- ``require_key``: an API key, always, from any address. The ledger, alert
  acknowledgement, job management and trading (rebalance-plan) routes use it. The
  dashboard token is refused here with 403, so a page, a local process or a rebinding
  site that got hold of a dashboard page cannot read or write the ledger with it.
- ``require_key_or_dashboard``: an API key, or the dashboard's per-process token
  (``X-Dashboard-Token``, embedded in its pages), accepted only from loopback clients
  and only when ``api_dashboard_jobs`` is on. Only the submit and poll routes of the
  dashboard's own jobs (index levels, plan, backtest, review) use it.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from realyield.api.keys import KeyVerifier
from realyield.core.errors import AuthError, ForbiddenError, LimitError
from realyield.presentation.security import from_this_machine
from realyield.sources.http import TokenBucket

DASHBOARD = "dashboard"
_NEEDS_KEY = (
    "this route needs an API key: send `Authorization: Bearer ry_...` "
    "(create one with `realyield api-key create NAME`)"
)

bearer_scheme = HTTPBearer(
    auto_error=False, description="An API key: `Authorization: Bearer ry_<id>_<secret>`."
)
header_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key in the X-API-Key header."
)


@dataclass(frozen=True)
class Principal:
    """The caller of a protected route."""

    key_id: str
    name: str


class RateLimiter:
    """One token bucket per principal; a key's own limits override the defaults."""

    def __init__(self, rate_per_min: float, burst: int) -> None:
        if rate_per_min <= 0 or burst < 1:
            raise ValueError("API rate limit must be > 0 per minute with a burst >= 1")
        self.rate_per_min = rate_per_min
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(
        self, key_id: str, rate_per_min: float | None = None, burst: int | None = None
    ) -> None:
        """Take one request from ``key_id``'s bucket.

        Raises:
            LimitError: the bucket is empty; ``retry_after_s`` says when a token returns.
        """
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = TokenBucket(
                    (rate_per_min or self.rate_per_min) / 60.0, burst or self.burst
                )
                self._buckets[key_id] = bucket
        wait = bucket.try_acquire()
        if wait > 0:
            raise LimitError(
                f"rate limit of API key {key_id!r} reached "
                f"({bucket.max_rate_per_s * 60:g}/min, burst {bucket.burst})",
                retry_after_s=wait,
            )


@dataclass
class Gatekeeper:
    """The app's authentication and rate limiting."""

    verifier: KeyVerifier
    limiter: RateLimiter
    dashboard_token: str
    dashboard_jobs: bool

    def authenticate(self, request: Request, token: str | None, *, dashboard: bool) -> Principal:
        """The caller of a route; ``dashboard`` says whether the route is one of the
        dashboard's own jobs (the only ones its token may run).

        Raises:
            AuthError: no credential, or a wrong one (401).
            ForbiddenError: the dashboard token on a route that needs an API key (403).
            LimitError: the caller's rate limit is reached (429).
        """
        if token:
            key = self.verifier.verify(token)
            self.limiter.check(key.key_id, key.rate_per_min, key.burst)
            return Principal(key.key_id, key.name)
        sent = request.headers.get("x-dashboard-token")
        if not sent:
            raise AuthError(_NEEDS_KEY)
        if not dashboard:
            raise ForbiddenError(
                "the dashboard token runs only the dashboard's own jobs; the ledger, API "
                "key and trading routes need an API key, always: " + _NEEDS_KEY.split(": ", 1)[1]
            )
        if not self.dashboard_jobs:
            raise AuthError("the dashboard may not run jobs here (api_dashboard_jobs is off)")
        if not from_this_machine(request):
            raise AuthError(
                "the dashboard token is accepted only from this machine (not through a proxy)"
            )
        if not hmac.compare_digest(sent.encode("latin-1"), self.dashboard_token.encode()):
            raise AuthError("stale dashboard token: reload the page")
        self.limiter.check(DASHBOARD)
        return Principal(DASHBOARD, DASHBOARD)


def _token(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    return bearer.credentials if bearer is not None else header


def require_key(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
    header: str | None = Security(header_scheme),
) -> Principal:
    """FastAPI dependency: the caller, by API key only (the dashboard token: 403)."""
    gate: Gatekeeper = request.app.state.realyield.gate
    return gate.authenticate(request, _token(bearer, header), dashboard=False)


def require_key_or_dashboard(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),  # noqa: B008
    header: str | None = Security(header_scheme),
) -> Principal:
    """FastAPI dependency for the dashboard's own jobs: an API key, or the dashboard
    token from this machine."""
    gate: Gatekeeper = request.app.state.realyield.gate
    return gate.authenticate(request, _token(bearer, header), dashboard=True)
