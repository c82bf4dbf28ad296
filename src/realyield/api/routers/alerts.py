"""``/v1/alerts``: what the monitor raised (nothing until the monitor stage exists)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from realyield.api import models as m
from realyield.api.state import app_state
from realyield.monitor.alerts import active_alerts, monitor_configured

router = APIRouter(tags=["alerts"])


@router.get("/v1/alerts", response_model=m.AlertList)
async def list_alerts(
    request: Request,
    since: Annotated[
        datetime | None, Query(description="Only alerts raised at or after (ISO 8601).")
    ] = None,
) -> m.AlertList:
    """Alerts, newest first. Empty (``monitor_configured`` false) until the monitor runs."""
    engine = app_state(request).engine
    alerts = await run_in_threadpool(active_alerts, engine, since=since)
    return m.AlertList(
        data=[m.AlertOut(**a.as_dict()) for a in alerts],
        monitor_configured=monitor_configured(engine),
    )
