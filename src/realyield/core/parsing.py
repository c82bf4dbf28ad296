"""The one parser of numbers, dates, timestamps and text that every importer uses.

Pools, prices, APY histories (``sources``) and every ledger format
(``portfolio.imports``) read their cells through these functions, so a value is read
the same way everywhere and refused the same way, with a ``FieldError`` naming the
column, the value and what to do. The rules, and why:

* Numbers are plain: digits, one ``.``, an optional exponent. Thousands separators
  (``1,234.56``, ``1 234``, ``1_000``, ``1'234``) and decimal commas (``1,5``,
  ``1.234,56``) are refused, because guessing misreads them by a factor of 1,000 (a
  European ``1.234,56`` once became 1.23456). ``decimal_comma=True`` (the CLI's
  ``--decimal-comma``) reads ``1.234,56`` as 1234.56 and refuses ``1.5``, whose dot
  would then separate thousands.
* NaN, infinities and overflow (``1E+999999``) are refused; ``Bounds`` reject values
  no real market produces (an APY of 1e300 %, a price of 1e-300 USD).
* Timestamps are aware UTC. A number is a Unix epoch whose unit (s, ms, us) is found
  from its magnitude: the plausible dates (``DATE_BOUNDS``: Bitcoin's genesis block on
  2009-01-03 to two days from now) map to disjoint ranges in each unit, so the unit is
  never a guess, and a number in none of them is refused.
* Text refuses control characters (a NUL in a name breaks terminals, CSV exports and
  some databases) and bidirectional overrides (they make a name display as another).

Nothing here raises anything but ``FieldError`` for bad input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from realyield.core import clock
from realyield.core.errors import FieldError

__all__ = [
    "AMOUNT_BOUNDS",
    "APY_BOUNDS",
    "DATE_BOUNDS",
    "MARKET_BOUNDS",
    "PRICE_BOUNDS",
    "TVL_BOUNDS",
    "USD_BOUNDS",
    "Bounds",
    "DateBounds",
    "FieldError",
    "check_text",
    "is_missing",
    "parse_day",
    "parse_decimal",
    "parse_float",
    "parse_timestamp",
]


@dataclass(frozen=True, slots=True)
class Bounds:
    """A plausible range ``low <= value <= high`` for one kind of value.

    ``what`` names the kind in messages; ``name`` gives the rejection code
    (``implausible_<name>``).
    """

    low: float
    high: float
    what: str
    name: str = "value"

    @property
    def code(self) -> str:
        return f"implausible_{self.name}"

    def check(self, value: float | Decimal, *, column: str, raw: object = None) -> None:
        """Raise ``FieldError`` (code ``implausible_<name>``) when ``value`` is outside."""
        if not self.low <= value <= self.high:
            raise FieldError(
                column,
                value if raw is None else raw,
                f"is not a plausible {self.what} (allowed {self.low:g} .. {self.high:g}); "
                "check the column and its unit",
                code=self.code,
            )


#: APY in percent. -100 % loses everything; DeFiLlama's own ingestion drops pools above
#: 1,000,000 % as broken adapters (real outliers reach about 200,000 %).
APY_BOUNDS = Bounds(-100.0, 1e6, "APY in percent", "apy")
#: TVL in USD: no pool holds more than all crypto (about 4e12 USD at the 2025 high).
TVL_BOUNDS = Bounds(0.0, 1e13, "TVL in USD", "tvl")
#: A token price in USD: 1e-15 keeps the cheapest real memecoins; 1e8 is 1,000x
#: Bitcoin's high. 1e300 and 1e-300 are data bugs.
PRICE_BOUNDS = Bounds(1e-15, 1e8, "price in USD", "price")
#: Market cap or daily volume in USD (same ceiling as TVL, with room).
MARKET_BOUNDS = Bounds(0.0, 1e14, "market cap or volume in USD", "market_value")
#: A ledger quantity in token units: the largest real token supplies are near 1e15.
AMOUNT_BOUNDS = Bounds(-1e20, 1e20, "token amount", "amount")
#: A fiat value of one ledger event in USD.
USD_BOUNDS = Bounds(-1e13, 1e13, "value in USD", "usd_value")

_MISSING_WORDS = frozenset({"nan", "none", "null", "na", "n/a", "-"})
_NOT_FINITE_WORDS = frozenset(
    {"inf", "-inf", "+inf", "infinity", "-infinity", "+infinity", "nan", "-nan", "+nan"}
)
_PLAIN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_COMMA_PLAIN = re.compile(r"[+-]?(?:\d+(?:,\d*)?|,\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_COMMA_GROUPED = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:([,'_ \u00a0\u202f])\d{3})+(?:[.,]\d*)?", re.ASCII)
_MAX_NUMBER_CHARS = 100
_MAX_DECIMAL_DIGITS = 40
_DECIMAL_LIMIT = Decimal("1e30")
_EPOCH_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}
_GENESIS = datetime(2009, 1, 3, tzinfo=UTC)
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
#: control, surrogate, line and paragraph separator categories
_BAD = frozenset({"Cc", "Cs", "Zl", "Zp"})
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class DateBounds:
    """Plausible dates: Bitcoin's genesis block (2009-01-03) to two days from now.

    ``high`` is read from ``core.clock`` at each call, so a frozen clock moves it.
    """

    low: datetime = _GENESIS

    @property
    def high(self) -> datetime:
        return clock.now() + timedelta(days=2)

    def check(self, value: datetime, *, column: str, raw: object) -> datetime:
        """``value`` if plausible, else ``FieldError`` (code ``date_out_of_range``)."""
        if not self.low <= value <= self.high:
            raise self.error(column, raw)
        return value

    def error(self, column: str, raw: object) -> FieldError:
        """The refusal of a date outside the bounds (or outside any computable date)."""
        return FieldError(
            column,
            raw,
            f"is outside the plausible dates {self.low:%Y-%m-%d} .. {self.high:%Y-%m-%d} "
            "(before Bitcoin's first block, or in the future); check the date column",
            code="date_out_of_range",
        )


DATE_BOUNDS = DateBounds()


def is_missing(raw: object) -> bool:
    """True for None and blank text: the values every parser reads as missing."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_float(
    raw: object,
    *,
    column: str,
    decimal_comma: bool = False,
    bounds: Bounds | None = None,
    nan_is_missing: bool = False,
) -> float | None:
    """A finite float, or None for a blank cell.

    ``nan_is_missing`` reads NaN, infinities and the words null/none/n/a/- as missing
    (the convention of public JSON feeds such as DeFiLlama's), instead of refusing them.

    Raises:
        FieldError: not a plain number, a thousands separator or decimal comma (see the
            module docstring), NaN/infinity, overflow, or outside ``bounds``.
    """
    if is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise FieldError(column, raw, "is true/false, not a number", code="not_a_number")
    if isinstance(raw, (int, float, Decimal)):
        try:
            value = float(raw)
        except OverflowError:
            raise FieldError(column, raw, "is too large to be a number", code="overflow") from None
    elif isinstance(raw, str):
        text = raw.strip()
        if nan_is_missing and text.lower() in _MISSING_WORDS | _NOT_FINITE_WORDS:
            return None
        value = float(_number_text(text, raw, column, decimal_comma))
    else:
        raise FieldError(
            column, raw, f"is a {type(raw).__name__}, not a number", code="not_a_number"
        )
    if not math.isfinite(value):
        if nan_is_missing and (math.isnan(value) or not isinstance(raw, str)):
            return None
        raise FieldError(
            column, raw, "is not a finite number (NaN, infinity or overflow)", code="not_finite"
        )
    if bounds is not None:
        bounds.check(value, column=column, raw=raw)
    return value


