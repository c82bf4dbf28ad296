"""Rebalancing rules and the daily screen by hand; level histories over the bundled
history and over real prices, and the same run as the backtest's."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.backtest.screens import daily_removals, failing_days
from realyield.backtest.service import backtest_index_on, index_config, index_history
from realyield.cli import app
from realyield.indices.methodology import packaged_definitions
from realyield.indices.rebalance import apply_band, schedule_dates
from realyield.indices.service import HistoryData, load_history_data
from realyield.universe import build


def test_schedule_and_band_by_hand() -> None:
    assert schedule_dates(date(2024, 1, 15), date(2024, 5, 1), "monthly") == [
        date(2024, 2, 1),
        date(2024, 3, 1),
        date(2024, 4, 1),
        date(2024, 5, 1),
    ]
    assert schedule_dates(date(2024, 1, 1), date(2024, 12, 31), "quarterly") == [
        date(2024, 1, 1),
        date(2024, 4, 1),
        date(2024, 7, 1),
        date(2024, 10, 1),
    ]
    new = apply_band(
        {"a": 0.50, "b": 0.30, "c": 0.20}, {"a": 0.505, "b": 0.20, "c": 0.295}, band=0.01
    )
    assert new["a"] == 0.50  # a 0.5-point move is inside the band: not traded
    assert new["b"] == pytest.approx(0.20 * 0.50 / 0.495)
    assert sum(new.values()) == pytest.approx(1.0)


def test_the_daily_screen_by_hand() -> None:
    """Holding ``a`` has two rows on day 4 (200% then 3.65%, then a null): the last value
    counts, so the 100% APY cap does not remove it; ``b``'s data stops after day 2 and it
    fails once that is more than 7 days old (day 10); ``c`` is above the cap on day 6
    only; ``asset`` has no yield history and never fails. On the schedule: ``b`` and ``c``
    are removed between rebalances, and on day 12 (a scheduled day) ``b``, still
    failing, is left out of the new row, the rest scaled to fill it."""
    start = date(2024, 1, 1)
    days = [start + timedelta(days=i) for i in range(15)]
    rows = [("a", d, 3.65) for d in days[:4]]
    rows += [("a", days[4], 200.0), ("a", days[4], 3.65), ("a", days[4], None)]
    rows += [("a", d, 3.65) for d in days[5:]]
    rows += [("b", d, 7.3) for d in days[:3]]
    rows += [("c", d, 150.0 if d == days[6] else 5.0) for d in days]
    apy = pl.DataFrame(rows, schema=["id", "date", "apy"], orient="row")
    ids = ["a", "asset", "b", "c"]
    fails = failing_days(apy, ids, days, 100.0)
    assert not fails[:, 0].any() and not fails[:, 1].any()
    assert fails[:, 2].tolist() == [False] * 10 + [True] * 5
    assert np.flatnonzero(fails[:, 3]).tolist() == [6]
    weights = np.array([[0.25, 0.25, 0.25, 0.25], [0.4, 0.2, 0.2, 0.2]])
    rows_out, removals = daily_removals(
        [days[0], days[12]], ids, weights, apy, days[-1], max_apy=100.0
    )
    assert removals == [(days[6], "c"), (days[10], "b")]
    np.testing.assert_allclose(rows_out[0], weights[0])
    np.testing.assert_allclose(rows_out[1], [0.5, 0.25, 0.0, 0.25])


@pytest.fixture
def snapshot_engine(engine: Engine) -> Engine:
    build.load_snapshot(engine)
    return engine


def test_every_family_has_levels_over_the_bundled_history(snapshot_engine: Engine) -> None:
    data = load_history_data(snapshot_engine, ("snapshot",))
    for name in ("large-cap-staking", "defi-yield", "stablecoin-income", "growth", "balanced"):
        levels = index_history(name, data, start=date(2024, 7, 1), end=date(2025, 6, 30))
        f = levels.frame
        assert f.height == 365 and f["level_total"].min() > 0, name
        assert f["rebalanced"].sum() >= 1, name
        if name != "growth":
            assert f["income_return"].sum() > 0, name  # income indices earn income
        total = (1 + f["total_return"]).product()
        assert f["level_total"][-1] == pytest.approx(100 * total), name
        parts = f["price_return"] + f["income_return"] - f["cost"]
        np.testing.assert_allclose(f["total_return"].to_numpy(), parts.to_numpy(), atol=1e-12)
        s = levels.summary()
        assert s["total_return"] == pytest.approx(
            s["price_return"] + s["income_return"] - s["costs"], abs=1e-9
        ), name


def _same_run(data: HistoryData, name: str) -> None:
    """``index NAME --history`` and ``backtest NAME`` over the same (default) window:
    equal total return, income, costs and rebalance count."""
    defs = packaged_definitions()
    levels = index_history(name, data)
    config = replace(index_config(defs[name], {}), benchmarks=False)
    result = backtest_index_on(data, name, config, definitions=defs)
    s, a = levels.summary(), result.attribution
    assert levels.frame["date"][0] == result.start and levels.frame["date"][-1] == result.end
    assert s["total_return"] == pytest.approx(result.metrics.total_return, rel=1e-9, abs=1e-12)
    assert s["income_return"] == pytest.approx(a["income_return"], rel=1e-9, abs=1e-12)
    assert s["price_return"] == pytest.approx(a["price_return"], rel=1e-9, abs=1e-12)
    assert s["costs"] == pytest.approx(a["costs"], rel=1e-9, abs=1e-12)
    assert s["rebalances"] == a["rebalances"]


def test_index_history_and_backtest_agree_on_the_bundled_data(snapshot_engine: Engine) -> None:
    data = load_history_data(snapshot_engine, ("snapshot",))
    for name in packaged_definitions():
        _same_run(data, name)


def test_index_history_and_backtest_commands_print_the_same_run(
    snapshot_engine: Engine,
) -> None:
    """End to end: the two commands' JSON, default windows, for the Balanced index."""
    runner = CliRunner()
    history = runner.invoke(app, ["index", "balanced", "--history", "--json"])
    assert history.exit_code == 0, history.output
    backtest = runner.invoke(app, ["backtest", "balanced", "--json", "--no-stress"])
    assert backtest.exit_code == 0, backtest.output
    levels = json.loads(history.output)["history"]["summary"]
    result = json.loads(backtest.output)
    assert levels["total_return"] == pytest.approx(result["metrics"]["total_return"], rel=1e-9)
    assert levels["income_return"] == pytest.approx(
        result["attribution"]["income_return"], rel=1e-9
    )
    assert levels["rebalances"] == result["attribution"]["rebalances"]


