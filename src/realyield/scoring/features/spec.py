"""What the forecast's features and targets are: column names, horizon and thresholds.

Kept apart from the code that computes them so that the model, the walk-forward
evaluation and the tests can name columns without importing polars pipelines. Nothing
here raises.
"""

from __future__ import annotations

from typing import Final

#: Fewer observations than this up to the prediction date: no forecast.
MIN_OBSERVATIONS: Final = 7
#: The forecast horizon: the target is the median APY of the next this many days.
HORIZON_DAYS: Final = 30
#: A target needs at least this many observations inside its future window.
MIN_FUTURE_OBSERVATIONS: Final = 10
#: DeFiLlama's threshold: "down" when the next-30-day median is 20% below today's APY.
DOWN_THRESHOLD: Final = 0.2

HISTORY_COLUMNS: Final = ("id", "date", "apy", "apy_base", "apy_reward", "tvl_usd")
ATTRIBUTE_COLUMNS: Final = ("id", "chain", "project", "kind", "stablecoin", "exposure")
#: Categorical features (strings here, encoded by the model).
CATEGORICAL_COLUMNS: Final = ("chain", "project", "kind", "exposure")
NUMERIC_FEATURES: Final = (
    "apy",
    "log_apy",
    "reward_share",
    "mean_7obs",
    "std_7obs",
    "mean_30obs",
    "std_30obs",
    "mean_7d",
    "mean_30d",
    "std_30d",
    "median_30d",
    "min_30d",
    "max_30d",
    "mean_exp",
    "std_exp",
    "rel_mean_7obs",
    "rel_mean_30d",
    "rel_median_30d",
    "rel_mean_exp",
    "cv_30d",
    "apy_change_1obs",
    "apy_change_7d",
    "apy_change_30d",
    "log_tvl",
    "tvl_change_7d",
    "tvl_change_30d",
    "n_obs",
    "days_since_first",
    "days_since_prev",
    "obs_30d",
    "stablecoin",
)
FEATURE_COLUMNS: Final = NUMERIC_FEATURES + CATEGORICAL_COLUMNS
TARGET_COLUMNS: Final = ("target_median_30d", "target_down", "n_future", "label_end")
