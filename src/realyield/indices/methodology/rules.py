"""Vocabulary and field checks shared by the index-rule records and their parser.

Every check raises ``RuleError`` (a ``ConfigError``) naming the key, the value and what
is allowed; the parser prefixes the table path (``caps.single``) and the file, so a
user reading the message knows exactly which line of their TOML to fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Final

from realyield.core.errors import ConfigError
from realyield.core.model import ASSET_CATEGORIES, OPPORTUNITY_KINDS
from realyield.reference.staking import STAKING_ROUTES

FAMILIES: Final = (
    "large-cap-staking",
    "defi-yield",
    "balanced",
    "growth",
    "stablecoin-income",
    "custom",
)
WEIGHTING_METHODS: Final = ("market_cap", "risk_adjusted_yield", "equal", "fixed")
BASKET_WEIGHTINGS: Final = ("market_cap", "equal")
YIELD_FIELDS: Final = ("apy_sustainable", "forecast_apy_30d")
#: The prefixes of the dependency keys that ``scoring.dependencies`` exposes.
DEPENDENCY_PREFIXES: Final = ("protocol", "chain", "issuer", "reward", "bridge")
SCHEDULES: Final = ("monthly", "quarterly")
REGIME_SIGNALS: Final = ("sma",)
#: Nothing above this APY (percent) may enter any index.
APY_CEILING: Final = 100.0
#: Weights that must sum to 1 may miss by this much (TOML decimals are not exact).
SUM_TOLERANCE: Final = 1e-6

__all__ = [
    "APY_CEILING",
    "ASSET_CATEGORIES",
    "BASKET_WEIGHTINGS",
    "DEPENDENCY_PREFIXES",
    "FAMILIES",
    "OPPORTUNITY_KINDS",
    "REGIME_SIGNALS",
    "SCHEDULES",
    "STAKING_ROUTES",
    "SUM_TOLERANCE",
    "WEIGHTING_METHODS",
    "YIELD_FIELDS",
    "RuleError",
]

_SLUG: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION: Final = re.compile(r"^\d+\.\d+(?:\.\d+)?$")


class _Marker:
    """Stands for a value that cannot be shown: an absent key, or a whole table."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


MISSING: Final = _Marker("<missing>")
TABLE: Final = _Marker("<table>")


class RuleError(ConfigError):
    """An index rule is invalid.

    ``key`` is the dotted TOML path (``caps.single``, ``sleeves[1].weight``), ``value``
    what was given (``MISSING`` for an absent key), ``problem`` what is allowed, and
    ``source`` the file (empty for rules built in code).
    """

    def __init__(self, key: str, value: Any, problem: str, *, source: str = "") -> None:
        self.key = key
        self.value = value
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        shown = "is missing" if value is MISSING else f"= {value!r}"
        super().__init__(f"{where}{key or '(top level)'} {shown}: {problem}")

    def under(self, prefix: str) -> RuleError:
        """The same error with its key placed under the table ``prefix``."""
        key = ".".join(p for p in (prefix, self.key) if p)
        return RuleError(key, self.value, self.problem, source=self.source)

    def in_file(self, source: str) -> RuleError:
        """The same error naming the file it came from."""
        return RuleError(self.key, self.value, self.problem, source=source)


def text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(name, value, "must be a non-empty string")
    return value


def slug(name: str, value: object) -> str:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise RuleError(name, value, "must be a slug: lower-case letters and digits joined by '-'")
    return value


def version(name: str, value: object) -> str:
    if not isinstance(value, str) or not _VERSION.match(value):
        raise RuleError(name, value, "must be a version like '1.0' or '1.2.0'")
    return value


def choice(name: str, value: object, allowed: Collection[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise RuleError(name, value, f"must be one of {', '.join(allowed)}")
    return value


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise RuleError(name, value, "must be true or false")
    return value


def number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite number within ``[low, high]`` (an end is excluded when ``*_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError(name, value, "must be a number")
    if not math.isfinite(value):
        raise RuleError(name, value, "must be finite (NaN/Infinity are not values)")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise RuleError(name, value, f"must be in {left}{lo}, {hi}{right}")
    return float(value)


def optional_number(
    name: str, value: object, low: float | None = None, high: float | None = None
) -> float | None:
    return None if value is None else number(name, value, low, high)


def fraction(name: str, value: object) -> float:
    """A weight or cap: a fraction in (0, 1]."""
    return number(name, value, 0.0, 1.0, low_open=True)


def integer(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(name, value, "must be a whole number")
    if value < low or (high is not None and value > high):
        raise RuleError(name, value, f"must be in [{low}, {high if high is not None else 'inf'}]")
    return value


def texts(
    name: str,
    value: object,
    allowed: Collection[str] | None = None,
    *,
    nonempty: bool = False,
) -> tuple[str, ...]:
    """A list of distinct non-empty strings, each in ``allowed`` when given."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise RuleError(name, value, "must be a list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise RuleError(name, value, f"item {item!r} is not a non-empty string")
        if allowed is not None and item not in allowed:
            raise RuleError(name, value, f"item {item!r} is not one of {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise RuleError(name, value, "lists an item twice")
    if nonempty and not value:
        raise RuleError(name, value, "must list at least one item")
    return tuple(value)


class FrozenMap(Mapping[str, float]):
    """A read-only table of a rule. Not ``MappingProxyType``: definitions travel to
    worker processes (sweeps), and a mapping proxy cannot be pickled."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, float]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> float:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def number_map(
    name: str,
    value: object,
    *,
    keys: Collection[str] | None = None,
    low: float = 0.0,
    high: float | None = None,
    low_open: bool = False,
) -> Mapping[str, float]:
    """A table of numbers keyed by text (read-only); keys limited to ``keys`` if given."""
    if not isinstance(value, Mapping):
        raise RuleError(name, value, "must be a table of numbers")
    out: dict[str, float] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            raise RuleError(name, key, "keys must be non-empty strings")
        if keys is not None and key not in keys:
            raise RuleError(f"{name}.{key}", item, f"unknown key; allowed: {', '.join(keys)}")
        out[key] = number(f"{name}.{key}", item, low, high, low_open=low_open)
    return FrozenMap(out)


def sums_to_one(name: str, weights: Collection[float]) -> None:
    total = math.fsum(weights)
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise RuleError(name, list(weights), f"weights sum to {total:.6g}; they must sum to 1")
