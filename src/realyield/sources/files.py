"""Imports from files a user already has: pool dumps, price CSVs, APY histories.

Accepted layouts (plain or gzipped, UTF-8 with or without BOM, or UTF-16 with BOM;
``,``, ``;`` or tab separated):

* pools: a DeFiLlama ``/pools`` JSON as served (``{"status","data"}``), a bare list,
  an exporter wrapper ``{"pools": [...]}``; or a CSV with any subset of the schema's
  columns in camelCase or snake_case (only a pool id column is required);
* prices: ``date,price[,market_cap,total_volume,coin_name]``; CoinGecko ``market_chart``
  dumps ``column_0 (ms epoch),column_1 (price),ticker`` or ``timestamp,price``;
  Yahoo ``Date,Open,High,Low,Close,Adj Close,Volume`` and exchange OHLCV exports
  ``timestamp,open,high,low,close,volume`` (the Open is the 00:00 UTC price); files
  with only a close (Yahoo ``Date,Adj Close``/``Date,Adj_Close``, ``date,close``): the
  close of day D is the 00:00 UTC price of D+1, so it is stored under D+1 (storing
  it under D would let a backtest see the day's close at its start);
* APY history: ``date, id|pool, apy[, apy_base, apy_reward, tvl_usd, chain, project,
  symbol]`` (also ``timestamp``/``tvlUSD`` as in chart exports); tracker exports
  ``date, protocol, asset, chain, apy`` get the id ``protocol:chain:asset`` with the
  protocol mapped to the universe's slug (``AAVEV3`` -> ``aave-v3:ethereum:usdc``).

Any other CSV is read with ``columns`` (``{"date": "Date", "price": "Adj_Close"}``).
Every cell goes through ``core.parsing``: thousands separators and decimal commas are
refused unless ``decimal_comma``; implausible values, dates and control characters
reject the row. A bad row is reported by row number (the header is row 1), column
and reason, then skipped, or, with ``strict=True``, the whole import fails with
``DataError`` and nothing is returned. ``report.rows_seen`` always equals accepted +
rejected + duplicates resolved.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from realyield.core import clock
from realyield.core.errors import ConfigError, DataError, FieldError, RecordError
from realyield.core.model import ApyPoint, Opportunity, PricePoint
from realyield.core.parsing import (
    APY_BOUNDS,
    MARKET_BOUNDS,
    PRICE_BOUNDS,
    TVL_BOUNDS,
    Bounds,
    parse_float,
    parse_timestamp,
)
from realyield.reference.aliases import canonical_asset, canonical_protocol, unknown_name_hint
from realyield.sources.coingecko import PriceSample, collapse_to_days
from realyield.sources.defillama import (
    DEFAULT_LIMITS,
    POOL_FIELD_ALIASES,
    Limits,
    canonical_key,
    parse_pools,
    pool_to_opportunity,
)
from realyield.sources.sanitize import GuardError, IngestReport, clip_negative, to_text
from realyield.sources.tabular import csv_rows, load_json, read_text

__all__ = [
    "FILE_SOURCE",
    "HISTORY_COLUMNS",
    "POOL_COLUMNS",
    "PRICE_COLUMNS",
    "HistoryImport",
    "import_apy_history",
    "import_pools",
    "import_prices",
    "read_text",
]

FILE_SOURCE = "file"
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
#: Target names ``columns`` may map to, per kind of file.
POOL_COLUMNS = frozenset(POOL_FIELD_ALIASES) | {v.lower() for v in POOL_FIELD_ALIASES.values()}
PRICE_COLUMNS = frozenset({"date", "price", "open", "close", "asset", "market_cap", "volume"})
HISTORY_COLUMNS = frozenset(
    {"date", "id", "apy", "apy_base", "apy_reward", "tvl_usd", "chain", "project", "symbol"}
)


def _finish(path: Path, report: IngestReport, strict: bool) -> None:
    if strict and report.rejected_total:
        shown = "; ".join(f"{p.where}: {p.reason} ({p.detail})" for p in report.problems[:10])
        raise DataError(
            f"{path}: {report.rejected_total} bad row(s), import refused (--strict): {shown}. "
            "Fix those rows, or import without --strict to skip them."
        )


def _reject(report: IngestReport, number: int, exc: Exception) -> None:
    """Count a bad row under its reason code, with the column and value in the detail."""
    if isinstance(exc, GuardError):
        report.reject(f"row {number}", exc.reason, exc.detail)
    elif isinstance(exc, FieldError):
        report.reject(f"row {number}", exc.code, str(exc))
    elif isinstance(exc, RecordError):
        report.reject(f"row {number}", f"invalid_{exc.field}", str(exc))
    else:  # pragma: no cover - callers pass only the three above
        raise exc


def _as_of_from(path: Path, payload: Any = None) -> datetime:
    stamps: list[Any] = []
    if isinstance(payload, dict) and isinstance(payload.get("exportedAt"), str):
        stamps.append(payload["exportedAt"])
    stamps.extend(_DATE_IN_NAME.findall(path.name))
    for stamp in stamps:
        try:
            return parse_timestamp(stamp, column="exportedAt")
        except FieldError:
            continue
    return clock.now()


def import_pools(
    path: Path,
    *,
    as_of: datetime | None = None,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    decimal_comma: bool = False,
    columns: Mapping[str, str] | None = None,
) -> tuple[list[Opportunity], IngestReport]:
    """Read a DeFiLlama pools dump (JSON or CSV) into opportunities.

    ``as_of`` defaults to the dump's ``exportedAt``, else a ``YYYY-MM-DD`` date in the
    file name, else now.

    Raises:
        DataError: unreadable file, no pool id column, wrong JSON shape, or (strict)
            any bad row. ConfigError: ``columns`` given for a JSON file, or naming an
            unknown target.
    """
    text = read_text(path)
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    if text.lstrip().startswith(("{", "[")):
        if columns:
            raise ConfigError("--columns applies to CSV files; this pools file is JSON")
        payload = load_json(path, text)
        when = as_of or _as_of_from(path, payload)
        try:
            opps = parse_pools(
                payload,
                as_of=when,
                report=report,
                limits=limits,
                source=FILE_SOURCE,
                decimal_comma=decimal_comma,
            )
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from exc
        _finish(path, report, strict)
        return opps, report
    header, rows = csv_rows(path, text, columns=columns, targets=POOL_COLUMNS)
    keys = [canonical_key(h) for h in header]
    if "pool" not in keys:
        raise DataError(
            f"{path}: wrong columns for a pools file: need a pool id column "
            f"(pool, poolId or pool_id, or --columns pool=YOUR_COLUMN); found {header}"
        )
    when = as_of or _as_of_from(path)
    found: dict[str, Opportunity] = {}
    for number, row in _data_rows(rows):
        report.rows_seen += 1
        if len(row) != len(keys):
            report.reject(
                f"row {number}", "wrong_column_count", f"{len(row)} values for {len(keys)} columns"
            )
            continue
        opp = pool_to_opportunity(
            dict(zip(keys, row, strict=True)),
            as_of=when,
            report=report,
            where=f"row {number}",
            limits=limits,
            source=FILE_SOURCE,
            decimal_comma=decimal_comma,
        )
        if opp is not None:
            if opp.id in found:
                report.duplicates += 1
            found[opp.id] = opp
    report.accepted = len(found)
    _finish(path, report, strict)
    return list(found.values()), report


def _data_rows(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    """The rows that hold anything (blank lines are not rows)."""
    return ((n, row) for n, row in rows if row and any(cell.strip() for cell in row))


@dataclass
class _PriceLayout:
    when: str
    price: str
    asset: str | None = None
    market_cap: str | None = None
    volume: str | None = None
    close_of_day: bool = False  # the price is the day's close: stored under D+1
    volume_in_base: bool = False  # exchange exports count volume in the base asset
    name: str = "date,price"


_CLOSE_NAMES = ("adj close", "adj_close", "adjclose", "adj. close", "close")


def _price_layout(path: Path, header: list[str]) -> _PriceLayout:
    low = {h.lower(): h for h in header}
    when = low.get("date") or low.get("timestamp") or low.get("time") or low.get("column_0")
    price = low.get("price") or low.get("price_usd") or low.get("column_1")
    close = next((low[n] for n in _CLOSE_NAMES if n in low), None)
    if when is None or (price is None and close is None and "open" not in low):
        raise DataError(
            f"{path}: wrong columns for a price file: found {header}; expected one of "
            "date,price[,market_cap,total_volume] | column_0,column_1,ticker | "
            "Date,Open,High,Low,Close,Adj Close,Volume | Date,Adj Close | "
            "timestamp,open,high,low,close,volume; or name yours with "
            "--columns date=YOUR_DATE,price=YOUR_PRICE"
        )
    asset = (
        low.get("coin_name")
        or low.get("asset_id")
        or low.get("asset")
        or low.get("ticker")
        or low.get("symbol")
    )
    cap = low.get("market_cap") or low.get("market_cap_usd")
    volume = low.get("total_volume") or low.get("volume") or low.get("volume_usd")
    if price is not None:
        name = "coingecko market_chart dump" if "column_0" in low else "date,price"
        return _PriceLayout(when, price, asset, cap, volume, name=name)
    if "open" in low:
        exchange = "date" not in low
        return _PriceLayout(
            when,
            low["open"],
            asset,
            cap,
            volume,
            volume_in_base=exchange,
            name=f"{'exchange' if exchange else 'yahoo'} OHLCV (Open = 00:00 UTC price)",
        )
    assert close is not None
    return _PriceLayout(
        when,
        close,
        asset,
        cap,
        volume,
        close_of_day=True,
        name=f"daily close ({close}): the close of D stored as the 00:00 UTC price of D+1",
    )


def _canonical_asset(name: str) -> str:
    """The CoinGecko id of an asset name from a price file.

    Raises:
        GuardError: ``unknown_asset``, with the alias row that would link the name.
    """
    found = canonical_asset(name)
    if found is None:
        raise GuardError("unknown_asset", unknown_name_hint("asset", name))
    return found


_YAHOO_TICKER = re.compile(r"([A-Za-z0-9]+)-USD", re.ASCII)


def asset_from_name(path: Path) -> str:
    """The asset a price file's name gives: ``bitcoin.csv`` -> ``bitcoin``; Yahoo's
    download name ``BTC-USD.csv`` -> ``BTC`` (its ticker without the USD quote)."""
    stem = path.name.split(".")[0]
    ticker = _YAHOO_TICKER.fullmatch(stem)
    return ticker.group(1) if ticker else stem


def import_prices(
    path: Path,
    *,
    asset_id: str | None = None,
    strict: bool = False,
    decimal_comma: bool = False,
    columns: Mapping[str, str] | None = None,
) -> tuple[list[PricePoint], IngestReport]:
    """Read a daily price CSV into PricePoints (one per asset and UTC day).

    The asset comes from ``asset_id`` (taken as given), else the file's coin/ticker
    column, else the file name (``bitcoin.csv`` -> ``bitcoin``), mapped to its CoinGecko
    id through the alias table (``bnb`` -> ``binancecoin``, ``avalanche`` ->
    ``avalanche-2``); a name the table does not know rejects the row as
    ``unknown_asset`` with the alias row to add (never guessed). Several samples in
    one day are resolved to the one nearest 00:00 UTC and counted in
    ``report.duplicates``.

    Raises:
        DataError: unreadable file, unknown layout, or (strict) any bad row.
        ConfigError: ``columns`` naming an unknown target.
    """
    text = read_text(path)
    header, rows = csv_rows(path, text, columns=columns, targets=PRICE_COLUMNS)
    layout = _price_layout(path, header)
    index = {h: i for i, h in enumerate(header)}
    default_asset = asset_id or asset_from_name(path)
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    samples: dict[str, list[PriceSample]] = defaultdict(list)

    def cell(row: list[str], column: str | None, bounds: Bounds | None = None) -> float | None:
        if column is None:
            return None
        return parse_float(
            row[index[column]], column=column, decimal_comma=decimal_comma, bounds=bounds
        )

    for number, row in _data_rows(rows):
        try:
            if len(row) != len(header):
                raise GuardError(
                    "wrong_column_count", f"{len(row)} values for {len(header)} columns"
                )
            at = parse_timestamp(row[index[layout.when]], column=layout.when)
            if layout.close_of_day and at.time() == datetime.min.time():
                at += timedelta(days=1)
            raw_asset = row[index[layout.asset]] if layout.asset else None
            asset = asset_id or _canonical_asset(
                to_text(raw_asset, layout.asset or "", max_len=128) or default_asset
            )
            price = cell(row, layout.price)
            if price is None or price <= 0:
                raise GuardError(
                    "non_positive_price", f"column {layout.price!r}: price={price} in the file"
                )
            PRICE_BOUNDS.check(price, column=layout.price, raw=row[index[layout.price]])
            cap = cell(row, layout.market_cap, MARKET_BOUNDS)
            volume = cell(row, layout.volume, MARKET_BOUNDS)
            if layout.volume_in_base and volume is not None:
                volume *= price  # base units at the open: a USD estimate, as exchange/ does
        except (GuardError, FieldError) as exc:
            report.rows_seen += 1
            _reject(report, number, exc)
            continue
        samples[asset].append(PriceSample(at, price, cap, volume))
    points: list[PricePoint] = []
    for asset, asset_samples in samples.items():
        points.extend(collapse_to_days(asset, asset_samples, report))
    _finish(path, report, strict)
    return points, report


@dataclass
class HistoryImport:
    """An APY history file's points and the pool facts its extra columns carry."""

    points: list[ApyPoint] = field(default_factory=list)
    pool_info: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class _HistoryLayout:
    date: int
    id: int | None  # -1: built as protocol:chain:asset
    apy: int
    composite: list[int]
    optional: dict[str, int | None]


