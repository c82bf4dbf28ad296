"""Reading the planner's human inputs: ``1500/month``, ``$50k/yr``, ``25%``, ``30y``.

The CLI and the API accept the same strings, so the parsing lives here, not in either.
Every function raises ``ConfigError`` naming the text and the accepted forms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from realyield.core.errors import ConfigError

_PERIODS_PER_YEAR = {
    "y": 1.0, "yr": 1.0, "year": 1.0, "a": 1.0, "annual": 1.0, "annually": 1.0,
    "q": 4.0, "qtr": 4.0, "quarter": 4.0, "quarterly": 4.0,
    "m": 12.0, "mo": 12.0, "month": 12.0, "monthly": 12.0,
    "w": 52.0, "wk": 52.0, "week": 52.0, "weekly": 52.0,
}  # fmt: skip
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9}
_AMOUNT = re.compile(r"^\$?\s*([0-9][0-9_,]*(?:\.[0-9]+)?|\.[0-9]+)\s*(k|m|mm|b)?$", re.I)
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(y|yr|yrs|years?|m|mo|months?)?$", re.I)


def parse_amount(text: str, *, what: str = "amount") -> float:
    """``300000``, ``300,000``, ``$300k``, ``1.5m`` -> dollars (non-negative, finite).

    Raises:
        ConfigError: anything else.
    """
    m = _AMOUNT.match(str(text).strip())
    if not m:
        raise ConfigError(
            f"{what} {text!r} is not an amount; write e.g. 300000, 300,000, $300k or 1.5m"
        )
    value = (
        float(m.group(1).replace(",", "").replace("_", "")) * _SUFFIX[(m.group(2) or "").lower()]
    )
    if not math.isfinite(value):
        raise ConfigError(f"{what} {text!r} is not finite")
    return value


def parse_income(text: str) -> float:
    """An income with its period, as dollars a year: ``1500/month`` -> 18000.

    Accepted periods: year (y, yr, annual), quarter (q), month (m, mo), week (w); a bare
    amount is read as a year.

    Raises:
        ConfigError: an unreadable amount or period, or a zero/negative income.
    """
    raw = str(text).strip()
    amount, _, period = raw.partition("/")
    if not _ and " per " in raw:
        amount, _, period = raw.partition(" per ")
    per_year = 1.0
    if period.strip():
        key = period.strip().lower()
        if key not in _PERIODS_PER_YEAR:
            raise ConfigError(
                f"income period {period.strip()!r} in {text!r} is unknown; use /year, "
                "/quarter, /month or /week"
            )
        per_year = _PERIODS_PER_YEAR[key]
    value = parse_amount(amount, what="income") * per_year
    if value <= 0:
        raise ConfigError(f"income {text!r} must be above zero")
    return value


def parse_percent(text: str | float, *, what: str, upper: float = 100.0) -> float:
    """``25%`` or ``25`` -> 0.25; a bare number below 1 (``0.25``) is read as a fraction.

    Raises:
        ConfigError: not a number, negative, or above ``upper`` percent.
    """
    raw = str(text).strip()
    is_pct = raw.endswith("%")
    try:
        value = float(raw.rstrip("%").strip())
    except ValueError as exc:
        raise ConfigError(f"{what} {text!r} is not a percentage; write e.g. 25%") from exc
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{what} {text!r} must be a percentage of 0 or more")
    fraction = value / 100.0 if (is_pct or value >= 1.0) else value
    if fraction * 100.0 > upper + 1e-12:
        raise ConfigError(f"{what} {text!r} is above {upper:g}%")
    return fraction


def parse_years(text: str | float, *, what: str) -> float:
    """``30y``, ``30``, ``18m`` -> years (0 or more).

    Raises:
        ConfigError: anything else, or more than 100 years.
    """
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ConfigError(f"{what} {text!r} is not a duration; write e.g. 30y or 18m")
    value = float(m.group(1))
    unit = (m.group(2) or "y").lower()
    years = value / 12.0 if unit.startswith("m") else value
    if years > 100:
        raise ConfigError(f"{what} {text!r} is longer than 100 years")
    return years


def parse_allocation(text: str) -> dict[str, float]:
    """``large-cap-staking=60%,stablecoin-income=40%`` -> {index: fraction}.

    Raises:
        ConfigError: a part that is not INDEX=SHARE, or a share that is not a percentage.
    """
    out: dict[str, float] = {}
    for part in str(text).split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"allocation part {part!r} is not INDEX=SHARE (e.g. defi-yield=30%)")
        out[name.strip()] = parse_percent(value, what=f"share of {name.strip()}")
    return out


def _signed_pct(text: str) -> float:
    t = text.strip()
    sign = -1.0 if t.startswith("-") else 1.0
    return sign * parse_percent(t.lstrip("+-"), what="price drift")


#: how each human text becomes a ``PlanRequest`` field
_CONVERT: dict[str, Callable[[str], Any]] = {
    "capital": lambda s: parse_amount(s, what="capital"),
    "income_per_year": parse_income,
    "horizon_years": lambda s: round(parse_years(s, what="horizon")),
    "start_in_years": lambda s: parse_years(s, what="start in"),
    "tax_income": lambda s: parse_percent(s, what="income tax", upper=99),
    "tax_sales": lambda s: parse_percent(s, what="tax on sales", upper=99),
    "inflation": lambda s: parse_percent(s, what="inflation", upper=50),
    "reinvest": lambda s: parse_percent(s, what="reinvest share"),
    "price_drift": lambda s: None if s == "history" else _signed_pct(s),
    "allocation": parse_allocation,
}


def request_options(**raw: Any) -> dict[str, Any]:
    """Human texts (the CLI's options, a batch file's cells) -> ``PlanRequest`` fields;
    ``None`` values are left out, other fields pass through unchanged.

    Raises:
        ConfigError: the first text that cannot be read, naming it.
    """
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        out[key] = _CONVERT[key](value) if key in _CONVERT else value
    return out
