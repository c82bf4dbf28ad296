"""Exact money helpers: ledger and tax amounts are ``Decimal``, never float.

Floats are turned into Decimal through their shortest repr (``Decimal(str(x))``), so
0.1 becomes Decimal("0.1") and not 0.1000000000000000055511151231257827.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from realyield.core.errors import DataError

USD_CENT = Decimal("0.01")


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Convert int, str, float or Decimal to a finite Decimal.

    Raises:
        DataError: if the value is not a number or is NaN/infinite.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise DataError(f"{what}: expected a number, got boolean {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"{what}: {value!r} is not a finite number")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise DataError(f"{what}: {value!r} is not a number") from exc
    else:
        raise DataError(f"{what}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise DataError(f"{what}: {value!r} is not a finite number")
    return result


def round_usd(amount: Decimal) -> Decimal:
    """Round to whole cents with banker's rounding (no systematic bias over many rows)."""
    return amount.quantize(USD_CENT, rounding=ROUND_HALF_EVEN)
