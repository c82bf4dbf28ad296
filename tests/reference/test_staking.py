"""The staking-parameters table: the packaged data and the parser's guards."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from realyield.core.errors import DataError, RecordError
from realyield.reference.staking import (
    COLUMNS,
    STAKING_ROUTES,
    StakingParams,
    load_staking_params,
    staking_params_for,
)

NATIVE_NETWORKS = {
    "ethereum",
    "solana",
    "cardano",
    "polkadot",
    "cosmos",
    "avalanche-2",
    "near",
    "tron",
    "matic-network",
    "binancecoin",
}
LIQUID_TOKENS = {
    "staked-ether",
    "rocket-pool-eth",
    "coinbase-wrapped-staked-eth",
    "jito-staked-sol",
    "msol",
}

GOOD_ROW = (
    "solana,solana,SOL,delegated,validator,7.0,4.5,2.5,0.0023,SOL,false,5,2025-06-30,"
    "stakingrewards.com,https://www.stakingrewards.com/asset/solana,approximate"
)


def params(**changes: object) -> StakingParams:
    base = StakingParams(
        network="solana",
        asset_id="solana",
        symbol="SOL",
        route="delegated",
        provider="validator",
        nominal_apr_pct=7.0,
        supply_inflation_pct=4.5,
        unbonding_days=2.5,
        min_stake=0.0023,
        min_stake_unit="SOL",
        slashing=False,
        protocol_fee_pct=0.0,
        as_of=date(2025, 6, 30),
        source_name="stakingrewards.com",
        source_url="https://www.stakingrewards.com/asset/solana",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def write_table(tmp_path: Path, *rows: str, header: str = ",".join(COLUMNS)) -> Path:
    path = tmp_path / "staking.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# --- the inflation adjustment ----------------------------------------------------------------


def test_real_reward_rate_matches_hand_computation() -> None:
    # r = 7%, i = 4.5%: (1.07 / 1.045) - 1 = 0.0239234449...
    p = params()
    assert p.real_reward_rate == pytest.approx(1.07 / 1.045 - 1, rel=1e-12)
    assert p.real_reward_rate == pytest.approx(0.023923444976, abs=1e-12)


def test_real_reward_rate_is_not_the_naive_difference() -> None:
    # r - i = 2.5% overstates the real rate; the ratio gives 2.39%.
    assert params().real_reward_rate < 0.07 - 0.045


def test_net_rate_takes_the_fee_from_rewards() -> None:
    p = params(protocol_fee_pct=10.0)
    assert p.net_apr_pct == pytest.approx(6.3)
    assert p.real_net_reward_rate == pytest.approx(1.063 / 1.045 - 1, rel=1e-12)
    assert p.real_reward_rate == pytest.approx(1.07 / 1.045 - 1, rel=1e-12)


def test_deflation_raises_the_real_rate() -> None:
    p = params(nominal_apr_pct=2.0, supply_inflation_pct=-4.0)
    assert p.real_reward_rate == pytest.approx(1.02 / 0.96 - 1, rel=1e-12)


def test_no_inflation_means_real_equals_nominal() -> None:
    assert params(supply_inflation_pct=0.0).real_reward_rate == pytest.approx(0.07)


# --- the packaged table ------------------------------------------------------------------------


def test_every_required_network_has_a_native_or_delegated_route() -> None:
    table = load_staking_params()
    direct = {p.asset_id for p in table if p.route in ("native", "delegated")}
    assert direct >= NATIVE_NETWORKS


def test_required_liquid_staking_tokens_are_present() -> None:
    table = load_staking_params()
    liquid = {p.asset_id for p in table if p.route == "liquid"}
    assert liquid >= LIQUID_TOKENS


def test_every_row_is_dated_sourced_and_plausible() -> None:
    for p in load_staking_params():
        assert p.route in STAKING_ROUTES
        assert p.as_of == date(2025, 6, 30)
        assert p.source_url.startswith("https://") and p.source_name
        assert p.notes, f"{p.asset_id}: notes must say how approximate the figures are"
        assert 0 < p.nominal_apr_pct < 30, p.asset_id
        assert -10 < p.supply_inflation_pct < 15, p.asset_id
        assert 0 <= p.protocol_fee_pct <= 30, p.asset_id
        assert 0 <= p.unbonding_days <= 30, p.asset_id
        assert math.isfinite(p.real_reward_rate)


def test_known_figures() -> None:
    eth = staking_params_for("ethereum")
    assert [p.route for p in eth] == ["native"]
    assert eth[0].min_stake == 32 and eth[0].slashing
    assert staking_params_for("polkadot")[0].unbonding_days == 28
    assert staking_params_for("cosmos")[0].unbonding_days == 21
    lido = staking_params_for("staked-ether")[0]
    assert lido.provider == "Lido" and lido.protocol_fee_pct == 10
    assert staking_params_for("binancecoin")[0].supply_inflation_pct < 0  # burns
    assert "exit queue" in eth[0].notes


def test_unknown_asset_gives_an_empty_list() -> None:
    assert staking_params_for("no-such-coin") == []


def test_each_call_returns_a_new_list() -> None:
    first = load_staking_params()
    first.clear()
    assert load_staking_params()


def test_load_from_path(tmp_path: Path) -> None:
    (p,) = load_staking_params(write_table(tmp_path, GOOD_ROW))
    assert p.nominal_apr_pct == 7.0 and p.slashing is False and p.as_of == date(2025, 6, 30)
    assert p.real_reward_rate == pytest.approx(1.07 / 1.045 - 1)


# --- the guards ------------------------------------------------------------------------------


def _bad(column: str, value: str) -> str:
    values = GOOD_ROW.split(",")
    values[COLUMNS.index(column)] = value
    return ",".join(values)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("nominal_apr_pct", "nan"),
        ("nominal_apr_pct", "NaN"),
        ("nominal_apr_pct", "inf"),
        ("nominal_apr_pct", "-1"),
        ("nominal_apr_pct", "abc"),
        ("nominal_apr_pct", ""),
        ("supply_inflation_pct", "nan"),
        ("supply_inflation_pct", "-100"),
        ("unbonding_days", "-3"),
        ("min_stake", "-0.5"),
        ("protocol_fee_pct", "-5"),
        ("protocol_fee_pct", "120"),
        ("route", "restaked"),
        ("slashing", "maybe"),
        ("as_of", "30/06/2025"),
        ("source_url", "stakingrewards.com"),
        ("network", ""),
    ],
)
def test_bad_value_names_row_and_field(tmp_path: Path, column: str, value: str) -> None:
    path = write_table(tmp_path, GOOD_ROW, _bad(column, value))
    with pytest.raises(RecordError) as info:
        load_staking_params(path)
    assert info.value.field == column
    assert "staking.csv row 3" in str(info.value)  # header is row 1, the bad row is 3
    assert column in str(info.value)


def test_record_errors_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_staking_params(write_table(tmp_path, _bad("route", "other")))


def test_missing_column_is_refused(tmp_path: Path) -> None:
    header = ",".join(c for c in COLUMNS if c != "slashing")
    with pytest.raises(DataError, match="slashing"):
        load_staking_params(write_table(tmp_path, GOOD_ROW, header=header))


def test_short_row_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="row 2"):
        load_staking_params(write_table(tmp_path, "solana,solana,SOL"))


def test_duplicate_route_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"row 3.*duplicates row 2"):
        load_staking_params(write_table(tmp_path, GOOD_ROW, GOOD_ROW))


def test_empty_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no staking rows"):
        load_staking_params(write_table(tmp_path))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_staking_params(tmp_path / "absent.csv")


def test_record_validates_itself() -> None:
    with pytest.raises(RecordError) as info:
        params(nominal_apr_pct=float("nan"))
    assert info.value.field == "nominal_apr_pct"
    with pytest.raises(RecordError) as info:
        params(route="solo")
    assert info.value.field == "route"
