"""A methodology sweep as data: which index, which rules vary, over what values.

A spec is a TOML file::

    index = "defi-yield"          # a packaged index, or a path to your own TOML
    search = "grid"               # grid: every combination; random: `samples` draws
    samples = 200                 # random search only
    seed = 7                      # the run's seed; each variant's derives from it
    start = "2022-07-01"          # optional window (default: the last 3 years stored)
    end = "2025-06-30"
    income = "compound"           # or "payout"

    [parameters]                  # dotted paths into the index definition
    "caps.single" = [0.05, 0.10, 0.15]
    "rebalance.schedule" = ["monthly", "quarterly"]
    "weighting.risk_aversion" = { low = 0.0, high = 1.0 }              # random only
    "eligibility.min_tvl_usd" = { low = 1e6, high = 1e8, log = true }  # random only

Why paths into the definition and not a list of knobs: every rule of the published
methodology (caps, screens, weighting, sleeves, rebalancing and costs) can be swept,
and every variant is validated by the same parser as a user's own index, so a variant
that breaks a rule is reported with the rule it breaks. ``eligibility.*`` paths also
change the sleeves that inherit the index-wide value. ``sleeves.N.weight`` addresses
the N-th sleeve (0-based).

Raises ``ConfigError`` naming the file and the key for anything malformed.
"""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from realyield.core.errors import ConfigError
from realyield.indices.methodology import (
    IndexDefinition,
    definition_to_dict,
    load_definition,
    packaged_definitions,
    parse_definition,
)
from realyield.scaleout.seeds import item_seed

SEARCHES = ("grid", "random")
MAX_VARIANTS = 1_000_000
_TOP_KEYS = {"index", "search", "samples", "seed", "start", "end", "income", "parameters"}


