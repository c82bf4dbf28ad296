"""What an evaluation reports: metrics, calibration bins, folds, and their table/JSON forms.

Plain frozen records, separate from the code that computes them, so that the CLI and
the saved model's metadata can render or serialise an evaluation without running one.
Nothing here raises; non-finite figures serialise as ``None``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

from realyield.scoring.forecast.model import ForecastParams


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
