"""Targets: command-line weights, files, and an index mapped to exchange coins."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from realyield.core.errors import ConfigError
from realyield.execution.targets import coin_weights, load_targets, parse_targets
from realyield.indices.composition import Constituent, IndexComposition


def holding(
    cid: str, weight: float, underlying: tuple[str, ...], kind: str = "lending"
) -> Constituent:
    return Constituent(cid, cid, kind, "Ethereum", weight, 5.0, 5.0, 0.0, 5.0, 20.0, underlying)


def test_index_to_coin_weights() -> None:
    comp = IndexComposition(
        "x",
        "X",
        date(2025, 6, 30),
        [
            holding("asset:bitcoin", 0.4, ("bitcoin",), "asset"),
            holding("lido:steth", 0.3, ("staked-ether",), "liquid_staking"),
            holding("aave:usdc", 0.2, ("usd-coin",)),
            holding("uni:arb-weth", 0.1, ("arbitrum", "ethereum"), "liquidity"),
        ],
    )
    symbols = {
        "bitcoin": "BTC",
        "ethereum": "ETH",
        "staked-ether": "stETH",
        "arbitrum": "ARB",
        "usd-coin": "USDC",
    }
    weights, notes = coin_weights(comp, symbols)
    # stETH counts as ETH (0.3) and the LP splits 0.05/0.05; USDC stays cash.
    assert weights == pytest.approx({"BTC": 0.4, "ETH": 0.35, "ARB": 0.05})
    assert notes[0] == "stablecoin weight 20.0% stays in the quote currency"
    assert "stETH -> ETH" in notes[1]
    unknown, notes = coin_weights(comp, {"bitcoin": "BTC"})
    assert unknown == pytest.approx({"BTC": 0.4}) and "arbitrum" in notes[-1]


def test_parse_and_load_targets(tmp_path: Path) -> None:
    assert parse_targets(["btc=40%", "ETH=0.3"]) == {"BTC": 0.4, "ETH": 0.3}
    for bad in (["BTC"], ["BTC=x"], ["BTC=1", "btc=2"]):
        with pytest.raises(ConfigError):
            parse_targets(bad)
    path = tmp_path / "t.toml"
    path.write_text("[targets]\nBTC = 0.5\neth = 0.25\n")
    assert load_targets(path) == {"BTC": 0.5, "ETH": 0.25}
    path.write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"\[targets\]"):
        load_targets(path)
