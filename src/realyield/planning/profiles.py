"""Risk profiles and the three classic presets, read from packaged TOML.

Kept as data (``realyield/data/planning/``) so that what "moderate" means is published
and reviewable, not buried in code. Every invalid entry raises ``ConfigError`` naming
the file, the entry and the key.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from realyield.core.errors import ConfigError

WITHDRAWAL_RULES = ("fixed", "inflation-indexed", "percent", "guardrails")
RISK_LEVELS = ("conservative", "moderate", "aggressive")


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """What a risk level allows: a default mix, per-index ceilings and a CVaR budget."""

    name: str
    description: str
    allocation: Mapping[str, float]
    max_share: Mapping[str, float]
    cvar_budget: float  # CVaR 95% of 12-month returns, a loss counted positive
    success_threshold: float  # Monte Carlo success a sustainable plan reaches


@dataclass(frozen=True, slots=True)
class Preset:
    """One of the planner's classic scenarios (a goal, an allocation, a withdrawal plan)."""

    name: str
    title: str
    description: str
    capital: float
    income_per_year: float
    risk: str
    allocation: Mapping[str, float]
    start_in_years: float
    horizon_years: float
    withdrawal: str
    reinvest: float
    target_apy_range: tuple[float, float] | None = None
    age: float | None = None


def _load(name: str) -> dict[str, Any]:
    text = resources.files("realyield").joinpath("data", "planning", name).read_text("utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"planning/{name}: {exc}") from exc


def _fraction(where: str, key: str, value: Any, *, upper: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or not 0.0 <= x <= upper:
        raise ConfigError(f"{where}: {key} must be in [0, {upper:g}], got {value!r}")
    return x


#: the lowest success threshold a profile may set (issue: "at least 80%")
MIN_SUCCESS_THRESHOLD = 0.80


def _threshold(where: str, value: Any) -> float:
    x = _fraction(where, "success_threshold", value)
    if x < MIN_SUCCESS_THRESHOLD:
        raise ConfigError(
            f"{where}: success_threshold must be at least {MIN_SUCCESS_THRESHOLD:.0%}, got {x:.0%}"
        )
    return x


def check_allocation(where: str, raw: Any) -> dict[str, float]:
    """A mix across indices: non-negative fractions summing to 1 (to 1e-6).

    Raises:
        ConfigError: not a table of numbers, a negative or NaN share, or a sum not 1.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: allocation must be a non-empty table of index = share")
    out = {str(k): _fraction(where, f"allocation.{k}", v) for k, v in raw.items()}
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"{where}: allocation shares sum to {total:.6g}, not 1")
    return {k: v for k, v in out.items() if v > 0}


@functools.cache
def risk_profiles() -> dict[str, RiskProfile]:
    """The packaged risk profiles by name.

    Raises:
        ConfigError: the packaged file is invalid.
    """
    out = {}
    for name, entry in _load("profiles.toml").items():
        where = f"planning/profiles.toml [{name}]"
        alloc = check_allocation(where, entry.get("allocation"))
        caps = {
            str(k): _fraction(where, f"max_share.{k}", v)
            for k, v in dict(entry.get("max_share", {})).items()
        }
        over = [k for k, v in alloc.items() if v > caps.get(k, 0.0) + 1e-12]
        if over:
            raise ConfigError(f"{where}: the allocation exceeds max_share for {over}")
        if sum(caps.values()) < 1.0:
            raise ConfigError(f"{where}: max_share must allow a full allocation (sum >= 1)")
        out[name] = RiskProfile(
            name,
            str(entry.get("description", "")),
            alloc,
            caps,
            _fraction(where, "cvar_budget", entry.get("cvar_budget")),
            _threshold(where, entry.get("success_threshold")),
        )
    if set(out) != set(RISK_LEVELS):
        raise ConfigError(f"planning/profiles.toml must define exactly {RISK_LEVELS}")
    return out


def risk_profile(name: str) -> RiskProfile:
    """Raises: ConfigError: an unknown profile (the message lists the known ones)."""
    profiles = risk_profiles()
    if name not in profiles:
        raise ConfigError(f"unknown risk profile {name!r}; use one of {sorted(profiles)}")
    return profiles[name]


@functools.cache
def presets() -> dict[str, Preset]:
    """The packaged presets by name.

    Raises:
        ConfigError: the packaged file is invalid.
    """
    out = {}
    for name, e in _load("presets.toml").items():
        where = f"planning/presets.toml [{name}]"
        withdrawal = str(e.get("withdrawal", "fixed"))
        if withdrawal not in WITHDRAWAL_RULES:
            raise ConfigError(f"{where}: withdrawal must be one of {WITHDRAWAL_RULES}")
        risk = str(e.get("risk", "moderate"))
        if risk not in RISK_LEVELS:
            raise ConfigError(f"{where}: risk must be one of {RISK_LEVELS}")
        rng = e.get("target_apy_range")
        if rng is not None and (len(rng) != 2 or not 0 <= rng[0] <= rng[1]):
            raise ConfigError(f"{where}: target_apy_range must be [low, high] percent")
        out[name] = Preset(
            name=name,
            title=str(e.get("title", name)),
            description=str(e.get("description", "")),
            capital=_fraction(where, "capital", e.get("capital"), upper=1e12),
            income_per_year=_fraction(
                where, "income_per_year", e.get("income_per_year"), upper=1e12
            ),
            risk=risk,
            allocation=check_allocation(where, e.get("allocation")),
            start_in_years=_fraction(
                where, "start_in_years", e.get("start_in_years", 0), upper=100
            ),
            horizon_years=_fraction(where, "horizon_years", e.get("horizon_years", 30), upper=100),
            withdrawal=withdrawal,
            reinvest=_fraction(where, "reinvest", e.get("reinvest", 0.0)),
            target_apy_range=(float(rng[0]), float(rng[1])) if rng is not None else None,
            age=float(e["age"]) if "age" in e else None,
        )
    return out


def preset(name: str) -> Preset:
    """Raises: ConfigError: an unknown preset (the message lists the known ones)."""
    known = presets()
    if name not in known:
        raise ConfigError(f"unknown preset {name!r}; use one of {sorted(known)}")
    return known[name]
