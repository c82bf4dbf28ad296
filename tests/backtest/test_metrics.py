"""Metrics against empyrical-reloaded on real CoinGecko daily prices (1e-9 relative),
drawdown durations against a brute-force scan, degenerate inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from realyield.backtest import metrics as m

empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded (dev extra) is needed")

ASSETS = ("bitcoin", "ethereum", "usd-coin", "staked-ether", "terra-luna", "solana", "tether")


def real_prices(shared: Path, asset: str) -> np.ndarray:
    """A CoinGecko daily file as an array of closes in date order (duplicates dropped)."""
    by_day: dict[str, float] = {}
    with (shared / "prices/coingecko_daily" / f"{asset}.csv").open() as f:
        for row in csv.DictReader(f):
            price = float(row["price"])
            if price > 0:
                by_day.setdefault(row["date"][:10], price)
    return np.array([by_day[d] for d in sorted(by_day)])


@pytest.mark.parametrize("asset", ASSETS)
def test_metrics_equal_empyrical_on_real_prices(shared_data: Path, asset: str) -> None:
    r = m.returns_from_values(real_prices(shared_data, asset))
    ann = 365
    pairs = {
        "cagr": (m.cagr(r), empyrical.cagr(r, annualization=ann)),
        "volatility": (m.annual_volatility(r), empyrical.annual_volatility(r, annualization=ann)),
        "sharpe": (m.sharpe(r), empyrical.sharpe_ratio(r, risk_free=0, annualization=ann)),
        "sortino": (m.sortino(r), empyrical.sortino_ratio(r, required_return=0, annualization=ann)),
        "downside": (m.downside_risk(r), empyrical.downside_risk(r, annualization=ann)),
        "max_drawdown": (m.max_drawdown(r), empyrical.max_drawdown(r)),
        "calmar": (m.calmar(r), empyrical.calmar_ratio(r, annualization=ann)),
    }
    for name, (ours, ref) in pairs.items():
        assert np.isfinite(ref), (asset, name)
        assert ours[0] == pytest.approx(ref, rel=1e-9, abs=0), (asset, name)
    table = m.metrics_table(r)[0]
    assert table.cagr == pytest.approx(empyrical.cagr(r, annualization=ann), rel=1e-9)
    assert table.days == len(r)


def test_columns_at_once_equal_one_by_one(shared_data: Path) -> None:
    n = 900
    cols = np.column_stack(
        [m.returns_from_values(real_prices(shared_data, a)[-n - 1 :]) for a in ASSETS[:4]]
    )
    for name, ours, ref in (
        ("sharpe", m.sharpe(cols), lambda c: empyrical.sharpe_ratio(c, annualization=365)),
        ("sortino", m.sortino(cols), lambda c: empyrical.sortino_ratio(c, annualization=365)),
        ("calmar", m.calmar(cols), lambda c: empyrical.calmar_ratio(c, annualization=365)),
    ):
        for k in range(cols.shape[1]):
            assert ours[k] == pytest.approx(ref(cols[:, k]), rel=1e-9), (name, k)


def brute_force_spans(values: np.ndarray) -> tuple[int, bool, int]:
    """(max drawdown duration, recovered, longest drawdown) by scanning every peak."""
    worst, worst_peak, worst_trough = 0.0, 0, 0
    for i in range(len(values)):
        for j in range(i, len(values)):
            dd = values[j] / values[i] - 1
            if dd < worst and values[i] >= values[: i + 1].max():
                worst, worst_peak, worst_trough = dd, i, j
    after = [t for t in range(worst_trough + 1, len(values)) if values[t] >= values[worst_peak]]
    mdd_days = (after[0] if after else len(values) - 1) - worst_peak
    longest, t = 0, 0
    while t < len(values):
        peak = t
        t += 1
        while t < len(values) and values[t] < values[peak]:
            t += 1
        longest = max(longest, (t if t < len(values) else len(values) - 1) - peak)
    return (mdd_days if worst < 0 else 0), bool(after) or worst == 0, longest


@pytest.mark.parametrize("seed", range(6))
def test_drawdown_durations_equal_a_brute_force_scan(seed: int) -> None:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0005, 0.02, 150)
    values = np.concatenate([[1.0], np.cumprod(1 + r)])
    spans = m.drawdown_spans(r)
    days, recovered, longest = brute_force_spans(values)
    assert spans.max_drawdown_days[0] == days
    assert spans.recovered[0] == recovered
    assert spans.longest_drawdown_days[0] == longest


def test_drawdown_by_hand() -> None:
    # 100 -> 110 (peak, day 1) -> 99 -> 88 (trough, day 3) -> 105 -> 111 (recovered day 5)
    values = np.array([100, 110, 99, 88, 105, 111.0])
    r = m.returns_from_values(values)
    spans = m.drawdown_spans(r)
    assert m.max_drawdown(r)[0] == pytest.approx(88 / 110 - 1)
    assert (spans.peak[0], spans.trough[0], spans.recovery[0]) == (1, 3, 5)
    assert spans.max_drawdown_days[0] == 4 and spans.longest_drawdown_days[0] == 4
    # a first-day loss is a drawdown from the starting value, not recovered
    r2 = m.returns_from_values(np.array([100, 90, 95.0]))
    assert m.max_drawdown(r2)[0] == pytest.approx(-0.1)
    assert not m.drawdown_spans(r2).recovered[0]
    assert m.drawdown_spans(r2).max_drawdown_days[0] == 2


def test_degenerate_series() -> None:
    flat = np.zeros((30, 1))
    assert m.annual_volatility(flat)[0] == 0.0
    assert np.isnan(m.sharpe(flat)[0])  # 0 / 0, as the reference
    assert np.isnan(m.calmar(flat)[0])  # no drawdown
    assert np.isnan(m.sharpe(np.array([0.01]))[0])  # fewer than two returns
    assert m.returns_from_values(np.array([1.0, 0.0, 0.0]))[1] == 0.0  # after a total loss
    with pytest.raises(Exception, match="below -100%"):
        m.cagr(np.array([-1.5]))
