"""Imports from files a user already has: pool dumps, price CSVs, APY histories.

Accepted layouts (plain or gzipped, UTF-8 with or without BOM, or UTF-16 with BOM):

* pools: a DeFiLlama ``/pools`` JSON as served (``{"status","data"}``), a bare list,
  an exporter wrapper ``{"pools": [...]}``; or a CSV with any subset of the schema's
  columns in camelCase or snake_case (only a pool id column is required);
* prices: ``date,price[,market_cap,total_volume,coin_name]``; CoinGecko ``market_chart``
  dumps ``column_0 (ms epoch),column_1 (price),ticker`` or ``timestamp,price``;
  Yahoo ``Date,Open,High,Low,Close,Adj Close,Volume`` (the Open is the 00:00 UTC price);
* APY history: ``date, id|pool, apy[, apy_base, apy_reward, tvl_usd, chain, project,
  symbol]`` (also ``timestamp``/``tvlUSD`` as in chart exports).

Missing optional columns become missing values. Bad rows are reported by row number
(the header is row 1) and reason, then skipped, or, with ``strict=True``, the whole
import fails with ``DataError`` and nothing is returned.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from realyield.core import clock
from realyield.core.errors import DataError, RecordError
from realyield.core.model import ApyPoint, Opportunity, PricePoint
from realyield.sources.coingecko import PriceSample, collapse_to_days, ms_to_utc
from realyield.sources.defillama import (
    DEFAULT_LIMITS,
    Limits,
    canonical_key,
    parse_pools,
    pool_to_opportunity,
)
from realyield.sources.sanitize import GuardError, IngestReport, clip_negative, to_number, to_text

FILE_SOURCE = "file"
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def read_text(path: Path) -> str:
    """Read a text file (optionally gzipped), detecting UTF-8/UTF-8-BOM/UTF-16-BOM.

    Raises:
        DataError: missing or empty file, a corrupt gzip stream, or bytes that are not
            UTF-8 (with the offset of the first bad byte and what to do).
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    if not raw.strip():
        raise DataError(f"{path}: the file is empty; nothing to import")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); "
            "re-save the file as UTF-8 and import again"
        ) from None


