"""Alert rules: their thresholds (configurable), what a rule reports (a ``Finding``), and
the rules over a portfolio (screened out, drift, income, stale data).

Why findings and not alerts: a rule only says "on day D, subject S breaks rule R, here
are the numbers". Whether that is a new alert, the same episode seen again, or an
escalation is decided once, by the alert book (``monitor.alerts``), for every rule
alike. Rules are pure functions of numbers, so replaying them over history, running
them live and testing them are the same code.

The market rules (depeg, LST discount, price crash) live in ``monitor.market_rules``,
the yield rules (TVL drop, APY collapse/spike, reward share) in ``monitor.yield_rules``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Final

from realyield.core.errors import ConfigError

SEVERITIES: Final = ("info", "warning", "critical")

RULES: Final = (
    "tvl_drop",
    "apy_collapse",
    "apy_spike",
    "reward_share_jump",
    "depeg",
    "lst_discount",
    "price_crash",
    "screened_out",
    "drift",
    "income_below_plan",
    "stale_data",
)


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule broken by one subject on one day, with the numbers that show it.

    ``evidence`` holds JSON-ready numbers and ISO dates; ``magnitude`` (how far past the
    threshold, in the rule's unit) decides which day of an episode is its peak.
    """

    rule: str
    subject: str
    day: date
    severity: str
    title: str
    evidence: Mapping[str, Any]
    action: str
    magnitude: float = 0.0

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ConfigError(f"finding severity {self.severity!r}: use one of {SEVERITIES}")

    @property
    def key(self) -> str:
        """The de-duplication key: one open episode per rule and subject."""
        return f"{self.rule}:{self.subject}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "day": self.day.isoformat(),
            "severity": self.severity,
            "title": self.title,
            "evidence": dict(self.evidence),
            "action": self.action,
        }


@dataclass(frozen=True)
class RuleConfig:
    """Every threshold of every rule. Percent values are percent (30.0 = 30%).

    Defaults: TVL down more than 30% in 7 days; APY below half its 30-day mean; APY at
    least twice its 30-day mean and 2 points above it, or above 100% (outlier); reward
    share up 25 points in 7 days; stablecoin more than 1% from 1 USD; LST more than 2%
    below its coin; price down 50% from its 7-day high; drift beyond 5 points; income
    more than 10% below plan; data older than 48 hours. An episode that has not been
    seen for ``cooldown_days`` is over: the next finding opens a new alert.

    Raises:
        ConfigError: a negative or non-finite threshold, a window under one day, or an
            unknown rule in ``disabled``.
    """

    tvl_drop_pct: float = 30.0
    tvl_window_days: int = 7
    apy_collapse_pct: float = 50.0
    apy_mean_days: int = 30
    apy_min_points: int = 10
    apy_floor: float = 1.0  # percent: a mean below this is noise, not a yield to lose
    apy_spike_ratio: float = 2.0
    apy_spike_min_points: float = 2.0
    apy_outlier: float = 100.0
    reward_share_jump_pp: float = 25.0
    reward_window_days: int = 7
    depeg_pct: float = 1.0
    depeg_critical_pct: float = 3.0
    lst_discount_pct: float = 2.0
    lst_critical_pct: float = 5.0
    lst_reference_days: int = 30
    crash_pct: float = 50.0
    crash_window_days: int = 7
    drift_band_pp: float = 5.0
    income_shortfall_pct: float = 10.0
    income_critical_pct: float = 25.0
    stale_after_hours: float = 48.0
    cooldown_days: int = 7
    lookup_tolerance_days: int = 3  # how far a "7 days ago" value may be from day-7
    disabled: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "disabled":
                unknown = set(value) - set(RULES)
                if unknown:
                    raise ConfigError(
                        f"rules.disabled: unknown rule(s) {sorted(unknown)}; known: {RULES}"
                    )
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"rules.{f.name} = {value!r}: give a number")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"rules.{f.name} = {value!r}: must be a finite number >= 0")
            if f.name.endswith("_days") and f.name != "lookup_tolerance_days" and value < 1:
                raise ConfigError(f"rules.{f.name} = {value!r}: a window is at least 1 day")
        if (
            self.depeg_critical_pct < self.depeg_pct
            or self.lst_critical_pct < self.lst_discount_pct
        ):
            raise ConfigError("rules: a critical threshold must not be below its warning threshold")

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, origin: str = "rules") -> RuleConfig:
        """Build from a TOML table; integer fields accept whole floats.

        Raises:
            ConfigError: unknown keys or invalid values (named with ``origin``).
        """
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{origin}: unknown rule setting {key!r}; known: {sorted(known)}")
            if key == "disabled":
                if not isinstance(raw, (list, tuple)):
                    raise ConfigError(f"{origin}.disabled: give a list of rule names")
                values[key] = frozenset(str(x) for x in raw)
            elif (
                isinstance(getattr(cls(), key), int) and isinstance(raw, float) and raw.is_integer()
            ):
                values[key] = int(raw)
            else:
                values[key] = raw
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from exc


# --- portfolio rules ------------------------------------------------------------------


