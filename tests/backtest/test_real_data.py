"""Backtests and stress replays on real CoinGecko daily prices (../shared/data/prices),
checked against numbers computed straight from the CSV files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from realyield.backtest.engine import BacktestConfig
from realyield.backtest.report import read_figures, write_report
from realyield.backtest.schedule import HoldingInfo
from realyield.backtest.service import backtest_index, backtest_weights, stress_today
from realyield.backtest.stress import load_episodes, replay_episode
from realyield.core.settings import load_settings
from realyield.store.engine import open_store
from realyield.universe import build
from realyield.universe.repository import price_history_frame
from tests.conftest import SHARED_DATA

ALIASES = {"avalanche": "avalanche-2", "bnb": "binancecoin"}
PRICES = SHARED_DATA / "prices"


def csv_prices(asset: str) -> dict[date, float]:
    """Daily closes of one asset straight from the CSV files (both layouts)."""
    out: dict[date, float] = {}
    name = {v: k for k, v in ALIASES.items()}.get(asset, asset)
    with (PRICES / "coingecko_daily" / f"{name}.csv").open() as f:
        for row in csv.DictReader(f):
            out.setdefault(date.fromisoformat(row["date"][:10]), float(row["price"]))
    ext = PRICES / "coingecko_2023-08_2024-08" / f"{asset}.csv"
    if ext.exists():
        with ext.open() as f:
            for row in csv.DictReader(f):
                from datetime import UTC, datetime

                day = datetime.fromtimestamp(float(row["column_0"]) / 1000, UTC).date()
                out.setdefault(day, float(row["column_1"]))
    return out


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REALYIELD_HOME", str(tmp_path_factory.mktemp("home")))
        engine = open_store(load_settings())
        build.load_snapshot(engine)
        files = sorted((PRICES / "coingecko_daily").glob("*.csv"))
        files += sorted((PRICES / "coingecko_2023-08_2024-08").glob("*.csv"))
        for path in files:
            build.import_file(engine, path, asset_id=ALIASES.get(path.stem, path.stem))
        yield engine
        engine.dispose()


def test_weights_file_on_real_prices_2020_2024(real_store: Engine, tmp_path: Path) -> None:
    # the assets whose real prices run to 2024-08 (USDC's stop in 2023-08), plus cash
    weights = {"bitcoin": 0.4, "ethereum": 0.3, "cosmos": 0.1, "cardano": 0.1}
    path = tmp_path / "w.csv"
    path.write_text(
        "date,id,weight\n"
        + "".join(f"2020-01-01,{a},{w}\n" for a, w in weights.items())
        + "2020-01-01,cash,0.1\n"
    )
    start, end = date(2020, 1, 1), date(2024, 8, 10)
    free = BacktestConfig(
        start=start, end=end, rebalance="none", fee_bps=0, slippage_bps=0, default_gas_usd=0
    )
    held = backtest_weights(real_store, path, free)
    assert held.illustrative == []  # every series in the window is real
    assert (held.start, held.end) == (start, end)
    # buy and hold without costs: the sum of each weight's price relative, from the CSVs
    expected = 0.1 + sum(w * csv_prices(a)[end] / csv_prices(a)[start] for a, w in weights.items())
    assert held.daily["value"][-1] / 100_000 == pytest.approx(expected, rel=1e-9)
    # BTC hold pays the funding trade, then follows bitcoin's price
    btc = next(b for b in held.benchmarks if b.name == "BTC hold")
    assert btc.daily["value"][-1] == pytest.approx(
        100_000 * csv_prices("bitcoin")[end] / csv_prices("bitcoin")[start], rel=1e-9
    )
    monthly = backtest_weights(
        real_store, path, BacktestConfig(start=start, end=end, rebalance="monthly")
    )
    assert monthly.attribution["rebalances"] == 1 + 55  # funding + each month Feb 2020..Aug 2024
    assert monthly.attribution["costs"] > 0
    assert monthly.metrics.max_drawdown < -0.5  # 2022 happened
    assert {b.name for b in monthly.benchmarks} == {"BTC hold", "ETH hold", "60/40 ETH/USDC"}


def test_indices_backtest_on_real_prices_and_the_report_opens(
    real_store: Engine, tmp_path: Path
) -> None:
    for name in ("large-cap-staking", "balanced", "growth"):
        result = backtest_index(
            real_store, name, {"start": date(2020, 1, 1), "end": date(2024, 8, 10)}
        )
        # the universe's yield history starts in mid 2022: the index starts when it can
        assert date(2022, 7, 1) <= result.start < date(2023, 6, 1), name
        assert result.end == date(2024, 8, 10)
        assert any("yield history starts on 2022-07-01" in n for n in result.notes)
        assert result.illustrative, "the yields come from the snapshot and must say so"
        assert result.notes[0].startswith("ILLUSTRATIVE DATA")
        report = write_report(tmp_path / f"{name}.html", result)
        text = report.read_text(encoding="utf-8")
        assert "Plotly.newPlot" in text and "<script src=" not in text  # no CDN
        figures = read_figures(text)
        assert set(figures) == {"equity", "drawdown", "contribution", "allocation"}
        equity = figures["equity"]["data"]
        np.testing.assert_allclose(equity[0]["y"], result.daily["value"].to_numpy())
        assert [t["name"] for t in equity[1:]] == [b.name for b in result.benchmarks]
        assert len(equity[0]["x"]) == result.daily.height
        dd = figures["drawdown"]["data"][0]["y"]
        np.testing.assert_allclose(dd, result.daily["drawdown"].to_numpy())
        parts = {t["name"]: np.array(t["y"]) for t in figures["contribution"]["data"]}
        summed = (
            parts["price (ex impermanent loss)"]
            + parts["impermanent loss"]
            + parts["income"]
            + parts["costs"]
        )
        np.testing.assert_allclose(summed, parts["total"], atol=1e-6)
        stacked = np.sum([t["y"] for t in figures["allocation"]["data"]], axis=0)
        np.testing.assert_allclose(stacked, 1.0, atol=1e-9)


def test_usdc_depeg_replay_on_real_prices(real_store: Engine) -> None:
    episode = next(e for e in load_episodes() if e.name == "usdc-depeg")
    prices = price_history_frame(real_store)
    info = {"usd-coin": HoldingInfo("usd-coin", "USDC", "asset")}
    result = replay_episode(episode, {"usd-coin": 1.0}, info, prices)
    usdc = csv_prices("usd-coin")
    start = usdc[episode.start]
    assert result.status == "ok" and result.illustrative == []
    assert result.trough == date(2023, 3, 12)
    assert result.loss == pytest.approx(usdc[date(2023, 3, 12)] / start - 1, rel=1e-12)
    assert -0.04 < result.loss < -0.03  # about 3.5%
    assert result.recovery_days is not None and result.recovery_days <= 7


def test_steth_luna_ftx_replays_on_real_prices(real_store: Engine) -> None:
    episodes = {e.name: e for e in load_episodes()}
    prices = price_history_frame(real_store)
    # an ETH liquid staking token without its own series follows stETH (the discount)
    steth = episodes["steth-discount"]
    info = {
        "lido": HoldingInfo("lido", "stETH", "liquid_staking", "Ethereum", ("wrapped-steth",)),
    }
    res = replay_episode(steth, {"lido": 1.0}, info, prices)
    p = csv_prices("staked-ether")
    window = [p[d] for d in sorted(p) if steth.start <= d <= steth.end]
    assert res.proxies == {"lido": "staked-ether"}
    assert res.loss == pytest.approx(min(window) / window[0] - 1, rel=1e-12)
    # LUNA: a 10% position is gone; UST is not in the store and the replay says so
    luna = episodes["luna-ust"]
    info = {
        "terra-luna": HoldingInfo("terra-luna", "LUNA", "asset"),
        "bitcoin": HoldingInfo("bitcoin", "BTC", "asset"),
    }
    res = replay_episode(luna, {"terra-luna": 0.1, "bitcoin": 0.9}, info, prices)
    assert res.key_missing == ["terrausd"]
    assert res.loss is not None and res.loss < -0.1
    assert res.recovery_days is None and "not recovered within 365 days" in res.recovery_text
    # FTX on SOL: the loss equals SOL's worst close in the window, from the CSV
    ftx = episodes["ftx"]
    sol = csv_prices("solana")
    window = [sol[d] for d in sorted(sol) if ftx.start <= d <= ftx.end]
    res = replay_episode(
        ftx, {"sol": 1.0}, {"sol": HoldingInfo("sol", "SOL", "asset", None, ("solana",))}, prices
    )
    assert res.loss == pytest.approx(min(window) / window[0] - 1, rel=1e-12)
    assert res.loss < -0.5 and "ftx-token" in res.key_missing
    # a holding with no series in the window gets no invented number
    none = replay_episode(
        luna, {"usde": 1.0}, {"usde": HoldingInfo("usde", "USDe", "asset")}, prices
    )
    assert none.status == "no_data" and none.loss is None and none.missing == ["usde"]


def test_stress_today_on_an_index(real_store: Engine) -> None:
    from realyield.backtest.service import today_weights

    _day, weights, info = today_weights(real_store, "large-cap-staking")
    assert sum(weights.values()) == pytest.approx(1.0)
    results = {r.episode.name: r for r in stress_today(real_store, weights, info)}
    assert set(results) == {"luna-ust", "steth-discount", "ftx", "usdc-depeg"}
    for r in results.values():
        assert r.status in ("ok", "partial", "no_data")
        if r.loss is not None:
            assert -1.0 <= r.loss <= 0.0 and 0 < r.covered_weight <= 1.0 + 1e-9
