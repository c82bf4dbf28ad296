"""Stress episodes from real history, replayed on today's weights.

The episodes are data (``realyield/data/stress_episodes.toml``): a window of days and
the series that moved. A replay buys today's weights at the close of the episode's
first day and holds them through it (no rebalancing, no income: these are days, not
years) with each holding's real price path over the window: its own tokens' prices
when the store has them then, else the asset it depends on (a liquid staking token of
ETH follows stETH, the discount included; another liquid staking or wrapped token
follows its native coin). Stablecoins are only ever replayed with their own peg
series. A holding whose tokens have no usable series in the window is left out and
named; the loss is then that of the covered part, and the coverage is reported with
it. Nothing is invented: an episode with no covered holding has no number.

Reported per episode: the worst value inside the window (peak loss, from the value on
the first day), its day, and the recovery time: days from the start until the value is
back within ``tolerance`` of where it started, searched up to ``horizon_days``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from realyield.backtest.instruments import SNAPSHOT_SOURCE, tokens_of
from realyield.backtest.schedule import HoldingInfo
from realyield.core.errors import ConfigError, DataError
from realyield.reference import load_tokens

EPISODES_FILE = "stress_episodes.toml"
RECOVERY_TOLERANCE = 0.001
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class StressEpisode:
    name: str
    title: str
    start: date
    end: date
    horizon_days: int
    key_assets: tuple[str, ...]
    description: str = ""


@dataclass
class EpisodeResult:
    """One episode replayed: ``status`` is ``ok``, ``partial`` (some weight not covered:
    the figures are those of the covered part) or ``no_data`` (no figure)."""

    episode: StressEpisode
    status: str
    loss: float | None = None  # worst value / start value - 1 inside the window
    trough: date | None = None
    recovery_days: int | None = None  # None: not recovered within the horizon
    horizon_days: int = 0
    covered_weight: float = 0.0
    proxies: dict[str, str] = field(default_factory=dict)  # holding -> series used
    missing: list[str] = field(default_factory=list)  # holdings left out
    key_missing: list[str] = field(default_factory=list)  # episode series not stored
    illustrative: list[str] = field(default_factory=list)  # series from the snapshot
    path: list[tuple[date, float]] = field(default_factory=list)

    @property
    def recovery_text(self) -> str:
        if self.loss is None:
            return "-"
        if self.recovery_days is None:
            return f"not recovered within {self.horizon_days} days"
        return f"{self.recovery_days} days"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.episode.name,
            "title": self.episode.title,
            "start": self.episode.start.isoformat(),
            "end": self.episode.end.isoformat(),
            "status": self.status,
            "loss": self.loss,
            "trough": self.trough.isoformat() if self.trough else None,
            "recovery_days": self.recovery_days,
            "recovered": self.recovery_days is not None,
            "horizon_days": self.horizon_days,
            "covered_weight": self.covered_weight,
            "proxies": self.proxies,
            "missing": self.missing,
            "key_missing": self.key_missing,
            "illustrative": self.illustrative,
        }


def load_episodes(path: Path | None = None) -> list[StressEpisode]:
    """The packaged episodes, or those of a TOML file with the same layout.

    Raises:
        ConfigError: unreadable file or an invalid episode.
    """
    try:
        if path is None:
            text = resources.files("realyield").joinpath("data", EPISODES_FILE).read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read stress episodes {path or EPISODES_FILE}: {exc}") from exc
    out = []
    for k, e in enumerate(raw.get("episode", []), start=1):
        try:
            ep = StressEpisode(
                name=str(e["name"]),
                title=str(e["title"]),
                start=e["start"],
                end=e["end"],
                horizon_days=int(e.get("horizon_days", 365)),
                key_assets=tuple(e.get("key_assets", ())),
                description=str(e.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"stress episode #{k}: missing or invalid field ({exc})") from exc
        if not (isinstance(ep.start, date) and isinstance(ep.end, date) and ep.start < ep.end):
            raise ConfigError(f"stress episode {ep.name}: needs dates with start < end")
        if ep.horizon_days < (ep.end - ep.start).days:
            raise ConfigError(f"stress episode {ep.name}: horizon shorter than its window")
        out.append(ep)
    return out


def dependency_proxies() -> dict[str, str]:
    """Asset id -> the asset whose path stands in for it when its own is missing: ETH
    liquid staking and restaking tokens -> stETH; other liquid staking and wrapped
    tokens -> their native coin. Stablecoins have none."""
    tokens = load_tokens().values()
    native: dict[str, str] = {}
    for t in tokens:
        if t.kind == "native" and t.asset_id and t.peg not in native:
            native[t.peg] = t.asset_id
    out: dict[str, str] = {}
    for t in tokens:
        if not t.asset_id or t.kind in ("stablecoin", "native"):
            continue
        if t.kind in ("lst", "lrt") and t.peg == "eth":
            out[t.asset_id] = "staked-ether"
        elif t.peg in native:
            out[t.asset_id] = native[t.peg]
    for t in tokens:  # wrapped natives (WETH, WSOL...) follow the coin itself
        if t.kind == "native" and t.asset_id and native.get(t.peg) not in (None, t.asset_id):
            out[t.asset_id] = native[t.peg]
    out.pop("staked-ether", None)
    return out


def _path(frame: pl.DataFrame, asset: str, days: Sequence[date]) -> np.ndarray | None:
    """Daily prices of ``asset`` on ``days`` (carried forward), None without a price on
    the first day."""
    sub = frame.filter(pl.col("asset_id") == asset)
    if sub.is_empty():
        return None
    lookup = dict(zip(sub["date"].to_list(), sub["price_usd"].to_list(), strict=True))
    out = np.array([lookup.get(d, np.nan) for d in days], dtype=float)
    if np.isnan(out[0]):
        return None
    for t in range(1, len(out)):
        if np.isnan(out[t]):
            out[t] = out[t - 1]
    return out


def replay_episode(
    episode: StressEpisode,
    weights: Mapping[str, float],
    info: Mapping[str, HoldingInfo],
    prices: pl.DataFrame,
    *,
    proxies: Mapping[str, str] | None = None,
    tolerance: float = RECOVERY_TOLERANCE,
) -> EpisodeResult:
    """Replay ``episode`` on ``weights`` (holding id -> fraction; the rest is cash).

    Raises:
        DataError: weights that are negative or sum to more than 1.
    """
    if any(w < 0 for w in weights.values()) or sum(weights.values()) > 1 + 1e-6:
        raise DataError("stress weights must be >= 0 and sum to at most 1")
    proxies = dependency_proxies() if proxies is None else proxies
    horizon = episode.horizon_days
    days = [episode.start + timedelta(days=k) for k in range(horizon + 1)]
    window = prices.filter(pl.col("date").is_between(days[0], days[-1]))
    result = EpisodeResult(episode, "no_data", horizon_days=horizon)
    stored = set(window["asset_id"].unique().to_list()) if not window.is_empty() else set()
    result.key_missing = [a for a in episode.key_assets if a not in stored]
    value = np.zeros(len(days))
    covered = 0.0
    used: set[str] = set()
    for ident, w in weights.items():
        if w <= 0:
            continue
        h = info.get(ident) or HoldingInfo(ident, ident, "asset")
        if h.kind == "cash":
            value += w
            covered += w
            continue
        tokens = tokens_of(h)
        if not tokens:
            result.missing.append(ident)
            continue
        legs = []
        for token in tokens:
            series = _path(window, token, days)
            if series is None and token in proxies:
                series = _path(window, proxies[token], days)
                if series is not None:
                    result.proxies[ident] = proxies[token]
                    used.add(proxies[token])
            elif series is not None:
                used.add(token)
            legs.append(series)
        if any(s is None for s in legs):
            result.missing.append(ident)
            continue
        rel = np.column_stack([s / s[0] for s in legs if s is not None])
        if h.kind == "liquidity" and rel.shape[1] > 1:
            path = np.exp(np.log(rel).mean(axis=1))  # constant-mean pool share
        else:
            path = rel.mean(axis=1)
        value += w * path
        covered += w
    cash = max(0.0, 1.0 - sum(weights.values()))
    value += cash
    covered += cash
    result.covered_weight = float(covered)
    if covered - cash <= 0 and sum(weights.values()) > 0:
        return result  # nothing invested could be replayed: no number
    v = value / covered
    in_window = [t for t, d in enumerate(days) if d <= episode.end]
    trough = int(np.argmin(v[in_window]))
    result.loss = float(min(0.0, v[trough] - 1.0))
    result.trough = days[trough]
    back = np.flatnonzero((np.arange(len(days)) > trough) & (v >= 1.0 - tolerance))
    if result.loss > -tolerance:
        result.recovery_days = 0
    elif back.size:
        result.recovery_days = int(back[0])
    result.status = "partial" if result.missing else "ok"
    if covered < MIN_COVERAGE:
        result.status = "partial"
    illus = (
        window.filter(
            pl.col("asset_id").is_in(sorted(used))
            & (pl.col("source") == SNAPSHOT_SOURCE)
            & pl.col("date").is_between(episode.start, episode.end)
        )
        if "source" in window.columns
        else window.clear()
    )
    result.illustrative = sorted(set(illus["asset_id"].to_list()))
    result.path = list(zip(days, (float(x) for x in v), strict=True))
    return result


def replay_all(
    weights: Mapping[str, float],
    info: Mapping[str, HoldingInfo],
    prices: pl.DataFrame,
    episodes: Sequence[StressEpisode] | None = None,
) -> list[EpisodeResult]:
    """Every episode (the packaged ones by default) replayed on ``weights``."""
    episodes = load_episodes() if episodes is None else episodes
    proxies = dependency_proxies()
    return [replay_episode(e, weights, info, prices, proxies=proxies) for e in episodes]
