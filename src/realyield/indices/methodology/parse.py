"""TOML tables -> rule records, refusing unknown keys and naming every bad value's path.

The records check ranges and choices themselves; this layer checks the shape (tables
where tables belong, no unknown or missing keys), resolves sleeve eligibility (a
sleeve's table lists only what it changes from the index's) and puts the table path
in front of every error, so ``caps.single`` or ``sleeves[1].weight`` reaches the user.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from realyield.core.errors import ConfigError
from realyield.indices.methodology.definition import IndexDefinition
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
    field_names,
)
from realyield.indices.methodology.rules import MISSING, RuleError

T = TypeVar("T")
_Nested = Mapping[str, Callable[[Any, str], Any]]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _table(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(path, value, "must be a table")
    return dict(value)


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _required(cls: type) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _build(cls: type[T], value: Any, path: str, nested: _Nested | None = None) -> T:
    """Construct ``cls`` from the table ``value`` found at ``path``."""
    data = _table(value, path)
    allowed = field_names(cls)
    for key, item in data.items():
        if key not in allowed:
            where = f"[{path}]" if path else "the top level"
            raise RuleError(
                _join(path, key), item, f"unknown key; allowed in {where}: {', '.join(allowed)}"
            )
    for key in _required(cls):
        if key not in data or data[key] is None:
            raise RuleError(_join(path, key), MISSING, "required")
    nested = nested or {}
    kwargs = {
        k: (nested[k](v, _join(path, k)) if k in nested else _plain(v)) for k, v in data.items()
    }
    try:
        return cls(**kwargs)
    except RuleError as exc:
        raise exc.under(path) from None


def _optional(cls: type[T], nested: _Nested | None = None) -> Callable[[Any, str], T | None]:
    def build(value: Any, path: str) -> T | None:
        return None if value is None else _build(cls, value, path, nested)

    return build


def _array(value: Any, path: str) -> list[Any]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, Mapping) for v in value):
        raise RuleError(path, value, "must be an array of tables ([[...]] blocks)")
    return list(value)


def parse_definition(data: Mapping[str, Any], *, source: str = "") -> IndexDefinition:
    """Build an ``IndexDefinition`` from parsed TOML (or ``definition_to_dict`` output).

    Raises:
        RuleError: (a ``ConfigError``) naming ``source``, the key path, the value and
            what is allowed: unknown or missing keys, wrong types, out-of-range numbers,
            unknown choices, or rules that contradict each other.
    """
    try:
        top = _table(data, "")
        index_rules = top.get("eligibility", {})
        base = dict(index_rules) if isinstance(index_rules, Mapping) else {}

        def sleeves(value: Any, path: str) -> tuple[Sleeve, ...]:
            out = []
            for i, item in enumerate(_array(value, path)):
                where = f"{path}[{i}]"
                own = _table(item.get("eligibility", {}), f"{where}.eligibility")
                merged = {**base, **own}
                out.append(
                    _build(
                        Sleeve,
                        {**item, "eligibility": merged},
                        where,
                        {"eligibility": lambda v, p: _build(Eligibility, v, p)},
                    )
                )
            return tuple(out)

        def components(value: Any, path: str) -> tuple[Component, ...]:
            return tuple(
                _build(Component, item, f"{path}[{i}]")
                for i, item in enumerate(_array(value, path))
            )

        return _build(
            IndexDefinition,
            top,
            "",
            {
                "eligibility": lambda v, p: _build(Eligibility, v, p),
                "caps": lambda v, p: _build(Caps, v, p),
                "weighting": lambda v, p: _build(Weighting, v, p),
                "rebalance": lambda v, p: _build(
                    Rebalance, v, p, {"costs": lambda c, q: _build(Costs, c, q)}
                ),
                "sleeves": sleeves,
                "components": components,
                "basket": _optional(Basket),
                "staking": _optional(StakingRoutes),
                "regime": _optional(RegimeFilter),
            },
        )
    except RuleError as exc:
        raise (exc.in_file(source) if source else exc) from None


def parse_toml(text: str, *, source: str) -> IndexDefinition:
    """Parse the text of an index TOML file; ``source`` names it in errors.

    Raises:
        ConfigError: not valid TOML, or any rule problem (a ``RuleError``, see
            ``parse_definition``).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc}); fix the file") from None
    return parse_definition(data, source=source)
