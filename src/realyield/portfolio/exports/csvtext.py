"""CSV writing shared by the exports (RFC 4180 quoting, ``\\n`` line ends)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from realyield.portfolio.events import dec_text


def cell(value: object) -> str:
    """A CSV cell: Decimals exact without exponent, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return dec_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
