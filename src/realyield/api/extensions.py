"""Where features plug into the app: routers, job kinds and their routes.

To add a feature (e.g. the planner's ``POST /v1/plan`` or the backtest job):

- a synchronous route: write ``api/routers/plan.py`` with an ``APIRouter`` whose route
  takes ``caller: Principal = Depends(require_key)`` if it computes on request, and add
  the router to ``ROUTERS``;
- a long computation: define a ``JobKind`` (params model, result model, ``run(ctx,
  params)`` calling the library; ``ctx.services.data.current()`` is the cached data
  snapshot) and add ``JobRoute(kind, "/v1/backtest")`` to ``JOB_ROUTES``: that gives
  ``POST /v1/backtest`` (API key, 202 + job) and ``GET /v1/backtest/{job_id}``, and the
  job shows in ``/v1/jobs``;
- a dashboard page: see ``realyield.web.pages.PAGES`` (the dashboard is mounted by
  ``realyield.server.create_server``; the API does not import it).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from realyield.api.analysis_jobs import BACKTEST, PLAN
from realyield.api.jobs import JobKind
from realyield.api.monitor_jobs import REBALANCE_PLAN, REVIEW
from realyield.api.replay_job import INDEX_LEVELS
from realyield.api.routers import alerts, indices, jobs, ledger, meta, opportunities, stream


@dataclass(frozen=True)
class JobRoute:
    """A job kind and the path of its submit route (its poll route is ``path/{id}``);
    ``dashboard``: the dashboard's forms run it, so its token is accepted there too
    (leave it False for anything touching the ledger, keys or orders)."""

    kind: JobKind
    path: str
    dashboard: bool = False


ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    opportunities.router,
    indices.router,
    alerts.router,
    ledger.router,
    stream.router,
    jobs.router,
)

JOB_ROUTES: tuple[JobRoute, ...] = (
    JobRoute(INDEX_LEVELS, "/v1/index-levels", dashboard=True),
    JobRoute(PLAN, "/v1/plan", dashboard=True),
    JobRoute(BACKTEST, "/v1/backtest", dashboard=True),
    JobRoute(REVIEW, "/v1/review", dashboard=True),
    JobRoute(REBALANCE_PLAN, "/v1/rebalance-plan"),  # trading: API key only
)
