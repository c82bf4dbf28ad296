"""The planner end to end: the function the CLI, the API and a Python user call.

``make_plan`` works on indices already built (pure: compositions, prices and options
in, a ``Plan`` out); ``plan_stored`` builds them from the store first. A plan holds the
verdict on the simulated allocation, the allocation and its blended yield (real and
emission), the optimizer's candidates, the Monte Carlo outcomes (with the tail risks it
modelled) and the cash-flow schedule, plus notes on what the figures rest on. Batches
build the shared ``PlanContext`` once and call ``planner.plan_many``.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import date

import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import InsufficientDataError
from realyield.indices.composition import IndexComposition
from realyield.indices.service import indices_at
from realyield.planning.context import (
    PRICE_MODELS,
    PlanContext,
    forecast_ratios,
    monthly_consistent,
    plan_context,
)
from realyield.planning.plan import Blended, Plan, PlanRequest, blend, request_from_preset
from realyield.planning.planner import plan_many
from realyield.scoring.service import score_stored
from realyield.universe.repository import (
    UniverseQuery,
    load_assets,
    price_history_frame,
    stored_sources,
)

__all__ = [
    "PRICE_MODELS",
    "Blended",
    "Plan",
    "PlanContext",
    "PlanRequest",
    "blend",
    "forecast_ratios",
    "make_plan",
    "monthly_consistent",
    "plan_context",
    "plan_many",
    "plan_on_indices",
    "plan_stored",
    "request_from_preset",
]


def make_plan(
    request: PlanRequest,
    compositions: Mapping[str, IndexComposition],
    prices: pl.DataFrame,
    stable: Set[str],
    *,
    as_of: date,
    notes: list[str] | None = None,
    forecast: pl.DataFrame | None = None,
) -> Plan:
    """Plan ``request`` on these indices and prices (``plan_context`` then
    ``plan_many``; a batch shares the context instead).

    Raises:
        ConfigError: invalid options, or an allocation naming an index not built.
        InsufficientDataError: no index built, or too little price history.
    """
    if not compositions:
        raise InsufficientDataError("no index could be built; run `realyield data refresh`")
    ctx = plan_context(compositions, prices, stable, as_of=as_of, notes=notes, forecast=forecast)
    (result,) = plan_many(ctx, [request])
    if isinstance(result, Exception):
        raise result
    return result


def plan_stored(engine: Engine, request: PlanRequest, *, as_of: date | None = None) -> Plan:
    """Build the indices of ``as_of`` (default: the newest stored day) from the store,
    with only what was known that day, then plan.

    Raises:
        DataError: nothing stored (run `realyield demo` or `realyield data refresh`).
        ConfigError, InsufficientDataError: as ``make_plan``.
    """
    scored, forecast_note = score_stored(engine, UniverseQuery(as_of=as_of))
    built, _ = indices_at(engine, as_of=as_of, scored=scored)
    day = as_of or scored.inputs.as_of
    return plan_on_indices(
        engine,
        request,
        built,
        as_of=day,
        notes=[forecast_note] if forecast_note else [],
        forecast=scored.forecast,
    )


def plan_on_indices(
    engine: Engine,
    request: PlanRequest,
    built: Mapping[str, IndexComposition | Exception],
    *,
    as_of: date,
    notes: list[str] | None = None,
    forecast: pl.DataFrame | None = None,
) -> Plan:
    """Plan on indices the caller already built (as ``indices_at`` returns them), with
    the stored prices up to ``as_of``.

    Raises:
        InsufficientDataError: no index built; ConfigError as ``make_plan``.
    """
    compositions = {k: v for k, v in built.items() if isinstance(v, IndexComposition)}
    notes = list(notes or []) + [
        f"{k}: not built ({v})" for k, v in built.items() if not isinstance(v, IndexComposition)
    ]
    if not compositions:
        raise InsufficientDataError("no index could be built from the stored data")
    stable = {a.id for a in load_assets(engine) if a.category == "stablecoin"}
    prices = price_history_frame(engine, end=as_of)
    if "snapshot" in stored_sources(engine):
        notes.insert(
            0,
            "the bundled snapshot's price and yield histories are ILLUSTRATIVE (generated): "
            "so are these outcomes; import real prices for a real plan",
        )
    return make_plan(
        request, compositions, prices, stable, as_of=as_of, notes=notes, forecast=forecast
    )
