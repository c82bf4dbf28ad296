"""``/v1/alerts``: the alerts the monitor stage stored, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BeforeValidator, Field

from realyield.api.auth import Principal, require_key
from realyield.api.errors import documented
from realyield.api.state import app_state
from realyield.core.errors import ConfigError, NotFoundError
from realyield.monitor.alerts import acknowledge, active_alerts, get_alert, monitor_configured
from realyield.presentation import models as m

router = APIRouter(tags=["alerts"])
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text (pydantic alone would also take a bare number as a Unix time)."""
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2025-06-30T00:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text)]


@router.get("/v1/alerts", response_model=m.AlertList)
async def list_alerts(
    request: Request,
    since: Annotated[
        IsoDateTime | None,
        Query(description="Only alerts raised at or after (ISO 8601; no offset means UTC)."),
    ] = None,
) -> m.AlertList:
    """Alerts, newest first; ``monitor_configured`` is false until a monitor has run."""
    engine = app_state(request).engine
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    alerts = await run_in_threadpool(active_alerts, engine, since=since)
    return m.AlertList(
        data=[m.AlertOut(**a.as_dict()) for a in alerts],
        monitor_configured=monitor_configured(engine),
    )


class AckIn(m.Model):
    note: str | None = Field(None, max_length=500, description="Why it is acknowledged.")


@router.post(
    "/v1/alerts/{alert_id}/ack",
    response_model=m.AlertOut,
    responses=documented(400, 401, 403, 404, 429),
    operation_id="acknowledge_alert",
)
async def ack_alert(
    request: Request,
    caller: Annotated[Principal, Depends(require_key)],
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    body: Annotated[AckIn | None, Body()] = None,
) -> m.AlertOut:
    """Acknowledge an alert (idempotent): it is not notified again unless it escalates."""
    del caller
    engine = app_state(request).engine

    def ack() -> m.AlertOut:
        try:
            get_alert(engine, alert_id)
        except ConfigError as exc:
            raise NotFoundError(str(exc)) from exc
        return m.AlertOut(**acknowledge(engine, alert_id, body.note if body else None).as_dict())

    return await run_in_threadpool(ack)
