"""Accuracy figures from scored test rows: MAE against the baselines, AUC, calibration.

Scored rows carry the model's ``_forecast`` and ``_p_down`` beside the features and
targets; these helpers turn them into the records of ``forecast.results``. They raise
nothing of their own (scikit-learn's AUC is only asked for when both classes occur).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from realyield.scoring.forecast.model import CALIBRATION_BINS, FloatArray, ForecastParams
from realyield.scoring.forecast.results import CalibrationBin, Evaluation, FoldResult, Metrics


def _metrics(
    actual: FloatArray,
    model: FloatArray,
    naive: FloatArray,
    rolling: FloatArray,
    down: FloatArray,
    p_down: FloatArray,
    baseline_score: FloatArray,
) -> Metrics:
    both = len(np.unique(down)) == 2
    finite = np.isfinite(baseline_score)
    auc_base = (
        float(roc_auc_score(down[finite], baseline_score[finite]))
        if both and len(np.unique(down[finite])) == 2
        else None
    )
    return Metrics(
        n=len(actual),
        mae_model=float(np.mean(np.abs(model - actual))),
        mae_naive=float(np.mean(np.abs(naive - actual))),
        mae_rolling=float(np.mean(np.abs(rolling - actual))),
        medae_model=float(np.median(np.abs(model - actual))),
        medae_naive=float(np.median(np.abs(naive - actual))),
        medae_rolling=float(np.median(np.abs(rolling - actual))),
        down_rate=float(np.mean(down)),
        auc=float(roc_auc_score(down, p_down)) if both else None,
        auc_baseline=auc_base,
        brier=float(np.mean((p_down - down) ** 2)),
    )


def _calibration(down: FloatArray, p_down: FloatArray) -> tuple[CalibrationBin, ...]:
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    index = np.clip(np.digitize(p_down, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    bins: list[CalibrationBin] = []
    for i in range(CALIBRATION_BINS):
        inside = index == i
        count = int(inside.sum())
        bins.append(
            CalibrationBin(
                lower=float(edges[i]),
                upper=float(edges[i + 1]),
                n=count,
                mean_predicted=float(p_down[inside].mean()) if count else None,
                observed_rate=float(down[inside].mean()) if count else None,
            )
        )
    return tuple(bins)


def _summarise(
    pooled: pl.DataFrame,
    folds: Sequence[FoldResult],
    *,
    horizon_days: int,
    n_folds: int,
    params: ForecastParams,
    group_column: str | None,
) -> Evaluation:
    """Overall, per-group and calibration figures over every scored test row."""
    by_group: dict[str, Metrics] = {}
    if group_column is not None and group_column in pooled.columns:
        for (name,), part in sorted(
            pooled.group_by(group_column), key=lambda item: str(item[0][0])
        ):
            by_group[str(name)] = _score(part)
    return Evaluation(
        horizon_days=horizon_days,
        n_folds=n_folds,
        params=params,
        folds=tuple(folds),
        overall=_score(pooled),
        by_group=by_group,
        calibration=_calibration(
            pooled["target_down"].cast(pl.Float64).to_numpy(), pooled["_p_down"].to_numpy()
        ),
    )


def _fold_result(
    fold: int,
    start: date,
    train: pl.DataFrame,
    test: pl.DataFrame,
    metrics: Metrics | None,
    skipped: str | None,
) -> FoldResult:
    return FoldResult(
        fold=fold,
        train_first_date=_as_date(train["date"].min()),
        train_last_date=_as_date(train["date"].max()),
        train_label_end=_as_date(train["label_end"].max()),
        test_start=start,
        test_end=_as_date(test["date"].max()) or start,
        n_train=train.height,
        metrics=metrics,
        skipped=skipped,
    )


def _as_date(value: Any) -> date | None:
    return value if isinstance(value, date) else None


def _score(scored: pl.DataFrame) -> Metrics:
    def arr(name: str) -> FloatArray:
        return scored[name].cast(pl.Float64).to_numpy()

    return _metrics(
        actual=arr("target_median_30d"),
        model=arr("_forecast"),
        naive=arr("apy"),
        rolling=arr("mean_30d"),
        down=arr("target_down"),
        p_down=arr("_p_down"),
        baseline_score=arr("rel_mean_30d"),
    )
