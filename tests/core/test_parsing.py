"""The one parser: numbers, dates, timestamps and text as every importer reads them."""

from __future__ import annotations

import contextlib
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.core import clock
from realyield.core.errors import DataError, FieldError
from realyield.core.parsing import (
    APY_BOUNDS,
    DATE_BOUNDS,
    PRICE_BOUNDS,
    TVL_BOUNDS,
    Bounds,
    check_text,
    parse_day,
    parse_decimal,
    parse_float,
    parse_timestamp,
)

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> object:
    with clock.freeze(NOW) as now:
        yield now


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234.5", 1234.5),
        ("-0.5", -0.5),
        ("+2", 2.0),
        ("1e3", 1000.0),
        (" 2E-2 ", 0.02),
        (".5", 0.5),
        ("5.", 5.0),
        (7, 7.0),
        (0.25, 0.25),
        (Decimal("1.5"), 1.5),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_plain_numbers_are_read(raw: object, expected: float | None) -> None:
    assert parse_float(raw, column="x") == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1.234,56", "decimal_comma"),
        ("1,5", "decimal_comma"),
        ("1,234", "decimal_comma"),  # ambiguous: 1234 or 1.234
        ("1,234.56", "thousands_separator"),
        ("1,234,567", "thousands_separator"),
        ("1 234", "thousands_separator"),
        ("1\u00a0234", "thousands_separator"),
        ("1_000", "thousands_separator"),
        ("1'234", "thousands_separator"),
        ("abc", "not_a_number"),
        ("$12", "not_a_number"),
        ("0x10", "not_a_number"),
        ("nan", "not_finite"),
        ("-Infinity", "not_finite"),
        ("1E+999999", "not_finite"),
        ("1" * 101, "not_a_number"),
        (True, "not_a_number"),
        ([1], "not_a_number"),
        (float("nan"), "not_finite"),
        (10**400, "overflow"),
    ],
)
def test_separators_and_garbage_are_refused_with_a_reason(raw: object, code: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_float(raw, column="apy")
    assert info.value.code == code
    assert isinstance(info.value, DataError)
    assert str(info.value).startswith("column 'apy': ")


def test_the_european_number_message_says_what_to_do() -> None:
    with pytest.raises(FieldError) as info:
        parse_float("1.234,56", column="price")
    assert str(info.value) == (
        "column 'price': '1.234,56' looks like a number with a thousands separator or a "
        "decimal comma; pass --decimal-comma if the file uses decimal commas"
    )
    assert (info.value.column, info.value.value) == ("price", "1.234,56")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.234,56", 1234.56), ("1,5", 1.5), ("-0,25", -0.25), ("1234", 1234.0), ("1.500", 1500.0)],
)
def test_decimal_comma_mode(raw: str, expected: float) -> None:
    assert parse_float(raw, column="x", decimal_comma=True) == pytest.approx(expected)
    assert parse_decimal(raw, column="x", decimal_comma=True) == Decimal(
        str(expected).removesuffix(".0")
    )


def test_decimal_comma_mode_refuses_a_decimal_point() -> None:
    with pytest.raises(FieldError) as info:
        parse_float("1.5", column="x", decimal_comma=True)
    assert info.value.code == "decimal_point"


def test_nan_is_missing_reads_feed_conventions() -> None:
    for raw in ("NaN", "null", "n/a", "-", "Infinity", float("nan"), float("inf")):
        assert parse_float(raw, column="x", nan_is_missing=True) is None
    with pytest.raises(FieldError):
        parse_float("1,5", column="x", nan_is_missing=True)


@pytest.mark.parametrize(
    ("raw", "bounds"),
    [
        ("1e300", APY_BOUNDS),
        ("-150", APY_BOUNDS),
        ("1e300", TVL_BOUNDS),
        ("-1", TVL_BOUNDS),
        ("1e300", PRICE_BOUNDS),
        ("1e-300", PRICE_BOUNDS),
        ("0", PRICE_BOUNDS),
    ],
)
def test_bounds_reject_implausible_values(raw: str, bounds: Bounds) -> None:
    with pytest.raises(FieldError) as info:
        parse_float(raw, column="v", bounds=bounds)
    assert info.value.code == bounds.code
    assert "plausible" in info.value.reason


def test_real_extremes_stay_inside_the_bounds() -> None:
    assert parse_float("196485.33952", column="apy", bounds=APY_BOUNDS) == 196485.33952
    assert parse_float("0.00000001234", column="p", bounds=PRICE_BOUNDS) == 1.234e-8
    assert parse_float("73000", column="p", bounds=PRICE_BOUNDS) == 73000.0


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=300, deadline=None)
def test_any_float_round_trips_through_its_repr(value: float) -> None:
    """Independent reference: Python's own repr/float pair."""
    assert parse_float(repr(value), column="x") == value
    if value == 0 or 1e-30 <= abs(value) <= 1e30:
        assert parse_decimal(repr(value), column="x") == Decimal(repr(value))
    else:
        with pytest.raises(FieldError):
            parse_decimal(repr(value), column="x")


@given(st.integers(min_value=1000, max_value=10**15))
@settings(max_examples=200, deadline=None)
def test_grouped_integers_are_never_read(value: int) -> None:
    for text in (f"{value:,}", f"{value:_}", f"{value:,}".replace(",", " ")):
        with pytest.raises(FieldError):
            parse_float(text, column="x")
    grouped = f"{value:,}".replace(",", ".")
    assert parse_float(grouped, column="x", decimal_comma=True) == value


