"""Alert episodes: opening, extending, escalating, acknowledging; the store and the
in-memory book agree."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select

from realyield.core.errors import ConfigError
from realyield.monitor.alerts import (
    AlertBook,
    acknowledge,
    get_alert,
    list_alerts,
    merge,
    record_findings,
)
from realyield.monitor.rules import Finding
from realyield.store import schema

D0 = date(2023, 3, 10)


def finding(day_offset: int, deviation: float, subject: str = "usd-coin") -> Finding:
    return Finding(
        rule="depeg",
        subject=subject,
        day=D0 + timedelta(days=day_offset),
        severity="critical" if deviation >= 3 else "warning",
        title=f"{subject} {deviation}% off",
        evidence={"deviation_pct": -deviation},
        action="look",
        magnitude=deviation,
    )


def test_merge_rules() -> None:
    opened = merge(None, finding(0, 1.5), 7)
    assert opened.kind == "opened" and opened.alert.occurrences == 1
    ext = merge(opened.alert, finding(2, 1.2), 7)
    assert ext.kind == "extended" and ext.alert.last_day == D0 + timedelta(days=2)
    assert ext.alert.occurrences == 2 and ext.alert.title == "usd-coin 1.5% off"  # peak kept
    esc = merge(ext.alert, finding(3, 3.4), 7)
    assert esc.kind == "escalated" and esc.alert.severity == "critical"
    assert esc.alert.evidence["deviation_pct"] == -3.4 and esc.alert.peak == 3.4
    same = merge(esc.alert, finding(3, 2.0), 7)  # the same day again, milder: nothing new
    assert same.kind == "unchanged" and same.alert == esc.alert
    later = merge(esc.alert, finding(3 + 8, 1.1), 7)  # 8 days after the last: a new episode
    assert later.kind == "opened" and later.alert.first_day == D0 + timedelta(days=11)


def test_store_dedupes_and_is_idempotent(engine: Engine) -> None:
    findings = [finding(0, 1.5), finding(1, 2.0), finding(1, 1.5, "dai"), finding(12, 1.1)]
    changes = record_findings(engine, findings)
    assert [c.kind for c in changes] == ["opened", "opened", "extended", "opened"]
    again = record_findings(engine, findings)  # a second run over the same data
    assert {c.kind for c in again} == {"unchanged"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.alerts)).scalar() == 3
    usdc = list_alerts(engine, subjects=["usd-coin"])
    assert [(a.first_day, a.last_day, a.occurrences) for a in usdc] == [
        (D0 + timedelta(days=12), D0 + timedelta(days=12), 1),
        (D0, D0 + timedelta(days=1), 2),
    ]
    # The in-memory book (used by the replay) gives the same episodes.
    book = AlertBook(cooldown_days=7)
    book.record(findings)
    assert sorted((a.key, a.first_day, a.last_day, a.occurrences) for a in book.alerts) == sorted(
        (a.key, a.first_day, a.last_day, a.occurrences) for a in list_alerts(engine)
    )
    assert [a.subject for a in list_alerts(engine, since=D0 + timedelta(days=5))] == ["usd-coin"]
    assert len(list_alerts(engine, until=D0)) == 1


def test_acknowledge_then_escalation_reopens(engine: Engine) -> None:
    (first,) = record_findings(engine, [finding(0, 1.5)])
    alert_id = first.alert.alert_id or 0
    acked = acknowledge(engine, alert_id, "known: SVB weekend")
    assert acked.status == "acknowledged" and acked.ack_note == "known: SVB weekend"
    assert acknowledge(engine, alert_id).acknowledged_at == acked.acknowledged_at  # idempotent
    (ext,) = record_findings(engine, [finding(1, 1.8)])
    assert ext.kind == "extended" and get_alert(engine, alert_id).status == "acknowledged"
    (esc,) = record_findings(engine, [finding(2, 3.4)])
    assert esc.kind == "escalated" and get_alert(engine, alert_id).status == "open"
    assert [a.alert_id for a in list_alerts(engine, status="open")] == [alert_id]
    with pytest.raises(ConfigError, match="no alert with id 999"):
        acknowledge(engine, 999)
    with pytest.raises(ConfigError, match="unknown alert status"):
        list_alerts(engine, status="closed")