def parse_decimal(
    raw: object,
    *,
    column: str,
    decimal_comma: bool = False,
    bounds: Bounds | None = None,
) -> Decimal | None:
    """An exact Decimal, or None for a blank cell.

    Beyond ``parse_float``'s rules it refuses magnitudes above 1e30, non-zero
    magnitudes below 1e-30 and more than 40 significant digits, so no later Decimal
    arithmetic (valuation, lots) can raise ``decimal.Overflow`` or lose the value.

    Raises:
        FieldError: as ``parse_float``, plus ``out_of_range`` for those magnitudes.
    """
    if is_missing(raw):
        return None
    if isinstance(raw, bool):
        raise FieldError(column, raw, "is true/false, not a number", code="not_a_number")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw)) if math.isfinite(raw) else Decimal("NaN")
    elif isinstance(raw, str):
        try:
            value = Decimal(_number_text(raw.strip(), raw, column, decimal_comma))
        except InvalidOperation:  # pragma: no cover - the text was checked above
            raise FieldError(column, raw, "is not a number", code="not_a_number") from None
    else:
        raise FieldError(
            column, raw, f"is a {type(raw).__name__}, not a number", code="not_a_number"
        )
    if not value.is_finite():
        raise FieldError(column, raw, "is not a finite number", code="not_finite")
    if value and (
        abs(value) > _DECIMAL_LIMIT
        or abs(value) < 1 / _DECIMAL_LIMIT
        or _significant_digits(value) > _MAX_DECIMAL_DIGITS
    ):
        raise FieldError(
            column,
            raw,
            "is outside the range an amount can have (1e-30 .. 1e30, at most 40 digits)",
            code="out_of_range",
        )
    if bounds is not None:
        bounds.check(value, column=column, raw=raw)
    return value


