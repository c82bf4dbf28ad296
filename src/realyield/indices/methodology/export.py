"""Rule records -> plain data: a JSON-ready dict, and TOML a user can edit and load back.

``parse_definition(definition_to_dict(d)) == d`` and
``load_definition`` of ``definition_to_toml(d)`` gives ``d`` back, so a packaged index
is a starting point for a user's own.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from realyield.indices.methodology.definition import IndexDefinition

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


#: The order a reader meets the rules in (the order of docs/methodology.md).
_ORDER = (
    "name",
    "title",
    "family",
    "version",
    "description",
    "eligibility",
    "caps",
    "weighting",
    "sleeves",
    "components",
    "basket",
    "staking",
    "regime",
    "rebalance",
)


def definition_to_dict(definition: IndexDefinition) -> dict[str, Any]:
    """Every rule as JSON-ready data: tables as dicts, lists as lists, ``None`` for off."""
    data: dict[str, Any] = _plain(definition)
    return {key: data[key] for key in _ORDER if key in data}


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as a TOML value")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(lines: list[str], path: str, table: Mapping[str, Any]) -> None:
    # None and empty lists/tables are the defaults ("not set"): leave them out.
    items = [(k, v) for k, v in table.items() if v is not None and v != [] and v != {}]
    for key, value in items:
        if isinstance(value, dict) or _is_table_array(value):
            continue
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in items:
        name = f"{path}.{_key(key)}" if path else _key(key)
        if isinstance(value, dict):
            lines += ["", f"[{name}]"]
            _emit(lines, name, value)
        elif _is_table_array(value):
            for item in value:
                lines += ["", f"[[{name}]]"]
                _emit(lines, name, item)


def definition_to_toml(definition: IndexDefinition) -> str:
    """The definition as a TOML document in the format ``load_definition`` reads.

    Rules left at "not set" (``None``, empty lists and tables) are left out.
    """
    lines: list[str] = [f"# {definition.title}, methodology version {definition.version}"]
    _emit(lines, "", definition_to_dict(definition))
    return "\n".join(lines) + "\n"
