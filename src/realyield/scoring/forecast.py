"""Forecast of forward yield: the median APY of the next 30 days and P(down).

Two scikit-learn gradient-boosted tree models share the features of
``scoring.features``:

* a ``HistGradientBoostingRegressor`` for the median APY over the next 30 days. APYs are
  heavy-tailed (DEX pools from 0 to 100,000%), so by default it learns the *log ratio*
  ``log1p(median_next_30d) - log1p(apy)`` with absolute-error loss: the prediction is a
  conditional median of that ratio, which maps back through the monotone inverse to a
  conditional median of the APY itself, the point forecast that minimises MAE;
* a ``HistGradientBoostingClassifier`` for P(down), DeFiLlama's label (the next-30-day
  median more than 20% below today's APY).

``evaluate_walk_forward`` measures the recipe out of time: expanding-window folds by
date, each trained only on rows whose label window ends before the fold starts, scored
against the naive forecast (today's APY persists) and a 30-day rolling mean, with ROC-AUC
and a calibration table for P(down).

A saved model is a joblib file (pickle: load only files you trust) holding the two
estimators and plain-data metadata (version, training window and sources, features,
category vocabularies, scikit-learn version, walk-forward metrics); a JSON copy of the
metadata sits beside it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import numpy.typing as npt
import polars as pl
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from realyield.core import clock
from realyield.core.errors import ConfigError, DataError, InsufficientDataError
from realyield.scoring.features import (
    CATEGORICAL_COLUMNS,
    FEATURE_COLUMNS,
    HORIZON_DAYS,
    MIN_OBSERVATIONS,
    build_features,
)

#: Bumped whenever the saved layout or the feature semantics change incompatibly.
MODEL_FORMAT: Final = 1
MODEL_KIND: Final = "realyield-forecast"
MODEL_FILENAME: Final = "forecast_model.joblib"
METADATA_FILENAME: Final = "forecast_model.json"
PACKAGE_DIR: Final = ("data", "models")
TARGETS: Final = ("log_ratio", "log", "raw", "log_ratio_mean30")
LOSSES: Final = ("absolute_error", "squared_error")
#: A fold (or a final model) needs at least this many labelled training rows.
MIN_TRAIN_ROWS: Final = 100
#: At most this many categories per categorical feature (the most frequent ones).
MAX_CATEGORIES: Final = 250
CALIBRATION_BINS: Final = 10
_TRAIN_HINT: Final = "run `realyield model train` to build one"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ForecastParams:
    """The training recipe: target transform, loss and tree hyperparameters.

    Raises:
        ConfigError: unknown target or loss, or a non-positive size or rate.
    """

    target: str = "log_ratio"
    loss: str = "absolute_error"
    max_iter: int = 100
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    classifier_max_iter: int = 100
    classifier_min_samples_leaf: int = 200
    max_train_rows: int = 250_000
    exclude_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"forecast target {self.target!r} unknown; use one of {TARGETS}")
        if self.loss not in LOSSES:
            raise ConfigError(f"forecast loss {self.loss!r} unknown; use one of {LOSSES}")
        for name in (
            "max_iter",
            "max_leaf_nodes",
            "min_samples_leaf",
            "classifier_max_iter",
            "classifier_min_samples_leaf",
            "max_train_rows",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"forecast parameter {name} must be >= 1")
        if not (0 < self.learning_rate <= 1) or self.l2_regularization < 0:
            raise ConfigError("learning_rate must be in (0, 1] and l2_regularization >= 0")
        unknown = [c for c in self.exclude_features if c not in FEATURE_COLUMNS]
        if unknown:
            raise ConfigError(f"exclude_features names unknown features {unknown}")
        if self.target == "log_ratio_mean30" and "mean_30d" in self.exclude_features:
            raise ConfigError("the log_ratio_mean30 target needs the mean_30d feature")
        object.__setattr__(self, "exclude_features", tuple(self.exclude_features))

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The features this recipe uses (FEATURE_COLUMNS minus the excluded ones)."""
        return tuple(c for c in FEATURE_COLUMNS if c not in self.exclude_features)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastParams:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "exclude_features" in known:
            known["exclude_features"] = tuple(known["exclude_features"])
        return cls(**known)


