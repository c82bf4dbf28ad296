"""Out-of-time evaluation: walk-forward folds of the recipe, and scoring a saved model.

The walk-forward split is what keeps the reported skill honest: a fold trains only on
rows whose label window ends before its test period starts.

Raises:
    DataError: malformed history or attributes.
    InsufficientDataError: too few labelled rows, or no fold could be trained.
    ConfigError: ``n_folds`` < 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.scoring.features import HORIZON_DAYS, MIN_OBSERVATIONS, build_features

# Called as ``estimators._fit`` / ``estimators._predict_arrays`` (module-qualified) so a
# test can replace them on ``realyield.scoring.forecast.estimators``.
from realyield.scoring.forecast import estimators
from realyield.scoring.forecast.estimators import _labelled
from realyield.scoring.forecast.metrics import _as_date, _fold_result, _score, _summarise
from realyield.scoring.forecast.model import MIN_TRAIN_ROWS, ForecastModel, ForecastParams
from realyield.scoring.forecast.results import Evaluation, FoldResult


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
    unseen_ids: bool = False,
) -> Evaluation:
    labelled = _labelled(features)
    if labelled.height < 2 * MIN_TRAIN_ROWS:
        raise InsufficientDataError(
            f"only {labelled.height} labelled rows: a walk-forward evaluation needs at least "
            f"{2 * MIN_TRAIN_ROWS} (ids with >= {MIN_OBSERVATIONS} observations and a known "
            f"{horizon_days}-day future)"
        )
    bounds = fold_boundaries(labelled, n_folds)
    train_ids = pl.lit(True)
    test_ids = pl.lit(True)
    if unseen_ids:
        ids = sorted(labelled["id"].unique().to_list())
        half = np.random.default_rng(seed).choice(ids, size=len(ids) // 2, replace=False)
        train_ids = pl.col("id").is_in(half.tolist())
        test_ids = ~train_ids
    folds: list[FoldResult] = []
    tested: list[pl.DataFrame] = []
    for k in range(n_folds):
        start, stop = bounds[k], bounds[k + 1]
        if stop <= start:
            continue
        test = labelled.filter((pl.col("date") >= start) & (pl.col("date") < stop) & test_ids)
        train = labelled.filter((pl.col("label_end") < start) & train_ids)
        if test.height == 0:
            folds.append(_fold_result(k + 1, start, train, test, None, "no test rows"))
            continue
        try:
            fitted = estimators._fit(train, params, seed)
        except InsufficientDataError as exc:
            folds.append(_fold_result(k + 1, start, train, test, None, str(exc)))
            continue
        forecast, p_down = estimators._predict_arrays(
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
    return _summarise(
        pl.concat(tested),
        folds,
        horizon_days=horizon_days,
        n_folds=n_folds,
        params=params,
        group_column=group_column,
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
    unseen_ids: bool = False,
) -> Evaluation:
    """Expanding-window walk-forward evaluation of the forecast recipe, by time.

    The labelled rows' dates are split into ``n_folds + 1`` blocks of equal size; fold k
    tests block k and trains a fresh model only on rows whose label window ends
    (``date + horizon_days``) strictly before the block's first day, so no training label
    looks at a day of the test period. Errors are in APY percentage points against the
    naive forecast (today's APY persists) and the 30-day rolling mean; ``auc_baseline``
    is the AUC of the heuristic score "APY above its 30-day mean". With a
    ``group_column`` (``source`` by default) metrics are also reported per group. With
    ``unseen_ids`` each fold trains on a seeded random half of the ids and tests only
    the other half: the score on pools the model never saw.

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
        unseen_ids=unseen_ids,
    )


def evaluate_model(
    model: ForecastModel,
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    start: date | None = None,
    group_column: str | None = "source",
) -> Evaluation:
    """Score a trained model, as it is, on every labelled row of ``history``.

    Unlike ``evaluate_walk_forward`` nothing is retrained: this answers "how does the
    saved model do on these pools?". It is out of sample only for rows the model never
    trained on: other pools, or rows dated after ``model.train_last_date`` (pass
    ``start`` to keep only those). Reported as a single fold.

    Raises:
        DataError: malformed history or attributes.
        InsufficientDataError: no labelled row (>= 7 observations and a known future).
    """
    features = build_features(history, attrs, horizon_days=model.horizon_days)
    labelled = _labelled(features)
    if start is not None:
        labelled = labelled.filter(pl.col("date") >= start)
    if labelled.height == 0:
        raise InsufficientDataError(
            f"no labelled rows to score: an id needs >= {MIN_OBSERVATIONS} observations "
            f"and >= 10 more in the following {model.horizon_days} days"
            + (f", dated on or after {start}" if start is not None else "")
        )
    forecast, p_down = estimators._predict_arrays(
        model.regressor,
        model.classifier,
        model.categories,
        model.feature_columns,
        model.params.target,
        labelled,
    )
    scored = labelled.with_columns(pl.Series("_forecast", forecast), pl.Series("_p_down", p_down))
    first = _as_date(labelled["date"].min()) or model.train_last_date
    fold = FoldResult(
        fold=1,
        train_first_date=model.train_first_date,
        train_last_date=model.train_last_date,
        train_label_end=model.train_last_date + timedelta(days=model.horizon_days),
        test_start=first,
        test_end=_as_date(labelled["date"].max()) or first,
        n_train=model.n_train_rows,
        metrics=_score(scored),
    )
    return _summarise(
        scored,
        [fold],
        horizon_days=model.horizon_days,
        n_folds=1,
        params=model.params,
        group_column=group_column,
    )


def training_overlap(
    model: ForecastModel, history: pl.DataFrame, sources: Sequence[str] = ()
) -> str | None:
    """A warning when ``history`` may hold rows the model trained on, else ``None``.

    A row can be a training row when its date falls inside the model's training window
    (``train_first_date``..``train_last_date``); the risk is certain when a source file
    has the name of one the model was trained on. The model does not keep its training
    ids, so an overlap in dates with other pools is reported as possible, not certain.
    """
    if history.is_empty() or "date" not in history.columns:
        return None
    dates = history["date"].cast(pl.Date)
    inside = int(((dates >= model.train_first_date) & (dates <= model.train_last_date)).sum())
    if inside == 0:
        return None
    shared = sorted(set(sources) & set(model.sources))
    how = (
        f"the model was trained on {', '.join(shared)}: these rows are in-sample"
        if shared
        else "rows of pools the model trained on would be in-sample"
    )
    return (
        f"{inside:,} of {history.height:,} history rows fall inside the model's training "
        f"window ({model.train_first_date} to {model.train_last_date}); {how}. For an "
        f"out-of-sample score use rows after {model.train_last_date} or retrain with "
        "`realyield model train --until DATE`"
    )