def _history_layout(path: Path, header: list[str], opportunity_id: str | None) -> _HistoryLayout:
    low = {h.lower(): i for i, h in enumerate(header)}
    date_col = low.get("date", low.get("timestamp", low.get("dt")))
    id_col = low.get("id", low.get("pool", low.get("pool_id", low.get("opportunity_id"))))
    apy_col = low.get("apy")
    composite = [low[c] for c in ("protocol", "chain", "asset") if c in low]
    if id_col is None and opportunity_id is None and len(composite) == 3:
        id_col = -1  # id built as protocol:chain:asset (tracker exports have no pool id)
    missing = [name for name, col in (("date", date_col), ("apy", apy_col)) if col is None]
    if id_col is None and opportunity_id is None:
        missing.append("id or pool (or pass opportunity_id)")
    if missing or date_col is None or apy_col is None:
        raise DataError(
            f"{path}: wrong columns for an APY history: missing {missing}; found {header}; "
            "name yours with --columns date=...,id=...,apy=..."
        )
    optional = {
        name: low.get(name) for name in ("apy_base", "apy_reward", "chain", "project", "symbol")
    }
    optional["tvl_usd"] = low.get("tvl_usd", low.get("tvlusd"))
    return _HistoryLayout(date_col, id_col, apy_col, composite, optional)


