"""The FastAPI application: ``create_app(settings)`` (or an open engine) builds it.

At startup the data snapshot is built in a background thread (``/healthz`` answers 503
until it is ready; data routes wait for it) and the job runner starts; at shutdown the
runner stops. Routers and job kinds come from ``api.extensions``. The dashboard is not
imported here (interfaces import each other only through ``presentation``): whoever
composes the server passes its installer as ``pages`` (``realyield serve`` does).

Every request passes ``presentation.security.RequestGuard`` first (trusted Host, Origin
of state-changing requests, malformed headers, body size), and every response, errors
included, carries its security headers.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from starlette.types import ASGIApp

from realyield import __version__
from realyield.api import errors
from realyield.api.auth import Gatekeeper, RateLimiter
from realyield.api.extensions import JOB_ROUTES, ROUTERS, JobRoute
from realyield.api.jobs import JobRunner
from realyield.api.keys import KeyVerifier
from realyield.api.metrics import Metrics, MetricsMiddleware
from realyield.api.routers.jobs import job_routes
from realyield.api.state import AppState
from realyield.core.errors import ConfigError
from realyield.core.settings import Settings, load_settings
from realyield.presentation.data import DataService
from realyield.presentation.security import RequestGuard, SecurityPolicy
from realyield.store.engine import open_store

log = logging.getLogger(__name__)

#: set by ``realyield serve`` so that several worker processes share one dashboard token
DASHBOARD_TOKEN_ENV = "REALYIELD_DASHBOARD_TOKEN"

DESCRIPTION = """\
Sustainable crypto income: the yield universe with real-vs-emission splits, scores
that explain themselves, transparent indices, and jobs for long computations.

Units: APY fields are percent; weights and returns are fractions. Reads need no key;
the ledger and anything that runs a job needs an API key (`realyield api-key create
NAME`), sent as `Authorization: Bearer ry_...`, limited per key (429 + Retry-After).
Only trusted `Host` names are answered (421 otherwise); a browser may write only from
this server's own origin or a configured CORS origin (403); bodies are limited in size
(413). Responses carry an ETag that changes only when the stored data changes (send
`If-None-Match`).
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    routers: Sequence[APIRouter] = (),
    job_routes_extra: Sequence[JobRoute] = (),
    pages: Callable[[FastAPI], None] | None = None,
    warm: bool = True,
) -> FastAPI:
    """The API over the store of ``settings`` (or ``engine``), and the dashboard when
    ``pages`` (its installer, ``realyield.web.pages.install``) is given.

    ``routers`` and ``job_routes_extra`` add to ``api.extensions``; ``warm`` builds the
    data snapshot in the background at startup (tests may switch it off).

    Raises:
        StoreError: the store cannot be opened.
        ConfigError: the security settings cannot be enforced (no trusted host, a
            non-positive body limit).
    """
    settings = settings or load_settings()
    try:
        policy = SecurityPolicy(
            trusted_hosts=tuple(settings.api_trusted_hosts),
            cors_origins=tuple(settings.api_cors_origins),
            max_body_bytes=settings.api_max_body_bytes,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    engine = engine or open_store(settings)
    all_jobs = (*JOB_ROUTES, *job_routes_extra)
    data = DataService(engine, home=settings.home, check_interval_s=settings.api_data_check_s)
    metrics = Metrics()
    dashboard_token = os.environ.get(DASHBOARD_TOKEN_ENV) or secrets.token_urlsafe(24)
    gate = Gatekeeper(
        verifier=KeyVerifier(engine),
        limiter=RateLimiter(settings.api_key_rate_per_min, settings.api_key_burst),
        dashboard_token=dashboard_token,
        dashboard_jobs=settings.api_dashboard_jobs,
    )
    runner = JobRunner(
        engine,
        {j.kind.name: j.kind for j in all_jobs},
        workers=settings.api_job_workers,
        queue_limit=settings.api_job_queue_limit,
        per_key=settings.api_jobs_per_key,
        timeout_s=settings.api_job_timeout_s,
        retention_days=settings.api_job_retention_days,
    )
    state = AppState(settings, engine, data, dashboard_token, gate, runner, metrics)
    runner.services = state  # jobs read the cached data through the app's state

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.jobs.start()
        if warm:
            threading.Thread(target=data.warm, name="realyield-data-warm", daemon=True).start()
        try:
            yield
        finally:
            state.jobs.stop()

    app = _GuardedFastAPI(
        policy,
        title="realyield API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _install_docs(app)
    app.state.realyield = state
    errors.install(app)
    for router in (*ROUTERS, *routers):
        app.include_router(router)
    for job in all_jobs:
        app.include_router(job_routes(job.kind, job.path, dashboard=job.dashboard))
    if pages is not None:
        pages(app)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api_cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Retry-After", "Location"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


class _GuardedFastAPI(FastAPI):
    """FastAPI with ``RequestGuard`` outside its whole middleware stack, so the guard
    runs before any route or handler and its headers reach every response, including
    the 500 that Starlette's outermost error middleware writes."""

    def __init__(self, policy: SecurityPolicy, **kwargs: object) -> None:
        self._policy = policy
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def build_middleware_stack(self) -> ASGIApp:
        return RequestGuard(super().build_middleware_stack(), self._policy)


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) with a CSP of its own: its bundle from the CDN FastAPI
    names and its one inline script allowed by hash, nothing else."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.findall(html)
    )
    cdn = "https://cdn.jsdelivr.net"
    csp = (
        f"default-src 'none'; script-src {cdn} {hashes}; style-src {cdn} 'unsafe-inline'; "
        f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )

    async def docs() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    app.add_api_route("/docs", docs, include_in_schema=False)