def screened_out(
    holdings: Mapping[str, float],
    reasons: Mapping[str, Sequence[str]],
    listed: set[str],
    day: date,
) -> list[Finding]:
    """Holdings that no longer pass the screens, or have left the universe.

    ``holdings``: opportunity id -> USD value; ``reasons``: id -> exclusion reasons of
    the screened universe (empty: passes); ``listed``: ids present in that universe.
    "Newly": the alert book opens one alert per episode, so a holding that stays out
    is reported once, not every day.
    """
    out: list[Finding] = []
    for opp_id, value in sorted(holdings.items()):
        if opp_id not in listed:
            why = ["no longer listed by any stored source (pool closed, delisted or renamed)"]
        else:
            why = list(reasons.get(opp_id, ()))
            if not why:
                continue
        out.append(
            Finding(
                rule="screened_out",
                subject=opp_id,
                day=day,
                severity="warning",
                title=f"{opp_id} no longer passes the screens",
                evidence={"date": day.isoformat(), "value_usd": value, "reasons": why},
                action=(
                    "Read the reasons; if they hold, plan an exit at the next rebalance "
                    "(`realyield rebalance --dry-run`) rather than waiting for the schedule."
                ),
                magnitude=float(len(why)),
            )
        )
    return out


def drift(
    current: Mapping[str, float], target: Mapping[str, float], band_pp: float, day: date
) -> list[Finding]:
    """One finding when any weight is more than ``band_pp`` points from its target.

    Weights are fractions (each side sums to 1); the evidence lists every holding whose
    weight is off by more than the band.
    """
    keys = sorted(set(current) | set(target))
    gaps = {k: (current.get(k, 0.0) - target.get(k, 0.0)) * 100 for k in keys}
    worst = max((abs(g) for g in gaps.values()), default=0.0)
    if worst <= band_pp:
        return []
    off = {
        k: {
            "current_pct": round(current.get(k, 0.0) * 100, 3),
            "target_pct": round(target.get(k, 0.0) * 100, 3),
            "gap_pp": round(g, 3),
        }
        for k, g in gaps.items()
        if abs(g) > band_pp
    }
    return [
        Finding(
            rule="drift",
            subject="portfolio",
            day=day,
            severity="warning" if worst > 2 * band_pp else "info",
            title=f"weights drifted {worst:.1f} points from target (band {band_pp:g})",
            evidence={
                "date": day.isoformat(),
                "max_drift_pp": round(worst, 3),
                "band_pp": band_pp,
                "holdings": off,
            },
            action="Rebalance to the targets; `realyield rebalance --dry-run` shows the orders.",
            magnitude=worst,
        )
    ]


def income_below_plan(
    income_usd: float,
    planned_usd: float,
    day: date,
    config: RuleConfig,
    *,
    basis: str = "expected",
    period: str = "year",
) -> list[Finding]:
    """A finding when ``income_usd`` falls short of ``planned_usd`` by more than the
    configured share. ``basis`` says what the income is (``expected`` from current
    yields, or ``realised`` from the ledger) so the evidence is not misread.

    Raises:
        ConfigError: a negative or non-finite figure.
    """
    for name, value in (("income", income_usd), ("planned income", planned_usd)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name} = {value!r}: give a finite amount >= 0 USD")
    if planned_usd == 0:
        return []
    shortfall = (planned_usd - income_usd) / planned_usd * 100
    if shortfall <= config.income_shortfall_pct:
        return []
    return [
        Finding(
            rule="income_below_plan",
            subject="portfolio",
            day=day,
            severity="critical" if shortfall >= config.income_critical_pct else "warning",
            title=f"{basis} income {shortfall:.1f}% below plan",
            evidence={
                "date": day.isoformat(),
                "basis": basis,
                "period": period,
                "income_usd": round(income_usd, 2),
                "planned_usd": round(planned_usd, 2),
                "shortfall_pct": round(shortfall, 3),
                "threshold_pct": config.income_shortfall_pct,
            },
            action=(
                "Re-run `realyield plan` with today's yields; lower withdrawals, add capital, "
                "or accept more risk only if the plan's verdict allows it."
            ),
            magnitude=shortfall,
        )
    ]


def stale_data(
    newest: Mapping[str, date | None],
    failures: Mapping[str, str],
    now: datetime,
    config: RuleConfig,
) -> list[Finding]:
    """Sources whose newest stored data is older than ``stale_after_hours``, or whose
    last refresh failed (``failures``: source -> message). The monitor keeps running on
    the data it has; this finding says how old that data is."""
    out: list[Finding] = []
    for source in sorted(set(newest) | set(failures)):
        last = newest.get(source)
        age_h = (now.date() - last).days * 24.0 if last is not None else math.inf
        failed = failures.get(source)
        if age_h <= config.stale_after_hours and failed is None:
            continue
        evidence: dict[str, Any] = {
            "date": now.date().isoformat(),
            "newest_data": last.isoformat() if last else None,
            "age_hours": None if math.isinf(age_h) else age_h,
            "stale_after_hours": config.stale_after_hours,
        }
        if failed is not None:
            evidence["last_refresh_error"] = failed
        out.append(
            Finding(
                rule="stale_data",
                subject=source,
                day=now.date(),
                severity="warning",
                title=(
                    f"{source}: refresh failed, using data from {last}"
                    if failed is not None
                    else f"{source}: newest data is from {last}"
                ),
                evidence=evidence,
                action=(
                    "Alerts below rest on old data. Check the network or the source's status; "
                    "the monitor retries on its next run."
                ),
                magnitude=0.0 if math.isinf(age_h) else age_h,
            )
        )
    return out
