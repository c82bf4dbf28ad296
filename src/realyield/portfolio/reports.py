"""Tax-year reports built from one lot run: realized gains and income per category.

Plain records with ``as_dict()`` (Decimals as exact strings) so the CLI, the API and
the exports read the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from realyield.portfolio.events import INCOME_KINDS, dec_text
from realyield.portfolio.lots import ZERO, Disposal, FeeLine, IncomeLine, LotRun, exact_sum


def _s(value: Decimal) -> str:
    return dec_text(value)


@dataclass(frozen=True)
class GainsReport:
    """Realized gains of one tax year under its method."""

    year: int
    method: str
    fiat: str
    disposals: list[Disposal]
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    def _total(self, attr: str, term: str | None = None) -> Decimal:
        return exact_sum(getattr(d, attr) for d in self.disposals if term is None or d.term == term)

    @property
    def proceeds(self) -> Decimal:
        return self._total("proceeds")

    @property
    def basis(self) -> Decimal:
        return self._total("basis")

    @property
    def gain(self) -> Decimal:
        return exact_sum((self.proceeds, -self.basis))

    @property
    def short_term_gain(self) -> Decimal:
        return exact_sum((self._total("proceeds", "short"), -self._total("basis", "short")))

    @property
    def long_term_gain(self) -> Decimal:
        return exact_sum((self._total("proceeds", "long"), -self._total("basis", "long")))

    @property
    def missing_quantity(self) -> int:
        return sum(1 for d in self.disposals if d.missing)

    def as_dict(self, *, lines: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "year": self.year,
            "method": self.method,
            "fiat": self.fiat,
            "disposal_lines": len(self.disposals),
            "proceeds": _s(self.proceeds),
            "basis": _s(self.basis),
            "gain": _s(self.gain),
            "short_term_gain": _s(self.short_term_gain),
            "long_term_gain": _s(self.long_term_gain),
            "lines_missing_acquisition": self.missing_quantity,
            "warning_count": self.warning_count,
            "warnings": self.warnings,
        }
        if lines:
            out["disposals"] = [d.as_dict() for d in self.disposals]
        return out


@dataclass(frozen=True)
class IncomeReport:
    """Income of one tax year per category (event kind), and the fees paid outright."""

    year: int
    fiat: str
    lines: list[IncomeLine]
    fees: list[FeeLine]

    def by_category(self) -> dict[str, dict[str, Any]]:
        totals: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = defaultdict(int)
        values: dict[str, Decimal] = defaultdict(lambda: ZERO)
        unpriced: dict[str, int] = defaultdict(int)
        for line in self.lines:
            counts[line.kind] += 1
            if line.value is None:
                unpriced[line.kind] += 1
            else:
                values[line.kind] = exact_sum((values[line.kind], line.value))
        for kind in sorted(INCOME_KINDS):
            if counts[kind]:
                totals[kind] = {
                    "events": counts[kind],
                    "value": values[kind],
                    "unpriced_events": unpriced[kind],
                }
        return totals

    @property
    def total(self) -> Decimal:
        return exact_sum(line.value for line in self.lines if line.value is not None)

    @property
    def fee_expenses(self) -> Decimal:
        return exact_sum(f.value for f in self.fees if f.value is not None)

    def as_dict(self, *, lines: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "year": self.year,
            "fiat": self.fiat,
            "total": _s(self.total),
            "categories": {
                kind: {**entry, "value": _s(entry["value"])}
                for kind, entry in self.by_category().items()
            },
            "fee_expenses": _s(self.fee_expenses),
            "fee_lines": len(self.fees),
        }
        if lines:
            out["lines"] = [line.as_dict() for line in self.lines]
        return out


def gains_report(run: LotRun, year: int, fiat: str) -> GainsReport:
    return GainsReport(
        year=year,
        method=run.methods.get(year, "fifo"),
        fiat=fiat,
        disposals=[d for d in run.disposals if d.disposed.year == year],
        warnings=list(run.warnings),
        warning_count=run.warning_count,
    )


def income_report(run: LotRun, year: int, fiat: str) -> IncomeReport:
    return IncomeReport(
        year=year,
        fiat=fiat,
        lines=[line for line in run.income if line.time.year == year],
        fees=[f for f in run.fees if f.time.year == year],
    )
