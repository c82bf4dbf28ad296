"""``/healthz`` and ``/metrics``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from realyield.api.metrics import CONTENT_TYPE
from realyield.api.state import app_state
from realyield.presentation import models as m

router = APIRouter(tags=["service"])


@router.get(
    "/healthz",
    response_model=m.Health,
    responses={503: {"model": m.Health, "description": "Data not ready yet."}},
)
async def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness: 200 once the data is built, 503 while starting."""
    data = app_state(request).data
    snap = data.current() if data.ready else None
    if snap is None:
        status: Literal["starting", "degraded"] = (
            "starting" if data.last_error is None else "degraded"
        )
        body = m.Health(
            status=status,
            data_ready=False,
            data_version=None,
            data_as_of=None,
            detail=data.last_error,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    body = m.Health(
        status="ok" if data.last_error is None else "degraded",
        data_ready=True,
        data_version=snap.version,
        data_as_of=snap.as_of,
        detail=data.last_error,
    )
    return JSONResponse(body.model_dump(mode="json"))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, cache, jobs, data."""
    state = app_state(request)
    for name, count in state.jobs.counts().items():
        state.metrics.jobs.labels(name).set(count)
    state.metrics.data_ready.set(1 if state.data.ready else 0)
    if state.data.ready:
        state.metrics.data_build_seconds.set(state.data.current().built_in_s)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)
