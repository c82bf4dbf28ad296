"""Monthly price-return generators for the Monte Carlo, one draw per path per month.

``BlockBootstrap`` (the default) replays history in blocks of consecutive months taken
at random (circularly), so crashes, rallies and their autocorrelation come back as they
happened. ``RegimeModel`` is the alternative for short histories: a two-state Markov
chain (calm / stressed, fitted by splitting months at a quantile of the history) with
Student-t returns in each state, so tails are fatter than the sample has seen. Both are
seeded through the caller's ``numpy.random.Generator`` and keep O(paths) state, so
memory does not grow with the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from realyield.core.errors import ConfigError, InsufficientDataError


class PriceSampler(Protocol):
    def reset(self, rng: np.random.Generator, paths: int) -> None: ...

    def draw(self, rng: np.random.Generator, month: int) -> NDArray[np.float64]: ...


def recentre(returns: NDArray[np.float64], annual_drift: float) -> NDArray[np.float64]:
    """The same months with their mean log return moved to ``log(1 + annual_drift) / 12``.

    A few years of crypto history carry whatever trend they happened to have (a 5x bull
    run, a crash); resampled for decades that trend compounds into fantasy or ruin. This
    keeps the volatility, the crashes and their order, and states the trend as an
    assumption instead: with ``annual_drift = 0`` the median price path is flat.

    Raises:
        ConfigError: a drift at or below -100%, or returns at or below -100%.
    """
    r = _history(returns, 1)
    if not math.isfinite(annual_drift) or annual_drift <= -1.0:
        raise ConfigError(f"price drift must be above -100% a year, got {annual_drift!r}")
    logs = np.log1p(r)
    return np.asarray(np.expm1(logs - logs.mean() + math.log1p(annual_drift) / 12.0))


def _history(returns: NDArray[np.float64], minimum: int) -> NDArray[np.float64]:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < minimum:
        raise InsufficientDataError(
            f"the price model needs at least {minimum} monthly returns, got {r.size}"
        )
    if not np.isfinite(r).all() or (r <= -1.0).any():
        raise ConfigError("monthly returns must be finite and above -100%")
    return r


@dataclass
class BlockBootstrap:
    """Circular block bootstrap of a monthly return series (block of ``block_months``)."""

    history: NDArray[np.float64]
    block_months: int = 6
    _pos: NDArray[np.intp] = field(
        init=False, repr=False, default_factory=lambda: np.empty(0, np.intp)
    )

    def __post_init__(self) -> None:
        self.history = _history(self.history, 2)
        if not 1 <= self.block_months <= self.history.size:
            raise ConfigError(
                f"block_months must be in [1, {self.history.size}], got {self.block_months}"
            )

    def reset(self, rng: np.random.Generator, paths: int) -> None:
        self._pos = np.zeros(paths, dtype=np.intp)

    def draw(self, rng: np.random.Generator, month: int) -> NDArray[np.float64]:
        n = self.history.size
        if month % self.block_months == 0:
            self._pos = rng.integers(0, n, size=self._pos.size)
        else:
            self._pos += 1
            self._pos[self._pos >= n] -= n
        return self.history[self._pos]


@dataclass
class RegimeModel:
    """Two-state Markov regimes with Student-t monthly returns in each state."""

    mean: tuple[float, float]  # calm, stressed
    vol: tuple[float, float]
    stay: tuple[float, float]  # P(stay calm), P(stay stressed)
    df: float = 4.0
    _state: NDArray[np.bool_] = field(
        init=False, repr=False, default_factory=lambda: np.empty(0, bool)
    )

    def __post_init__(self) -> None:
        if not self.df > 2:
            raise ConfigError(
                f"the t distribution needs df > 2 for a finite variance, got {self.df}"
            )
        for p in self.stay:
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"regime persistence must be in [0, 1), got {p}")

    @classmethod
    def fit(
        cls, returns: NDArray[np.float64], *, stress_quantile: float = 0.25, df: float = 4.0
    ) -> RegimeModel:
        """Months below the ``stress_quantile`` of the 3-month rolling return are
        stressed; the rest calm. Persistence from the observed sequence (smoothed so
        that both states can be left)."""
        r = _history(returns, 12)
        roll = np.convolve(r, np.ones(3) / 3.0, mode="same")
        stressed = roll <= np.quantile(roll, stress_quantile)
        means = (float(r[~stressed].mean()), float(r[stressed].mean()))
        vols = (float(r[~stressed].std(ddof=1)), float(r[stressed].std(ddof=1)))
        stay = []
        for s in (False, True):
            frm = stressed[:-1] == s
            n = int(frm.sum())
            same = int((stressed[1:][frm] == s).sum())
            stay.append(min((same + 1.0) / (n + 2.0), 0.98))  # Laplace-smoothed
        return cls(means, vols, (stay[0], stay[1]), df)

    def stationary_stress(self) -> float:
        a, b = 1.0 - self.stay[0], 1.0 - self.stay[1]
        return a / (a + b)

    def reset(self, rng: np.random.Generator, paths: int) -> None:
        self._state = rng.random(paths) < self.stationary_stress()

    def draw(self, rng: np.random.Generator, month: int) -> NDArray[np.float64]:
        if month > 0:
            stay = np.where(self._state, self.stay[1], self.stay[0])
            self._state = np.where(rng.random(self._state.size) < stay, self._state, ~self._state)
        scale = math.sqrt((self.df - 2.0) / self.df)
        z = rng.standard_t(self.df, size=self._state.size) * scale
        mean = np.where(self._state, self.mean[1], self.mean[0])
        vol = np.where(self._state, self.vol[1], self.vol[0])
        return np.maximum(mean + vol * z, -0.99)


@dataclass
class Constant:
    """The same monthly return on every path and month (checks against closed forms)."""

    value: float

    def reset(self, rng: np.random.Generator, paths: int) -> None:
        self._paths = paths

    def draw(self, rng: np.random.Generator, month: int) -> NDArray[np.float64]:
        return np.full(self._paths, self.value)
