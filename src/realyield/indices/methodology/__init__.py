"""Index methodologies as data: the published rules of every index, read from TOML.

An index is a set of rules, not code: who may enter (``Eligibility``), how weights are
set (``Weighting``), how concentrated it may get (``Caps``, including caps on shared
dependencies such as one protocol, chain, stablecoin issuer, reward token or bridge),
its ``Sleeve``s, its ``Component``s when it is a composite, how Large-Cap Staking picks a
staking route (``StakingRoutes``), the growth trend filter (``RegimeFilter``), and when
and at what cost it trades (``Rebalance``). The packaged indices live in
``realyield/data/indices/*.toml``; a user's own index is a TOML file with the same
rules, loaded by ``load_definition``. ``docs/methodology.md`` publishes what each rule
means. Every invalid rule raises ``ConfigError`` naming the file, the key and the value.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from realyield.core.errors import ConfigError
from realyield.indices.methodology.definition import IndexDefinition
from realyield.indices.methodology.describe import describe_rules
from realyield.indices.methodology.export import definition_to_dict, definition_to_toml
from realyield.indices.methodology.parse import parse_definition, parse_toml
from realyield.indices.methodology.records import (
    Basket,
    Caps,
    Component,
    Costs,
    Eligibility,
    Rebalance,
    RegimeFilter,
    Sleeve,
    StakingRoutes,
    Weighting,
)
from realyield.indices.methodology.rules import (
    DEPENDENCY_PREFIXES,
    FAMILIES,
    SCHEDULES,
    WEIGHTING_METHODS,
    YIELD_FIELDS,
    RuleError,
)

__all__ = [
    "DEPENDENCY_PREFIXES",
    "FAMILIES",
    "PACKAGED_DIR",
    "SCHEDULES",
    "WEIGHTING_METHODS",
    "YIELD_FIELDS",
    "Basket",
    "Caps",
    "Component",
    "Costs",
    "Eligibility",
    "IndexDefinition",
    "Rebalance",
    "RegimeFilter",
    "RuleError",
    "Sleeve",
    "StakingRoutes",
    "Weighting",
    "check_references",
    "definition",
    "definition_to_dict",
    "definition_to_toml",
    "describe_rules",
    "load_definition",
    "packaged_definitions",
    "parse_definition",
]

#: Where the packaged definitions live inside the ``realyield`` package.
PACKAGED_DIR = ("data", "indices")


def _cycle(start: str, registry: Mapping[str, IndexDefinition]) -> list[str] | None:
    """A chain of references from ``start`` back to an index already on the path."""

    def walk(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path, name]
        if name not in registry:
            return None
        for ref in registry[name].references:
            found = walk(ref, [*path, name])
            if found:
                return found
        return None

    return walk(start, [])


def check_references(
    defn: IndexDefinition, registry: Mapping[str, IndexDefinition], *, source: str = ""
) -> None:
    """Check what ``defn`` says about other indices against the ``registry`` of them.

    Every component index and regime fallback must exist; a composite's largest
    possible holding (component weight x that component's single cap) must fit under
    its own single cap, its minimum weight (as a share of each component) under each
    component's single cap, its components' minimum counts must reach its minimum; a
    basket's ``staking_routes`` must name an index with ``[staking]`` rules; and no
    index may hold itself through others.

    Raises:
        RuleError: naming ``source``, the key (``components[1].index``...) and the value.
    """
    known = {**registry, defn.name: defn}
    refs = [(f"components[{i}]", c) for i, c in enumerate(defn.components)]
    targets = [(f"{key}.index", c.index) for key, c in refs if c.index is not None]
    if defn.regime is not None:
        targets.append(("regime.fallback", defn.regime.fallback))
    routes = [(f"{key}.staking_routes", c.staking_routes) for key, c in refs if c.staking_routes]
    for key, name in targets + routes:
        if name not in known:
            raise RuleError(
                key, name, f"unknown index; known: {', '.join(sorted(known))}", source=source
            )
    for key, name in routes:
        if known[name].staking is None:
            raise RuleError(key, name, "must name an index with [staking] rules", source=source)
    counted = 0
    floor = defn.weighting.min_weight
    for key, comp in refs:
        single = comp.max_single if comp.index is None else known[comp.index].caps.single
        if floor / comp.weight > single + 1e-9:
            raise RuleError(
                "weighting.min_weight",
                floor,
                f"is {floor / comp.weight:.4g} of component {comp.name}, above the "
                f"{single:g} its single cap allows",
                source=source,
            )
        if comp.index is None:
            counted += len(comp.assets)
            continue
        other = known[comp.index].caps
        counted += other.min_constituents
        if comp.weight * other.single > defn.caps.single + 1e-9:
            raise RuleError(
                f"{key}.weight",
                comp.weight,
                f"x {comp.index}'s single cap {other.single:g} exceeds caps.single "
                f"{defn.caps.single:g}",
                source=source,
            )
    if refs and counted < defn.caps.min_constituents:
        raise RuleError(
            "caps.min_constituents",
            defn.caps.min_constituents,
            f"the components guarantee only {counted} holdings",
            source=source,
        )
    cycle = _cycle(defn.name, known)
    if cycle:
        raise RuleError(
            targets[0][0],
            targets[0][1],
            f"indices refer to each other in a loop: {' -> '.join(cycle)}",
            source=source,
        )


def load_definition(
    path: Path | str, *, known: Mapping[str, IndexDefinition] | None = None
) -> IndexDefinition:
    """Read a user's own index definition from a TOML file.

    References to other indices may name packaged indices or those in ``known``.

    Raises:
        ConfigError: the file cannot be read or is not TOML, or a rule is invalid (the
            message names the file, the key and the value, and says what is allowed).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the index definition ({exc})") from exc
    defn = parse_toml(text, source=str(path))
    check_references(defn, {**packaged_definitions(), **(known or {})}, source=str(path))
    return defn


@functools.lru_cache(maxsize=1)
def _packaged() -> Mapping[str, IndexDefinition]:
    folder = resources.files("realyield").joinpath(*PACKAGED_DIR)
    out: dict[str, IndexDefinition] = {}
    sources: dict[str, str] = {}
    try:
        entries = sorted(folder.iterdir(), key=lambda e: e.name)
        texts = [
            (e.name, e.read_text(encoding="utf-8")) for e in entries if e.name.endswith(".toml")
        ]
    except OSError as exc:
        raise ConfigError(f"packaged index definitions are missing ({exc}); reinstall") from exc
    for filename, text in texts:
        source = "realyield/" + "/".join((*PACKAGED_DIR, filename))
        defn = parse_toml(text, source=source)
        if defn.name != filename.removesuffix(".toml"):
            raise RuleError(
                "name", defn.name, f"must match the file name {filename}", source=source
            )
        out[defn.name] = defn
        sources[defn.name] = source
    if not out:
        raise ConfigError("no packaged index definitions found; reinstall realyield")
    for name, defn in out.items():
        check_references(defn, out, source=sources[name])
    return MappingProxyType(out)


def packaged_definitions() -> dict[str, IndexDefinition]:
    """The indices shipped with realyield, by name (parsed once, then cached).

    Raises:
        ConfigError: a packaged file is missing or invalid (a broken install).
    """
    return dict(_packaged())


def definition(name: str) -> IndexDefinition:
    """The packaged index called ``name``.

    Raises:
        ConfigError: no such index; the message lists the valid names.
    """
    found = _packaged()
    if name not in found:
        raise ConfigError(f"unknown index {name!r}; valid names: {', '.join(sorted(found))}")
    return found[name]
