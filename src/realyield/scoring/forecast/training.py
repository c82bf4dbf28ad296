"""``train_model``: fit the final forecast on every labelled row, with its evaluation.

Raises:
    DataError: malformed history or attributes.
    InsufficientDataError: too few labelled rows or a single class of ``down``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import polars as pl
import sklearn

from realyield.core import clock
from realyield.core.errors import InsufficientDataError
from realyield.scoring.features import FEATURE_COLUMNS, HORIZON_DAYS, build_features
from realyield.scoring.features.records import RECORD_FEATURES

# Called as ``estimators._fit`` / ``estimators._predict_arrays`` (module-qualified) so a
# test can replace them on ``realyield.scoring.forecast.estimators``.
from realyield.scoring.forecast import estimators
from realyield.scoring.forecast.estimators import _labelled
from realyield.scoring.forecast.evaluation import _evaluate_features
from realyield.scoring.forecast.model import MODEL_FORMAT, ForecastModel, ForecastParams


def train_model(
    history: pl.DataFrame,
    attrs: pl.DataFrame | None,
    *,
    sources: Sequence[str],
    seed: int = 0,
    params: ForecastParams | None = None,
    evaluate: bool = True,
    n_folds: int = 5,
    until: date | None = None,
) -> ForecastModel:
    """Train the forecast on every labelled row (seeded: same data and seed, same model).

    With ``evaluate`` (the default) the walk-forward evaluation of the same recipe runs
    first and its results travel with the model as ``metrics``. With ``until`` only the
    history dated on or before it is read, so no label window reaches past ``until``
    (a target needs its whole 30-day window inside the history). A second head learns
    from only ``features.RECORD_FEATURES``, for pools known by a ``/pools`` record alone.

    Raises:
        DataError: malformed history or attributes.
        InsufficientDataError: too few labelled rows or a single class of ``down``.
    """
    params = params or ForecastParams()
    if until is not None:
        history = history.filter(pl.col("date").cast(pl.Date) <= until)
        if history.is_empty():
            raise InsufficientDataError(f"no history dated on or before {until} to train on")
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
    fitted = estimators._fit(labelled, params, seed)
    # the record head: the same recipe on only what a /pools record carries
    record_params = replace(
        params,
        exclude_features=tuple(
            c for c in FEATURE_COLUMNS if c not in RECORD_FEATURES or c in params.exclude_features
        ),
    )
    record = estimators._fit(labelled, record_params, seed)
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
        record_regressor=record.regressor,
        record_classifier=record.classifier,
        record_feature_columns=record.feature_columns,
    )
