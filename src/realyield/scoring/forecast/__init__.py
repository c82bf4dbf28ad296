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

# ``_predict_arrays`` is re-exported for the benchmark; tests replace both helpers on
# ``realyield.scoring.forecast.estimators``, where evaluation, training and prediction
# look them up.
from realyield.scoring.forecast.estimators import _fit, _predict_arrays
from realyield.scoring.forecast.evaluation import (
    evaluate_model,
    evaluate_walk_forward,
    fold_boundaries,
    training_overlap,
)
from realyield.scoring.forecast.model import (
    CALIBRATION_BINS,
    LOSSES,
    MAX_CATEGORIES,
    METADATA_FILENAME,
    MIN_TRAIN_ROWS,
    MODEL_FILENAME,
    MODEL_FORMAT,
    MODEL_KIND,
    PACKAGE_DIR,
    TARGETS,
    FloatArray,
    ForecastModel,
    ForecastParams,
)
from realyield.scoring.forecast.persistence import load_model, packaged_model_path, save_model
from realyield.scoring.forecast.prediction import confidence_labels, predict
from realyield.scoring.forecast.results import CalibrationBin, Evaluation, FoldResult, Metrics
from realyield.scoring.forecast.training import train_model

__all__ = [
    "CALIBRATION_BINS",
    "LOSSES",
    "MAX_CATEGORIES",
    "METADATA_FILENAME",
    "MIN_TRAIN_ROWS",
    "MODEL_FILENAME",
    "MODEL_FORMAT",
    "MODEL_KIND",
    "PACKAGE_DIR",
    "TARGETS",
    "CalibrationBin",
    "Evaluation",
    "FloatArray",
    "FoldResult",
    "ForecastModel",
    "ForecastParams",
    "Metrics",
    "_fit",
    "_predict_arrays",
    "confidence_labels",
    "evaluate_model",
    "evaluate_walk_forward",
    "fold_boundaries",
    "load_model",
    "packaged_model_path",
    "predict",
    "save_model",
    "train_model",
    "training_overlap",
]