ALIASES = {"avalanche": "avalanche-2", "bnb": "binancecoin"}


def test_levels_over_real_prices(snapshot_engine: Engine, shared_data: Path) -> None:
    """Staking, balanced and growth priced with real CoinGecko history (real prices win
    over the illustrative ones in the store; yields still come from the snapshot); and
    there too, the level history is the backtest's run."""
    for path in sorted((shared_data / "prices/coingecko_daily").glob("*.csv")):
        build.import_file(snapshot_engine, path, asset_id=ALIASES.get(path.stem, path.stem))
    data = load_history_data(snapshot_engine, ("snapshot",))
    real_eth = data.prices.filter(
        (pl.col("asset_id") == "ethereum") & (pl.col("date") == date(2022, 6, 19))
    )
    assert real_eth["source"][0] == "file" and real_eth["price_usd"][0] < 1100
    for name in ("large-cap-staking", "balanced", "growth"):
        levels = index_history(name, data, start=date(2022, 7, 1), end=date(2023, 8, 28))
        f = levels.frame
        assert f["date"][-1] == date(2023, 8, 28) and f["level_total"].min() > 0, name
        assert f["price_return"].abs().max() > 0.01, name  # real crypto volatility shows
    growth = index_history("growth", data, start=date(2022, 7, 1), end=date(2023, 8, 28))
    # after the 2022 crash BTC/ETH sat below their 200-day average: the filter went risk
    # off into stablecoin-income, and back on in 2023
    assert any("risk off" in e for e in growth.events)
    assert any("risk on" in e for e in growth.events)
    _same_run(data, "balanced")
