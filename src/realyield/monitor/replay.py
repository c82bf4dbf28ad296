"""Replay: the price and yield rules evaluated on every past day of stored data.

Why: a user deciding whether to trust the alerts (or to tune a threshold) wants to see
what would have fired in 2022 and 2023: the UST/LUNA collapse, the stETH discount,
USDC's weekend below the peg. The replay runs the same rule functions as the live
monitor, each day seeing only data up to that day, and groups the findings into
episodes with the same de-duplication as the store. Nothing is written to the store.

Portfolio rules (screened out, drift, income) need the holdings of each past day,
which the store does not keep; they are left out and the result says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.monitor.alerts import Alert, AlertBook
from realyield.monitor.config import MonitorConfig
from realyield.monitor.rules import Finding
from realyield.monitor.service import LOOKBACK_DAYS, market_and_yield_findings, watched_ids
from realyield.universe.repository import apy_history_frame, load_assets, price_history_frame


@dataclass
class ReplayResult:
    """Episodes that would have fired between ``start`` and ``end``, and the raw
    findings by rule and day."""

    start: date
    end: date
    alerts: list[Alert]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def days_by_rule(self) -> dict[str, int]:
        return dict(Counter(f.rule for f in self.findings))

    def fired_on(self, rule: str, subject: str) -> list[date]:
        """Every day ``rule`` fired for ``subject`` (sorted)."""
        return sorted({f.day for f in self.findings if f.rule == rule and f.subject == subject})

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "episodes": [a.as_dict() for a in self.alerts],
            "findings_by_rule": self.days_by_rule(),
            "notes": self.notes,
        }


def parse_span(text: str) -> tuple[date, date]:
    """``FROM:TO`` (ISO dates) as a pair of dates.

    Raises:
        ConfigError: not two ISO dates, or FROM after TO.
    """
    first, sep, last = text.partition(":")
    try:
        if not sep:
            raise ValueError
        start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        raise ConfigError(
            f"--replay {text!r}: give FROM:TO as ISO dates, e.g. 2022-05-01:2023-03-31"
        ) from None
    if start > end:
        raise ConfigError(f"--replay {text!r}: FROM is after TO")
    return start, end


def replay(
    engine: Engine,
    start: date,
    end: date,
    config: MonitorConfig | None = None,
    *,
    all_opportunities: bool = False,
) -> ReplayResult:
    """Evaluate the price and yield rules on every day in ``[start, end]``.

    Yield rules watch the configured holdings/targets, or every stored series with
    ``all_opportunities``.

    Raises:
        InsufficientDataError: the store has no prices or yields in the span.
    """
    config = config or MonitorConfig()
    back = start - timedelta(days=LOOKBACK_DAYS)
    prices = price_history_frame(engine, start=back, end=end)
    notes = ["portfolio rules (screened out, drift, income) need past holdings: not replayed"]
    ids: list[str] | None = watched_ids(config, None)
    if all_opportunities:
        ids = None
    elif not ids:
        notes.append("no holdings or targets configured: yield rules not replayed")
    history = apy_history_frame(engine, ids, start=back, end=end) if ids is None or ids else None
    if prices.is_empty() and (history is None or history.is_empty()):
        raise InsufficientDataError(
            f"no stored prices or yields between {back} and {end}: import price files "
            "(`realyield data import FILE`) or refresh first"
        )
    symbols = {a.id: a.symbol for a in load_assets(engine)}
    findings = market_and_yield_findings(prices, history, config.rules, start, end, symbols=symbols)
    book = AlertBook(cooldown_days=config.rules.cooldown_days)
    book.record(findings)
    return ReplayResult(
        start, end, book.alerts, sorted(findings, key=lambda f: (f.day, f.key)), notes
    )