@pytest.mark.parametrize(
    ("raw", "code"),
    [("1E+999999", "not_finite"), ("1e31", "out_of_range"), ("1e-31", "out_of_range")],
)
def test_decimal_refuses_magnitudes_arithmetic_cannot_carry(raw: str, code: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_decimal(raw, column="amount")
    assert info.value.code in (code, "out_of_range")


def test_decimal_reads_exactly() -> None:
    assert parse_decimal("0.1", column="a") == Decimal("0.1")
    assert parse_decimal(0.1, column="a") == Decimal("0.1")
    assert parse_decimal(12, column="a") == Decimal(12)
    assert parse_decimal("0", column="a") == 0
    assert parse_decimal("123456789012345678.123456789012345678", column="a") == Decimal(
        "123456789012345678.123456789012345678"
    )
    with pytest.raises(FieldError, match="40 digits"):
        parse_decimal("1." + "1" * 45, column="a")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1704067200, datetime(2024, 1, 1, tzinfo=UTC)),  # seconds
        ("1704067200000.0", datetime(2024, 1, 1, tzinfo=UTC)),  # CoinGecko ms
        (1704067200000000, datetime(2024, 1, 1, tzinfo=UTC)),  # microseconds
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2023-08-27 00:00:00.000", datetime(2023, 8, 27, tzinfo=UTC)),
        ("2024-01-01T01:00:00+01:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("09/28/2022", datetime(2022, 9, 28, tzinfo=UTC)),
        ("20240101", datetime(2024, 1, 1, tzinfo=UTC)),
        (date(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)),
        (datetime(2024, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps(raw: object, expected: datetime) -> None:
    got = parse_timestamp(raw, column="date")
    assert got == expected and got.tzinfo is not None and got.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0001-01-01T00:00:00+01:00", "date_out_of_range"),  # OverflowError before
        ("9999-12-31T23:00:00-05:00", "date_out_of_range"),
        ("9999-01-01", "date_out_of_range"),
        ("0001-01-01", "date_out_of_range"),
        ("1970-01-01", "date_out_of_range"),
        (1e20, "date_out_of_range"),  # ValueError/OverflowError before
        (-1e12, "date_out_of_range"),
        ("99999999999999999999", "date_out_of_range"),
        (0, "date_out_of_range"),
        ("2026-12-10", "date_out_of_range"),  # in the future
        ("28/09/2022", "bad_date"),
        ("yesterday", "bad_date"),
        ("2024-02-30", "bad_date"),
        ("", "missing_date"),
        (None, "missing_date"),
        (True, "bad_date"),
    ],
)
def test_bad_timestamps_are_field_errors(raw: object, code: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_timestamp(raw, column="date")
    assert info.value.code == code


def test_explicit_units_and_day() -> None:
    assert parse_timestamp(1704067200, column="t", unit="s").year == 2024
    with pytest.raises(FieldError, match="unit 'ms'"):
        parse_timestamp(1704067200, column="t", unit="ms")  # seconds read as ms: 1970
    assert parse_day("2024-01-01T23:30:00-05:00", column="d") == date(2024, 1, 2)
    assert DATE_BOUNDS.high.date() == date(2026, 12, 6)


def test_text_refuses_every_ascii_control_character_alone_or_inside_a_value() -> None:
    # every ASCII character, alone and between letters, checked against the rule by
    # Unicode category (the ASCII shortcut must agree with it)
    for code in range(128):
        char = chr(code)
        control = unicodedata.category(char) == "Cc"
        for value in (f"a{char}b", char):
            if not value.strip():  # whitespace controls alone strip to a blank cell
                assert check_text(value, column="name") is None
            elif control:
                with pytest.raises(FieldError, match=f"U\\+{code:04X}"):
                    check_text(value, column="name")
            else:
                assert check_text(value, column="name") == (value.strip() or None)


def test_text_refuses_control_characters_and_long_values() -> None:
    assert check_text("  Aave V3 ", column="name") == "Aave V3"
    assert check_text("", column="name") is None and check_text(None, column="name") is None
    assert check_text("USDC\u00a0e 🚀", column="name") == "USDC\u00a0e 🚀"
    for bad in ("US\x00DC", "a\x1b[31mred", "line\nbreak", "abc\u202ecba"):
        with pytest.raises(FieldError) as info:
            check_text(bad, column="name")
        assert info.value.code == "control_character"
        assert "\x00" not in str(info.value) and "\x1b" not in str(info.value)
    with pytest.raises(FieldError) as info:
        check_text("x" * 600, column="name")
    assert info.value.code == "text_too_long"
    assert len(str(info.value)) < 200  # the value is cut in the message


@given(st.text(max_size=30) | st.binary(max_size=30).map(lambda b: b.decode("latin-1")))
@settings(max_examples=400, deadline=None)
def test_any_text_gives_a_value_or_a_field_error(text: str) -> None:
    """No other exception ever escapes the parser."""
    for call in (
        lambda: parse_float(text, column="c"),
        lambda: parse_float(text, column="c", decimal_comma=True),
        lambda: parse_decimal(text, column="c"),
        lambda: parse_timestamp(text, column="c"),
        lambda: check_text(text, column="c"),
    ):
        with contextlib.suppress(FieldError):
            call()
