"""``realyield universe`` and ``realyield demo``."""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from datetime import date
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.cli.common import (
    KIND_SHORT,
    JsonOpt,
    console,
    emit_json,
    err,
    fail,
    fmt_pct,
    fmt_usd,
    session,
)
from realyield.core.errors import ConfigError
from realyield.core.model import Opportunity
from realyield.scoring.labels import readable_ids
from realyield.universe import build
from realyield.universe.repository import (
    UniverseQuery,
    load_universe,
    stored_sources,
)


def universe(
    kind: Annotated[
        str | None, typer.Option(help="staking | liquid_staking | lending | liquidity | vault")
    ] = None,
    chain: Annotated[str | None, typer.Option()] = None,
    protocol: Annotated[str | None, typer.Option()] = None,
    min_tvl: Annotated[float | None, typer.Option(help="Minimum TVL in USD.")] = None,
    sort: Annotated[str, typer.Option(help="apy | tvl")] = "tvl",
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = 25,
    source: Annotated[
        str | None, typer.Option(help="Only this stored source (e.g. snapshot, file, defillama).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time view (YYYY-MM-DD).")] = None,
    include_stale: Annotated[
        bool,
        typer.Option("--include-stale", help="Also list pools not seen for over 30 days."),
    ] = False,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """List yield opportunities with APY split into base (real) and reward (emissions)."""
    with session() as (_settings, engine):
        try:
            query = UniverseQuery(
                as_of=date.fromisoformat(as_of) if as_of else None,
                kind=kind,
                chain=chain,
                protocol=protocol,
                min_tvl_usd=min_tvl,
                sources=(source,) if source else None,
                sort=sort,
                limit=limit,
                max_age_days=None if include_stale else 30,
            )
        except ValueError as exc:
            raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print(
                "[yellow]store was empty: loaded the bundled snapshot "
                "(run `realyield data refresh` for live data)[/]"
            )
        matching = load_universe(engine, replace(query, limit=None))
        # readable ids are unique in the universe of the date, the one `screen` and
        # `explain` score (whatever the filters)
        whole = load_universe(
            engine,
            UniverseQuery(
                as_of=query.as_of, sources=query.sources, max_age_days=query.max_age_days
            ),
        )
    opps = matching[:limit] if limit else matching
    label_of = dict(zip((o.id for o in whole), readable_ids(whole), strict=True))
    rows = [{**o.to_dict(), "label": label_of.get(o.id, o.id)} for o in opps]
    if as_json:
        emit_json(rows)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        title = f"{len(opps)} of {len(matching)} opportunities shown (sorted by {sort})"
        console.print(_ranked_table(opps, [label_of.get(o.id, o.id) for o in opps], title))


def _ranked_table(opps: list[Opportunity], labels: list[str], title: str) -> Table:
    """The listing, each row under the readable id `explain` accepts."""
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    table.add_column("id (for explain)", overflow="fold")
    table.add_column("kind", no_wrap=True)
    for name in ("APY", "base", "reward", "TVL"):
        table.add_column(name, justify="right", no_wrap=True)
    for o, label in zip(opps, labels, strict=True):
        table.add_row(
            label,
            KIND_SHORT.get(o.kind, o.kind),
            fmt_pct(o.apy),
            fmt_pct(o.apy_base),
            fmt_pct(o.apy_reward),
            fmt_usd(o.tvl_usd),
        )
    return table
