"""Alerts: findings grouped into episodes, stored, de-duplicated and acknowledged.

One alert is one *episode* of one rule on one subject (its key ``rule:subject``): the
first finding opens it; later findings within ``cooldown_days`` of its last day extend
it (last day, count of days, the evidence of its worst day, the highest severity) rather
than opening another. A monitor that runs every hour therefore raises one alert for a
depeg that lasts a week, and a replay over three years gives one alert per episode.

Acknowledging an alert silences it for the rest of its episode, unless it escalates
(a higher severity re-opens it, so a warning that turns critical is sent again).
The same merge rule (``merge``) serves the in-memory book of a replay and the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from realyield.core import clock, events
from realyield.core.errors import ConfigError
from realyield.monitor.rules import Finding, severity_rank
from realyield.store import schema
from realyield.store.records import as_date

STATUSES = ("open", "acknowledged")


@dataclass(frozen=True)
class Alert:
    """An episode of a rule on a subject, as stored."""

    key: str
    rule: str
    subject: str
    severity: str
    title: str
    evidence: dict[str, Any]
    action: str
    first_day: date
    last_day: date
    occurrences: int = 1
    status: str = "open"
    alert_id: int | None = None
    peak: float = 0.0
    acknowledged_at: str | None = None
    ack_note: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.alert_id,
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.occurrences,
            "evidence": self.evidence,
            "action": self.action,
            "acknowledged_at": self.acknowledged_at,
            "ack_note": self.ack_note,
        }


@dataclass(frozen=True)
class Change:
    """What recording a finding did: opened an alert, extended it, or escalated it."""

    alert: Alert
    kind: str  # opened | extended | escalated | unchanged


def _from_finding(finding: Finding) -> Alert:
    return Alert(
        key=finding.key,
        rule=finding.rule,
        subject=finding.subject,
        severity=finding.severity,
        title=finding.title,
        evidence={**finding.evidence, "magnitude": finding.magnitude},
        action=finding.action,
        first_day=finding.day,
        last_day=finding.day,
        peak=finding.magnitude,
    )


def merge(existing: Alert | None, finding: Finding, cooldown_days: int) -> Change:
    """The alert after ``finding``: a new one, or ``existing`` extended or escalated.

    ``existing`` is the episode of the finding's key nearest to its day (``nearest``).
    It is the same episode when the finding falls within ``cooldown_days`` of it. A
    finding for a day already counted changes nothing but a worse peak (so running the
    monitor twice a day, or replaying the same days again, is idempotent).
    """
    gap = timedelta(days=cooldown_days)
    if (
        existing is None
        or finding.day > existing.last_day + gap
        or finding.day < existing.first_day - gap
    ):
        return Change(_from_finding(finding), "opened")
    worse = severity_rank(finding.severity) > severity_rank(existing.severity)
    new_day = finding.day > existing.last_day or finding.day < existing.first_day
    peak = finding.magnitude > existing.peak
    if not (worse or new_day or peak):
        return Change(existing, "unchanged")
    updated = replace(
        existing,
        severity=finding.severity if worse else existing.severity,
        last_day=max(existing.last_day, finding.day),
        first_day=min(existing.first_day, finding.day),
        occurrences=existing.occurrences + (1 if new_day else 0),
        title=finding.title if peak else existing.title,
        evidence={**finding.evidence, "magnitude": finding.magnitude}
        if peak
        else existing.evidence,
        peak=max(existing.peak, finding.magnitude),
        status="open" if worse else existing.status,
    )
    return Change(updated, "escalated" if worse else "extended")


def nearest(episodes: Sequence[Alert], day: date) -> Alert | None:
    """The episode a finding on ``day`` belongs to, if any: the last one starting on or
    before ``day``, else the first one after it."""
    before = [a for a in episodes if a.first_day <= day]
    if before:
        return max(before, key=lambda a: (a.first_day, a.alert_id or 0))
    after = [a for a in episodes if a.first_day > day]
    return min(after, key=lambda a: a.first_day) if after else None


@dataclass
class AlertBook:
    """Alerts in memory (a replay, a test): the store's de-duplication without a store."""

    cooldown_days: int = 7
    alerts: list[Alert] = field(default_factory=list)
    _by_key: dict[str, list[int]] = field(default_factory=dict)

    def record(self, findings: Iterable[Finding]) -> list[Change]:
        """Merge ``findings`` in day order; return what each did."""
        changes: list[Change] = []
        for finding in sorted(findings, key=lambda f: (f.day, f.key)):
            indices = self._by_key.setdefault(finding.key, [])
            existing = nearest([self.alerts[i] for i in indices], finding.day)
            change = merge(existing, finding, self.cooldown_days)
            if change.kind == "opened":
                indices.append(len(self.alerts))
                self.alerts.append(replace(change.alert, alert_id=len(self.alerts) + 1))
            elif existing is not None and existing.alert_id is not None:
                self.alerts[existing.alert_id - 1] = change.alert
            changes.append(change)
        return changes


# --- the store ------------------------------------------------------------------------


