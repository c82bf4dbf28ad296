from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realyield.core.errors import RecordError
from realyield.core.model import ApyPoint, Asset, Opportunity, PricePoint

NOW = datetime(2025, 6, 30, tzinfo=UTC)


def opp(**changes: object) -> Opportunity:
    fields: dict[str, object] = dict(
        id="aave-v3:ethereum:usdc",
        kind="lending",
        chain="Ethereum",
        protocol="aave-v3",
        symbol="USDC",
        apy=4.93,
        apy_base=4.62,
        apy_reward=0.31,
        tvl_usd=3.1e9,
        as_of=NOW,
        source="test",
    )
    fields.update(changes)
    return Opportunity(**fields)  # type: ignore[arg-type]


def test_valid_opportunity_keeps_values_and_reward_share() -> None:
    o = opp()
    assert o.apy == 4.93
    assert o.reward_share == pytest.approx(0.31 / 4.93)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tvl_usd": math.nan}, "tvl_usd"),
        ({"tvl_usd": -1.0}, "tvl_usd"),
        ({"apy": 9.0}, "apy"),
        ({"kind": "farming"}, "kind"),
        ({"as_of": datetime(2025, 6, 30)}, "as_of"),
        ({"apy_base": -0.1, "apy": 0.21}, "apy_base"),
        ({"apy": math.inf, "apy_base": None, "apy_reward": None}, "apy"),
        ({"exposure": "triple"}, "exposure"),
        ({"chain": " "}, "chain"),
    ],
)
def test_invalid_opportunity_names_record_field_and_value(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(RecordError) as info:
        opp(**changes)
    assert info.value.field == field
    assert info.value.record == "Opportunity['aave-v3:ethereum:usdc']"
    message = str(info.value)
    assert field in message and "aave-v3:ethereum:usdc" in message
    assert repr(changes[field]) in message


def test_apy_within_rounding_is_accepted_and_missing_apy_is_derived() -> None:
    assert opp(apy=4.935).apy == 4.935  # 0.005 off: rounding of independently rounded parts
    assert opp(apy=None).apy == pytest.approx(4.93)
    assert opp(apy=7.0, apy_base=None, apy_reward=None).reward_share is None


def test_as_of_is_normalised_to_utc() -> None:
    from datetime import timedelta, timezone

    local = datetime(2025, 6, 30, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert opp(as_of=local).as_of == NOW


@given(base=st.floats(0, 1e4), reward=st.floats(0, 1e4))
def test_any_nonnegative_split_with_its_sum_is_valid(base: float, reward: float) -> None:
    o = opp(apy=base + reward, apy_base=base, apy_reward=reward)
    assert o.apy == pytest.approx(base + reward)


def test_history_records_validate() -> None:
    ApyPoint("p", date(2024, 1, 1), 5.0, 4.0, 1.0, 10.0)
    with pytest.raises(RecordError, match="tvl_usd"):
        ApyPoint("p", date(2024, 1, 1), 5.0, tvl_usd=-3.0)
    with pytest.raises(RecordError, match="date"):
        ApyPoint("p", datetime(2024, 1, 1, tzinfo=UTC), 5.0)  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="price_usd"):
        PricePoint("bitcoin", date(2024, 1, 1), 0.0)
    with pytest.raises(RecordError, match="price_usd"):
        PricePoint("bitcoin", date(2024, 1, 1), math.nan)
    with pytest.raises(RecordError, match="category"):
        Asset("x", "X", "X", "memecoin", NOW, "test")
    with pytest.raises(RecordError, match="naive"):
        Asset("x", "X", "X", "other", datetime(2025, 1, 1), "test")


def test_restated_equals_a_checked_copy_and_checks_the_new_values() -> None:
    from dataclasses import replace
    from datetime import timedelta, timezone

    o = opp()
    later = datetime(2025, 2, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    got = o.restated(apy=None, apy_base=2.0, apy_reward=0.5, tvl_usd=7.0, as_of=later)
    want = replace(o, apy=None, apy_base=2.0, apy_reward=0.5, tvl_usd=7.0, as_of=later)
    assert got == want and got.apy == 2.5 and got.as_of.tzinfo == UTC
    assert o.apy_base != 2.0  # the original is untouched
    with pytest.raises(RecordError, match="tvl_usd"):
        o.restated(apy=1.0, apy_base=1.0, apy_reward=0.0, tvl_usd=math.nan, as_of=later)
    with pytest.raises(RecordError, match="apy_base"):
        o.restated(apy=1.0, apy_base=-1.0, apy_reward=2.0, tvl_usd=1.0, as_of=later)
    with pytest.raises(RecordError, match="not apy_base"):
        o.restated(apy=9.0, apy_base=1.0, apy_reward=2.0, tvl_usd=1.0, as_of=later)
    with pytest.raises(RecordError, match="naive"):
        o.restated(apy=1.0, apy_base=1.0, apy_reward=0.0, tvl_usd=1.0, as_of=datetime(2025, 1, 1))
