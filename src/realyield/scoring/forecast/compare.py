"""Head to head with DeFiLlama's own predictions on the pools of one ``/pools`` dump.

``compare_with_defillama`` retrains the recipe on the history dated on or before the
dump's date (so no training label looks past it), forecasts every pool as of that date,
and labels each pool the way DeFiLlama does from the realised history after it: ``down``
when the median APY of the next ``HORIZON_DAYS`` days is more than 20% below the dump's
APY, for pools with at least ``MIN_REALISED_DAYS`` observations in that window and a
DeFiLlama prediction. On those same pools it scores DeFiLlama's P(down) (its
``predictedProbability`` is the probability of its ``predictedClass``), realyield's,
the naive "always Stable/Up, today's APY persists" and the "APY above its 30-day mean"
ranking. Metrics come from scikit-learn (``roc_auc_score``, ``accuracy_score``,
``brier_score_loss``).

Raises:
    DataError: malformed history or dump frame.
    InsufficientDataError: no pool of the dump can be labelled, or too little history
        before the date to train on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import polars as pl
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score

from realyield.core.errors import DataError, InsufficientDataError
from realyield.scoring.features import DOWN_THRESHOLD, HORIZON_DAYS
from realyield.scoring.forecast.metrics import _calibration
from realyield.scoring.forecast.model import FloatArray, ForecastModel, ForecastParams
from realyield.scoring.forecast.prediction import predict
from realyield.scoring.forecast.results import CalibrationBin
from realyield.scoring.forecast.training import train_model

#: A pool is labelled only with at least this many realised days in the next 30.
MIN_REALISED_DAYS: Final = 20


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One predictor's figures on the compared pools (``None`` where it has no such output)."""

    n: int
    accuracy: float | None
    auc: float | None
    brier: float | None
    mae: float | None
    median_error: float | None
    calibration: tuple[CalibrationBin, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    """The head-to-head result; ``as_dict`` is the ``--json`` output."""

    as_of: date
    n: int
    n_dump: int
    down_rate: float
    model_trained_until: date
    realyield: Scorecard
    defillama: Scorecard
    naive: Scorecard
    mean_30d: Scorecard

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["model_trained_until"] = self.model_trained_until.isoformat()
        return out


def realised_labels(
    records: pl.DataFrame, history: pl.DataFrame, as_of: date, *, min_days: int = MIN_REALISED_DAYS
) -> pl.DataFrame:
    """``id, apy, realised_median, n_realised, down`` for records with enough future.

    The future is the history dated in ``(as_of, as_of + 30 days]``; ``down`` is
    ``realised_median < 0.8 * apy`` (DeFiLlama's label, false at a zero APY).
    """
    end = as_of + timedelta(days=HORIZON_DAYS)
    future = (
        history.filter((pl.col("date") > as_of) & (pl.col("date") <= end))
        .unique(subset=["id", "date"], keep="last")
        .group_by("id")
        .agg(pl.col("apy").median().alias("realised_median"), pl.len().alias("n_realised"))
    )
    return (
        records.select("id", "apy")
        .join(future, on="id")
        .filter((pl.col("n_realised") >= min_days) & pl.col("apy").is_not_null())
        .with_columns(
            (pl.col("realised_median") < (1.0 - DOWN_THRESHOLD) * pl.col("apy")).alias("down")
        )
    )


def defillama_p_down(records: pl.DataFrame) -> pl.Expr:
    """DeFiLlama's P(down): its probability when it says Down, one minus it otherwise."""
    p = pl.col("predicted_probability") / 100.0
    return (
        pl.when(pl.col("predicted_class") == "Down")
        .then(p)
        .when(pl.col("predicted_class").is_not_null())
        .then(1.0 - p)
        .otherwise(None)
    )


def scorecard(
    down: FloatArray,
    p_down: FloatArray | None = None,
    *,
    ranking: FloatArray | None = None,
    forecast: FloatArray | None = None,
    actual: FloatArray | None = None,
) -> Scorecard:
    """Figures of one predictor: with ``p_down`` accuracy (at 0.5), AUC, Brier and
    calibration; with only ``ranking`` the AUC; with ``forecast`` and ``actual`` the
    mean and median absolute error of the 30-day median APY."""
    both = len(np.unique(down)) == 2
    score = p_down if p_down is not None else ranking
    auc = None
    if score is not None and both and len(np.unique(score)) > 1:
        auc = float(roc_auc_score(down, score))
    elif score is not None and both:
        auc = 0.5  # a constant score cannot rank
    errors = np.abs(forecast - actual) if forecast is not None and actual is not None else None
    return Scorecard(
        n=len(down),
        accuracy=float(accuracy_score(down, p_down >= 0.5)) if p_down is not None else None,
        auc=auc,
        brier=float(brier_score_loss(down, p_down)) if p_down is not None else None,
        mae=float(np.mean(errors)) if errors is not None else None,
        median_error=float(np.median(errors)) if errors is not None else None,
        calibration=_calibration(down, p_down) if p_down is not None else (),
    )


def compare_with_defillama(
    records: pl.DataFrame,
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    as_of: date,
    params: ForecastParams | None = None,
    seed: int = 0,
    model: ForecastModel | None = None,
) -> Comparison:
    """Train up to ``as_of`` (unless ``model`` is given), predict as of it, and score
    DeFiLlama, realyield and the naive baselines on the same labelled pools.

    ``records`` is ``features.records.record_frame`` of the dump (with DeFiLlama's
    ``predicted_class`` and ``predicted_probability``).

    Raises:
        DataError: a dump frame without ``id``/``apy``/prediction columns.
        InsufficientDataError: no labelled pool, or too little history to train on.
    """
    needed = {"id", "apy", "predicted_class", "predicted_probability", "apy_mean_30d"}
    if not needed <= set(records.columns):
        raise DataError(f"the dump frame needs columns {sorted(needed)}; found {records.columns}")
    dump = records.with_columns(defillama_p_down(records).alias("_p_defillama"))
    labels = realised_labels(dump.filter(pl.col("_p_defillama").is_not_null()), history, as_of)
    if labels.is_empty():
        raise InsufficientDataError(
            f"no pool of the dump has both a DeFiLlama prediction and >= {MIN_REALISED_DAYS} "
            f"days of history in the {HORIZON_DAYS} days after {as_of}: nothing to compare"
        )
    if model is None:
        model = train_model(
            history,
            attrs,
            sources=["compare"],
            seed=seed,
            params=params,
            until=as_of,
            evaluate=False,
        )
    today = _with_dump_day(history, dump, as_of)
    forecasts = predict(model, today, attrs, as_of=as_of, records=records)
    rows = (
        labels.join(forecasts.select("id", "forecast_apy_30d", "p_down"), on="id")
        .join(dump.select("id", "_p_defillama", "apy_mean_30d"), on="id")
        .filter(pl.col("p_down").is_not_null())
        .sort("id")
    )

    def arr(name: str) -> FloatArray:
        return rows[name].cast(pl.Float64).to_numpy()

    down, actual, apy = arr("down"), arr("realised_median"), arr("apy")
    mean_30d = arr("apy_mean_30d")
    spike = np.log1p(apy) - np.log1p(np.nan_to_num(mean_30d, nan=0.0))
    return Comparison(
        as_of=as_of,
        n=rows.height,
        n_dump=records.height,
        down_rate=float(down.mean()) if rows.height else 0.0,
        model_trained_until=model.train_last_date,
        realyield=scorecard(down, arr("p_down"), forecast=arr("forecast_apy_30d"), actual=actual),
        defillama=scorecard(down, arr("_p_defillama")),
        naive=scorecard(down, np.zeros(rows.height), forecast=apy, actual=actual),
        mean_30d=scorecard(
            down, ranking=spike, forecast=np.where(np.isnan(mean_30d), apy, mean_30d), actual=actual
        ),
    )


def _with_dump_day(history: pl.DataFrame, dump: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The history with the dump's own record as each of its pools' ``as_of`` observation.

    The label compares the next 30 days with the dump's APY, so the forecast must start
    from that same APY; a daily history's row for the day is often another reading (on
    the 2025-08-31 DEX dump 165 of 266 pools differ by more than 5%).
    """
    columns = [c for c in ("apy_base", "apy_reward", "tvl_usd") if c in history.columns]
    today = dump.filter(pl.col("apy").is_not_null()).select(
        pl.col("id").cast(pl.Utf8),
        pl.lit(as_of, dtype=pl.Date).alias("date"),
        pl.col("apy").cast(pl.Float64),
        *(pl.col(c).cast(pl.Float64) for c in columns),
    )
    kept = history.filter(~((pl.col("date") == as_of) & pl.col("id").is_in(today["id"].implode())))
    return pl.concat([kept, today], how="diagonal_relaxed")