def _row_to_alert(row: Any) -> Alert:
    evidence = json.loads(row["evidence"] or "{}")
    return Alert(
        key=row["key"],
        rule=row["rule"],
        subject=row["subject"],
        severity=row["severity"],
        title=row["title"],
        evidence=evidence,
        action=row["action"],
        first_day=as_date(row["first_day"]),
        last_day=as_date(row["last_day"]),
        occurrences=int(row["occurrences"]),
        status=row["status"],
        alert_id=int(row["alert_id"]),
        peak=float(evidence.get("magnitude") or 0.0),
        acknowledged_at=row["acknowledged_at"],
        ack_note=row["ack_note"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(alert: Alert, now: str) -> dict[str, Any]:
    return {
        "key": alert.key,
        "rule": alert.rule,
        "subject": alert.subject,
        "severity": alert.severity,
        "title": alert.title,
        "evidence": json.dumps(alert.evidence, sort_keys=True, default=str),
        "action": alert.action,
        "first_day": alert.first_day,
        "last_day": alert.last_day,
        "occurrences": alert.occurrences,
        "status": alert.status,
        "updated_at": now,
    }


def record_findings(
    engine: Engine, findings: Sequence[Finding], *, cooldown_days: int = 7
) -> list[Change]:
    """Store ``findings`` as alerts (opening, extending or escalating), in one
    transaction; return what each did."""
    t = schema.alerts
    now = clock.now().isoformat()
    changes: list[Change] = []
    with engine.begin() as conn:
        for finding in sorted(findings, key=lambda f: (f.day, f.key)):
            gap = timedelta(days=cooldown_days)
            rows = (
                conn.execute(
                    select(t).where(
                        (t.c.key == finding.key)
                        & (t.c.first_day <= finding.day + gap)
                        & (t.c.last_day >= finding.day - gap)
                    )
                )
                .mappings()
                .all()
            )
            existing = nearest([_row_to_alert(r) for r in rows], finding.day)
            change = merge(existing, finding, cooldown_days)
            if change.kind == "opened":
                values = {**_values(change.alert, now), "created_at": now}
                inserted = conn.execute(t.insert().values(values)).inserted_primary_key
                assert inserted is not None
                alert_id = inserted[0]
                change = Change(
                    replace(change.alert, alert_id=int(alert_id), created_at=now, updated_at=now),
                    "opened",
                )
            elif change.kind != "unchanged" and existing is not None:
                conn.execute(
                    t.update()
                    .where(t.c.alert_id == existing.alert_id)
                    .values(_values(change.alert, now))
                )
            changes.append(change)
    for change in changes:  # after the commit: a streamed alert is a stored alert
        if change.kind in ("opened", "escalated"):
            events.publish("alert", change=change.kind, **change.alert.as_dict())
    return changes


def list_alerts(
    engine: Engine,
    *,
    status: str | None = None,
    since: date | None = None,
    until: date | None = None,
    subjects: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Alert]:
    """Stored alerts, newest last day first; filters combine with AND.

    ``since``/``until`` select episodes overlapping that span of days.

    Raises:
        ConfigError: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise ConfigError(f"unknown alert status {status!r}; use one of {STATUSES}")
    t = schema.alerts
    stmt = select(t)
    if status is not None:
        stmt = stmt.where(t.c.status == status)
    if since is not None:
        stmt = stmt.where(t.c.last_day >= since)
    if until is not None:
        stmt = stmt.where(t.c.first_day <= until)
    if subjects is not None:
        stmt = stmt.where(t.c.subject.in_(list(subjects)))
    stmt = stmt.order_by(t.c.last_day.desc(), t.c.alert_id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [_row_to_alert(r) for r in conn.execute(stmt).mappings().all()]


def get_alert(engine: Engine, alert_id: int) -> Alert:
    """One alert by id.

    Raises:
        ConfigError: no alert has that id.
    """
    t = schema.alerts
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.alert_id == alert_id)).mappings().first()
    if row is None:
        raise ConfigError(f"no alert with id {alert_id}; list them with `realyield alerts`")
    return _row_to_alert(row)


def acknowledge(engine: Engine, alert_id: int, note: str | None = None) -> Alert:
    """Mark an alert acknowledged (idempotent); it is not notified again unless it
    escalates.

    Raises:
        ConfigError: no alert has that id.
    """
    alert = get_alert(engine, alert_id)
    if alert.status == "acknowledged":
        return alert
    now = clock.now().isoformat()
    t = schema.alerts
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.alert_id == alert_id)
            .values(status="acknowledged", acknowledged_at=now, ack_note=note, updated_at=now)
        )
    return replace(alert, status="acknowledged", acknowledged_at=now, ack_note=note)


#: Written by every monitor run (``service.run_monitor``): the last day it evaluated.
LAST_DAY_KEY = "monitor.last_evaluated_day"


def active_alerts(engine: Engine, *, since: datetime | None = None) -> list[Alert]:
    """Stored alerts (open and acknowledged) whose episode reaches ``since``'s day or
    later (all when ``None``), newest first: what the API and the dashboard list."""
    return list_alerts(engine, since=since.date() if since is not None else None)


def monitor_configured(engine: Engine) -> bool:
    """Whether a monitor has run on this store (so an empty list means "all clear"
    rather than "nobody is looking")."""
    with engine.connect() as conn:
        row = conn.execute(
            select(schema.store_meta.c.value).where(schema.store_meta.c.key == LAST_DAY_KEY)
        ).first()
    return row is not None
