"""As-of lookups over sorted histories, against a brute-force scan of the rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.core.model import Opportunity
from realyield.universe.point_in_time import SortedHistory, day_number, opportunities_at

START = date(2024, 1, 1)


def brute_latest(rows: list[tuple[str, date, float]], day: date, gap: int) -> dict[str, Any]:
    """key -> value of its latest row in [day - gap, day]; the later row of a tie wins."""
    out: dict[str, tuple[date, float]] = {}
    for key, d, value in rows:
        if day - timedelta(days=gap) <= d <= day and (key not in out or d >= out[key][0]):
            out[key] = (d, value)
    return {k: v[1] for k, v in out.items()}


keys = st.sampled_from(["b", "a", "c", "zz"])
rows_strategy = st.lists(
    st.tuples(
        keys,
        st.integers(-3, 40).map(lambda d: START + timedelta(days=d)),
        st.floats(0, 100, allow_nan=False),
    ),
    max_size=60,
)


@given(rows_strategy, st.integers(-10, 50), st.integers(0, 10))
@settings(max_examples=200, deadline=None)
def test_latest_rows_match_a_scan(
    rows: list[tuple[str, date, float]], offset: int, gap: int
) -> None:
    frame = pl.DataFrame(
        rows, schema={"id": pl.Utf8, "date": pl.Date, "v": pl.Float64}, orient="row"
    )
    day = START + timedelta(days=offset)
    got = SortedHistory(frame, "id").latest(day, gap)
    assert dict(zip(got["id"].to_list(), got["v"].to_list(), strict=True)) == brute_latest(
        rows, day, gap
    )


def test_day_numbers_are_polars_dates() -> None:
    for day in (date(1969, 12, 31), date(1970, 1, 1), date(2025, 6, 30)):
        assert day_number(day) == pl.Series([day]).cast(pl.Int32)[0]


def test_opportunities_take_the_row_of_their_day_and_skip_stale_ones() -> None:
    def opp(pool: str) -> Opportunity:
        return Opportunity(
            id=pool,
            kind="lending",
            chain="Ethereum",
            protocol="aave-v3",
            symbol="USDC",
            apy=1.0,
            apy_base=1.0,
            apy_reward=None,
            tvl_usd=1.0,
            as_of=datetime(2025, 1, 1, tzinfo=UTC),
            source="test",
        )

    history = pl.DataFrame(
        {
            "id": ["fresh", "fresh", "stale", "nullapy"],
            "date": [START, START + timedelta(days=5), START, START + timedelta(days=5)],
            "apy": [3.0, 4.5, 9.0, None],
            "apy_base": [3.0, 4.0, 9.0, None],
            "apy_reward": [0.0, 0.5, 0.0, None],
            "tvl_usd": [10.0, 20.0, 30.0, 40.0],
        }
    )
    day = START + timedelta(days=9)
    for source in (history, SortedHistory(history, "id")):
        got = {
            o.id: o
            for o in opportunities_at([opp("fresh"), opp("stale"), opp("nullapy")], source, day)
        }
        assert list(got) == ["fresh"]  # stale: 9 days old; nullapy: its row has no APY
        o = got["fresh"]
        assert (o.apy, o.apy_base, o.apy_reward, o.tvl_usd) == (4.5, 4.0, 0.5, 20.0)
        assert o.as_of == datetime(day.year, day.month, day.day, tzinfo=UTC)
