"""Weights schedules: what to hold from which date, from a CSV file or an index replay.

A schedule is a list of dated target weights. Each row applies from its date until the
next one; the backtest trades to the row in force at each rebalance (point in time: a
row dated after a rebalance is never seen by it).

The CSV format (UTF-8, comma separated, a header row; other columns are ignored)::

    date,id,weight
    2021-01-01,bitcoin,0.40
    2021-01-01,ethereum,0.35
    2021-01-01,aave-v3:ethereum:usdc,0.25
    2022-01-01,bitcoin,0.5
    2022-01-01,cash,0.5

``date`` is YYYY-MM-DD (UTC day); ``id`` an opportunity id (``realyield universe``
shows them) or an asset id (``bitcoin``, ``usd-coin``...), or ``cash`` for uninvested
dollars; ``weight`` a fraction (0.25, not 25). The weights of one date must sum to 1
(within 0.001) and be >= 0; an id may appear once per date. Every problem is reported
with its line number.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from realyield.backtest.screens import daily_removals
from realyield.core.errors import ConfigError, DataError, InsufficientDataError
from realyield.indices.composition import Constituent, IndexComposition
from realyield.indices.construct import build_index
from realyield.indices.methodology import IndexDefinition, packaged_definitions
from realyield.indices.rebalance import schedule_dates
from realyield.indices.service import HistoryData
from realyield.indices.weights import InfeasibleWeightsError

CASH_ID = "cash"
SUM_TOLERANCE = 1e-3
MAX_REPORTED = 12
REBALANCE_CHOICES = ("monthly", "quarterly", "weekly", "dates", "none")


@dataclass(frozen=True)
class HoldingInfo:
    """What the simulator must know of one holding: how its value moves and what it
    earns. ``kind`` is an opportunity kind, ``asset`` (a token held as is) or ``cash``."""

    id: str
    label: str
    kind: str
    chain: str | None = None
    underlying: tuple[str, ...] = ()
    apy: float = 0.0  # percent; used where the holding has no APY history
    lockup_days: int = 0
    il_risk: bool = False
    sleeve: str | None = None  # where a removed holding's weight goes (an index's sleeve)


@dataclass
class WeightsSchedule:
    """Dated target weights: ``weights[k]`` (fractions, summing to at most 1; the rest is
    cash) applies from ``dates[k]``."""

    dates: list[date]
    ids: list[str]
    weights: NDArray[np.float64]
    source: str
    info: dict[str, HoldingInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # id -> first CSV line
    # (day, id): a holding sold between rows, its value spread over its sleeve
    removals: list[tuple[date, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.weights.shape != (len(self.dates), len(self.ids)):
            raise DataError(
                f"weights must be (dates, ids) = ({len(self.dates)}, {len(self.ids)}), "
                f"got {self.weights.shape}"
            )
        if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
            raise DataError("schedule dates must be increasing")

    def row_at(self, day: date) -> int:
        """Index of the row in force on ``day`` (the latest dated on or before it), -1
        before the first."""
        k = -1
        for i, d in enumerate(self.dates):
            if d <= day:
                k = i
            else:
                break
        return k

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows": [
                {
                    "date": d.isoformat(),
                    "weights": {i: float(w) for i, w in zip(self.ids, row, strict=True) if w > 0},
                }
                for d, row in zip(self.dates, self.weights, strict=True)
            ],
        }


def _problems_error(path: Path, problems: Sequence[str]) -> DataError:
    shown = "; ".join(problems[:MAX_REPORTED])
    more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    return DataError(
        f"{path.name}: {len(problems)} problem(s) in the weights file: {shown}{more}. "
        "Expected columns date,id,weight with YYYY-MM-DD dates and fractional weights "
        "summing to 1 per date (see docs/backtest.md)."
    )


def read_weights_csv(path: Path) -> WeightsSchedule:
    """Read and validate a weights CSV (format in the module docstring).

    Raises:
        DataError: unreadable file, missing columns, or any invalid row; the message
            lists the problems with their line numbers.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read weights file {path}: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path.name}: empty file; expected a header row date,id,weight")
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [c for c in ("date", "id", "weight") if c not in cols]
    if missing:
        raise DataError(
            f"{path.name}: missing column(s) {missing} in the header {header}; expected "
            "date,id,weight"
        )
    problems: list[str] = []
    rows: dict[date, dict[str, float]] = {}
    lines_of: dict[date, list[int]] = {}
    first_line: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            problems.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
            continue
        raw_day, ident, raw_w = (row[cols[c]].strip() for c in ("date", "id", "weight"))
        try:
            day = date.fromisoformat(raw_day[:10])
        except ValueError:
            problems.append(f"line {line}: date {raw_day!r} is not YYYY-MM-DD")
            continue
        if not ident:
            problems.append(f"line {line}: empty id")
            continue
        try:
            weight = float(raw_w)
        except ValueError:
            problems.append(f"line {line}: weight {raw_w!r} is not a number")
            continue
        if not math.isfinite(weight):
            problems.append(f"line {line}: weight {raw_w!r} is not a finite number")
            continue
        if weight < 0:
            problems.append(f"line {line}: negative weight {weight} for {ident} (no shorts)")
            continue
        if ident in rows.get(day, {}):
            problems.append(f"line {line}: {ident} appears twice on {day}")
            continue
        rows.setdefault(day, {})[ident] = weight
        lines_of.setdefault(day, []).append(line)
        first_line.setdefault(ident, line)
    for day, weights in rows.items():
        total = sum(weights.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            hint = " (weights are fractions: 0.25, not 25)" if 99 < total < 101 else ""
            lines = lines_of[day]
            problems.append(
                f"lines {lines[0]}-{lines[-1]}: weights on {day} sum to {total:.6g}, not 1{hint}"
            )
    if problems:
        raise _problems_error(path, problems)
    if not rows:
        raise DataError(f"{path.name}: no weight rows below the header")
    dates = sorted(rows)
    ids = sorted({i for w in rows.values() for i in w if i != CASH_ID})
    matrix = np.zeros((len(dates), len(ids)))
    col = {i: j for j, i in enumerate(ids)}
    for k, day in enumerate(dates):
        total = sum(rows[day].values())
        for ident, w in rows[day].items():
            if ident != CASH_ID:
                matrix[k, col[ident]] = w / total  # exact sums; the rest is cash
    return WeightsSchedule(dates, ids, matrix, source=path.name, lines=first_line)


def rebalance_days(
    start: date, end: date, rebalance: str, dates: Sequence[date] = ()
) -> list[date]:
    """The days the backtest trades: ``start`` (funding) and then the given ``dates`` (a
    weights file's own dates, for ``rebalance="dates"``), the first day of each month or
    quarter, every Monday (``weekly``), or never again (``none``: buy and hold).

    Raises:
        ConfigError: unknown rebalance choice.
    """
    if rebalance not in REBALANCE_CHOICES:
        raise ConfigError(
            f"unknown rebalance {rebalance!r}; use one of {', '.join(REBALANCE_CHOICES)}"
        )
    after = start + timedelta(days=1)
    if rebalance == "dates":
        extra = [d for d in dates if start < d <= end]
    elif rebalance == "weekly":
        first = after + timedelta(days=(7 - after.weekday()) % 7)
        extra = [first + timedelta(days=7 * k) for k in range((end - first).days // 7 + 1)]
    elif rebalance == "none":
        extra = []
    else:
        extra = schedule_dates(after, end, rebalance)
    return [start, *[d for d in extra if d <= end]]


def _info(c: Constituent, lockup_days: int) -> HoldingInfo:
    return HoldingInfo(
        id=c.id,
        label=c.label,
        kind=c.kind,
        chain=c.chain,
        underlying=tuple(c.underlying),
        apy=float(c.apy),
        lockup_days=lockup_days,
        il_risk=c.kind == "liquidity" and len(c.underlying) > 1,
        sleeve=c.sleeve,
    )


def index_schedule(
    name: str,
    data: HistoryData,
    days: Sequence[date],
    *,
    definitions: Mapping[str, IndexDefinition] | None = None,
    lockups: Mapping[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    end: date | None = None,
) -> WeightsSchedule:
    """The index ``name`` rebuilt point in time on each of ``days`` (data up to that day
    only). A day on which the index cannot be built keeps the previous weights, with a
    note. With ``end``, the daily check of methodology section 3.9 applies up to that
    day (``backtest.screens``): holdings failing a screen between rebalances become the
    schedule's ``removals``, and a holding failing on a scheduled day is left out of
    that day's row.

    Raises:
        ConfigError: unknown index.
        InsufficientDataError: the index could not be built on any of the days.
    """
    definitions = definitions or packaged_definitions()
    if name not in definitions:
        raise ConfigError(f"unknown index {name!r}; known: {sorted(definitions)}")
    defn = definitions[name]
    comps: dict[date, IndexComposition] = {}
    notes: list[str] = []
    for k, day in enumerate(days):
        if progress:
            progress(k, len(days))
        try:
            comp = build_index(
                defn, data.inputs_at(day), registry=definitions, built=data.built_at(day)
            )
        except (InfeasibleWeightsError, InsufficientDataError) as exc:
            notes.append(f"{day}: kept previous weights ({exc})")
            continue
        comps[day] = comp
        notes.extend(f"{day}: {n}" for n in comp.notes)
    if not comps:
        raise InsufficientDataError(
            f"index {name} could not be built on any rebalance day between {days[0]} and "
            f"{days[-1]}: the store has no scored universe there (its yield history starts "
            "later?)"
        )
    info: dict[str, HoldingInfo] = {}
    for comp in comps.values():
        for c in comp.constituents:
            info[c.id] = _info(c, round((lockups or {}).get(c.id, 0.0) or 0.0))
    ids = sorted(info)
    col = {i: j for j, i in enumerate(ids)}
    dates = sorted(comps)
    matrix = np.zeros((len(dates), len(ids)))
    for k, day in enumerate(dates):
        for c in comps[day].constituents:
            matrix[k, col[c.id]] += c.weight
        total = matrix[k].sum()
        if total > 1.0:
            matrix[k] /= total
    removals: list[tuple[date, str]] = []
    if end is not None:
        matrix, removals = daily_removals(
            dates, ids, matrix, data.history, end, defn.eligibility.max_apy
        )
        if removals:
            notes.append(
                f"{len(removals)} holding(s) failed a screen between rebalances and were sold "
                f"into their sleeve, first {removals[0][1]} on {removals[0][0]}"
            )
    return WeightsSchedule(
        dates,
        ids,
        matrix,
        source=f"index {name} rebuilt point in time",
        info=info,
        notes=notes,
        removals=removals,
    )
