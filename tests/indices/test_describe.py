"""`realyield index NAME` states its rules, sleeves (or components) and bets, as the README
says; the rule lines come from the definition, so they carry the TOML's own numbers."""

from __future__ import annotations

import dataclasses

from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.settings import Settings
from realyield.indices.methodology import definition, describe_rules


def _text(name: str) -> dict[str, str]:
    return dict(describe_rules(definition(name)))


def test_rule_lines_carry_the_definitions_numbers() -> None:
    defi = _text("defi-yield")
    assert list(defi) == ["eligible", "caps", "weighting", "sleeves", "rebalance"]
    assert "TVL >= $5M" in defi["eligible"] and "risk <= 65" in defi["eligible"]
    assert defi["caps"] == (
        "single 10%; per protocol 20%, chain 40%, issuer 30%, reward 25%, bridge 30%; "
        "10-40 holdings"
    )
    assert "minimum weight 1%" in defi["weighting"]
    assert defi["sleeves"].startswith("stablecoin-lending 40% (lending, stablecoins only)")
    assert "10 bps per 1% of TVL" in defi["rebalance"] and "Ethereum $5" in defi["rebalance"]
    staking = _text("large-cap-staking")
    assert "market cap >= $1B" in staking["networks"]
    assert "0.25 pp per 30 days of lock-up - 2 pp x risk / 100" in staking["networks"]
    balanced = _text("balanced")
    assert (
        "growth-assets 60% (8 assets by market_cap, 50% cap, staked through "
        in (balanced["components"])
    )
    assert balanced["weighting"] == "by component; minimum weight 1%"
    assert "below it, hold stablecoin-income" in _text("growth")["regime"]
    # a changed rule shows: the lines are read from the definition, not written by hand
    changed = dataclasses.replace(
        definition("stablecoin-income"),
        caps=dataclasses.replace(definition("stablecoin-income").caps, single=0.2),
    )
    assert dict(describe_rules(changed))["caps"].startswith("single 20%;")


def test_index_prints_rules_components_holdings_and_bets(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["index", "balanced"], terminal_width=200)
    assert result.exit_code == 0, result.output
    out = result.output
    for line in ("components: growth-assets 60%", "caps: single 30%", "rebalance: quarterly"):
        assert line in out
    assert "effective bets by protocol" in out
    for part in ("growth-assets", "staking-income", "defi-income"):  # the components table
        assert any(
            row.split()[:2] == [part, "60.0%" if part == "growth-assets" else "20.0%"]
            for row in out.splitlines()
        ), part
    assert "BTC" in out and "native-staking ETH" in out
