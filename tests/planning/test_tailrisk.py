"""Tail-risk jumps: the Monte Carlo against the closed form of a compound Poisson jump,
the sources a set of indices gives, and the packaged calibration against the real
episodes' prices."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from realyield.indices.composition import Constituent, IndexComposition
from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.samplers import Constant
from realyield.planning.tailrisk import TailEvent, jump_sources, tail_events

PRICES = Path(__file__).resolve().parents[3] / "shared" / "data" / "prices" / "coingecko_daily"


def test_one_jump_source_matches_the_closed_form() -> None:
    """One event of yearly probability p taking a share L: no yield, no price moves, no
    withdrawals. After T years V = C (1 - L)^N with N ~ Poisson(lambda T), lambda =
    -ln(1 - p): E[V] = C exp(-lambda T L) and P(V = C) = (1 - p)^T, P(one jump) =
    lambda T exp(-lambda T)."""
    p, loss, years, paths = 0.10, 0.30, 5, 200_000
    lam = -math.log1p(-p)
    cfg = PlanConfig(capital=1.0, income_per_year=0.0, horizon_years=years)
    tot = simulate(
        cfg,
        Constant(0.0),
        YieldModel(0.0),
        paths=paths,
        seed=11,
        jumps=(np.array([lam]), np.array([loss])),
    )
    v = tot.capital[:, -1]
    mean = math.exp(-lam * years * loss)
    sd = math.sqrt(math.exp(-lam * years * (1 - (1 - loss) ** 2)) - mean**2)
    assert v.mean() == pytest.approx(mean, abs=4 * sd / math.sqrt(paths))
    for k in range(3):  # the probability mass at each number of jumps
        mass = (lam * years) ** k * math.exp(-lam * years) / math.factorial(k)
        got = float(np.isclose(v, (1 - loss) ** k).mean())
        assert got == pytest.approx(mass, abs=4 * math.sqrt(mass * (1 - mass) / paths))
    assert float(np.isclose(v, 1.0).mean()) == pytest.approx(
        (1 - p) ** years, abs=4 * math.sqrt(0.59 * 0.41 / paths)
    )


def _holding(
    hid: str, kind: str, weight: float, risk: float, underlying: tuple[str, ...], protocol: str
) -> Constituent:
    return Constituent(
        hid, hid, kind, "Ethereum", weight, 5.0, 5.0, 0.0, 5.0, risk, underlying,
        (f"protocol:{protocol}",) if protocol else (),
    )  # fmt: skip


def test_sources_are_shared_bets_across_indices() -> None:
    today = date(2025, 1, 1)
    stable = IndexComposition(
        "stable",
        "S",
        today,
        [
            _holding("aave:usdc", "lending", 0.5, 20.0, ("usd-coin",), "aave"),
            _holding("aave:usdt", "lending", 0.5, 20.0, ("tether",), "aave"),
        ],
    )
    staking = IndexComposition(
        "staking",
        "K",
        today,
        [
            _holding("lido:steth", "liquid_staking", 0.6, 10.0, ("staked-ether",), "lido"),
            _holding("native:eth", "staking", 0.2, 10.0, ("ethereum",), "native-staking-eth"),
            _holding("aave:usdc", "lending", 0.2, 20.0, ("usd-coin",), "aave"),
        ],
    )
    src = jump_sources({"stable": stable, "staking": staking}, {"usd-coin", "tether"})
    labels = dict(zip(src.labels, range(len(src.labels)), strict=True))
    # one USDC collapse hits both indices' USDC holdings at once
    usdc = labels["stablecoin-collapse: usd-coin"]
    k_stable, k_staking = src.index_names.index("stable"), src.index_names.index("staking")
    assert src.loss[usdc, k_stable] == pytest.approx(0.5)
    assert src.loss[usdc, k_staking] == pytest.approx(0.2)
    # one Aave failure takes every Aave pool
    aave = labels["protocol-failure: aave"]
    assert src.loss[aave, k_stable] == pytest.approx(1.0)
    assert src.loss[aave, k_staking] == pytest.approx(0.2)
    # native staking is not a protocol position; stETH is an LST and a protocol (Lido)
    assert not any("native-staking" in label for label in src.labels)
    steth = labels["lst-discount: staked-ether"]
    assert src.loss[steth, k_staking] == pytest.approx(0.6 * 0.0654)
    # probabilities from the risk score, log-linear between the ends
    ev = next(e for e in tail_events() if e.name == "protocol-failure")
    assert src.intensity[aave] == pytest.approx(-math.log1p(-ev.probability(20.0)))
    assert ev.probability(0.0) == ev.probability_risk_0
    assert ev.probability(100.0) == pytest.approx(ev.probability_risk_100)
    assert ev.probability(50.0) == pytest.approx(
        math.sqrt(ev.probability_risk_0 * ev.probability_risk_100)
    )
    # a mix's loss per source is the weighted sum over indices
    mix = src.mix_loss({"stable": 0.25, "staking": 0.75})
    assert mix[usdc] == pytest.approx(0.25 * 0.5 + 0.75 * 0.2)


def _close(asset: str, day: str) -> float:
    with (PRICES / f"{asset}.csv").open() as f:
        for row in csv.DictReader(f):
            if row["date"][:10] == day:
                return float(row["price"])
    raise AssertionError(f"{asset} has no price on {day}")


@pytest.mark.skipif(not PRICES.is_dir(), reason="real price data (../shared/data) not present")
def test_the_calibrated_losses_are_the_real_episodes_troughs() -> None:
    events: dict[str, TailEvent] = {e.name: e for e in tail_events()}
    usdc = 1.0 - _close("usd-coin", "2023-03-12")
    assert events["stablecoin-depeg"].loss == pytest.approx(usdc, abs=5e-5)
    steth = 1.0 - _close("staked-ether", "2022-06-19") / _close("ethereum", "2022-06-19")
    assert events["lst-discount"].loss == pytest.approx(steth, abs=5e-5)
    luna = _close("terra-luna", "2022-05-14") / _close("terra-luna", "2022-05-05")
    assert luna < 2e-6 and events["stablecoin-collapse"].loss == 1.0
