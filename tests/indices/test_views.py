"""What the dashboard reads off an index: allocations, the 30-day change, drawdowns."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from realyield.indices.composition import Constituent, IndexComposition
from realyield.indices.levels import LevelHistory


def holding(
    id_: str, kind: str, chain: str | None, weight: float, protocol: str | None
) -> Constituent:
    deps = (f"protocol:{protocol}",) if protocol else ("asset:x",)
    return Constituent(id_, id_, kind, chain, weight, 5.0, 4.0, 1.0, 4.5, 20.0, (), deps)


def test_allocation_sums_weights_by_dimension() -> None:
    comp = IndexComposition(
        "t",
        "T",
        date(2025, 6, 30),
        [
            holding("a", "lending", "Ethereum", 0.4, "aave"),
            holding("b", "lending", "Base", 0.25, "aave"),
            holding("c", "liquidity", "Base", 0.15, "uniswap"),
            holding("btc", "asset", None, 0.2, None),
        ],
    )
    assert comp.allocation("chain") == pytest.approx(
        {"Ethereum": 0.4, "Base": 0.4, "held directly": 0.2}
    )
    assert list(comp.allocation("chain")) == ["Base", "Ethereum", "held directly"]  # ties by name
    assert comp.allocation("protocol") == pytest.approx(
        {"aave": 0.65, "held directly": 0.2, "uniswap": 0.15}
    )
    assert comp.allocation("kind") == pytest.approx(
        {"lending": 0.65, "asset": 0.2, "liquidity": 0.15}
    )
    with pytest.raises(ValueError, match="allocation by 'colour'"):
        comp.allocation("colour")


def test_change_and_drawdown_from_levels() -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(61)]
    level = np.concatenate([np.linspace(100, 120, 31), np.linspace(114, 126, 30)])
    history = LevelHistory("t", pl.DataFrame({"date": days, "level_total": level}))
    # the level 30 days before the last day (2025-03-02 - 30 = 2025-01-31, index 30) is 120
    assert history.change(30) == pytest.approx(126 / 120 - 1)
    assert history.change(60) == pytest.approx(126 / 100 - 1)
    assert history.change(61) is None  # history too short
    dd = history.drawdown()
    assert dd[:31] == pytest.approx(np.zeros(31))
    assert dd[31] == pytest.approx(114 / 120 - 1)
    assert dd.min() == pytest.approx(114 / 120 - 1) and dd[-1] == pytest.approx(0.0)
