"""Fair-market values: the nearest earlier daily price, its age, warnings, no look-ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from realyield.core.errors import RecordError
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.pricing import AssetIds, PriceBook, value_event

BOOK = PriceBook(
    {
        "ethereum": [
            (date(2024, 3, 1), D("3400"), "coingecko"),
            (date(2024, 3, 2), D("3500"), "file"),
            (date(2024, 3, 2), D("3450"), "coingecko"),  # the higher-priority source wins
            (date(2024, 3, 10), D("3900"), "coingecko"),
        ]
    },
    max_age=timedelta(days=3),
)
IDS = AssetIds()


def reward(when: datetime, **kw: object) -> LedgerEvent:
    return LedgerEvent("staking_reward", when, "ETH", D("0.5"), "k", **kw)  # type: ignore[arg-type]


def test_nearest_earlier_price_with_its_age_and_no_look_ahead() -> None:
    e = value_event(reward(datetime(2024, 3, 2, 23, 59, tzinfo=UTC)), BOOK, IDS)
    assert (e.value, e.price_date, e.price_age_s) == (D("1725"), date(2024, 3, 2), 86340)
    assert e.asset_id == "ethereum" and e.warning is None
    # At 00:00 exactly the day's own price is known (age 0); a second before, it is not.
    midnight = datetime(2024, 3, 10, tzinfo=UTC)
    assert value_event(reward(midnight), BOOK, IDS).value == D("1950")
    before = value_event(reward(midnight - timedelta(seconds=1)), BOOK, IDS)
    assert before.value == D("1725") and before.warning is not None
    assert "price of ETH from 2024-03-02 is 8.0 days old (limit 3.0 days)" in before.warning


def test_missing_price_is_a_warning_not_a_guess() -> None:
    e = value_event(reward(datetime(2024, 2, 29, tzinfo=UTC)), BOOK, IDS)
    assert e.value is None and e.warning is not None and "no stored price of ETH" in e.warning
    given = value_event(reward(datetime(2024, 2, 29, tzinfo=UTC), value=D("1")), BOOK, IDS)
    assert (given.value, given.price_source, given.warning) == (D("1"), "given", None)
    eur = value_event(reward(datetime(2024, 3, 5, tzinfo=UTC), fiat="EUR"), BOOK, IDS)
    assert eur.value is None and eur.warning is not None and "fiat is EUR" in eur.warning


def test_swap_falls_back_to_the_given_asset_and_values_the_fee() -> None:
    swap = LedgerEvent(
        "trade",
        datetime(2024, 3, 3, tzinfo=UTC),
        "NEWTOKEN",
        D("1000"),
        "s",
        counter_asset="ETH",
        counter_amount=D("2"),
        fee_asset="NEWTOKEN",
        fee_amount=D("10"),
    )
    e = value_event(swap, BOOK, IDS)
    assert e.value == D("6900") and e.price_source == "stored:coingecko:counter"
    assert e.fee_value == D("69")  # 10 of the 1,000 tokens bought for 6,900


def test_events_are_validated() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(RecordError, match="must be > 0"):
        LedgerEvent("deposit", when, "ETH", D("-1"), "k")
    with pytest.raises(RecordError, match="timezone-aware"):
        LedgerEvent("deposit", datetime(2024, 1, 1), "ETH", D("1"), "k")
    with pytest.raises(RecordError, match="only swaps"):
        LedgerEvent("deposit", when, "ETH", D("1"), "k", counter_asset="USD", counter_amount=D(1))
    with pytest.raises(RecordError, match="unknown kind"):
        LedgerEvent("mining", when, "ETH", D("1"), "k")
    with pytest.raises(RecordError, match="finite Decimal"):
        LedgerEvent("deposit", when, "ETH", 1.5, "k")  # type: ignore[arg-type]


def test_content_keys_ignore_how_a_number_is_written() -> None:
    from realyield.portfolio.events import content_key

    assert content_key("deposit", D("1.50"), None) == content_key("deposit", D("1.5"), None)
    assert content_key("deposit", D("1.5"), None) != content_key("deposit", D("1.05"), None)