@dataclass(frozen=True)
class Parameter:
    """One swept rule: a list of ``values`` (grid or random choice), or a ``low``-``high``
    range drawn uniformly (log-uniformly with ``log``; rounded with ``integer``)."""

    path: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator) -> Any:
        if self.values:
            return self.values[int(rng.integers(len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.log:
            x = float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        else:
            x = float(rng.uniform(self.low, self.high))
        return round(x) if self.integer else x


@dataclass(frozen=True)
class Variant:
    """One methodology variant: its number in the run, its own seed and its rules."""

    number: int
    seed: int
    params: dict[str, Any]

    def definition(self, base: Mapping[str, Any]) -> IndexDefinition:
        """The base definition (as ``definition_to_dict`` data) with this variant's
        values set and validated.

        Raises:
            ConfigError: a path that does not exist, or a variant that breaks a rule.
        """
        data = copy.deepcopy(dict(base))
        for path, value in self.params.items():
            set_path(data, path, value)
        return parse_definition(data, source=f"variant {self.number}")


@dataclass(frozen=True)
class SweepSpec:
    index: str
    base: IndexDefinition
    parameters: tuple[Parameter, ...]
    search: str = "grid"
    samples: int = 0
    seed: int = 0
    start: date | None = None
    end: date | None = None
    income: str = "compound"
    source: str = ""
    registry: dict[str, IndexDefinition] = field(default_factory=dict)

    def variants(self) -> list[Variant]:
        """Every variant of the run, numbered from 0; the same list on every call and
        machine (random draws come from each variant's own seed)."""
        out = []
        if self.search == "grid":
            grids = [p.values for p in self.parameters]
            for n, combo in enumerate(itertools.product(*grids)):
                params = {p.path: v for p, v in zip(self.parameters, combo, strict=True)}
                out.append(Variant(n, item_seed(self.seed, n), params))
        else:
            for n in range(self.samples):
                seed = item_seed(self.seed, n)
                rng = np.random.default_rng(seed)
                out.append(Variant(n, seed, {p.path: p.draw(rng) for p in self.parameters}))
        return out


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` of definition data (list items by number).

    ``eligibility.KEY`` also updates every sleeve that inherited the index-wide value.

    Raises:
        ConfigError: a path whose parent does not exist in the definition.
    """
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"parameter {path!r}: {where} is not an item of the list")
            node = node[int(part)]
        elif isinstance(node, dict) and isinstance(node.get(part), (dict, list)):
            node = node[part]
        else:
            raise ConfigError(
                f"parameter {path!r}: the index definition has no table {where!r} "
                "(see docs/methodology.md for the rules, or `realyield index NAME --json`)"
            )
    if not isinstance(node, dict):
        raise ConfigError(f"parameter {path!r}: {'.'.join(parts[:-1])} is a list, not a table")
    key = parts[-1]
    if len(parts) == 2 and parts[0] == "eligibility":
        old = node.get(key)
        for sleeve in data.get("sleeves") or []:
            own = sleeve.get("eligibility")
            if isinstance(own, dict) and own.get(key) == old:
                own[key] = value
    node[key] = value


def _parameter(path: str, raw: Any, search: str, where: str) -> Parameter:
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: parameters.{path!r} lists no values")
        return Parameter(path, tuple(raw))
    if isinstance(raw, dict):
        if search != "random":
            raise ConfigError(
                f'{where}: parameters.{path!r} is a range; ranges need search = "random" '
                "(a grid needs a list of values)"
            )
        unknown = set(raw) - {"low", "high", "log", "integer"}
        if unknown:
            raise ConfigError(f"{where}: parameters.{path!r} has unknown keys {sorted(unknown)}")
        try:
            low, high = float(raw["low"]), float(raw["high"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where}: parameters.{path!r} needs numeric low and high ({exc})"
            ) from exc
        log = bool(raw.get("log", False))
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ConfigError(f"{where}: parameters.{path!r} needs finite low <= high")
        if log and low <= 0:
            raise ConfigError(f"{where}: parameters.{path!r} with log = true needs low > 0")
        return Parameter(path, (), low, high, log, bool(raw.get("integer", False)))
    raise ConfigError(
        f"{where}: parameters.{path!r} must be a list of values or a {{low, high}} range, "
        f"not {raw!r}"
    )


def _day(raw: Any, key: str, where: str) -> date | None:
    if raw is None:
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} = {raw!r} is not a YYYY-MM-DD date") from exc


def parse_spec(data: Mapping[str, Any], *, source: str = "sweep spec") -> SweepSpec:
    """A validated spec from parsed TOML.

    Raises:
        ConfigError: unknown keys, an unknown index, malformed parameters, or a run
            with no variants or more than ``MAX_VARIANTS``.
    """
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    registry = packaged_definitions()
    index = str(data.get("index", ""))
    if not index:
        raise ConfigError(f"{source}: `index` is missing (a packaged index or a TOML path)")
    if index in registry:
        base = registry[index]
    elif index.endswith(".toml"):
        path = Path(index)
        if not path.is_absolute() and source.endswith(".toml"):
            path = Path(source).parent / path
        base = load_definition(path)
        registry[base.name] = base
    else:
        raise ConfigError(f"{source}: unknown index {index!r}; known: {sorted(registry)}")
    search = str(data.get("search", "grid"))
    if search not in SEARCHES:
        raise ConfigError(f"{source}: search = {search!r}; use one of {SEARCHES}")
    try:
        samples, seed = int(data.get("samples", 0)), int(data.get("seed", 0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: samples and seed must be integers ({exc})") from exc
    if seed < 0:
        raise ConfigError(f"{source}: seed must be >= 0, got {seed}")
    raw_params = data.get("parameters", {})
    if not isinstance(raw_params, dict) or not raw_params:
        raise ConfigError(f"{source}: [parameters] must list at least one rule to vary")
    params = tuple(_parameter(str(k), v, search, source) for k, v in raw_params.items())
    base_data = definition_to_dict(base)
    probe: dict[str, Any] = copy.deepcopy(base_data)
    for p in params:  # a wrong path fails now, not in every variant on the cluster
        set_path(probe, p.path, p.values[0] if p.values else p.low)
    if search == "grid":
        count = math.prod(len(p.values) for p in params)
    else:
        if samples < 1:
            raise ConfigError(f"{source}: a random search needs samples >= 1")
        count = samples
    if count > MAX_VARIANTS:
        raise ConfigError(f"{source}: {count:,} variants is more than {MAX_VARIANTS:,}")
    income = str(data.get("income", "compound"))
    start, end = _day(data.get("start"), "start", source), _day(data.get("end"), "end", source)
    if start and end and end <= start:
        raise ConfigError(f"{source}: end {end} is not after start {start}")
    return SweepSpec(
        index=base.name,
        base=base,
        parameters=params,
        search=search,
        samples=samples,
        seed=seed,
        start=start,
        end=end,
        income=income,
        source=source,
        registry=registry,
    )


def load_spec(path: Path | str) -> SweepSpec:
    """Read a sweep spec TOML file.

    Raises:
        ConfigError: the file cannot be read, is not TOML, or is invalid.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the sweep spec ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return parse_spec(data, source=str(path))
