"""The screener's filters, total order and keyset pages, on a small hand-made table."""

from __future__ import annotations

import polars as pl
import pytest

from realyield.core.errors import ConfigError
from realyield.scoring.screener import ScreenerQuery, apply_screener, rows_after, screener_rows

TABLE = pl.DataFrame(
    {
        "id": ["a", "b", "c", "d", "e", "f"],
        "kind": ["lending", "lending", "liquidity", "staking", "lending", "vault"],
        "chain": ["Ethereum", "ethereum", "Base", "Ethereum", "Base", "Base"],
        "protocol": ["aave-v3", "compound", "uni", "native", "aave-v3", "yearn"],
        "apy_sustainable": [5.0, 7.0, 7.0, None, 3.0, 9.0],
        "sustainability": [80.0, 60.0, 70.0, 90.0, 40.0, 50.0],
        "risk": [10.0, 30.0, 30.0, 5.0, 20.0, 60.0],
        "tvl_usd": [1e9, 5e6, None, 2e10, 1e6, 3e7],
        "excluded": [False, False, False, False, True, False],
        "forecast_apy_30d": [float("nan"), 6.0, 6.5, None, 2.0, 8.0],
    }
)


def ids(frame: pl.DataFrame) -> list[str]:
    return frame["id"].to_list()


def test_default_order_is_sustainable_apy_ties_by_id_missing_last() -> None:
    assert ids(apply_screener(TABLE, ScreenerQuery())) == ["f", "b", "c", "a", "d"]
    everything = apply_screener(TABLE, ScreenerQuery(include_excluded=True))
    assert ids(everything) == ["f", "b", "c", "a", "e", "d"]
    by_risk = apply_screener(TABLE, ScreenerQuery(sort="risk"))
    assert ids(by_risk) == ["d", "a", "b", "c", "f"]
    tvl_up = apply_screener(TABLE, ScreenerQuery(sort="tvl", descending=False))
    assert ids(tvl_up) == ["b", "f", "a", "d", "c"]  # unknown TVL last either way


def test_filters_are_case_insensitive_and_inclusive() -> None:
    q = ScreenerQuery(chain="ETHEREUM", kind="lending", min_sustainability=60, max_risk=30)
    assert ids(apply_screener(TABLE, q)) == ["b", "a"]
    assert ids(apply_screener(TABLE, ScreenerQuery(protocol="AAVE-V3", include_excluded=True))) == [
        "a",
        "e",
    ]
    assert ids(apply_screener(TABLE, ScreenerQuery(min_tvl_usd=3e7))) == ["f", "a", "d"]


def test_keyset_pages_rebuild_the_whole_order() -> None:
    for query in (
        ScreenerQuery(include_excluded=True),
        ScreenerQuery(sort="risk"),
        ScreenerQuery(sort="forecast", include_excluded=True),
        ScreenerQuery(sort="tvl", descending=False),
    ):
        full = apply_screener(TABLE, query)
        for size in (1, 2):
            pages: list[str] = []
            rest = full
            while rest.height:
                page = rest.head(size)
                pages += ids(page)
                last = screener_rows(page)[-1]
                rest = rows_after(full, query, last.get(query.column), last["id"])
            assert pages == ids(full)
    forecast = apply_screener(TABLE, ScreenerQuery(sort="forecast", include_excluded=True))
    assert ids(forecast) == ["f", "c", "b", "e", "a", "d"]  # NaN and null after numbers


def test_rows_are_json_ready_and_bad_queries_refused() -> None:
    rows = screener_rows(TABLE.head(1))
    assert rows[0]["forecast_apy_30d"] is None  # NaN is not JSON
    with pytest.raises(ConfigError, match="unknown sort"):
        ScreenerQuery(sort="colour")
    with pytest.raises(ConfigError, match="unknown kind"):
        ScreenerQuery(kind="farming")
    with pytest.raises(ConfigError, match="between 0 and 100"):
        ScreenerQuery(max_risk=101)
    with pytest.raises(ConfigError, match="non-negative"):
        ScreenerQuery(min_tvl_usd=float("nan"))
