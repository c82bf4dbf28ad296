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
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from realyield.core.errors import DataError
from realyield.scoring.features import MIN_OBSERVATIONS, build_features
from realyield.scoring.features.records import record_features

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
    records: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per id of ``history`` or ``records``: the forecast as of ``as_of``.

    Columns: ``id, date`` (the last observation used), ``apy, forecast_apy_30d, p_down,
    p_stable, confidence, n_obs, reason``. Only history dated on or before ``as_of``
    (default: the last date) is used. An id with ``MIN_OBSERVATIONS`` or more
    observations is forecast from its history ("history features (n observations)");
    otherwise, when ``records`` (``/pools`` records, see
    ``features.records.RECORD_COLUMNS``) has it and the model has a record head, from
    the record's own fields ("pool record features: ..."); otherwise the forecast is
    null and ``reason`` says "fewer than 7 daily observations (n)".

    Raises:
        DataError: malformed history or attributes.
    """
    if "id" not in history.columns or "date" not in history.columns:
        raise DataError(f"history needs 'id' and 'date' columns; found {history.columns}")
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    ids = [history.select(pl.col("id").cast(pl.Utf8))]
    if records is not None:
        ids.append(records.select(pl.col("id").cast(pl.Utf8)))
    all_ids = pl.concat(ids).drop_nulls().unique().sort("id")
    past = history if day is None else history.filter(pl.col("date") <= day)
    features = build_features(past, attrs, targets=False)
    latest = features.unique(subset=["id"], keep="last", maintain_order=True)
    eligible = latest.filter(pl.col("n_obs") >= MIN_OBSERVATIONS)
    scored = _scored(model, eligible, model.feature_columns, model.regressor, model.classifier)
    scored = scored.with_columns(
        pl.format("history features ({} observations)", pl.col("n_obs").cast(pl.Int64)).alias(
            "reason"
        )
    )
    n_obs = pl.col("n_obs").fill_null(0).cast(pl.Int64)
    out = all_ids.join(latest.select("id", "date", "apy", "n_obs"), on="id", how="left")
    parts = [scored]
    if records is not None and model.record_regressor is not None:
        parts.append(_from_records(model, records, eligible, day))
    made = pl.concat([p.drop("n_obs") for p in parts], how="diagonal_relaxed")
    for name, dtype in (("date", pl.Date), ("apy", pl.Float64)):
        if name not in made.columns:
            made = made.with_columns(pl.lit(None, dtype=dtype).alias(name))
    out = out.join(made, on="id", how="left", suffix="_record").with_columns(
        pl.coalesce("date", "date_record").alias("date"),
        pl.coalesce("apy", "apy_record").alias("apy"),
        n_obs.alias("n_obs"),
        (1.0 - pl.col("p_down")).alias("p_stable"),
        pl.when(pl.col("reason").is_null())
        .then(pl.format("fewer than {} daily observations ({})", pl.lit(MIN_OBSERVATIONS), n_obs))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )
    return out.select([pl.col(name).cast(dtype) for name, dtype in _PREDICTION_SCHEMA.items()])


def _scored(
    model: ForecastModel,
    rows: pl.DataFrame,
    columns: tuple[str, ...],
    regressor: HistGradientBoostingRegressor,
    classifier: HistGradientBoostingClassifier,
) -> pl.DataFrame:
    """``id, n_obs, forecast_apy_30d, p_down, confidence`` of feature rows."""
    forecast, p_down = estimators._predict_arrays(
        regressor, classifier, model.categories, columns, model.params.target, rows
    )
    n_obs = rows["n_obs"].fill_null(0.0).to_numpy()
    return rows.select("id", "n_obs").with_columns(
        pl.Series("forecast_apy_30d", forecast, dtype=pl.Float64),
        pl.Series("p_down", p_down, dtype=pl.Float64),
        pl.Series("confidence", confidence_labels(p_down, n_obs), dtype=pl.Utf8),
    )


def _from_records(
    model: ForecastModel, records: pl.DataFrame, eligible: pl.DataFrame, day: date | None
) -> pl.DataFrame:
    """Record-head forecasts for the records' ids that history could not forecast."""
    assert model.record_regressor is not None and model.record_classifier is not None
    rows = record_features(records).unique(subset=["id"], keep="first", maintain_order=True)
    rows = rows.filter(~pl.col("id").is_in(eligible["id"].implode()) & pl.col("apy").is_not_null())
    scored = _scored(
        model, rows, model.record_feature_columns, model.record_regressor, model.record_classifier
    )
    return scored.join(rows.select("id", "apy"), on="id").with_columns(
        pl.lit(day, dtype=pl.Date).alias("date"),
        pl.format(
            "pool record features (apyPct1D/7D/30D, apyMean30d, mu, count, TVL; {} days on "
            "record, too little stored history)",
            pl.col("n_obs").fill_null(0).cast(pl.Int64),
        ).alias("reason"),
    )
