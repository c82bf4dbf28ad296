"""The forecast recipe (``ForecastParams``), the trained model record and their constants.

Everything else in the package depends on these; they depend only on the feature
definitions, so they can be imported without pulling in training or evaluation code.

Raises:
    ConfigError: (``ForecastParams``) an unknown target or loss, a non-positive size or
        rate, or excluded features the recipe cannot do without.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from realyield.core.errors import ConfigError
from realyield.scoring.features import FEATURE_COLUMNS, HORIZON_DAYS, MIN_OBSERVATIONS

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
    #: The head on the features a ``/pools`` record carries (``features.RECORD_FEATURES``),
    #: for pools without enough stored history; absent in models saved before it existed.
    record_regressor: HistGradientBoostingRegressor | None = None
    record_classifier: HistGradientBoostingClassifier | None = None
    record_feature_columns: tuple[str, ...] = ()

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
            "record_feature_columns": list(self.record_feature_columns),
        }
