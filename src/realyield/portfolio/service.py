"""The ledger's functions for the CLI and the API: one call per route, plain records out.

Every function takes the store's engine and returns records with ``as_dict()`` (or
text, for exports); nothing here prints or parses options.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import ConfigError, DataError, FieldError
from realyield.portfolio import ledger, transfers
from realyield.portfolio.events import LedgerEvent, dec_text
from realyield.portfolio.exports.events import cointracker_csv, generic_csv, koinly_csv
from realyield.portfolio.exports.tax import form_8949_csv, income_csv, tax_summary_html
from realyield.portfolio.imports import generic
from realyield.portfolio.imports.base import Cells, RowError
from realyield.portfolio.imports.writer import implausible_value
from realyield.portfolio.lots import LotRun, exact_sum, replay
from realyield.portfolio.pricing import AssetIds, PriceBook, value_event
from realyield.portfolio.reports import GainsReport, IncomeReport, gains_report, income_report

EXPORT_FORMATS: Final = ("generic", "koinly", "cointracker", "8949", "income", "html")


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    if not isinstance(year, int) or not 1970 <= year <= 2200:
        raise DataError(f"tax year {year!r} is not plausible: give a year like 2025")
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def run_lots(engine: Engine, year: int, method: str | None = None) -> LotRun:
    """One lot run over every active event up to the end of ``year``; ``method``
    overrides that year's stored choice (earlier years keep theirs)."""
    _, end = _year_bounds(year)
    methods = ledger.chosen_methods(engine)
    if method is not None:
        methods[year] = ledger.check_method(method)
    moves = transfers.apply(ledger.iter_movements(engine, end=end), transfers.load_match(engine))
    return replay(moves, methods, years=[year])


def gains(
    engine: Engine, year: int, method: str | None = None, *, fiat: str = "USD"
) -> GainsReport:
    """Disposals and realized gain of a tax year (``method``: fifo, lifo, hifo, acb)."""
    return gains_report(run_lots(engine, year, method), year, fiat)


def income(engine: Engine, year: int, *, fiat: str = "USD") -> IncomeReport:
    """Income of a tax year per category, and fees paid as expenses."""
    return income_report(run_lots(engine, year), year, fiat)


@dataclass(frozen=True)
class Holding:
    asset: str
    quantity: Decimal
    cost: Decimal
    lots: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "quantity": dec_text(self.quantity),
            "cost": dec_text(self.cost),
            "lots": self.lots,
        }


@dataclass(frozen=True)
class LedgerSummary:
    """The portfolio and tax page in one record: holdings at the end of the year,
    gains and income of the year, and how complete the ledger is."""

    year: int
    events: int
    holdings: list[Holding]
    gains: GainsReport
    income: IncomeReport

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "events": self.events,
            "holdings": [h.as_dict() for h in self.holdings],
            "gains": self.gains.as_dict(lines=False),
            "income": self.income.as_dict(),
        }


def ledger_summary(engine: Engine, year: int, *, fiat: str = "USD") -> LedgerSummary:
    run = run_lots(engine, year)
    holdings = [
        Holding(
            asset,
            exact_sum(lot.quantity for lot in lots),
            exact_sum(lot.cost for lot in lots),
            len(lots),
        )
        for asset, lots in sorted(run.holdings.items())
    ]
    return LedgerSummary(
        year=year,
        events=ledger.event_count(engine, active_only=True),
        holdings=holdings,
        gains=gains_report(run, year, fiat),
        income=income_report(run, year, fiat),
    )


def latest_year(engine: Engine) -> int | None:
    """The calendar year of the newest stored event (``None``: the ledger is empty)."""
    from sqlalchemy import func, select

    from realyield.store.ledger_tables import ledger_events

    with engine.connect() as conn:
        newest = conn.execute(select(func.max(ledger_events.c.time))).scalar()
    return int(str(newest)[:4]) if newest else None


def list_events(
    engine: Engine,
    *,
    year: int | None = None,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
    include_reversed: bool = False,
) -> list[LedgerEvent]:
    start, end = _year_bounds(year) if year is not None else (None, None)
    return ledger.load_events(
        engine, start=start, end=end, kinds=kinds, limit=limit, active_only=not include_reversed
    )


def manual_event(
    fields: Mapping[str, str | None], *, account: str, fiat: str, decimal_comma: bool = False
) -> LedgerEvent:
    """An event from text fields named like the generic CSV's columns (``time``,
    ``kind``, ``asset``, ``amount``, ...), read exactly as a generic file's row is (the
    same parser, bounds and checks), for ``ledger add``. No ``time`` means now; no
    ``key`` a fresh ``manual:`` key.

    Raises:
        DataError: a field that cannot be read (named as the option ``--amount``) or
            fields that make no valid event.
    """
    row = {k: v for k, v in fields.items() if v is not None}
    row.setdefault("time", clock.now().isoformat())
    row.setdefault("key", f"manual:{uuid.uuid4().hex}")
    try:
        return generic.build_event(Cells(1, row), source="manual", account=account, fiat=fiat)
    except RowError as exc:
        raise DataError(f"--{(exc.column or '').replace('_', '-')}: {exc.message}") from None
    except FieldError as exc:
        option = exc.column.replace("_", "-")
        raise DataError(f"--{option}: '{exc.value}' {exc.reason}") from None


def add_event(
    engine: Engine, event: LedgerEvent, *, max_price_age_days: float = 3.0
) -> LedgerEvent:
    """Value (from stored prices, unless given) and store one event; return it as stored
    (idempotent: the same key again returns the stored event).

    Raises:
        RecordError: an invalid event.
        DataError: its value cannot be computed (an amount whose product with the
            price overflows).
    """
    book = PriceBook.from_store(engine, max_age=timedelta(days=max_price_age_days))
    try:
        valued = value_event(event, book, AssetIds.from_store(engine))
    except ArithmeticError as exc:
        raise DataError(
            f"event {event.key}: the amount times its price overflows or is undefined "
            f"({type(exc).__name__}); check the amount"
        ) from None
    implausible = implausible_value(valued)
    if implausible is not None:
        raise DataError(f"event {event.key}: {implausible}")
    ledger.add_events(engine, [valued])
    stored = ledger.find_event(engine, valued.source, valued.account, valued.key)
    assert stored is not None  # just inserted, or already there under the same key
    return stored


def export(
    engine: Engine,
    fmt: str,
    *,
    year: int | None = None,
    method: str | None = None,
    fiat: str = "USD",
) -> str:
    """The ledger (or a tax year's report) as text in ``fmt``.

    Raises:
        ConfigError: unknown format, or a report format without ``year``.
    """
    name = fmt.strip().lower()
    if name not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if name in ("generic", "koinly", "cointracker"):
        events = list_events(engine, year=year)
        writer = {"generic": generic_csv, "koinly": koinly_csv, "cointracker": cointracker_csv}
        return writer[name](events)
    if year is None:
        raise ConfigError(f"the {name} export is per tax year: give --year")
    run = run_lots(engine, year, method)
    if name == "8949":
        return form_8949_csv(gains_report(run, year, fiat))
    if name == "income":
        return income_csv(income_report(run, year, fiat))
    return tax_summary_html(gains_report(run, year, fiat), income_report(run, year, fiat))
