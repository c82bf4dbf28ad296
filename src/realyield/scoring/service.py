"""Scoring what the store holds: the function the CLI, API and indices call.

It gathers the universe, its APY history, asset facts and reward-token prices as of a
date, runs the forecast when a model is available (and says why when it is not), and
returns a ``ScoredUniverse``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import DataError
from realyield.core.model import Opportunity
from realyield.scoring.pair_risk import pair_asset_ids
from realyield.scoring.score import ScoredUniverse, score_universe
from realyield.scoring.screens import ScreenConfig
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_assets,
    load_universe,
    price_history_frame,
    stored_sources,
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


def user_model_path(home: Path) -> Path:
    """Where ``realyield model train`` saves a model; it wins over the packaged one."""
    return home / "models" / "forecast_model.joblib"


def current_model_path(home: Path | None) -> Path | None:
    """The user's trained model when there is one, else ``None`` (the packaged model)."""
    if home is not None and user_model_path(home).is_file():
        return user_model_path(home)
    return None


def forecast_frame(
    opps: list[Opportunity], history: pl.DataFrame, *, as_of: date, home: Path | None = None
) -> tuple[pl.DataFrame | None, str | None]:
    """Forecasts from the user-trained (or packaged) model, or ``None`` and the reason.

    Pools without enough stored history are forecast from their own record's fields
    (``apyPct1D/7D/30D``, ``apyMean30d``, ``mu``, ``count``...) when the model has a
    record head; each forecast's ``reason`` says which features it used.
    """
    from realyield.scoring import forecast
    from realyield.scoring.features.records import record_frame

    try:
        model = forecast.load_model(current_model_path(home))
    except DataError as exc:
        return None, str(exc)
    if history.is_empty() and model.record_regressor is None:
        return None, "no stored APY history to forecast from"
    if history.is_empty():
        history = pl.DataFrame(schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64})
    records = record_frame(opps)
    frame = forecast.predict(model, history, attributes_frame(opps), as_of=as_of, records=records)
    return frame, None


def score_stored(
    engine: Engine,
    query: UniverseQuery | None = None,
    *,
    screens: ScreenConfig | None = None,
    with_forecast: bool = True,
    home: Path | None = None,
) -> tuple[ScoredUniverse, str | None]:
    """Score the stored universe of ``query``'s date, sources and freshness.

    The whole universe is scored: ``query``'s kind, chain, protocol, TVL and limit
    filters are not applied here, because screens compare an opportunity with all the
    others (the outlier band) and must not change with a filter. Filter the scored
    table afterwards (``scoring.screener.apply_screener``).

    Returns the scored universe and, when no forecast could be made, why.

    Raises:
        DataError: the query selects nothing.
    """
    query = query or UniverseQuery()
    whole = replace(query, kind=None, chain=None, protocol=None, min_tvl_usd=None, limit=None)
    opps = load_universe(engine, whole)
    if not opps:
        raise DataError(
            "no opportunities stored for this selection; run `realyield data "
            "refresh` or `realyield demo` first"
        )
    as_of = query.as_of or max(o.as_of for o in opps).date()
    ids = [o.id for o in opps]
    history = apy_history_frame(engine, ids, end=as_of)
    assets = load_assets(engine, as_of=as_of)
    price_ids = sorted(
        {r for o in opps for r in o.reward_tokens} | set(pair_asset_ids(opps, assets))
    )
    prices = price_history_frame(engine, price_ids, end=as_of) if price_ids else None
    forecast, note = (
        forecast_frame(opps, history, as_of=as_of, home=home)
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


def stored_training_data(
    engine: Engine, *, include_snapshot: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stored APY history and the attributes of its series, for training/evaluation.

    The bundled snapshot's history is illustrative (generated), so it is left out of
    training unless asked for.

    Raises:
        DataError: no stored history to learn from.
    """
    from realyield.scoring.features import exposure_from_symbol, stablecoin_from_symbol
    from realyield.universe.repository import series_info_frame

    history = apy_history_frame(engine)
    if not include_snapshot:
        history = history.filter(pl.col("source") != "snapshot")
    if history.is_empty():
        raise DataError(
            "no stored APY history to use: import one (`realyield data import FILE --kind "
            "apy-history`) or pass --history FILE"
        )
    ids = set(history["id"].unique().to_list())
    everything = UniverseQuery(max_age_days=None, sources=tuple(stored_sources(engine)))
    opps = [o for o in load_universe(engine, everything) if o.id in ids]
    known = attributes_frame(opps)
    info = series_info_frame(engine).filter(~pl.col("id").is_in(known["id"].to_list()))
    guessed = info.select(
        "id",
        "chain",
        "project",
        pl.lit(None, dtype=pl.Utf8).alias("kind"),
        pl.col("symbol")
        .map_elements(stablecoin_from_symbol, return_dtype=pl.Boolean)
        .alias("stablecoin"),
        pl.col("symbol").map_elements(exposure_from_symbol, return_dtype=pl.Utf8).alias("exposure"),
    )
    return history, pl.concat([known, guessed], how="vertical_relaxed")
