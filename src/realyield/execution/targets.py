"""Target weights for an exchange account: from ``BASE=weight`` options, a TOML file, or an
index's constituents mapped to the coins an exchange sells.

An index holds opportunities (a lending market, an LST, a pool), not exchange
balances. On an exchange the account can only hold the coins underneath, so an index
becomes coin weights: each constituent's weight is split equally over its underlying
assets; a liquid staking token counts as its chain's coin (it is bought as that coin
and staked outside the exchange); a USD stablecoin counts as cash (the quote
currency). Depositing into protocols stays the user's step: realyield never moves
funds off the exchange.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy import Engine

from realyield.core.errors import ConfigError
from realyield.indices.composition import IndexComposition
from realyield.reference.pegs import recognise


def parse_target(text: str) -> tuple[str, float]:
    """``BTC=0.4`` or ``BTC=40%`` -> ("BTC", 0.4).

    Raises:
        ConfigError: not ``SYMBOL=WEIGHT``, or a weight that is not a number.
    """
    name, sep, raw = text.partition("=")
    name, raw = name.strip().upper(), raw.strip()
    if not sep or not name or not raw:
        raise ConfigError(f"--target {text!r}: write SYMBOL=WEIGHT, e.g. BTC=0.4 or BTC=40%")
    try:
        weight = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"--target {text!r}: {raw!r} is not a number") from None
    return name, weight


def parse_targets(items: Iterable[str]) -> dict[str, float]:
    """Several ``SYMBOL=WEIGHT`` items (repeated symbols are an error)."""
    out: dict[str, float] = {}
    for item in items:
        name, weight = parse_target(item)
        if name in out:
            raise ConfigError(f"--target {name} given twice")
        out[name] = weight
    return out


def load_targets(path: Path) -> dict[str, float]:
    """Targets from a TOML file with a ``[targets]`` table of ``SYMBOL = weight``.

    Raises:
        ConfigError: missing/invalid file or table.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read targets ({exc})") from exc
    table = data.get("targets")
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{path}: expected a [targets] table of SYMBOL = weight")
    out: dict[str, float] = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: targets.{key} = {value!r} is not a number")
        out[str(key).upper()] = float(value)
    return out


def coin_weights(
    composition: IndexComposition, symbols: Mapping[str, str]
) -> tuple[dict[str, float], list[str]]:
    """Coin weights (exchange symbol -> weight) for an index, and notes on the mapping.

    ``symbols`` maps asset ids to ticker symbols (the assets table). Stablecoin weight
    is left out (it stays in the quote currency); ids without a known symbol are left
    out too and named in the notes.
    """
    weights: dict[str, float] = {}
    cash = 0.0
    unknown: set[str] = set()
    lst_notes: set[str] = set()
    for c in composition.constituents:
        parts = c.underlying or ()
        if not parts:
            unknown.add(c.id)
            continue
        share = c.weight / len(parts)
        for asset_id in parts:
            peg = recognise(asset_id, symbols.get(asset_id))
            if peg is not None and peg.kind == "stablecoin":
                cash += share
                continue
            target = asset_id
            if peg is not None and peg.kind == "lst" and peg.reference_id:
                target = peg.reference_id
                lst_notes.add(f"{symbols.get(asset_id, asset_id)} -> {symbols.get(target, target)}")
            symbol = symbols.get(target)
            if symbol is None:
                unknown.add(target)
                continue
            weights[symbol.upper()] = weights.get(symbol.upper(), 0.0) + share
    notes = [f"stablecoin weight {cash:.1%} stays in the quote currency"] if cash else []
    if lst_notes:
        notes.append(
            "liquid staking tokens are bought as their coin (stake them yourself): "
            + ", ".join(sorted(lst_notes))
        )
    if unknown:
        notes.append(f"left out (no ticker symbol known): {', '.join(sorted(unknown))}")
    return weights, notes


def index_targets(
    engine: Engine, name: str, *, home: Path | None = None
) -> tuple[dict[str, float], list[str]]:
    """Coin weights for an exchange account from index ``name`` (see ``coin_weights``)."""
    from realyield.indices.service import index_named
    from realyield.universe.repository import load_assets

    symbols = {a.id: a.symbol for a in load_assets(engine)}
    return coin_weights(index_named(engine, name, home=home), symbols)
