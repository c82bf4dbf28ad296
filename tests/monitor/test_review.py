"""The quarterly review on a small store whose figures have closed forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.core.model import ApyPoint, Opportunity, utc_datetime
from realyield.monitor.alerts import record_findings
from realyield.monitor.review import parse_quarter, quarterly_review, write_review
from realyield.monitor.rules import Finding
from realyield.store.records import save_apy_history, save_opportunities

NOW = datetime(2024, 4, 15, tzinfo=UTC)
DAYS = 91  # 2024Q1: 31 + 29 + 31


def fill(engine: Engine) -> None:
    opps, points = [], []
    for opp_id in ("a", "b"):
        opps.append(
            Opportunity(
                id=opp_id,
                kind="lending",
                chain="Ethereum",
                protocol="aave-v3",
                symbol="USDC",
                apy=5.0,
                apy_base=5.0,
                apy_reward=0.0,
                tvl_usd=50e6,
                as_of=utc_datetime(date(2024, 3, 31)),
                source="defillama",
                underlying=("usd-coin",),
                exposure="single",
                stablecoin=True,
            )
        )
    day = date(2023, 12, 1)
    while day <= date(2024, 3, 31):
        points.append(ApyPoint("a", day, 5.0, 5.0, 0.0, 50e6))
        b = 10.0 if day < date(2024, 2, 1) else 4.0
        points.append(ApyPoint("b", day, b, b, 0.0, 50e6))
        day += timedelta(days=1)
    with engine.begin() as conn:
        save_opportunities(conn, opps)
        save_apy_history(conn, "defillama", points)


def alert(subject: str, day: date) -> Finding:
    return Finding("apy_collapse", subject, day, "warning", f"{subject} fell", {}, "look", 1.0)


def test_quarter_figures_against_closed_forms(engine: Engine, tmp_path: Path) -> None:
    fill(engine)
    record_findings(engine, [alert("b", date(2024, 2, 1)), alert("a", date(2023, 11, 1))])
    with clock.freeze(NOW):
        review = quarterly_review(
            engine,
            "2024Q1",
            {"a": 10_000, "b": 20_000},
            targets={"a": 0.5, "b": 0.5},
            income_per_year_usd=2_000,
        )
    assert (review.start, review.end, review.days) == (date(2024, 1, 1), date(2024, 3, 31), DAYS)
    a, b = review.holdings
    assert a.expected_usd == pytest.approx(10_000 * 0.05 * DAYS / 365)
    assert a.earned_usd == pytest.approx(a.expected_usd)
    assert b.apy_start == 10.0 and b.apy_end == 4.0
    assert b.apy_mean == pytest.approx((31 * 10 + 60 * 4) / DAYS)
    assert b.expected_usd == pytest.approx(20_000 * 0.10 * DAYS / 365)
    assert b.earned_usd == pytest.approx(20_000 * (31 * 10 + 60 * 4) / 100 / 365)  # 301.37
    assert b.shortfall_pct == pytest.approx((1 - 5.5 / 9.1) * 100)
    assert review.planned_income_usd == pytest.approx(2_000 * DAYS / 365)
    assert [x.title for x in b.alerts] == ["b fell"] and a.alerts == []  # a's is before Q1
    assert review.suggested_weights == pytest.approx({"a": 0.5, "b": 0.5})  # both 16.7 pp off
    assert review.sell == []
    for h in (a, b):
        assert h.sustainability_start is not None and h.sustainability_end is not None
    assert review.earned_basis == "estimated from stored APY"

    with clock.freeze(NOW):
        ledger = quarterly_review(
            engine,
            "2024Q1",
            {"a": 10_000, "b": 20_000},
            realised_income={"a": Decimal("120.00"), "b": Decimal("290.50")},
        )
    assert ledger.earned_basis == "ledger" and ledger.earned_usd == pytest.approx(410.5)
    assert ledger.suggested_weights == {}

    html, md = write_review(review, tmp_path)
    text = md.read_text()
    assert "| b | $20,000 | 66.7% | 50.0% | 10.00% | 6.04% | $498.63 | $301.37 |" in text
    assert "**warning** b: b fell" in text
    page = html.read_text()
    assert '<script src="plotly.min.js"></script>' in page and 'id="chart-2"' in page
    assert (tmp_path / "plotly.min.js").stat().st_size > 100_000


def test_holdings_missing_at_the_end_are_to_sell(engine: Engine) -> None:
    fill(engine)
    with clock.freeze(NOW):
        review = quarterly_review(
            engine, "2024Q1", {"a": 1.0, "gone": 1.0}, targets={"a": 0.5, "gone": 0.5}
        )
    assert review.sell == ["gone"]
    assert review.suggested_weights == pytest.approx({"a": 1.0})


def test_bad_inputs() -> None:
    assert parse_quarter("2025Q3") == (date(2025, 7, 1), date(2025, 9, 30))
    assert parse_quarter("2024-q4") == (date(2024, 10, 1), date(2024, 12, 31))
    with pytest.raises(ConfigError):
        parse_quarter("2025Q5")


def test_future_quarter_and_no_holdings(engine: Engine) -> None:
    with clock.freeze(NOW), pytest.raises(InsufficientDataError):
        quarterly_review(engine, "2024Q3", {"a": 1.0})
    with pytest.raises(ConfigError, match="needs holdings"):
        quarterly_review(engine, "2024Q1", {})


def test_quarter_years_out_of_range_are_refused_not_crashed() -> None:
    from realyield.monitor.review import parse_quarter

    for text in ("0000Q1", "9999Q4"):
        with pytest.raises(ConfigError, match="between 1970 and 2200"):
            parse_quarter(text)
    assert parse_quarter("2024Q4")[1].isoformat() == "2024-12-31"
