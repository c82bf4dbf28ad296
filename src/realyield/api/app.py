"""The FastAPI application: ``create_app(settings)`` (or an open engine) builds it.

At startup the data snapshot is built in a background thread (``/healthz`` answers 503
until it is ready; data routes wait for it) and the job runner starts; at shutdown the
runner stops. Routers and job kinds come from ``api.extensions``; the dashboard from
``realyield.web``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

from realyield import __version__
from realyield.api import errors
from realyield.api.auth import Gatekeeper, RateLimiter
from realyield.api.data import DataService
from realyield.api.extensions import JOB_ROUTES, ROUTERS, JobRoute
from realyield.api.jobs import JobRunner
from realyield.api.keys import KeyVerifier
from realyield.api.metrics import Metrics, MetricsMiddleware
from realyield.api.routers.jobs import job_routes
from realyield.api.state import AppState
from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store

log = logging.getLogger(__name__)

#: set by ``realyield serve`` so that several worker processes share one dashboard token
DASHBOARD_TOKEN_ENV = "REALYIELD_DASHBOARD_TOKEN"

DESCRIPTION = """\
Sustainable crypto income: the yield universe with real-vs-emission splits, scores
that explain themselves, transparent indices, and jobs for long computations.

Units: APY fields are percent; weights and returns are fractions. Reads need no key;
anything that runs a job needs an API key (`realyield api-key create NAME`), sent as
`Authorization: Bearer ry_...`, limited per key (429 + Retry-After). Responses carry an
ETag that changes only when the stored data changes (send `If-None-Match`).
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    routers: Sequence[APIRouter] = (),
    job_routes_extra: Sequence[JobRoute] = (),
    dashboard: bool = True,
    warm: bool = True,
) -> FastAPI:
    """The API (and dashboard) over the store of ``settings`` (or ``engine``).

    ``routers`` and ``job_routes_extra`` add to ``api.extensions``; ``warm`` builds the
    data snapshot in the background at startup (tests may switch it off).

    Raises:
        StoreError: the store cannot be opened.
    """
    settings = settings or load_settings()
    engine = engine or open_store(settings)
    all_jobs = (*JOB_ROUTES, *job_routes_extra)
    data = DataService(engine, home=settings.home, check_interval_s=settings.api_data_check_s)
    metrics = Metrics()
    gate = Gatekeeper(
        verifier=KeyVerifier(engine),
        limiter=RateLimiter(settings.api_key_rate_per_min, settings.api_key_burst),
        dashboard_token=os.environ.get(DASHBOARD_TOKEN_ENV) or secrets.token_urlsafe(24),
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
    state = AppState(settings, engine, data, gate, runner, metrics)
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

    app = FastAPI(
        title="realyield API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.realyield = state
    errors.install(app)
    for router in (*ROUTERS, *routers):
        app.include_router(router)
    for job in all_jobs:
        app.include_router(job_routes(job.kind, job.path))
    if dashboard:
        from realyield.web.pages import install as install_dashboard

        install_dashboard(app)
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
