"""The records every stage shares: Opportunity, Asset, and the daily histories.

Units show in names: ``apy*`` fields are percent (as public sources publish them),
``*_usd`` are US dollars, ``*_days`` are days; weights and returns inside computations
are fractions. Records validate themselves at construction and raise
``RecordError`` naming the record, the field and the value, so a bad row can never
travel further than the parser that read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Final

from realyield.core.errors import RecordError

OPPORTUNITY_KINDS: Final = ("staking", "liquid_staking", "lending", "liquidity", "vault")
EXPOSURES: Final = ("single", "multi")
ASSET_CATEGORIES: Final = (
    "btc",
    "eth",
    "pos_l1",
    "stablecoin",
    "lst",
    "defi",
    "exchange",
    "other",
)

#: apy must equal apy_base + apy_reward within this absolute tolerance (percentage
#: points) or this relative one, whichever is larger: sources round each part to
#: five decimals independently.
APY_SUM_ABS_TOL: Final = 0.01
APY_SUM_REL_TOL: Final = 1e-3


def _finite_or_none(record: str, name: str, value: float | None, *, minimum: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(record, name, value, "must be a number or missing")
    if not math.isfinite(value):
        raise RecordError(record, name, value, "must be finite (NaN/Infinity are not values)")
    if minimum is not None and value < minimum:
        raise RecordError(record, name, value, f"must be >= {minimum}")


def _aware(record: str, name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise RecordError(record, name, value, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordError(record, name, value, "naive datetime: give a timezone (UTC)")
    return value.astimezone(UTC)


def _text(record: str, name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(record, name, value, "must be a non-empty string")


def _check_apy_sum(
    record: str, apy: float | None, base: float | None, reward: float | None
) -> float | None:
    """Return the apy, derived from its parts when missing; refuse a mismatch."""
    if base is None and reward is None:
        return apy
    parts = (base or 0.0) + (reward or 0.0)
    if apy is None:
        return parts
    tolerance = max(APY_SUM_ABS_TOL, APY_SUM_REL_TOL * abs(apy))
    if abs(apy - parts) > tolerance:
        raise RecordError(
            record,
            "apy",
            apy,
            f"is not apy_base + apy_reward = {base} + {reward} = {parts:.6g} "
            f"(tolerance {tolerance:.3g})",
        )
    return apy


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One place to earn yield: a staking route, a lending market, a pool, a vault.

    Raises:
        RecordError: on unknown kind/exposure, NaN or negative TVL or APY, an apy that
            is not base + reward beyond rounding, or a naive ``as_of``.
    """

    id: str
    kind: str
    chain: str
    protocol: str
    symbol: str
    apy: float | None
    apy_base: float | None
    apy_reward: float | None
    tvl_usd: float | None
    as_of: datetime
    source: str
    underlying: tuple[str, ...] = ()
    reward_tokens: tuple[str, ...] = ()
    exposure: str | None = None
    stablecoin: bool | None = None
    il_risk: bool | None = None
    lockup_days: float | None = None
    audits: int | None = None
    launched: date | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rec = f"Opportunity[{self.id!r}]"
        _text(rec, "id", self.id)
        if self.kind not in OPPORTUNITY_KINDS:
            raise RecordError(
                rec, "kind", self.kind, f"unknown kind; use one of {OPPORTUNITY_KINDS}"
            )
        for name in ("chain", "protocol", "symbol", "source"):
            _text(rec, name, getattr(self, name))
        for name in ("apy", "apy_base", "apy_reward", "tvl_usd", "lockup_days"):
            _finite_or_none(rec, name, getattr(self, name), minimum=0.0)
        if self.exposure is not None and self.exposure not in EXPOSURES:
            raise RecordError(rec, "exposure", self.exposure, f"use one of {EXPOSURES}")
        if self.audits is not None and (not isinstance(self.audits, int) or self.audits < 0):
            raise RecordError(rec, "audits", self.audits, "must be a non-negative integer")
        object.__setattr__(self, "as_of", _aware(rec, "as_of", self.as_of))
        object.__setattr__(
            self, "apy", _check_apy_sum(rec, self.apy, self.apy_base, self.apy_reward)
        )
        object.__setattr__(self, "underlying", tuple(self.underlying))
        object.__setattr__(self, "reward_tokens", tuple(self.reward_tokens))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (lists for tuples, ISO time); ``meta`` is left out."""
        return {
            "id": self.id,
            "kind": self.kind,
            "chain": self.chain,
            "protocol": self.protocol,
            "symbol": self.symbol,
            "apy": self.apy,
            "apy_base": self.apy_base,
            "apy_reward": self.apy_reward,
            "tvl_usd": self.tvl_usd,
            "exposure": self.exposure,
            "stablecoin": self.stablecoin,
            "il_risk": self.il_risk,
            "lockup_days": self.lockup_days,
            "underlying": list(self.underlying),
            "reward_tokens": list(self.reward_tokens),
            "source": self.source,
            "as_of": self.as_of.isoformat(),
        }

    def restated(
        self,
        *,
        apy: float | None,
        apy_base: float | None,
        apy_reward: float | None,
        tvl_usd: float | None,
        as_of: datetime,
    ) -> Opportunity:
        """This opportunity as it stood at ``as_of``, with that day's APY parts and TVL.

        The new values are checked as the constructor checks them; the other fields are
        copied as they are (they were checked when this record was made). A replay
        restates every pool at every rebalance date, where re-checking every field cost
        more than the rest of the lookup.

        Raises:
            RecordError: as the constructor, for the new values.
        """
        rec = f"Opportunity[{self.id!r}]"
        for name, value in (
            ("apy", apy),
            ("apy_base", apy_base),
            ("apy_reward", apy_reward),
            ("tvl_usd", tvl_usd),
        ):
            _finite_or_none(rec, name, value, minimum=0.0)
        new = object.__new__(Opportunity)
        for name in _OPPORTUNITY_FIELDS:
            object.__setattr__(new, name, getattr(self, name))
        object.__setattr__(new, "apy", _check_apy_sum(rec, apy, apy_base, apy_reward))
        object.__setattr__(new, "apy_base", apy_base)
        object.__setattr__(new, "apy_reward", apy_reward)
        object.__setattr__(new, "tvl_usd", tvl_usd)
        object.__setattr__(new, "as_of", _aware(rec, "as_of", as_of))
        return new

    @property
    def reward_share(self) -> float | None:
        """Fraction of the headline APY paid in emissions (None when the split is unknown)."""
        if self.apy is None or self.apy == 0 or (self.apy_base is None and self.apy_reward is None):
            return None
        return (self.apy_reward or 0.0) / self.apy


_OPPORTUNITY_FIELDS: Final = tuple(f.name for f in fields(Opportunity))


@dataclass(frozen=True, slots=True)
class Asset:
    """A token with its market facts (price, market cap, supply, inflation).

    Raises:
        RecordError: on unknown category, NaN/negative price or market cap, naive as_of.
    """

    id: str
    symbol: str
    name: str
    category: str
    as_of: datetime
    source: str
    price_usd: float | None = None
    market_cap_usd: float | None = None
    circulating_supply: float | None = None
    total_supply: float | None = None
    supply_inflation: float | None = None  # annual, fraction (0.05 = 5%/yr)

    def __post_init__(self) -> None:
        rec = f"Asset[{self.id!r}]"
        _text(rec, "id", self.id)
        _text(rec, "symbol", self.symbol)
        if self.category not in ASSET_CATEGORIES:
            raise RecordError(rec, "category", self.category, f"use one of {ASSET_CATEGORIES}")
        for name in ("price_usd", "market_cap_usd", "circulating_supply", "total_supply"):
            _finite_or_none(rec, name, getattr(self, name), minimum=0.0)
        _finite_or_none(rec, "supply_inflation", self.supply_inflation, minimum=-1.0)
        object.__setattr__(self, "as_of", _aware(rec, "as_of", self.as_of))


@dataclass(frozen=True, slots=True)
class ApyPoint:
    """One day of an opportunity's history: APY parts (percent) and TVL (USD).

    Raises:
        RecordError: on NaN/negative values, apy != base + reward, a non-date ``date``.
    """

    opportunity_id: str
    date: date
    apy: float | None
    apy_base: float | None = None
    apy_reward: float | None = None
    tvl_usd: float | None = None

    def __post_init__(self) -> None:
        rec = f"ApyPoint[{self.opportunity_id!r} {self.date}]"
        _text(rec, "opportunity_id", self.opportunity_id)
        if not isinstance(self.date, date) or isinstance(self.date, datetime):
            raise RecordError(rec, "date", self.date, "must be a calendar date (UTC day)")
        for name in ("apy", "apy_base", "apy_reward", "tvl_usd"):
            _finite_or_none(rec, name, getattr(self, name), minimum=0.0)
        object.__setattr__(
            self, "apy", _check_apy_sum(rec, self.apy, self.apy_base, self.apy_reward)
        )


@dataclass(frozen=True, slots=True)
class PricePoint:
    """One day of an asset's price history; the value is the 00:00 UTC price of ``date``.

    Raises:
        RecordError: on a non-positive or NaN price, negative market cap or volume.
    """

    asset_id: str
    date: date
    price_usd: float
    market_cap_usd: float | None = None
    volume_usd: float | None = None

    def __post_init__(self) -> None:
        rec = f"PricePoint[{self.asset_id!r} {self.date}]"
        _text(rec, "asset_id", self.asset_id)
        if not isinstance(self.date, date) or isinstance(self.date, datetime):
            raise RecordError(rec, "date", self.date, "must be a calendar date (UTC day)")
        _finite_or_none(rec, "price_usd", self.price_usd, minimum=0.0)
        if self.price_usd is None or self.price_usd <= 0:
            raise RecordError(rec, "price_usd", self.price_usd, "must be a positive number")
        _finite_or_none(rec, "market_cap_usd", self.market_cap_usd, minimum=0.0)
        _finite_or_none(rec, "volume_usd", self.volume_usd, minimum=0.0)


def utc_datetime(day: date) -> datetime:
    """Midnight UTC at the start of ``day``, as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
