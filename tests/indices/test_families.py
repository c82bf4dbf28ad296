"""The growth basket's trend filter, by hand."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from realyield.core.errors import InsufficientDataError
from realyield.indices.composition import Constituent, IndexComposition
from realyield.indices.families import risk_on

AS_OF = date(2024, 3, 10)


def basket(weights: dict[str, float]) -> IndexComposition:
    return IndexComposition(
        "g",
        "g",
        AS_OF,
        [
            Constituent(
                id=a,
                label=a,
                kind="asset",
                chain=None,
                weight=w,
                apy=0.0,
                apy_real=0.0,
                apy_emission=0.0,
                apy_sustainable=0.0,
                risk=0.0,
                underlying=(a,),
            )
            for a, w in weights.items()
        ],
    )


def prices(rows: list[tuple[str, int, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(a, AS_OF - timedelta(days=d), p) for a, d, p in rows],
        schema={"asset_id": pl.Utf8, "date": pl.Date, "price_usd": pl.Float64},
        orient="row",
    )


def test_trend_by_hand_with_a_missing_day_carried_forward() -> None:
    # 5-day window ending on AS_OF (days 4..0 before it); eth has no price 2 days before
    btc = [100.0, 110.0, 120.0, 115.0, 90.0]  # days 4, 3, 2, 1, 0 before AS_OF
    eth = [10.0, 10.0, None, 12.0, 11.0]
    rows = [("btc", 4 - k, p) for k, p in enumerate(btc)]
    rows += [("eth", 4 - k, p) for k, p in enumerate(eth) if k != 2]
    rows += [("btc", 9, 1000.0), ("btc", -1, 1.0), ("sol", 0, 5.0)]  # outside or not held
    on, evidence = risk_on(
        basket({"btc": 0.75, "eth": 0.25}), prices(rows), as_of=AS_OF, window_days=5
    )
    eth_filled = [10.0, 10.0, 10.0, 12.0, 11.0]
    level = [0.75 * b / 100.0 + 0.25 * e / 10.0 for b, e in zip(btc, eth_filled, strict=True)]
    average = sum(level) / 5
    assert level[-1] < average and not on
    assert f"basket at {level[-1]:.3f} vs its 5-day average {average:.3f}" in evidence
    assert evidence.endswith("risk off")


def test_leading_days_without_every_price_are_skipped() -> None:
    rows = [("btc", d, 100.0 + (4 - d)) for d in range(5)] + [("eth", d, 10.0) for d in range(3)]
    on, evidence = risk_on(
        basket({"btc": 0.5, "eth": 0.5}), prices(rows), as_of=AS_OF, window_days=5
    )
    level = [0.5 * (102.0 + k) / 102.0 + 0.5 for k in range(3)]  # from the day eth starts
    assert on and f"basket at {level[-1]:.3f} vs its 5-day average {sum(level) / 3:.3f}" in evidence


def test_too_little_history_is_an_error_that_says_so() -> None:
    rows = [("btc", d, 100.0) for d in range(5)]
    with pytest.raises(InsufficientDataError, match="5 days of prices"):
        risk_on(basket({"btc": 0.5, "eth": 0.5}), prices(rows), as_of=AS_OF, window_days=5)
    with pytest.raises(InsufficientDataError, match="found 2 days"):
        risk_on(basket({"btc": 1.0}), prices(rows[:2]), as_of=AS_OF, window_days=5)
    with pytest.raises(InsufficientDataError, match="none stored"):
        risk_on(basket({"btc": 1.0}), None, as_of=AS_OF, window_days=5)
