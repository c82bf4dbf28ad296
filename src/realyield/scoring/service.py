"""Scoring what the store holds: the function the CLI, API and indices call.

It gathers the universe, its APY history, asset facts and reward-token prices as of a
date, runs the forecast when a model is available (and says why when it is not), and
returns a ``ScoredUniverse``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import DataError
from realyield.core.model import Opportunity
from realyield.scoring.score import ScoredUniverse, score_universe
from realyield.scoring.screens import ScreenConfig
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_assets,
    load_universe,
    price_history_frame,
)


def attributes_frame(opps: list[Opportunity]) -> pl.DataFrame:
    """The static attributes the forecast model uses, one row per opportunity."""
    return pl.DataFrame(
        {
            "id": [o.id for o in opps],
            "chain": [o.chain for o in opps],
            "project": [o.protocol for o in opps],
            "kind": [o.kind for o in opps],
            "stablecoin": [o.stablecoin for o in opps],
            "exposure": [o.exposure for o in opps],
        },
        schema={
            "id": pl.Utf8,
            "chain": pl.Utf8,
            "project": pl.Utf8,
            "kind": pl.Utf8,
            "stablecoin": pl.Boolean,
            "exposure": pl.Utf8,
        },
    )


def forecast_frame(
    opps: list[Opportunity], history: pl.DataFrame, *, as_of: date
) -> tuple[pl.DataFrame | None, str | None]:
    """Forecasts from the packaged (or user-trained) model, or ``None`` and the reason."""
    from realyield.scoring import forecast

    try:
        model = forecast.load_model()
    except DataError as exc:
        return None, str(exc)
    if history.is_empty():
        return None, "no stored APY history to forecast from"
    return forecast.predict(model, history, attributes_frame(opps), as_of=as_of), None


def score_stored(
    engine: Engine,
    query: UniverseQuery | None = None,
    *,
    screens: ScreenConfig | None = None,
    with_forecast: bool = True,
) -> tuple[ScoredUniverse, str | None]:
    """Score the stored universe selected by ``query`` as of its date.

    Returns the scored universe and, when no forecast could be made, why.

    Raises:
        DataError: the query selects nothing.
    """
    query = query or UniverseQuery()
    opps = load_universe(engine, replace(query, limit=None))
    if not opps:
        raise DataError(
            "no opportunities stored for this selection; run `realyield data "
            "refresh` or `realyield demo` first"
        )
    as_of = query.as_of or max(o.as_of for o in opps).date()
    ids = [o.id for o in opps]
    history = apy_history_frame(engine, ids, end=as_of)
    assets = load_assets(engine, as_of=as_of)
    reward_ids = sorted({r for o in opps for r in o.reward_tokens})
    prices = price_history_frame(engine, reward_ids, end=as_of) if reward_ids else None
    forecast, note = (
        forecast_frame(opps, history, as_of=as_of)
        if with_forecast
        else (None, "forecast not requested")
    )
    scored = score_universe(
        opps,
        as_of=as_of,
        history=history if not history.is_empty() else None,
        assets=assets,
        prices=prices,
        screens=screens,
        forecast=forecast,
    )
    return scored, note
