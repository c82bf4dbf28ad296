"""The two gradient-boosted estimators: design matrix, target transforms, fit and predict.

The only module that touches scikit-learn's estimators directly; training, evaluation
and prediction all go through ``_fit`` and ``_predict_arrays``, so every path encodes
features and targets the same way.

Raises:
    InsufficientDataError: (``_fit``) too few labelled rows, or one class of ``down``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from realyield.core.errors import InsufficientDataError
from realyield.scoring.features import (
    CATEGORICAL_COLUMNS,
    HORIZON_DAYS,
    MIN_OBSERVATIONS,
)
from realyield.scoring.forecast.model import (
    MAX_CATEGORIES,
    MIN_TRAIN_ROWS,
    FloatArray,
    ForecastParams,
)


def _learn_categories(frame: pl.DataFrame) -> dict[str, tuple[str, ...]]:
    """Per categorical column, the most frequent values (ties by name), at most 250."""
    out: dict[str, tuple[str, ...]] = {}
    for name in CATEGORICAL_COLUMNS:
        counts = (
            frame.select(pl.col(name).drop_nulls())
            .group_by(name)
            .len()
            .sort(["len", name], descending=[True, False])
            .head(MAX_CATEGORIES)
        )
        out[name] = tuple(str(v) for v in counts[name].to_list())
    return out


def _matrix(
    frame: pl.DataFrame,
    feature_columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> FloatArray:
    """Float matrix of the features; categories become codes, unseen/null become NaN."""
    exprs: list[pl.Expr] = []
    for name in feature_columns:
        if name in categories:
            mapping = {value: float(i) for i, value in enumerate(categories[name])}
            exprs.append(
                pl.col(name)
                .replace_strict(mapping, default=None, return_dtype=pl.Float64)
                .alias(name)
            )
        else:
            exprs.append(pl.col(name).cast(pl.Float64))
    matrix = frame.select(exprs).to_numpy().astype(np.float64, copy=False)
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


def _f64(values: Any) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _encode_target(frame: pl.DataFrame, target: str) -> FloatArray:
    median = _f64(frame["target_median_30d"].to_numpy())
    apy = _f64(frame["apy"].to_numpy())
    if target == "log_ratio":
        return _f64(np.log1p(median) - np.log1p(apy))
    if target == "log_ratio_mean30":
        return _f64(np.log1p(median) - np.log1p(_f64(frame["mean_30d"].to_numpy())))
    if target == "log":
        return _f64(np.log1p(median))
    return median


def _decode_target(frame: pl.DataFrame, predicted: FloatArray, target: str) -> FloatArray:
    apy = _f64(frame["apy"].to_numpy())
    if target == "log_ratio":
        value = np.expm1(np.log1p(apy) + predicted)
    elif target == "log_ratio_mean30":
        mean = _f64(frame["mean_30d"].to_numpy())
        value = np.expm1(np.log1p(mean) + predicted)
    elif target == "log":
        value = np.expm1(predicted)
    else:
        value = predicted
    return _f64(np.clip(value, 0.0, None))


def _labelled(features: pl.DataFrame) -> pl.DataFrame:
    """Rows that can train or test: enough history and a known target."""
    return features.filter(
        (pl.col("n_obs") >= MIN_OBSERVATIONS) & pl.col("target_median_30d").is_not_null()
    )


@dataclass(slots=True)
class _Fitted:
    regressor: HistGradientBoostingRegressor
    classifier: HistGradientBoostingClassifier
    categories: dict[str, tuple[str, ...]]
    feature_columns: tuple[str, ...]
    n_rows: int


def _fit(train: pl.DataFrame, params: ForecastParams, seed: int) -> _Fitted:
    """Fit both estimators on labelled rows (subsampled to ``max_train_rows``).

    Raises:
        InsufficientDataError: fewer than ``MIN_TRAIN_ROWS`` rows, or only one class of
            the ``down`` label.
    """
    if train.height < MIN_TRAIN_ROWS:
        raise InsufficientDataError(
            f"only {train.height} labelled rows (an id with >= {MIN_OBSERVATIONS} observations "
            f"and >= 10 more in the following {HORIZON_DAYS} days); need {MIN_TRAIN_ROWS}"
        )
    if train.height > params.max_train_rows:
        train = train.sample(n=params.max_train_rows, seed=seed, shuffle=False).sort("id", "date")
    down = train["target_down"].cast(pl.Int8).to_numpy()
    if len(np.unique(down)) < 2:
        raise InsufficientDataError(
            "the training rows hold only one class of the 'down' label "
            f"(all {'down' if down[0] else 'not down'}); need both to learn P(down)"
        )
    columns = params.feature_columns
    categories = {k: v for k, v in _learn_categories(train).items() if k in columns}
    x = _matrix(train, columns, categories)
    # a feature missing on every training row (e.g. no base/reward split anywhere) cannot
    # be split on; a constant keeps scikit-learn's binning from failing on it
    x[:, np.all(np.isnan(x), axis=0)] = 0.0
    cat_mask = np.array([name in categories for name in columns])
    y = _encode_target(train, params.target)
    common: dict[str, Any] = {
        "learning_rate": params.learning_rate,
        "max_leaf_nodes": params.max_leaf_nodes,
        "l2_regularization": params.l2_regularization,
        "categorical_features": cat_mask if cat_mask.any() else None,
        "early_stopping": False,
        "random_state": seed,
    }
    regressor = HistGradientBoostingRegressor(
        loss=params.loss,
        max_iter=params.max_iter,
        min_samples_leaf=params.min_samples_leaf,
        **common,
    )
    regressor.fit(x, y)
    classifier = HistGradientBoostingClassifier(
        max_iter=params.classifier_max_iter,
        min_samples_leaf=params.classifier_min_samples_leaf,
        **common,
    )
    classifier.fit(x, down)
    return _Fitted(regressor, classifier, categories, columns, train.height)


def _predict_arrays(
    regressor: HistGradientBoostingRegressor,
    classifier: HistGradientBoostingClassifier,
    categories: Mapping[str, Sequence[str]],
    feature_columns: Sequence[str],
    target: str,
    rows: pl.DataFrame,
) -> tuple[FloatArray, FloatArray]:
    if rows.height == 0:
        return np.empty(0), np.empty(0)
    x = _matrix(rows, feature_columns, categories)
    # One OpenMP thread: scikit-learn opens a parallel region per tree, and on a small
    # machine its spinning workers fight polars' thread pool (measured: 0.1 s single
    # threaded against 0.3-1.8 s contended for 20,000 rows).
    with threadpool_limits(limits=1, user_api="openmp"):
        raw = np.asarray(regressor.predict(x), dtype=np.float64)
        proba = np.asarray(classifier.predict_proba(x), dtype=np.float64)
    forecast = _decode_target(rows, raw, target)
    classes = list(classifier.classes_)
    p_down = proba[:, classes.index(1)] if 1 in classes else np.zeros(rows.height)
    return forecast, p_down