def import_apy_history(
    path: Path,
    *,
    opportunity_id: str | None = None,
    apy_unit: str = "percent",
    strict: bool = False,
    decimal_comma: bool = False,
    columns: Mapping[str, str] | None = None,
) -> tuple[HistoryImport, IngestReport]:
    """Read a daily APY/TVL history CSV (plain or gzipped) into ApyPoints.

    ``apy_unit="fraction"`` multiplies APY columns by 100 (for files that store 0.05 for
    5%). Without an id/pool column, ``opportunity_id`` names the single series.

    Raises:
        DataError: unreadable file, missing date/apy/id columns, bad ``apy_unit``, or
            (strict) any bad row. ConfigError: ``columns`` naming an unknown target.
    """
    if apy_unit not in ("percent", "fraction"):
        raise DataError(f"apy_unit must be 'percent' or 'fraction', not {apy_unit!r}")
    scale = 100.0 if apy_unit == "fraction" else 1.0
    text = read_text(path)
    header, rows = csv_rows(path, text, columns=columns, targets=HISTORY_COLUMNS)
    layout = _history_layout(path, header, opportunity_id)
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    result = HistoryImport()
    seen: dict[tuple[str, date], int] = {}
    for number, row in _data_rows(rows):
        report.rows_seen += 1
        try:
            if len(row) != len(header):
                raise GuardError(
                    "wrong_column_count", f"{len(row)} values for {len(header)} columns"
                )
            point, info = _history_row(
                row, header, layout, opportunity_id, scale, decimal_comma, report
            )
        except (GuardError, FieldError, RecordError) as exc:
            _reject(report, number, exc)
            continue
        key = (point.opportunity_id, point.date)
        if key in seen:
            report.duplicates += 1
            result.points[seen[key]] = point  # last row of a day wins
        else:
            seen[key] = len(result.points)
            result.points.append(point)
        if info:
            result.pool_info[point.opportunity_id] = info
    report.accepted = len(result.points)
    _finish(path, report, strict)
    return result, report


