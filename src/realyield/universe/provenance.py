"""What a view of the universe rests on: which sources gave its opportunities, and where
its prices and market caps come from on that day.

Indices, plans and screens built from imported files or the bundled snapshot must say
so (a number computed from an illustrative snapshot, or from a market cap carried over
from a year before, is not the same claim as one from a live source): these lines are
printed under them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select

from realyield.store import schema
from realyield.universe.point_in_time import MAX_SUPPLY_AGE_DAYS
from realyield.universe.repository import (
    SNAPSHOT_SOURCE,
    UniverseQuery,
    load_universe,
    price_history_frame,
)

__all__ = ["view_sources"]


def _imported_files(engine: Engine) -> dict[str, list[str]]:
    """File names of the successful file imports, by kind (``pools``, ``prices``...)."""
    t = schema.refresh_runs
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.summary).where(t.c.source == "file", t.c.status == "ok")
        ).all()
    out: dict[str, list[str]] = {}
    for (summary,) in rows:
        try:
            facts = json.loads(summary)
        except ValueError:
            continue
        if isinstance(facts, dict) and isinstance(facts.get("file"), str):
            names = out.setdefault(str(facts.get("kind", "?")), [])
            name = Path(facts["file"]).name
            if name not in names:
                names.append(name)
    return out


def _listed(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def view_sources(
    engine: Engine, as_of: date | None = None, sources: tuple[str, ...] | None = None
) -> list[str]:
    """One line per source of the universe view of ``as_of`` (opportunities), then one
    on its prices and market caps that day. Reads the store only."""
    opps = load_universe(engine, UniverseQuery(as_of=as_of, sources=sources))
    if not opps:
        return ["no opportunity stored for this view"]
    day = as_of or max(o.as_of for o in opps).date()
    by_source = Counter(o.source for o in opps)
    files = _imported_files(engine)
    lines = []
    for source, n in sorted(by_source.items()):
        if source == "file":
            names = files.get("apy-history", []) + files.get("pools", [])
            lines.append(f"{n} opportunities from imported files ({_listed(names)})")
        elif source == "staking":
            dates = sorted(
                {str(o.meta.get("parameters_as_of")) for o in opps if o.source == source}
            )
            lines.append(
                f"{n} network staking routes from the bundled staking table (rates as of "
                f"{', '.join(dates)}; TVL implied from market caps)"
            )
        elif source == SNAPSHOT_SOURCE:
            lines.append(f"{n} opportunities from the bundled snapshot (ILLUSTRATIVE figures)")
        else:
            lines.append(f"{n} opportunities from {source}")
    lines.append(_price_line(engine, day, files.get("prices", [])))
    return lines


def _price_line(engine: Engine, day: date, price_files: list[str]) -> str:
    """How the day's market caps are known: published that week, or carried over."""
    prices = price_history_frame(
        engine, start=day - timedelta(days=MAX_SUPPLY_AGE_DAYS), end=day
    ).filter(pl.col("date") >= day - timedelta(days=7))
    if prices.is_empty():
        return f"no price within a week of {day}"
    latest = prices.sort("date").group_by("asset_id").last()
    published = latest.filter(pl.col("market_cap_usd") > 0).height
    carried = (
        latest.filter(
            ~(pl.col("market_cap_usd").fill_null(0.0) > 0) & pl.col("supply").is_not_null()
        )
        if "supply" in latest.columns
        else latest.clear()
    )
    line = (
        f"prices of {latest.height} assets in the week to {day}; "
        f"market caps published for {published}"
    )
    if carried.height:
        oldest = str(carried["supply_date"].min())
        line += f", last published supply x price for {carried.height} (supply as old as {oldest})"
    if price_files:
        line += f" (files: {_listed(price_files)})"
    return line