@dataclass(slots=True)
class ForecastModel:
    """A trained forecast: the two estimators and what they were trained on."""

    regressor: HistGradientBoostingRegressor
    classifier: HistGradientBoostingClassifier
    version: str
    trained_at: datetime
    train_first_date: date
    train_last_date: date
    sources: tuple[str, ...]
    feature_columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    sklearn_version: str
    params: ForecastParams
    seed: int
    n_train_rows: int
    n_train_ids: int
    horizon_days: int = HORIZON_DAYS
    metrics: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Everything but the estimators, as JSON-compatible data."""
        return {
            "kind": MODEL_KIND,
            "format": MODEL_FORMAT,
            "version": self.version,
            "trained_at": self.trained_at.isoformat(),
            "train_first_date": self.train_first_date.isoformat(),
            "train_last_date": self.train_last_date.isoformat(),
            "sources": list(self.sources),
            "feature_columns": list(self.feature_columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "sklearn_version": self.sklearn_version,
            "params": asdict(self.params),
            "seed": self.seed,
            "n_train_rows": self.n_train_rows,
            "n_train_ids": self.n_train_ids,
            "horizon_days": self.horizon_days,
            "min_observations": MIN_OBSERVATIONS,
            "metrics": self.metrics,
        }


# --- evaluation records -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metrics:
    """Out-of-time accuracy on a set of test rows (APY errors in percentage points)."""

    n: int
    mae_model: float
    mae_naive: float
    mae_rolling: float
    medae_model: float
    medae_naive: float
    medae_rolling: float
    down_rate: float
    auc: float | None
    auc_baseline: float | None
    brier: float

    @property
    def skill_vs_naive(self) -> float:
        """1 - MAE(model) / MAE(naive): positive when the model beats persistence."""
        return 1.0 - self.mae_model / self.mae_naive if self.mae_naive > 0 else math.nan

    @property
    def skill_vs_rolling(self) -> float:
        """1 - MAE(model) / MAE(30-day mean)."""
        return 1.0 - self.mae_model / self.mae_rolling if self.mae_rolling > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["skill_vs_naive"] = self.skill_vs_naive
        out["skill_vs_rolling"] = self.skill_vs_rolling
        return {k: _clean(v) for k, v in out.items()}


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Predicted P(down) against the observed rate of ``down`` in one probability bin."""

    lower: float
    upper: float
    n: int
    mean_predicted: float | None
    observed_rate: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: _clean(getattr(self, k)) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One walk-forward fold: what it trained on (dates), what it tested, how it did."""

    fold: int
    train_first_date: date | None
    train_last_date: date | None
    train_label_end: date | None
    test_start: date
    test_end: date
    n_train: int
    metrics: Metrics | None
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        def iso(d: date | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "fold": self.fold,
            "train_first_date": iso(self.train_first_date),
            "train_last_date": iso(self.train_last_date),
            "train_label_end": iso(self.train_label_end),
            "test_start": iso(self.test_start),
            "test_end": iso(self.test_end),
            "n_train": self.n_train,
            "metrics": None if self.metrics is None else self.metrics.as_dict(),
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A walk-forward evaluation: per fold, per group (dataset), overall, calibration."""

    horizon_days: int
    n_folds: int
    params: ForecastParams
    folds: tuple[FoldResult, ...]
    overall: Metrics
    by_group: dict[str, Metrics]
    calibration: tuple[CalibrationBin, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon_days,
            "n_folds": self.n_folds,
            "params": asdict(self.params),
            "overall": self.overall.as_dict(),
            "by_group": {k: v.as_dict() for k, v in self.by_group.items()},
            "folds": [f.as_dict() for f in self.folds],
            "calibration": [b.as_dict() for b in self.calibration],
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per fold, per group and overall: the table the CLI prints."""
        out: list[dict[str, Any]] = []
        for fold in self.folds:
            scope = f"fold {fold.fold} {fold.test_start}..{fold.test_end}"
            out.append(_row(scope, fold.metrics, fold.skipped))
        for name, metrics in self.by_group.items():
            out.append(_row(name, metrics, None))
        out.append(_row("overall", self.overall, None))
        return out

    def calibration_rows(self) -> list[dict[str, Any]]:
        return [b.as_dict() for b in self.calibration]

    def table(self) -> str:
        """The evaluation as plain text (MAE in APY percentage points)."""
        head = (
            f"{'scope':<36} {'n':>7} {'MAE model':>10} {'MAE naive':>10} {'MAE 30d':>10} "
            f"{'skill':>7} {'AUC':>6} {'AUC base':>8}"
        )
        lines = [head, "-" * len(head)]
        for row in self.rows():
            if row["n"] is None:
                lines.append(f"{row['scope']:<36} skipped: {row['skipped']}")
                continue
            lines.append(
                f"{row['scope']:<36} {row['n']:>7} {_fmt(row['mae_model'], 10)} "
                f"{_fmt(row['mae_naive'], 10)} {_fmt(row['mae_rolling'], 10)} "
                f"{_fmt(row['skill_vs_naive'], 7, pct=True)} {_fmt(row['auc'], 6, 3)} "
                f"{_fmt(row['auc_baseline'], 8, 3)}"
            )
        lines += [
            "",
            "calibration of P(down):",
            f"{'bin':<12} {'n':>7} {'predicted':>10} {'observed':>9}",
        ]
        for b in self.calibration:
            lines.append(
                f"{b.lower:.1f}-{b.upper:.1f}{'':<5} {b.n:>7} {_fmt(b.mean_predicted, 10, 3)} "
                f"{_fmt(b.observed_rate, 9, 3)}"
            )
        return "\n".join(lines)


def _row(scope: str, metrics: Metrics | None, skipped: str | None) -> dict[str, Any]:
    if metrics is None:
        empty: dict[str, Any] = {
            k: None
            for k in (
                "n",
                "mae_model",
                "mae_naive",
                "mae_rolling",
                "skill_vs_naive",
                "skill_vs_rolling",
                "auc",
                "auc_baseline",
                "down_rate",
            )
        }
        return {"scope": scope, **empty, "skipped": skipped}
    data = metrics.as_dict()
    return {
        "scope": scope,
        "n": metrics.n,
        "mae_model": data["mae_model"],
        "mae_naive": data["mae_naive"],
        "mae_rolling": data["mae_rolling"],
        "skill_vs_naive": data["skill_vs_naive"],
        "skill_vs_rolling": data["skill_vs_rolling"],
        "auc": data["auc"],
        "auc_baseline": data["auc_baseline"],
        "down_rate": data["down_rate"],
        "skipped": skipped,
    }


def _fmt(value: float | None, width: int, digits: int = 2, *, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"{'-':>{width}}"
    if pct:
        return f"{value * 100:>{width - 1}.1f}%"
    return f"{value:>{width}.{digits}f}"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.floating):
        return _clean(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- design matrix and fitting ----------------------------------------------------------


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


# --- walk-forward evaluation -------------------------------------------------------------


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


def fold_boundaries(labelled: pl.DataFrame, n_folds: int) -> list[date]:
    """Start dates of the ``n_folds`` test periods, then the (exclusive) end.

    The first test period starts the day after ``1 / (n_folds + 1)`` of the labelled
    rows have their whole label window behind them, so the first fold trains on at least
    that share; the rows from there on are cut into ``n_folds`` blocks of equal size.

    Raises:
        InsufficientDataError: no labelled row is left to test after the first window.
    """
    ends = np.sort(labelled["label_end"].cast(pl.Int64).to_numpy())
    days = np.sort(labelled["date"].cast(pl.Int64).to_numpy())
    first = int(ends[min(len(ends) - 1, len(ends) // (n_folds + 1))]) + 1
    testable = days[days >= first]
    if len(testable) == 0:
        raise InsufficientDataError(
            "no labelled rows after the first training window: the history is too short "
            "for a walk-forward evaluation"
        )
    cuts = [first] + [int(testable[len(testable) * k // n_folds]) for k in range(1, n_folds)]
    cuts.append(int(days[-1]) + 1)
    epoch = date(1970, 1, 1).toordinal()
    return [date.fromordinal(epoch + c) for c in cuts]


def _evaluate_features(
    features: pl.DataFrame,
    *,
    n_folds: int,
    horizon_days: int,
    params: ForecastParams,
    seed: int,
    group_column: str | None,
) -> Evaluation:
    labelled = _labelled(features)
    if labelled.height < 2 * MIN_TRAIN_ROWS:
        raise InsufficientDataError(
            f"only {labelled.height} labelled rows: a walk-forward evaluation needs at least "
            f"{2 * MIN_TRAIN_ROWS} (ids with >= {MIN_OBSERVATIONS} observations and a known "
            f"{horizon_days}-day future)"
        )
    bounds = fold_boundaries(labelled, n_folds)
    folds: list[FoldResult] = []
    tested: list[pl.DataFrame] = []
    for k in range(n_folds):
        start, stop = bounds[k], bounds[k + 1]
        if stop <= start:
            continue
        test = labelled.filter((pl.col("date") >= start) & (pl.col("date") < stop))
        train = labelled.filter(pl.col("label_end") < start)
        if test.height == 0:
            folds.append(_fold_result(k + 1, start, train, test, None, "no test rows"))
            continue
        try:
            fitted = _fit(train, params, seed)
        except InsufficientDataError as exc:
            folds.append(_fold_result(k + 1, start, train, test, None, str(exc)))
            continue
        forecast, p_down = _predict_arrays(
            fitted.regressor,
            fitted.classifier,
            fitted.categories,
            fitted.feature_columns,
            params.target,
            test,
        )
        scored = test.with_columns(
            pl.Series("_forecast", forecast),
            pl.Series("_p_down", p_down),
            pl.lit(k + 1).alias("_fold"),
        )
        tested.append(scored)
        folds.append(_fold_result(k + 1, start, train, test, _score(scored), None))
    if not tested:
        reasons = "; ".join(f"fold {f.fold}: {f.skipped}" for f in folds)
        raise InsufficientDataError(f"no walk-forward fold could be evaluated ({reasons})")
    pooled = pl.concat(tested)
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


def evaluate_walk_forward(
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    n_folds: int = 5,
    horizon_days: int = HORIZON_DAYS,
    params: ForecastParams | None = None,
    seed: int = 0,
    group_column: str | None = "source",
) -> Evaluation:
    """Expanding-window walk-forward evaluation of the forecast recipe, by time.

    The labelled rows' dates are split into ``n_folds + 1`` blocks of equal size; fold k
    tests block k and trains a fresh model only on rows whose label window ends
    (``date + horizon_days``) strictly before the block's first day, so no training label
    looks at a day of the test period. Errors are in APY percentage points against the
    naive forecast (today's APY persists) and the 30-day rolling mean; ``auc_baseline``
    is the AUC of the heuristic score "APY above its 30-day mean". With a
    ``group_column`` (``source`` by default) metrics are also reported per group.

    Raises:
        DataError: malformed history or attributes.
        InsufficientDataError: too few labelled rows, or no fold could be trained.
        ConfigError: ``n_folds`` < 1.
    """
    if n_folds < 1:
        raise ConfigError(f"n_folds must be >= 1, not {n_folds}")
    features = build_features(history, attrs, horizon_days=horizon_days)
    return _evaluate_features(
        features,
        n_folds=n_folds,
        horizon_days=horizon_days,
        params=params or ForecastParams(),
        seed=seed,
        group_column=group_column,
    )


# --- training, saving, loading ------------------------------------------------------------


def train_model(
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    sources: Sequence[str],
    seed: int = 0,
    params: ForecastParams | None = None,
    evaluate: bool = True,
    n_folds: int = 5,
) -> ForecastModel:
    """Train the forecast on every labelled row (seeded: same data and seed, same model).

    With ``evaluate`` (the default) the walk-forward evaluation of the same recipe runs
    first and its results travel with the model as ``metrics``.

    Raises:
        DataError: malformed history or attributes.
        InsufficientDataError: too few labelled rows or a single class of ``down``.
    """
    params = params or ForecastParams()
    features = build_features(history, attrs)
    metrics: dict[str, Any] = {}
    if evaluate:
        evaluation = _evaluate_features(
            features,
            n_folds=n_folds,
            horizon_days=HORIZON_DAYS,
            params=params,
            seed=seed,
            group_column="source",
        )
        metrics = evaluation.as_dict()
    labelled = _labelled(features)
    fitted = _fit(labelled, params, seed)
    trained_at = clock.now()
    first, last = labelled["date"].min(), labelled["date"].max()
    assert isinstance(first, date) and isinstance(last, date)
    return ForecastModel(
        regressor=fitted.regressor,
        classifier=fitted.classifier,
        version=f"{MODEL_FORMAT}.{trained_at:%Y%m%d%H%M%S}",
        trained_at=trained_at,
        train_first_date=first,
        train_last_date=last,
        sources=tuple(sources),
        feature_columns=fitted.feature_columns,
        categories=fitted.categories,
        sklearn_version=sklearn.__version__,
        params=params,
        seed=seed,
        n_train_rows=fitted.n_rows,
        n_train_ids=labelled["id"].n_unique(),
        horizon_days=HORIZON_DAYS,
        metrics=metrics,
    )


def save_model(model: ForecastModel, path: Path) -> Path:
    """Write the model (joblib, compressed) to ``path`` atomically, and its metadata as
    JSON beside it (same name, ``.json``). ``path`` may be a directory: then the file is
    ``forecast_model.joblib`` inside it. Returns the model file's path.

    Raises:
        DataError: the file cannot be written.
    """
    target = path / MODEL_FILENAME if path.is_dir() else path
    payload = {
        "kind": MODEL_KIND,
        "format": MODEL_FORMAT,
        "metadata": model.metadata(),
        "regressor": model.regressor,
        "classifier": model.classifier,
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".forecast-", suffix=".tmp")
        os.close(handle)
        try:
            joblib.dump(payload, tmp, compress=3)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        target.with_suffix(".json").write_text(
            json.dumps(model.metadata(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise DataError(f"cannot write the forecast model to {target}: {exc}") from exc
    return target


def packaged_model_path() -> Path:
    """Where the shipped model lives inside the installed package."""
    resource = resources.files("realyield").joinpath(*PACKAGE_DIR, MODEL_FILENAME)
    return Path(str(resource))


def load_model(path: Path | None = None) -> ForecastModel:
    """Load a saved model (default: the one shipped in ``realyield/data/models``).

    A model saved with another scikit-learn version loads with a ``UserWarning`` when it
    still predicts; one that does not is refused.

    Raises:
        DataError: missing, corrupt or incompatible file (saying to run
            ``realyield model train``).
    """
    target = packaged_model_path() if path is None else path
    if target.is_dir():
        target = target / MODEL_FILENAME
    if not target.is_file():
        raise DataError(f"no forecast model at {target}; {_TRAIN_HINT}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            payload = joblib.load(target)
    except Exception as exc:  # unpickling raises anything: all mean "unusable file"
        raise DataError(
            f"{target} is not a readable forecast model ({type(exc).__name__}: {exc}); "
            f"{_TRAIN_HINT}"
        ) from exc
    model = _model_from_payload(target, payload)
    mismatch = [w for w in caught if "version" in str(w.message).lower()]
    if model.sklearn_version != sklearn.__version__ or mismatch:
        _smoke_test(target, model)
        warnings.warn(
            f"{target} was trained with scikit-learn {model.sklearn_version}, this is "
            f"{sklearn.__version__}; it still predicts, but to be safe "
            "run `realyield model train` to build a fresh one",
            UserWarning,
            stacklevel=2,
        )
    return model


def _model_from_payload(target: Path, payload: Any) -> ForecastModel:
    def bad(why: str) -> DataError:
        return DataError(f"{target} is not a compatible forecast model ({why}); {_TRAIN_HINT}")

    if not isinstance(payload, dict) or payload.get("kind") != MODEL_KIND:
        raise bad("not a realyield forecast file")
    if payload.get("format") != MODEL_FORMAT:
        raise bad(f"format {payload.get('format')!r}, this version reads {MODEL_FORMAT}")
    meta = payload.get("metadata")
    regressor, classifier = payload.get("regressor"), payload.get("classifier")
    if not isinstance(regressor, HistGradientBoostingRegressor) or not isinstance(
        classifier, HistGradientBoostingClassifier
    ):
        raise bad("estimators missing")
    if not isinstance(meta, dict):
        raise bad("metadata missing")
    try:
        features = tuple(str(c) for c in meta["feature_columns"])
        unknown = [c for c in features if c not in FEATURE_COLUMNS]
        if unknown:
            raise bad(f"features {unknown} are not built by this version")
        return ForecastModel(
            regressor=regressor,
            classifier=classifier,
            version=str(meta["version"]),
            trained_at=datetime.fromisoformat(meta["trained_at"]),
            train_first_date=date.fromisoformat(meta["train_first_date"]),
            train_last_date=date.fromisoformat(meta["train_last_date"]),
            sources=tuple(str(s) for s in meta["sources"]),
            feature_columns=features,
            categories={str(k): tuple(str(x) for x in v) for k, v in meta["categories"].items()},
            sklearn_version=str(meta["sklearn_version"]),
            params=ForecastParams.from_dict(meta["params"]),
            seed=int(meta["seed"]),
            n_train_rows=int(meta["n_train_rows"]),
            n_train_ids=int(meta["n_train_ids"]),
            horizon_days=int(meta.get("horizon_days", HORIZON_DAYS)),
            metrics=dict(meta.get("metrics") or {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise bad(f"bad metadata: {exc}") from exc


def _smoke_test(target: Path, model: ForecastModel) -> None:
    x = np.zeros((2, len(model.feature_columns)))
    try:
        model.regressor.predict(x)
        model.classifier.predict_proba(x)
    except Exception as exc:  # any failure means the pickled estimator is unusable here
        raise DataError(
            f"{target} was trained with scikit-learn {model.sklearn_version} and does not "
            f"work with {sklearn.__version__} ({exc}); {_TRAIN_HINT}"
        ) from exc


# --- prediction -------------------------------------------------------------------------

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
    forecast, p_down = _predict_arrays(
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
