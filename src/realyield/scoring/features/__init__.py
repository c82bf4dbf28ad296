"""Feature and target construction for the forward-yield forecast (pure, vectorised).

Input is a long daily history (``id, date, apy, apy_base, apy_reward, tvl_usd``; APY in
percent, gaps allowed) and a static attributes frame (``id, chain, project, kind,
stablecoin, exposure``; any may be null or missing). ``build_features`` returns one row
per (id, date) observation with:

* **features** (``FEATURE_COLUMNS``), each computed ONLY from that id's rows dated on or
  before the row's date: no look-ahead, so appending or changing later rows never
  changes an earlier row's features (property-tested);
* **targets** (only where the future is known): ``target_median_30d``, the median APY of
  the observations dated in ``(date, date + 30 days]``, when there are at least
  ``MIN_FUTURE_OBSERVATIONS`` of them and the history extends to ``date + 30 days``; and
  ``target_down``, DeFiLlama's label ``(median_next_30d - apy) / apy < -0.2``, computed
  as ``median_next_30d < 0.8 * apy`` so that it is defined at ``apy == 0``: a zero
  yield cannot fall, so ``down`` is false there (a median below zero is impossible);
* ``label_end`` (= ``date + horizon``): the last day the target looks at, which the
  walk-forward evaluation uses to keep training labels out of the test period.

"Observations" are rows with a known APY; rows without one are dropped, and duplicate
(id, date) rows keep the last one. Windows named ``*_7obs`` count observations, windows
named ``*_7d``/``*_30d`` count calendar days ending on the row's date (inclusive).
Ratios are taken on the ``log1p`` scale so that APYs of 0 and of 10,000% both stay finite.

Categorical attributes are returned as strings (null when unknown); the model encodes
them with a vocabulary learnt at training time, so unseen categories at inference are
treated as missing rather than crashing.
"""

from realyield.scoring.features.construction import build_features
from realyield.scoring.features.preparation import attrs_from_pool_info, history_from_points
from realyield.scoring.features.spec import (
    ATTRIBUTE_COLUMNS,
    CATEGORICAL_COLUMNS,
    DOWN_THRESHOLD,
    FEATURE_COLUMNS,
    HISTORY_COLUMNS,
    HORIZON_DAYS,
    MIN_FUTURE_OBSERVATIONS,
    MIN_OBSERVATIONS,
    NUMERIC_FEATURES,
    TARGET_COLUMNS,
)
from realyield.scoring.features.symbols import (
    STABLE_SYMBOLS,
    exposure_from_symbol,
    stablecoin_from_symbol,
)
from realyield.scoring.features.targets import label_down

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "CATEGORICAL_COLUMNS",
    "DOWN_THRESHOLD",
    "FEATURE_COLUMNS",
    "HISTORY_COLUMNS",
    "HORIZON_DAYS",
    "MIN_FUTURE_OBSERVATIONS",
    "MIN_OBSERVATIONS",
    "NUMERIC_FEATURES",
    "STABLE_SYMBOLS",
    "TARGET_COLUMNS",
    "attrs_from_pool_info",
    "build_features",
    "exposure_from_symbol",
    "history_from_points",
    "label_down",
    "stablecoin_from_symbol",
]
