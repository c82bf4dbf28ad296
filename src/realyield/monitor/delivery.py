"""Delivering stored alerts to the channels, and remembering what was delivered.

Per alert and channel the store keeps a delivery row: ``pending`` until a channel
accepts it, ``delivered`` with the time and the severity it carried, ``failed`` with the
number of attempts and the last error (scrubbed of secrets). An alert is due on a
channel when it is open, was seen within ``window_days``, and that channel has not yet
delivered it at its current severity: so an escalation is sent again, an acknowledged
alert is not, and a channel that was down is caught up on the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from realyield.core import clock
from realyield.core.errors import NotifyError
from realyield.core.secrets import redact
from realyield.monitor.alerts import Alert, list_alerts
from realyield.monitor.notify import Channel
from realyield.monitor.rules import severity_rank
from realyield.store import schema
from realyield.store.records import upsert


@dataclass
class DeliveryReport:
    """What one dispatch did, per channel."""

    delivered: dict[str, list[int]] = field(default_factory=dict)
    failed: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "failed": {k: [{"alert": a, "error": e} for a, e in v] for k, v in self.failed.items()},
        }


def deliveries(engine: Engine, alert_id: int) -> dict[str, dict[str, Any]]:
    """The delivery rows of one alert, by channel."""
    t = schema.alert_deliveries
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.alert_id == alert_id)).mappings().all()
    return {r["channel"]: dict(r) for r in rows}


def due(
    engine: Engine, channel: str, *, min_severity: str = "info", window_days: int = 7
) -> list[Alert]:
    """Open alerts seen within ``window_days`` that ``channel`` has not delivered at
    their current severity (and at least ``min_severity``)."""
    since = clock.today() - timedelta(days=window_days)
    candidates = [
        a
        for a in list_alerts(engine, status="open", since=since)
        if severity_rank(a.severity) >= severity_rank(min_severity)
    ]
    if not candidates:
        return []
    t = schema.alert_deliveries
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.alert_id, t.c.status, t.c.severity).where(t.c.channel == channel)
        ).all()
    done = {r[0]: r[2] for r in rows if r[1] == "delivered"}
    return sorted(
        (
            a
            for a in candidates
            if a.alert_id not in done or severity_rank(a.severity) > severity_rank(done[a.alert_id])
        ),
        key=lambda a: (a.last_day, a.alert_id or 0),
    )


def _save(engine: Engine, alert: Alert, channel: str, status: str, error: str | None) -> None:
    t = schema.alert_deliveries
    now = clock.now().isoformat()
    with engine.begin() as conn:
        previous = conn.execute(
            select(t.c.attempts).where((t.c.alert_id == alert.alert_id) & (t.c.channel == channel))
        ).scalar_one_or_none()
        upsert(
            conn,
            t,
            [
                {
                    "alert_id": alert.alert_id,
                    "channel": channel,
                    "status": status,
                    "severity": alert.severity,
                    "attempts": int(previous or 0) + 1,
                    "last_error": error,
                    "last_attempt_at": now,
                    "delivered_at": now if status == "delivered" else None,
                }
            ],
        )


def dispatch(
    engine: Engine,
    channels: Sequence[Channel],
    *,
    min_severity: str = "info",
    window_days: int = 7,
) -> DeliveryReport:
    """Send every due alert to every channel; record each outcome. Never raises for a
    failed delivery: it is recorded and retried on the next dispatch."""
    report = DeliveryReport()
    for channel in channels:
        for alert in due(engine, channel.name, min_severity=min_severity, window_days=window_days):
            try:
                channel.send(alert)
            except NotifyError as exc:
                message = redact(str(exc))
                _save(engine, alert, channel.name, "failed", message)
                report.failed.setdefault(channel.name, []).append((alert.alert_id or 0, message))
                continue
            _save(engine, alert, channel.name, "delivered", None)
            report.delivered.setdefault(channel.name, []).append(alert.alert_id or 0)
    return report
