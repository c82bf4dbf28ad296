"""The forward-yield forecast: walk-forward without leakage, beating naive where it should,
predictions, persistence, and the packaged model."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl
import pytest

from realyield.core.errors import DataError, InsufficientDataError
from realyield.scoring import forecast
from realyield.scoring.features import MIN_OBSERVATIONS
from realyield.scoring.forecast import (
    ForecastModel,
    ForecastParams,
    confidence_labels,
    evaluate_walk_forward,
    load_model,
    predict,
    save_model,
    train_model,
)
from realyield.sources.files import import_apy_history

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
START = date(2024, 1, 1)
#: Small, fast models for tests.
SMALL = ForecastParams(
    max_iter=40,
    classifier_max_iter=40,
    min_samples_leaf=40,
    classifier_min_samples_leaf=40,
)


def mean_reverting(n_ids: int = 40, n_days: int = 160, seed: int = 0) -> pl.DataFrame:
    """Log-APY AR(1) around a per-pool level (fast reversion, big shocks), 10% days missing.

    Today's APY is a poor guess of next month's median here; the pool's own average is a
    good one, so a working model must beat the naive forecast by a wide margin.
    """
    rng = np.random.default_rng(seed)
    ids, days, apys, tvls = [], [], [], []
    for i in range(n_ids):
        level = rng.uniform(math.log(2.0), math.log(40.0))
        x = level + rng.normal(0.0, 0.6)
        tvl = rng.uniform(12.0, 18.0)
        for d in range(n_days):
            x = level + 0.8 * (x - level) + rng.normal(0.0, 0.45)
            tvl += rng.normal(0.0, 0.02)
            if rng.random() < 0.1:
                continue
            ids.append(f"pool-{i}")
            days.append(START + timedelta(days=d))
            apys.append(float(math.exp(x)))
            tvls.append(float(math.exp(tvl)))
    return pl.DataFrame({"id": ids, "date": days, "apy": apys, "tvl_usd": tvls})


def attrs_for(history: pl.DataFrame) -> pl.DataFrame:
    ids = history["id"].unique().sort().to_list()
    return pl.DataFrame(
        {
            "id": ids,
            "chain": ["ethereum" if k % 2 else "base" for k in range(len(ids))],
            "project": ["aave-v3"] * len(ids),
            "kind": ["lending"] * len(ids),
            "stablecoin": [True] * len(ids),
            "exposure": ["single"] * len(ids),
        }
    )


@pytest.fixture(scope="module")
def history() -> pl.DataFrame:
    return mean_reverting()


@pytest.fixture(scope="module")
def model(history: pl.DataFrame) -> ForecastModel:
    return train_model(history, attrs_for(history), sources=["synthetic"], seed=3, params=SMALL)


# --- out-of-time evaluation ---------------------------------------------------------------


def test_model_beats_naive_on_a_mean_reverting_series(history: pl.DataFrame) -> None:
    evaluation = evaluate_walk_forward(history, attrs_for(history), n_folds=3, params=SMALL)
    overall = evaluation.overall
    assert overall.n > 1000
    assert overall.mae_model < 0.8 * overall.mae_naive, overall
    assert overall.mae_model < overall.mae_rolling, overall
    assert overall.auc is not None and overall.auc > 0.75
    for fold in evaluation.folds:
        assert fold.metrics is not None and fold.metrics.mae_model < fold.metrics.mae_naive
    total = sum(b.n for b in evaluation.calibration)
    assert total == overall.n
    rows = evaluation.rows()
    assert [r["scope"] for r in rows][-1] == "overall" and len(rows) == 4
    assert "MAE model" in evaluation.table() and "calibration" in evaluation.table()
    json.dumps(evaluation.as_dict())  # JSON-able for --json


def test_walk_forward_never_trains_on_labels_overlapping_the_test_period(
    history: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[pl.DataFrame] = []
    tested: list[pl.DataFrame] = []
    real_fit, real_predict = forecast._fit, forecast._predict_arrays

    def spy_fit(train: pl.DataFrame, params: ForecastParams, seed: int) -> Any:
        trained.append(train)
        return real_fit(train, params, seed)

    def spy_predict(*args: Any) -> Any:
        tested.append(args[-1])
        return real_predict(*args)

    monkeypatch.setattr(forecast.estimators, "_fit", spy_fit)
    monkeypatch.setattr(forecast.estimators, "_predict_arrays", spy_predict)
    evaluation = evaluate_walk_forward(history, attrs_for(history), n_folds=4, params=SMALL)
    assert len(trained) == len(tested) == 4
    previous_start: date | None = None
    for train, test, fold in zip(trained, tested, evaluation.folds, strict=True):
        test_start = test["date"].min()
        assert isinstance(test_start, date)
        # every training label window (date, date + 30] ends before the first test day
        assert train["label_end"].max() < test_start
        assert (train["date"].max() + timedelta(days=30)) < test_start
        assert fold.train_label_end is not None and fold.train_label_end < fold.test_start
        assert fold.test_start <= test_start
        if previous_start is not None:  # expanding: later folds test later periods
            assert fold.test_start > previous_start
        previous_start = fold.test_start
    sizes = [t.height for t in trained]
    assert sizes == sorted(sizes)  # the training window only grows


def test_evaluation_reports_per_group_when_history_has_sources(history: pl.DataFrame) -> None:
    tagged = history.with_columns(
        pl.when(pl.col("id").str.ends_with("1"))
        .then(pl.lit("b.csv"))
        .otherwise(pl.lit("a.csv"))
        .alias("source")
    )
    evaluation = evaluate_walk_forward(tagged, attrs_for(tagged), n_folds=2, params=SMALL)
    assert set(evaluation.by_group) == {"a.csv", "b.csv"}
    assert sum(m.n for m in evaluation.by_group.values()) == evaluation.overall.n


def test_too_little_data_raises_insufficient_data(history: pl.DataFrame) -> None:
    tiny = history.filter(pl.col("id").is_in(["pool-0", "pool-1"])).filter(
        pl.col("date") < START + timedelta(days=45)
    )
    with pytest.raises(InsufficientDataError):
        evaluate_walk_forward(tiny, None, params=SMALL)
    with pytest.raises(InsufficientDataError):
        train_model(tiny, None, sources=["x"], params=SMALL, evaluate=False)
    with pytest.raises(DataError, match="missing column"):
        evaluate_walk_forward(pl.DataFrame({"id": ["a"]}), None)


# --- prediction ----------------------------------------------------------------------------------


def test_fewer_than_seven_observations_give_no_forecast_and_say_why(model: ForecastModel) -> None:
    rows = [("young", START + timedelta(days=d), 5.0 + d) for d in range(5)]
    rows += [("grown", START + timedelta(days=d), 8.0 + (d % 3)) for d in range(20)]
    rows += [("later", START + timedelta(days=50), 3.0)]
    h = pl.DataFrame(rows, schema=["id", "date", "apy"], orient="row")
    out = predict(model, h, None, as_of=START + timedelta(days=19))
    assert out.columns == [
        "id",
        "date",
        "apy",
        "forecast_apy_30d",
        "p_down",
        "p_stable",
        "confidence",
        "n_obs",
        "reason",
    ]
    by_id = {r["id"]: r for r in out.iter_rows(named=True)}
    young = by_id["young"]
    assert young["forecast_apy_30d"] is None and young["p_down"] is None
    assert young["reason"] == "fewer than 7 daily observations (5)" and young["n_obs"] == 5
    assert young["apy"] == 9.0  # today's APY is still shown
    later = by_id["later"]  # only observed after as_of
    assert later["n_obs"] == 0 and later["reason"] == "fewer than 7 daily observations (0)"
    grown = by_id["grown"]
    assert grown["reason"] == "history features (20 observations)" and grown["n_obs"] == 20
    assert grown["forecast_apy_30d"] >= 0 and 0 <= grown["p_down"] <= 1
    assert grown["p_stable"] == pytest.approx(1 - grown["p_down"])
    assert grown["confidence"] in ("low", "medium", "high")
    assert MIN_OBSERVATIONS == 7


def test_predict_uses_only_rows_up_to_as_of(model: ForecastModel, history: pl.DataFrame) -> None:
    as_of = START + timedelta(days=100)
    first = predict(model, history, attrs_for(history), as_of=as_of)
    changed = history.with_columns(
        pl.when(pl.col("date") > as_of).then(pl.col("apy") * 50).otherwise(pl.col("apy"))
    )
    second = predict(model, changed, attrs_for(history), as_of=as_of)
    assert first.equals(second)
    assert first["date"].max() <= as_of and first.height == history["id"].n_unique()


def test_unseen_categories_and_missing_attributes_do_not_crash(
    model: ForecastModel, history: pl.DataFrame
) -> None:
    attrs = attrs_for(history).with_columns(
        pl.lit("never-seen-chain").alias("chain"), pl.lit(None, dtype=pl.Utf8).alias("kind")
    )
    out = predict(model, history, attrs)
    assert out["forecast_apy_30d"].null_count() == 0
    bare = predict(model, history.select("id", "date", "apy"), None)
    assert bare["forecast_apy_30d"].null_count() == 0


def test_confidence_rule() -> None:
    labels = confidence_labels(np.array([0.05, 0.9, 0.3, 0.5, 0.95]), np.array([40, 30, 20, 40, 8]))
    assert labels == ["high", "high", "medium", "low", "low"]


def test_training_is_reproducible(history: pl.DataFrame, model: ForecastModel) -> None:
    again = train_model(
        history, attrs_for(history), sources=["synthetic"], seed=3, params=SMALL, evaluate=False
    )
    a = predict(model, history, attrs_for(history))
    b = predict(again, history, attrs_for(history))
    assert a.equals(b)


# --- persistence ----------------------------------------------------------------------------------


def test_save_load_round_trip_keeps_metadata_and_predictions(
    model: ForecastModel, history: pl.DataFrame, tmp_path: Path
) -> None:
    path = save_model(model, tmp_path / "m.joblib")
    loaded = load_model(path)
    assert loaded.metadata() == model.metadata()
    assert loaded.version == model.version and loaded.sources == ("synthetic",)
    assert loaded.train_first_date <= loaded.train_last_date
    assert loaded.metrics["overall"]["mae_model"] == model.metrics["overall"]["mae_model"]
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["version"] == model.version and side["feature_columns"] == list(
        model.feature_columns
    )
    assert predict(loaded, history, None).equals(predict(model, history, None))
    directory = save_model(model, tmp_path)  # a directory gets the standard file name
    assert directory.name == forecast.MODEL_FILENAME and load_model(tmp_path).version


def test_corrupt_missing_or_foreign_files_raise_data_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "bad.joblib"
    corrupt.write_bytes(b"\x80\x04 definitely not a pickle")
    with pytest.raises(DataError, match="realyield model train"):
        load_model(corrupt)
    with pytest.raises(DataError, match="realyield model train"):
        load_model(tmp_path / "absent.joblib")
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"something": "else"}, foreign)
    with pytest.raises(DataError, match="not a realyield forecast"):
        load_model(foreign)
    old = tmp_path / "old.joblib"
    joblib.dump({"kind": forecast.MODEL_KIND, "format": 0}, old)
    with pytest.raises(DataError, match="format"):
        load_model(old)


def test_packaged_model_loads_and_predicts_on_a_small_frame(history: pl.DataFrame) -> None:
    model = load_model()
    assert model.sources and model.train_first_date < model.train_last_date
    overall = model.metrics["overall"]
    assert overall["mae_model"] < overall["mae_naive"]  # what docs/forecast.md reports
    small = history.filter(pl.col("id").is_in(["pool-1", "pool-2", "pool-3"]))
    out = predict(model, small, attrs_for(small))
    assert out.height == 3 and out["forecast_apy_30d"].null_count() == 0
    assert ((out["p_down"] >= 0) & (out["p_down"] <= 1)).all()


# --- real data ----------------------------------------------------------------------------------


@pytest.fixture
def real_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


def test_packaged_model_on_real_tracker_history(real_data: Path) -> None:
    imported, _ = import_apy_history(
        real_data / "yields/lending_staking_apy_history.csv", apy_unit="fraction"
    )
    h = pl.DataFrame(
        [(p.opportunity_id, p.date, p.apy) for p in imported.points],
        schema=["id", "date", "apy"],
        orient="row",
    )
    out = predict(load_model(), h, None, as_of=date(2025, 1, 31))
    assert out.height == 19
    scored = out.filter(pl.col("forecast_apy_30d").is_not_null())
    assert scored.height >= 10
    assert scored["forecast_apy_30d"].is_finite().all() and (scored["forecast_apy_30d"] >= 0).all()
    # the walk-forward recipe runs on this real file alone, with folds in time order
    evaluation = evaluate_walk_forward(h, None, n_folds=2, params=SMALL)
    assert evaluation.overall.n > 500
    starts = [f.test_start for f in evaluation.folds]
    assert starts == sorted(starts)


def test_evaluate_model_scores_a_saved_model_on_pools_it_never_saw(model: ForecastModel) -> None:
    fresh = mean_reverting(n_ids=20, n_days=120, seed=11).with_columns(
        ("new-" + pl.col("id")).alias("id")
    )
    evaluation = forecast.evaluate_model(model, fresh, None)
    assert evaluation.n_folds == 1 and evaluation.folds[0].n_train == model.n_train_rows
    assert evaluation.overall.mae_model < 0.8 * evaluation.overall.mae_naive
    later = forecast.evaluate_model(model, fresh, None, start=START + timedelta(days=60))
    assert later.overall.n < evaluation.overall.n
    with pytest.raises(InsufficientDataError):
        forecast.evaluate_model(model, fresh, None, start=START + timedelta(days=400))


def test_unseen_ids_mode_tests_only_pools_never_trained_on(
    history: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[set[str]] = []
    tested: list[set[str]] = []
    real_fit, real_predict = forecast._fit, forecast._predict_arrays

    def spy_fit(train: pl.DataFrame, params: ForecastParams, seed: int) -> Any:
        trained.append(set(train["id"].to_list()))
        return real_fit(train, params, seed)

    def spy_predict(*args: Any) -> Any:
        tested.append(set(args[-1]["id"].to_list()))
        return real_predict(*args)

    monkeypatch.setattr(forecast.estimators, "_fit", spy_fit)
    monkeypatch.setattr(forecast.estimators, "_predict_arrays", spy_predict)
    evaluation = evaluate_walk_forward(history, None, n_folds=2, params=SMALL, unseen_ids=True)
    assert trained and len(trained) == len(tested)
    for seen, scored in zip(trained, tested, strict=True):
        assert seen and scored and not seen & scored
    assert evaluation.overall.mae_model < evaluation.overall.mae_naive
