"""Alerts: the record the monitor stage produces and the function that lists them.

The API (``GET /v1/alerts``), the dashboard and, later, the CLI read alerts only through
``active_alerts``. The rules that raise alerts (APY collapse, depeg, TVL flight, index
drift) belong to the monitor stage, which does not exist yet: until it does this
returns an empty list. It never invents alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    """One alert: which rule fired, on what, how serious, and why (in words)."""

    id: str
    rule: str
    severity: str  # one of SEVERITIES
    subject: str  # an opportunity id, index name or asset id
    message: str
    triggered_at: datetime  # UTC
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "triggered_at": self.triggered_at.isoformat(),
            "details": self.details,
        }


def active_alerts(engine: Engine, *, since: datetime | None = None) -> list[Alert]:
    """Alerts raised at or after ``since`` (all when ``None``), newest first.

    The monitor stage fills this in; until then there are none.
    """
    del engine, since  # read by the monitor stage's implementation
    return []


def monitor_configured(engine: Engine) -> bool:
    """Whether a monitor writes alerts for this store (so an empty list means "all
    clear" rather than "nobody is looking"). False until the monitor stage exists."""
    del engine
    return False
