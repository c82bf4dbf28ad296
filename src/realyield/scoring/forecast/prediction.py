"""``predict``: the forecast for each id as of a date, with a confidence label.

Ids too short to forecast still get a row (null forecast and a ``reason``), so a caller
can join the result onto its universe without losing opportunities.

Raises:
    DataError: (``predict``) malformed history or attributes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

import numpy as np
import polars as pl

from realyield.core.errors import DataError
from realyield.scoring.features import MIN_OBSERVATIONS, build_features

# Called as ``estimators._fit`` / ``estimators._predict_arrays`` (module-qualified) so a
# test can replace them on ``realyield.scoring.forecast.estimators``.
from realyield.scoring.forecast import estimators
from realyield.scoring.forecast.model import FloatArray, ForecastModel

_PREDICTION_SCHEMA: Final = {
    "id": pl.Utf8,
    "date": pl.Date,
    "apy": pl.Float64,
    "forecast_apy_30d": pl.Float64,
    "p_down": pl.Float64,
    "p_stable": pl.Float64,
    "confidence": pl.Utf8,
    "n_obs": pl.Int64,
    "reason": pl.Utf8,
}


def confidence_labels(p_down: FloatArray, n_obs: FloatArray) -> list[str]:
    """``high`` when the classifier is sure (max(p, 1 - p) >= 0.8) on >= 30 observations,
    ``medium`` at >= 0.65 on >= 14, else ``low`` (vectorised over arrays)."""
    certainty = np.maximum(p_down, 1.0 - p_down)
    labels = np.where(
        (certainty >= 0.8) & (n_obs >= 30),
        "high",
        np.where((certainty >= 0.65) & (n_obs >= 14), "medium", "low"),
    )
    return [str(v) for v in labels.tolist()]


def predict(
    model: ForecastModel,
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    as_of: date | None = None,
) -> pl.DataFrame:
    """One row per id of ``history``: the forecast as of ``as_of`` (default: the last date).

    Columns: ``id, date`` (the last observation used), ``apy, forecast_apy_30d, p_down,
    p_stable, confidence, n_obs, reason``. Only rows dated on or before ``as_of`` are
    used. Ids with fewer than ``MIN_OBSERVATIONS`` observations get null forecasts and
    ``reason`` "fewer than 7 daily observations (n)"; otherwise ``reason`` is null.

    Raises:
        DataError: malformed history or attributes.
    """
    if "id" not in history.columns or "date" not in history.columns:
        raise DataError(f"history needs 'id' and 'date' columns; found {history.columns}")
    all_ids = history.select(pl.col("id").cast(pl.Utf8)).drop_nulls().unique().sort("id")
    past = history
    if as_of is not None:
        day = as_of.date() if isinstance(as_of, datetime) else as_of
        past = history.filter(pl.col("date") <= day)
    features = build_features(past, attrs, targets=False)
    latest = features.unique(subset=["id"], keep="last", maintain_order=True)
    eligible = latest.filter(pl.col("n_obs") >= MIN_OBSERVATIONS)
    forecast, p_down = estimators._predict_arrays(
        model.regressor,
        model.classifier,
        model.categories,
        model.feature_columns,
        model.params.target,
        eligible,
    )
    scored = eligible.select("id").with_columns(
        pl.Series("forecast_apy_30d", forecast, dtype=pl.Float64),
        pl.Series("p_down", p_down, dtype=pl.Float64),
        pl.Series(
            "confidence",
            confidence_labels(p_down, eligible["n_obs"].to_numpy()),
            dtype=pl.Utf8,
        ),
    )
    n_obs = pl.col("n_obs").fill_null(0).cast(pl.Int64)
    out = (
        all_ids.join(latest.select("id", "date", "apy", "n_obs"), on="id", how="left")
        .join(scored, on="id", how="left")
        .with_columns(
            n_obs.alias("n_obs"),
            (1.0 - pl.col("p_down")).alias("p_stable"),
            pl.when(n_obs < MIN_OBSERVATIONS)
            .then(
                pl.format("fewer than {} daily observations ({})", pl.lit(MIN_OBSERVATIONS), n_obs)
            )
            .otherwise(None)
            .alias("reason"),
        )
    )
    return out.select([pl.col(name).cast(dtype) for name, dtype in _PREDICTION_SCHEMA.items()])