def _significant_digits(value: Decimal) -> int:
    """Digits without leading or trailing zeros (``normalize`` would round to 28)."""
    return len("".join(map(str, value.as_tuple().digits)).strip("0"))


def _number_text(text: str, raw: object, column: str, decimal_comma: bool) -> str:
    """The plain ``[+-]digits[.digits][e±n]`` form of ``text``, or a FieldError."""
    if len(text) > _MAX_NUMBER_CHARS:
        raise FieldError(column, raw, "is too long to be a number", code="not_a_number")
    if text.lower() in _NOT_FINITE_WORDS:
        raise FieldError(column, raw, "is not a finite number (NaN or infinity)", code="not_finite")
    if decimal_comma:
        if _COMMA_GROUPED.fullmatch(text) or _COMMA_PLAIN.fullmatch(text):
            return text.replace(".", "").replace(",", ".")
        if _PLAIN.fullmatch(text):
            raise FieldError(
                column,
                raw,
                "has a decimal point, but with --decimal-comma '.' separates thousands; "
                "import this file without --decimal-comma",
                code="decimal_point",
            )
    elif _PLAIN.fullmatch(text):
        return text
    raise _number_format_error(text, raw, column)


def _number_format_error(text: str, raw: object, column: str) -> FieldError:
    grouped = _GROUPED.fullmatch(text)
    if "," in text and re.fullmatch(r"[+-]?[\d.]*\d,\d*", text, re.ASCII):
        return FieldError(
            column,
            raw,
            "looks like a number with a thousands separator or a decimal comma; pass "
            "--decimal-comma if the file uses decimal commas",
            code="decimal_comma",
        )
    if grouped:
        return FieldError(
            column,
            raw,
            f"has thousands separators ({grouped.group(1)!r}); export or save the numbers "
            "without digit grouping",
            code="thousands_separator",
        )
    return FieldError(
        column,
        raw,
        "is not a number (digits with an optional '.' and exponent, no currency signs)",
        code="not_a_number",
    )


