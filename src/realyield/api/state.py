"""The API's services on ``app.state.realyield`` (the shared state plus keys, jobs and
metrics), and the one helper routes use to answer from the per-data-version cache with
an ETag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from realyield.api.auth import Gatekeeper
from realyield.api.jobs import JobRunner
from realyield.api.metrics import Metrics
from realyield.presentation.data import DataSnapshot
from realyield.presentation.state import SharedState, snapshot


@dataclass
class AppState(SharedState):
    gate: Gatekeeper
    jobs: JobRunner
    metrics: Metrics


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.realyield
    return state


def _matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


async def cached_json(
    request: Request, key: str, build: Callable[[DataSnapshot], BaseModel]
) -> Response:
    """Answer with the response for ``key`` built once per data version; 304 when the
    client's ``If-None-Match`` still matches. Building runs off the event loop."""
    state = app_state(request)
    snap = await snapshot(request)
    cached = snap.cached(key)
    if cached is None:
        state.metrics.responses_cached.labels("miss").inc()
        cached = await run_in_threadpool(
            snap.response, key, lambda: build(snap).model_dump_json().encode()
        )
    else:
        state.metrics.responses_cached.labels("hit").inc()
    headers = {"ETag": cached.etag, "Cache-Control": "no-cache"}
    header = request.headers.get("if-none-match")
    if header and _matches(header, cached.etag):
        return Response(status_code=304, headers=headers)
    return Response(cached.body, media_type="application/json", headers=headers)
