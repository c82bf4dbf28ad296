"""Projected income: the yield events a portfolio held on the indices should produce over
the coming year, and the tax they would owe.

How: each index holding is split over the index's constituents by weight; each
constituent pays its real APY (fees, interest, staking net of inflation) and its
emission APY (reward tokens), both percent a year, as monthly receipts on the first of
each of the next twelve months. No compounding and constant yields: a projection, not
a forecast; the emission part is shown apart because it is the least durable.

Kinds follow the constituent: staking and liquid staking pay ``staking_reward``,
lending ``lending_interest``, liquidity ``lp_fee`` for the real part; emissions are
``income`` (reward tokens) except for staking, whose rewards are all staking rewards.
Amounts are fiat ``Decimal`` rounded to cents per event; each constituent's last month
takes the remainder, so the twelve months add up to the rounded annual amount exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import ConfigError, DataError
from realyield.core.money import round_usd, to_decimal
from realyield.indices.composition import Constituent, IndexComposition
from realyield.portfolio.events import dec_text

REAL_KIND: Final = {
    "staking": "staking_reward",
    "liquid_staking": "staking_reward",
    "lending": "lending_interest",
    "liquidity": "lp_fee",
    "vault": "income",
}
MONTHS: Final = 12


@dataclass(frozen=True, slots=True)
class ProjectedEvent:
    day: date
    index: str
    constituent: str
    kind: str
    part: str  # real | emission
    value: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "index": self.index,
            "constituent": self.constituent,
            "kind": self.kind,
            "part": self.part,
            "value": dec_text(self.value),
        }


@dataclass(frozen=True)
class IncomeProjection:
    """Expected yield events of the next twelve months and the tax on them."""

    start: date
    tax_rate: Decimal
    fiat: str
    holdings: dict[str, Decimal]
    events: list[ProjectedEvent] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((e.value for e in self.events), Decimal(0))

    @property
    def emission_total(self) -> Decimal:
        return sum((e.value for e in self.events if e.part == "emission"), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return round_usd(self.total * self.tax_rate)

    def by_kind(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for e in self.events:
            out[e.kind] += e.value
        return dict(sorted(out.items()))

    def by_month(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for e in self.events:
            out[e.day.strftime("%Y-%m")] += e.value
        return dict(sorted(out.items()))

    def as_dict(self, *, events: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start.isoformat(),
            "fiat": self.fiat,
            "tax_rate": dec_text(self.tax_rate),
            "holdings": {k: dec_text(v) for k, v in self.holdings.items()},
            "income": dec_text(self.total),
            "emission_income": dec_text(self.emission_total),
            "tax": dec_text(self.tax),
            "after_tax": dec_text(self.total - self.tax),
            "by_kind": {k: dec_text(v) for k, v in self.by_kind().items()},
            "by_month": {k: dec_text(v) for k, v in self.by_month().items()},
            "event_count": len(self.events),
        }
        if events:
            out["events"] = [e.as_dict() for e in self.events]
        return out


def _months(start: date) -> list[date]:
    days = []
    year, month = start.year, start.month
    for _ in range(MONTHS):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        days.append(date(year, month, 1))
    return days


def _spread(annual: Decimal, days: list[date]) -> list[Decimal]:
    total = round_usd(annual)
    monthly = round_usd(total / MONTHS)
    amounts = [monthly] * (MONTHS - 1)
    amounts.append(total - sum(amounts, Decimal(0)))
    return amounts


def _constituent_events(
    index: str, c: Constituent, value: Decimal, days: list[date]
) -> list[ProjectedEvent]:
    kind = REAL_KIND.get(c.kind)
    if kind is None:  # a plain asset in a growth basket pays nothing
        return []
    share = value * to_decimal(c.weight, what=f"{c.id} weight")
    out: list[ProjectedEvent] = []
    for part, apy in (("real", c.apy_real), ("emission", c.apy_emission)):
        rate = to_decimal(apy, what=f"{c.id} apy_{part}")
        if rate <= 0:
            continue
        part_kind = kind if part == "real" or kind == "staking_reward" else "income"
        for day, amount in zip(days, _spread(share * rate / 100, days), strict=True):
            if amount:
                out.append(ProjectedEvent(day, index, c.label, part_kind, part, amount))
    return out


def project_income(
    compositions: Mapping[str, IndexComposition | Exception],
    holdings: Mapping[str, Decimal],
    *,
    tax_rate: Decimal,
    start: date | None = None,
    fiat: str = "USD",
) -> IncomeProjection:
    """The projection of ``holdings`` (fiat value held on each index, by index name).

    Raises:
        ConfigError: an unknown index, an index that could not be built, a negative
            holding, or a tax rate outside [0, 1].
    """
    if not Decimal(0) <= tax_rate <= Decimal(1):
        raise ConfigError(f"tax rate {tax_rate} must be a fraction between 0 and 1")
    begin = start or clock.today()
    days = _months(begin)
    events: list[ProjectedEvent] = []
    for name, value in holdings.items():
        comp = compositions.get(name)
        if comp is None:
            raise ConfigError(f"unknown index {name!r}; known: {', '.join(sorted(compositions))}")
        if not isinstance(comp, IndexComposition):
            raise ConfigError(f"index {name!r} could not be built today ({comp}); pick another")
        if value < 0:
            raise ConfigError(f"holding of {name!r} is negative ({value})")
        for c in comp.constituents:
            events.extend(_constituent_events(name, c, value, days))
    events.sort(key=lambda e: (e.day, e.index, e.constituent, e.part))
    return IncomeProjection(begin, tax_rate, fiat, dict(holdings), events)


def projected_income(
    engine: Engine,
    holdings: Mapping[str, Decimal],
    *,
    tax_rate: Decimal,
    fiat: str = "USD",
) -> IncomeProjection:
    """``project_income`` on today's indices built from the store.

    Raises:
        DataError: the store holds no universe to build indices from.
        ConfigError: see ``project_income``.
    """
    from realyield.indices.service import indices_at
    from realyield.universe.repository import stored_sources

    if not stored_sources(engine):
        raise DataError("the store is empty: load data first (realyield data refresh or demo)")
    built, _ = indices_at(engine)
    start = next(
        (c.as_of for c in built.values() if isinstance(c, IndexComposition)), clock.today()
    )
    return project_income(built, holdings, tax_rate=tax_rate, start=start, fiat=fiat)