def parse_timestamp(
    raw: object, *, column: str, unit: Literal["auto", "s", "ms", "us"] = "auto"
) -> datetime:
    """An aware UTC datetime from an epoch number or an ISO-8601 / ``MM/DD/YYYY`` text.

    Naive text is taken as UTC. ``unit="auto"`` finds an epoch's unit from its
    magnitude (see the module docstring).

    Raises:
        FieldError: blank, unreadable, an epoch in no unit's plausible range, a
            day-first slash date, or a date outside ``DATE_BOUNDS``.
    """
    if is_missing(raw):
        raise FieldError(column, "", "is empty; every row needs a date", code="missing_date")
    if isinstance(raw, datetime):
        aware = raw.replace(tzinfo=UTC) if raw.tzinfo is None else raw
        return DATE_BOUNDS.check(_to_utc(aware, column, raw), column=column, raw=raw)
    if isinstance(raw, date):
        return DATE_BOUNDS.check(
            datetime(raw.year, raw.month, raw.day, tzinfo=UTC), column=column, raw=raw
        )
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal, str)):
        raise FieldError(column, raw, "is not a date or timestamp", code="bad_date")
    text = raw.strip() if isinstance(raw, str) else ""
    if not isinstance(raw, str) or (_PLAIN.fullmatch(text) and not _looks_like_basic_date(text)):
        number = parse_float(raw, column=column)
        assert number is not None  # blanks were handled above
        return _from_epoch(number, raw, column, unit)
    return DATE_BOUNDS.check(_parse_date_text(text, raw, column), column=column, raw=raw)


def parse_day(raw: object, *, column: str) -> date:
    """The UTC calendar date of a date or timestamp cell (same rules and bounds).

    Raises:
        FieldError: as ``parse_timestamp``.
    """
    return parse_timestamp(raw, column=column).date()


def _looks_like_basic_date(text: str) -> bool:
    return len(text) == 8 and text.isdigit() and text[:2] in ("19", "20")


def _from_epoch(number: float, raw: object, column: str, unit: str) -> datetime:
    low, high = DATE_BOUNDS.low.timestamp(), DATE_BOUNDS.high.timestamp()
    units = _EPOCH_UNITS if unit == "auto" else {unit: _EPOCH_UNITS[unit]}
    for factor in units.values():
        seconds = number / factor
        if low <= seconds <= high:
            return datetime.fromtimestamp(seconds, tz=UTC)
    named = "seconds, milliseconds or microseconds" if unit == "auto" else f"unit {unit!r}"
    raise FieldError(
        column,
        raw,
        f"is not a plausible Unix timestamp in {named} (dates "
        f"{DATE_BOUNDS.low:%Y-%m-%d} .. {DATE_BOUNDS.high:%Y-%m-%d}); check the column",
        code="date_out_of_range",
    )


def _parse_date_text(text: str, raw: object, column: str) -> datetime:
    slash = _SLASH_DATE.fullmatch(text)
    try:
        if slash:
            month, day, year = (int(g) for g in slash.groups())
            if month > 12:
                raise FieldError(
                    column,
                    raw,
                    "looks like DD/MM/YYYY; slash dates are read as MM/DD/YYYY only, so "
                    "write dates as YYYY-MM-DD",
                    code="bad_date",
                )
            return datetime(year, month, day, tzinfo=UTC)
        parsed = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
    except (ValueError, OverflowError):
        raise FieldError(
            column, raw, "is not a date (use YYYY-MM-DD or ISO 8601)", code="bad_date"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return _to_utc(parsed, column, raw)


def _to_utc(value: datetime, column: str, raw: object) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise DATE_BOUNDS.error(column, raw) from None


def check_text(raw: object, *, column: str, max_len: int = 512) -> str | None:
    """Stripped text, or None when blank.

    Raises:
        FieldError: control characters (NUL, escape, line breaks inside a value),
            bidirectional overrides, lone surrogates, or more than ``max_len`` characters.
    """
    if raw is None:
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    text = (raw if isinstance(raw, str) else str(raw)).strip()
    if not text:
        return None
    if len(text) > max_len:
        raise FieldError(
            column, raw, f"is longer than {max_len:,} characters", code="text_too_long"
        )
    if text.isascii() and text.isprintable():
        return text  # the common case: no ASCII printable is Cc, and bidi marks are not ASCII
    bad = next((ch for ch in text if ch in _BIDI or unicodedata.category(ch) in _BAD), None)
    if bad is not None:
        raise FieldError(
            column,
            raw,
            f"contains the control character U+{ord(bad):04X}; remove it from the file",
            code="control_character",
        )
    return text