def _canonical_protocol(name: str) -> str:
    """The universe's slug for a tracker's protocol name (``AAVEV3`` -> ``aave-v3``).

    Raises:
        GuardError: ``unknown_protocol``, with the alias row that would link the name.
    """
    found = canonical_protocol(name)
    if found is None:
        raise GuardError("unknown_protocol", unknown_name_hint("protocol", name))
    return found


def _history_row(
    row: list[str],
    header: list[str],
    layout: _HistoryLayout,
    opportunity_id: str | None,
    scale: float,
    decimal_comma: bool,
    report: IngestReport,
) -> tuple[ApyPoint, dict[str, str]]:
    """One history row as a point and its pool facts.

    Raises:
        GuardError, FieldError, RecordError: the row is bad (the caller rejects it).
    """

    def text(col: int | None, max_len: int = 200) -> str | None:
        return None if col is None else to_text(row[col], header[col], max_len=max_len)

    def number(col: int | None, bounds: Bounds, factor: float = 1.0) -> float | None:
        if col is None:
            return None
        value = parse_float(row[col], column=header[col], decimal_comma=decimal_comma)
        if value is not None:
            value *= factor
            bounds.check(value, column=header[col], raw=row[col])
        return value

    if layout.id == -1:
        parts = [text(c) for c in layout.composite]
        if parts[0]:
            parts[0] = _canonical_protocol(parts[0])
        series = ":".join(p.lower() for p in parts if p) if all(parts) else None
    else:
        series = opportunity_id or text(layout.id)
    if series is None:
        raise GuardError("missing_id", "empty id/pool")
    day = parse_timestamp(row[layout.date], column=header[layout.date]).date()
    apy, base, reward = (
        clip_negative(number(col, APY_BOUNDS, scale), name, report)
        for name, col in (
            ("apy", layout.apy),
            ("apy_base", layout.optional["apy_base"]),
            ("apy_reward", layout.optional["apy_reward"]),
        )
    )
    tvl = number(layout.optional["tvl_usd"], TVL_BOUNDS)
    point = ApyPoint(series, day, apy, base, reward, tvl)
    info = {
        k: v
        for k in ("chain", "project", "symbol")
        if (v := text(layout.optional[k], 64 if k == "chain" else 200)) is not None
    }
    if layout.id == -1:
        info.setdefault("project", _canonical_protocol(row[layout.composite[0]].strip()))
        info.setdefault("symbol", row[layout.composite[2]].strip())
    return point, info
