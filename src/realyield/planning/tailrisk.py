"""Tail risks as jump events: stablecoin depegs and collapses, liquid staking discounts,
protocol exploits and custodian failures.

Why jumps: a block bootstrap of a few years of prices replays the crashes it saw, but a
stablecoin sleeve's price history is flat, so without jumps a 100% stablecoin plan shows
certain success. Each event (``data/planning/tail_risks.toml``, calibrated on UST 2022,
USDC March 2023, stETH June 2022 and FTX; see docs/planning.md) hits the holdings it
applies to with a yearly probability interpolated in the holding's risk score, as a
Poisson process, and takes ``loss`` of the exposed value at that month's end. A holding
held by several indices is one source: one exploit hits every index that holds it.

The sources do not depend on the mix (only their losses do), so every candidate mix of
a plan sees the same events: comparisons between mixes are not blurred by luck.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping, Set
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from realyield.core.errors import ConfigError
from realyield.indices.composition import Constituent, IndexComposition

APPLIES_TO = ("stablecoin", "liquid_staking", "protocol")
#: holding kinds that are positions in a protocol (plain assets and native staking are not)
PROTOCOL_KINDS = frozenset({"lending", "liquidity", "vault", "liquid_staking"})
#: what the simulation does not model, printed with every plan
NOT_MODELLED = (
    "validator slashing of native staking",
    "regulatory seizure or a frozen exchange account",
    "a depeg that recovers within the month (only month-end values are simulated)",
    "smart-contract risk of bridges not named as a holding's protocol",
)


@dataclass(frozen=True, slots=True)
class TailEvent:
    """One kind of jump: what it hits, how much it takes, how often by risk score."""

    name: str
    title: str
    applies_to: str
    loss: float  # fraction of the exposed holding
    probability_risk_0: float  # a year, at least one event
    probability_risk_100: float
    episode: str

    def probability(self, risk: float) -> float:
        """The yearly probability at risk score ``risk`` (0-100): log-linear between the
        two ends, so each 10 points of risk multiply it by the same factor (risk scores
        separate orders of magnitude of failure rates, not equal steps)."""
        x = min(max(risk, 0.0), 100.0) / 100.0
        lo, hi = self.probability_risk_0, self.probability_risk_100
        return float(lo * (hi / lo) ** x) if lo > 0 else hi * x


@functools.cache
def tail_events() -> tuple[TailEvent, ...]:
    """The packaged tail events.

    Raises:
        ConfigError: the packaged file is invalid (names the entry and the key).
    """
    text = resources.files("realyield").joinpath("data", "planning", "tail_risks.toml")
    try:
        raw = tomllib.loads(text.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"planning/tail_risks.toml: {exc}") from exc
    return tuple(_event(name, entry) for name, entry in raw.items())


def _event(name: str, e: Mapping[str, Any]) -> TailEvent:
    where = f"planning/tail_risks.toml [{name}]"
    if e.get("applies_to") not in APPLIES_TO:
        raise ConfigError(f"{where}: applies_to must be one of {APPLIES_TO}")
    nums = {}
    for key in ("loss", "probability_risk_0", "probability_risk_100"):
        v = e.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise ConfigError(f"{where}: {key} must be a fraction in [0, 1], got {v!r}")
        nums[key] = float(v)
    if nums["probability_risk_0"] >= 1.0 or nums["probability_risk_100"] >= 1.0:
        raise ConfigError(f"{where}: a yearly probability must be below 1")
    return TailEvent(
        name, str(e.get("title", name)), str(e["applies_to"]), episode=str(e.get("episode", "")),
        **nums,
    )  # fmt: skip


@dataclass(frozen=True)
class JumpSources:
    """Every (holding, event) pair that can jump: its Poisson intensity a year and the
    share of each index it takes when it does (``loss[source, index]``)."""

    index_names: tuple[str, ...]
    labels: tuple[str, ...]  # "event: holding"
    intensity: NDArray[np.float64]  # per source, events a year
    loss: NDArray[np.float64]  # sources x indices, fraction of the index's value
    modelled: tuple[str, ...]  # titles of the events with at least one source

    @property
    def total_intensity(self) -> float:
        return float(self.intensity.sum())

    def mix_loss(self, weights: Mapping[str, float]) -> NDArray[np.float64]:
        """Per source: the share of a portfolio with ``weights`` it takes."""
        w = np.array([weights.get(n, 0.0) for n in self.index_names])
        return np.asarray(np.minimum(self.loss @ w, 1.0), dtype=np.float64)


def jump_sources(
    compositions: Mapping[str, IndexComposition],
    stable: Set[str],
    events: tuple[TailEvent, ...] | None = None,
) -> JumpSources:
    """The jump sources of today's indices. A source is one shared bet: a stablecoin
    (one USDC depeg hits every USDC holding of every index), a protocol (from a
    holding's ``protocol:`` dependency; one exploit hits all its pools) or a liquid
    staking token. Its yearly probability comes from the exposure-weighted mean risk
    score of the holdings it hits."""
    events = tail_events() if events is None else events
    names = tuple(sorted(compositions))
    # (event, bet) -> (sum of exposure x risk, sum of exposure, loss per index)
    acc: dict[tuple[str, str], tuple[float, float, dict[int, float]]] = {}
    for k, name in enumerate(names):
        for c in compositions[name].constituents:
            for ev in events:
                for bet, exposure in _bets(c, ev.applies_to, stable):
                    share = c.weight * exposure
                    if share <= 0:
                        continue
                    risk_sum, weight_sum, losses = acc.get((ev.name, bet), (0.0, 0.0, {}))
                    losses[k] = losses.get(k, 0.0) + share * ev.loss
                    acc[(ev.name, bet)] = (risk_sum + share * c.risk, weight_sum + share, losses)
    by_name = {ev.name: ev for ev in events}
    keys = sorted(k for k in acc if acc[k][1] > 0)
    loss = np.zeros((len(keys), len(names)))
    intensity = np.zeros(len(keys))
    for s, key in enumerate(keys):
        risk_sum, weight_sum, losses = acc[key]
        intensity[s] = -math.log1p(-by_name[key[0]].probability(risk_sum / weight_sum))
        for k, v in losses.items():
            loss[s, k] = v
    return JumpSources(
        names,
        tuple(f"{e}: {b}" for e, b in keys),
        intensity,
        loss,
        tuple(by_name[e].title for e in sorted({e for e, _ in keys})),
    )


def _bets(c: Constituent, applies_to: str, stable: Set[str]) -> list[tuple[str, float]]:
    """The shared bets of one holding an event of this kind hits, with the share of the
    holding each carries."""
    if applies_to == "stablecoin":
        n = len(c.underlying)
        return [(u, 1.0 / n) for u in c.underlying if u in stable]
    if applies_to == "liquid_staking":
        return (
            [(c.underlying[0] if c.underlying else c.id, 1.0)] if c.kind == "liquid_staking" else []
        )
    if c.kind not in PROTOCOL_KINDS:
        return []
    protocol = next((d for d in c.dependencies if d.startswith("protocol:")), c.id)
    return [(protocol.removeprefix("protocol:"), 1.0)]


@dataclass(frozen=True)
class JumpDraws:
    """The events of one run: month, path and source of each, sorted by month."""

    month: NDArray[np.int64]
    path: NDArray[np.int64]
    source: NDArray[np.int64]


def draw_jumps(
    rng: np.random.Generator, intensity: NDArray[np.float64], paths: int, months: int
) -> JumpDraws:
    """A compound Poisson draw: per path a Poisson number of events over ``months``, each
    at a uniform month and from a source chosen in proportion to its intensity."""
    total = float(intensity.sum())
    if total <= 0 or months <= 0:
        empty = np.empty(0, np.int64)
        return JumpDraws(empty, empty, empty)
    counts = rng.poisson(total * months / 12.0, size=paths)
    n = int(counts.sum())
    path = np.repeat(np.arange(paths, dtype=np.int64), counts)
    month = rng.integers(0, months, size=n)
    cum = np.cumsum(intensity) / total
    source = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), intensity.size - 1)
    order = np.argsort(month, kind="stable")
    return JumpDraws(month[order], path[order], np.asarray(source[order], np.int64))


def annual_jump_losses(
    sources: JumpSources, scenarios: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Scenarios x indices: the share of each index lost to jumps within twelve months
    (losses of several events add; capped at the whole index)."""
    out = np.zeros((scenarios, len(sources.index_names)))
    total = sources.total_intensity
    if total <= 0:
        return out
    counts = rng.poisson(total, size=scenarios)
    which = np.repeat(np.arange(scenarios), counts)
    src = rng.choice(sources.intensity.size, size=int(counts.sum()), p=sources.intensity / total)
    np.add.at(out, which, sources.loss[src])
    return np.minimum(out, 1.0)
