"""Saving and loading a trained forecast, and where the packaged one lives.

A saved model is a joblib file (pickle: load only files you trust) with a JSON copy of
its metadata beside it. Loading checks the kind, format, estimators and features, and
smoke-tests a model pickled by another scikit-learn version before accepting it.

Raises:
    DataError: a file that cannot be written, or one that is missing, corrupt or
        incompatible (the message says to run ``realyield model train``).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from realyield.core.errors import ConfigError, DataError
from realyield.scoring.features import FEATURE_COLUMNS, HORIZON_DAYS
from realyield.scoring.forecast.model import (
    MODEL_FILENAME,
    MODEL_FORMAT,
    MODEL_KIND,
    PACKAGE_DIR,
    ForecastModel,
    ForecastParams,
)

_TRAIN_HINT: Final = "run `realyield model train` to build one"


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
        "record_regressor": model.record_regressor,
        "record_classifier": model.record_classifier,
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
    record_regressor = payload.get("record_regressor")
    record_classifier = payload.get("record_classifier")
    if not isinstance(record_regressor, HistGradientBoostingRegressor) or not isinstance(
        record_classifier, HistGradientBoostingClassifier
    ):
        record_regressor = record_classifier = None  # a model without a record head
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
            record_regressor=record_regressor,
            record_classifier=record_classifier,
            record_feature_columns=tuple(
                str(c) for c in (meta.get("record_feature_columns") or ()) if record_regressor
            ),
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