def _csv_rows(path: Path, text: str) -> tuple[list[str], Iterator[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty; nothing to import") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV file ({exc})") from exc
    if not any(header):
        raise DataError(f"{path}: the first line holds no column names")
    return header, reader


def _finish(path: Path, report: IngestReport, strict: bool) -> None:
    if strict and report.rejected_total:
        shown = "; ".join(f"{p.where}: {p.reason} ({p.detail})" for p in report.problems[:10])
        raise DataError(
            f"{path}: {report.rejected_total} bad row(s), import refused (--strict): {shown}. "
            "Fix those rows, or import without --strict to skip them."
        )


def _as_of_from(path: Path, payload: Any = None) -> datetime:
    if isinstance(payload, dict) and isinstance(payload.get("exportedAt"), str):
        try:
            return datetime.fromisoformat(payload["exportedAt"].replace("Z", "+00:00"))
        except ValueError:
            pass
    match = _DATE_IN_NAME.search(path.name)
    if match:
        try:
            return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
        except ValueError:
            pass
    return clock.now()


def import_pools(
    path: Path,
    *,
    as_of: datetime | None = None,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[list[Opportunity], IngestReport]:
    """Read a DeFiLlama pools dump (JSON or CSV) into opportunities.

    ``as_of`` defaults to the dump's ``exportedAt``, else a ``YYYY-MM-DD`` date in the
    file name, else now.

    Raises:
        DataError: unreadable file, no pool id column, wrong JSON shape, or (strict)
            any bad row.
    """
    text = read_text(path)
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: invalid JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
            ) from exc
        when = as_of or _as_of_from(path, payload)
        try:
            opps = parse_pools(
                payload, as_of=when, report=report, limits=limits, source=FILE_SOURCE
            )
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from exc
        _finish(path, report, strict)
        return opps, report
    header, rows = _csv_rows(path, text)
    keys = [canonical_key(h) for h in header]
    if "pool" not in keys:
        raise DataError(
            f"{path}: wrong columns for a pools file: need a pool id column "
            f"(pool, poolId or pool_id); found {header}"
        )
    when = as_of or _as_of_from(path)
    found: dict[str, Opportunity] = {}
    for number, row in enumerate(rows, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
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
        )
        if opp is not None:
            if opp.id in found:
                report.duplicates += 1
            found[opp.id] = opp
    report.accepted = len(found)
    _finish(path, report, strict)
    return list(found.values()), report


def parse_day_or_time(text: str) -> datetime:
    """Parse the date/time layouts seen in price and history files, as UTC.

    ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS[.fff]``, ISO 8601 with ``Z``/offset,
    ``MM/DD/YYYY``, and Unix epoch seconds or milliseconds.

    Raises:
        GuardError: ``bad_date`` for anything else.
    """
    value = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
            return datetime.strptime(value, "%m/%d/%Y").replace(tzinfo=UTC)
        if re.fullmatch(r"\d{9,13}(\.\d+)?", value):
            number = float(value)
            return ms_to_utc(number if number > 1e11 else number * 1000)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GuardError("bad_date", f"{text!r} is not a date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass
class _PriceLayout:
    when: str
    price: str
    asset: str | None = None
    market_cap: str | None = None
    volume: str | None = None
    epoch_ms: bool = False
    name: str = "date,price"


def _price_layout(path: Path, header: list[str]) -> _PriceLayout:
    low = {h.lower(): h for h in header}
    if {"column_0", "column_1"} <= set(low):
        return _PriceLayout(
            low["column_0"],
            low["column_1"],
            low.get("ticker"),
            epoch_ms=True,
            name="coingecko market_chart dump",
        )
    if {"date", "open", "close"} <= set(low):
        return _PriceLayout(
            low["date"],
            low["open"],
            None,
            None,
            low.get("volume"),
            name="yahoo OHLCV (Open = 00:00 UTC price)",
        )
    when = low.get("date") or low.get("timestamp") or low.get("time")
    price = low.get("price") or low.get("price_usd") or low.get("close")
    if when is None or price is None:
        raise DataError(
            f"{path}: wrong columns for a price file: found {header}; expected one of "
            "date,price[,market_cap,total_volume] | column_0,column_1,ticker | "
            "Date,Open,High,Low,Close,Adj Close,Volume"
        )
    asset = low.get("coin_name") or low.get("asset_id") or low.get("asset") or low.get("ticker")
    return _PriceLayout(
        when,
        price,
        asset,
        low.get("market_cap") or low.get("market_cap_usd"),
        low.get("total_volume") or low.get("volume") or low.get("volume_usd"),
    )


def import_prices(
    path: Path, *, asset_id: str | None = None, strict: bool = False
) -> tuple[list[PricePoint], IngestReport]:
    """Read a daily price CSV into PricePoints (one per asset and UTC day).

    The asset comes from ``asset_id``, else the file's coin/ticker column, else the file
    name (``bitcoin.csv`` -> ``bitcoin``). Several samples in one day are resolved to the
    one nearest 00:00 UTC and counted in ``report.duplicates``.

    Raises:
        DataError: unreadable file, unknown layout, or (strict) any bad row.
    """
    text = read_text(path)
    header, rows = _csv_rows(path, text)
    layout = _price_layout(path, header)
    index = {h: i for i, h in enumerate(header)}
    default_asset = asset_id or path.name.split(".")[0]
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    samples: dict[str, list[PriceSample]] = defaultdict(list)

    def cell(row: list[str], column: str | None) -> str | None:
        return row[index[column]] if column is not None and index[column] < len(row) else None

    for number, row in enumerate(rows, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            if len(row) != len(header):
                raise GuardError(
                    "wrong_column_count", f"{len(row)} values for {len(header)} columns"
                )
            raw_when = cell(row, layout.when) or ""
            at = (
                ms_to_utc(float(raw_when))
                if layout.epoch_ms and _is_number(raw_when)
                else parse_day_or_time(raw_when)
            )
            asset = asset_id or to_text(cell(row, layout.asset)) or default_asset
            price = to_number(cell(row, layout.price), "price")
            if price is None or price <= 0:
                raise GuardError("non_positive_price", f"price={cell(row, layout.price)!r}")
            cap = to_number(cell(row, layout.market_cap), "market_cap")
            volume = to_number(cell(row, layout.volume), "volume")
            if (cap is not None and cap < 0) or (volume is not None and volume < 0):
                raise GuardError("negative_value", f"market_cap={cap} volume={volume}")
        except GuardError as exc:
            report.rows_seen += 1
            report.reject(f"row {number}", exc.reason, exc.detail)
            continue
        samples[asset].append(PriceSample(at, price, cap, volume))
    points: list[PricePoint] = []
    for asset, asset_samples in samples.items():
        points.extend(collapse_to_days(asset, asset_samples, report))
    _finish(path, report, strict)
    return points, report


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class HistoryImport:
    """An APY history file's points and the pool facts its extra columns carry."""

    points: list[ApyPoint] = field(default_factory=list)
    pool_info: dict[str, dict[str, str]] = field(default_factory=dict)


def import_apy_history(
    path: Path,
    *,
    opportunity_id: str | None = None,
    apy_unit: str = "percent",
    strict: bool = False,
) -> tuple[HistoryImport, IngestReport]:
    """Read a daily APY/TVL history CSV (plain or gzipped) into ApyPoints.

    ``apy_unit="fraction"`` multiplies APY columns by 100 (for files that store 0.05 for
    5%). Without an id/pool column, ``opportunity_id`` names the single series.

    Raises:
        DataError: unreadable file, missing date/apy/id columns, bad ``apy_unit``, or
            (strict) any bad row.
    """
    if apy_unit not in ("percent", "fraction"):
        raise DataError(f"apy_unit must be 'percent' or 'fraction', not {apy_unit!r}")
    scale = 100.0 if apy_unit == "fraction" else 1.0
    text = read_text(path)
    header, rows = _csv_rows(path, text)
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
    if missing:
        raise DataError(
            f"{path}: wrong columns for an APY history: missing {missing}; found {header}"
        )
    optional = {
        name: low.get(name) for name in ("apy_base", "apy_reward", "chain", "project", "symbol")
    }
    optional["tvl_usd"] = low.get("tvl_usd", low.get("tvlusd"))
    report = IngestReport(source=f"{FILE_SOURCE}:{path.name}")
    result = HistoryImport()
    seen: dict[tuple[str, date], int] = {}

    def cell(row: list[str], col: int | None) -> str | None:
        return row[col] if col is not None and 0 <= col < len(row) else None

    for number, row in enumerate(rows, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        report.rows_seen += 1
        try:
            if len(row) != len(header):
                raise GuardError(
                    "wrong_column_count", f"{len(row)} values for {len(header)} columns"
                )
            series = opportunity_id or (
                ":".join(row[c].strip().lower() for c in composite)
                if id_col == -1
                else to_text(cell(row, id_col))
            )
            if series is None:
                raise GuardError("missing_id", "empty id/pool")
            day = parse_day_or_time(cell(row, date_col) or "").date()
            apy, base, reward = (
                clip_negative(_scaled(cell(row, col), name, scale), name, report)
                for name, col in (
                    ("apy", apy_col),
                    ("apy_base", optional["apy_base"]),
                    ("apy_reward", optional["apy_reward"]),
                )
            )
            tvl = to_number(cell(row, optional["tvl_usd"]), "tvl_usd")
            point = ApyPoint(series, day, apy, base, reward, tvl)
        except GuardError as exc:
            report.reject(f"row {number}", exc.reason, exc.detail)
            continue
        except RecordError as exc:
            report.reject(f"row {number}", f"invalid_{exc.field}", str(exc))
            continue
        key = (series, day)
        if key in seen:
            report.duplicates += 1
            result.points[seen[key]] = point  # last row of a day wins
        else:
            seen[key] = len(result.points)
            result.points.append(point)
        info = {
            k: v
            for k in ("chain", "project", "symbol")
            if (v := to_text(cell(row, optional[k]))) is not None
        }
        if id_col == -1:
            info.setdefault("project", row[composite[0]].strip())
            info.setdefault("symbol", row[composite[2]].strip())
        if info:
            result.pool_info[series] = info
    report.accepted = len(result.points)
    _finish(path, report, strict)
    return result, report


def _scaled(raw: str | None, name: str, scale: float) -> float | None:
    value = to_number(raw, name)
    return None if value is None else value * scale
