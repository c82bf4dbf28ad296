"""Asset and protocol aliases: the names other sources use, mapped to realyield's ids.

Why a table: price files, trackers and exchanges name the same asset or protocol in
their own ways (a CoinGecko export stores BNB as ``bnb.csv`` with coin name ``BNB``,
while CoinGecko's id, which the universe uses, is ``binancecoin``; a tracker calls Aave
v3 ``AAVEV3`` where DeFiLlama says ``aave-v3``). Linking them by similarity would
sometimes link the wrong coin, and a wrong price is worse than none, so every link is
a dated row of ``realyield/reference/data/aliases.csv`` that names its evidence::

    kind,alias,canonical_id,source,as_of,notes
    asset,bnb,binancecoin,"CoinGecko daily export: file bnb.csv, coin_name BNB",2023-08-28,...

Public names:

* ``canonical_asset(name) -> str | None``: a CoinGecko id for an asset name. In order:
  an ``asset`` alias row (case-insensitive); a known id (an alias target, an
  ``asset_id`` of tokens.csv or of the staking table) as itself; a token symbol of
  tokens.csv, exactly as listed (``ETH`` -> ``ethereum``). Anything else gives ``None``.
* ``canonical_protocol(name) -> str | None``: a protocol slug (DeFiLlama's) for a
  protocol name: a ``protocol`` alias row, or a slug of protocols.csv as itself. A
  DeFiLlama slug the table does not list yet is unknown here too (``None``); importers
  of DeFiLlama's own data keep its slugs as they are.
* ``unknown_name_hint(kind, name) -> str``: the message for a name that did not
  resolve, naming the row to add. Callers report it; they never guess.
* ``load_aliases(path=None)`` and ``parse_aliases(lines)``: the table itself, keyed by
  ``(kind, alias.lower())``; ``Alias`` is one row.

Raises:
    DataError: (loading and every lookup) the packaged table is missing or malformed;
        ``RecordError`` names the file, the row and the field.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final

from realyield.core.errors import DataError, RecordError
from realyield.reference.loading import load_protocols, load_tokens
from realyield.reference.staking import load_staking_params

ALIASES_FILE: Final = "aliases.csv"
ALIAS_COLUMNS: Final = ("kind", "alias", "canonical_id", "source", "as_of", "notes")
ALIAS_KINDS: Final = ("asset", "protocol")
_ID: Final = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


@dataclass(frozen=True, slots=True)
class Alias:
    """One name another source uses (``alias``) for one of realyield's ids.

    Raises:
        RecordError: on an unknown kind, an empty or padded alias, a canonical id that
            is not a lower-case slug, an empty source or a non-date ``as_of``.
    """

    kind: str
    alias: str
    canonical_id: str
    source: str
    as_of: date
    notes: str = ""

    def __post_init__(self) -> None:
        rec = f"Alias[{self.kind}:{self.alias!r}]"
        if self.kind not in ALIAS_KINDS:
            raise RecordError(rec, "kind", self.kind, f"unknown kind; use one of {ALIAS_KINDS}")
        if not isinstance(self.alias, str) or not self.alias or self.alias != self.alias.strip():
            raise RecordError(rec, "alias", self.alias, "must be a name without outer spaces")
        if not isinstance(self.canonical_id, str) or not _ID.match(self.canonical_id):
            raise RecordError(
                rec, "canonical_id", self.canonical_id, "must be a lower-case id (binancecoin)"
            )
        if not isinstance(self.source, str) or not self.source.strip():
            raise RecordError(rec, "source", self.source, "must name where the link comes from")
        if not isinstance(self.as_of, date):
            raise RecordError(rec, "as_of", self.as_of, "must be a date")


def _row(where: str, raw: Mapping[str, str]) -> Alias:
    as_of_text = raw["as_of"].strip()
    try:
        as_of = date.fromisoformat(as_of_text)
    except ValueError:
        raise RecordError(where, "as_of", as_of_text, "must be an ISO date (YYYY-MM-DD)") from None
    try:
        return Alias(
            kind=raw["kind"].strip(),
            alias=raw["alias"].strip(),
            canonical_id=raw["canonical_id"].strip(),
            source=raw["source"].strip(),
            as_of=as_of,
            notes=raw["notes"].strip(),
        )
    except RecordError as exc:
        raise RecordError(where, exc.field, exc.value, exc.problem) from exc


def parse_aliases(
    lines: Iterable[str], *, name: str = ALIASES_FILE
) -> dict[tuple[str, str], Alias]:
    """Parse the alias table from CSV lines, keyed by ``(kind, alias.lower())``.

    Rows are numbered as in a spreadsheet (the header is row 1).

    Raises:
        DataError: on a missing column, a row with too few or too many values, an
            alias listed twice for a kind (case-insensitively), an alias that is another
            row's canonical id (it would shadow that id), or an empty table.
        RecordError: (a DataError) naming the file, the row and the field.
    """
    reader = csv.DictReader(lines)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    reader.fieldnames = list(header)
    missing = [c for c in ALIAS_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{name}: header lacks column(s) {missing}; expected {list(ALIAS_COLUMNS)}")
    out: dict[tuple[str, str], Alias] = {}
    rows: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(reader, start=2):
        where = f"{name} row {number}"
        if any(raw.get(c) is None for c in ALIAS_COLUMNS):
            raise DataError(f"{where}: too few values ({len(raw)} for {len(header)} columns)")
        if None in raw:
            raise DataError(f"{where}: more values than columns (an unquoted comma?)")
        alias = _row(where, raw)
        key = (alias.kind, alias.alias.lower())
        if key in out:
            raise DataError(f"{where}: duplicates row {rows[key]} ({alias.kind} {alias.alias!r})")
        out[key] = alias
        rows[key] = number
    if not out:
        raise DataError(f"{name}: no rows")
    targets = {(a.kind, a.canonical_id): a for a in out.values()}
    for key, alias in out.items():
        other = targets.get(key)
        if other is not None and other.canonical_id != alias.canonical_id:
            raise DataError(
                f"{name} row {rows[key]}: alias {alias.alias!r} is the canonical id of "
                f"another {alias.kind} ({other.alias!r} -> {other.canonical_id!r}); "
                "an alias must not shadow an id"
            )
    return out


@functools.lru_cache(maxsize=1)
def _packaged() -> Mapping[tuple[str, str], Alias]:
    resource = resources.files("realyield.reference").joinpath("data", ALIASES_FILE)
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"packaged {ALIASES_FILE} is missing ({exc}); reinstall realyield") from exc
    return MappingProxyType(parse_aliases(io.StringIO(text, newline=""), name=ALIASES_FILE))


def load_aliases(path: Path | None = None) -> Mapping[tuple[str, str], Alias]:
    """The alias table keyed by ``(kind, alias.lower())``: ``path``, or the packaged one.

    Raises:
        DataError: when the file is missing or unreadable, or the table is malformed.
    """
    if path is None:
        return _packaged()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the alias table ({exc})") from exc
    return MappingProxyType(parse_aliases(io.StringIO(text, newline=""), name=path.name))


@functools.lru_cache(maxsize=1)
def _asset_ids() -> frozenset[str]:
    ids = {a.canonical_id for a in _packaged().values() if a.kind == "asset"}
    ids.update(t.asset_id for t in load_tokens().values() if t.asset_id)
    ids.update(p.asset_id for p in load_staking_params())
    return frozenset(ids)


@functools.lru_cache(maxsize=4096)
def canonical_asset(name: str) -> str | None:
    """The CoinGecko id realyield uses for an asset ``name``, or ``None`` when unknown.

    ``"bnb"`` and ``"BNB"`` -> ``"binancecoin"``; ``"avalanche"`` -> ``"avalanche-2"``;
    ``"bitcoin"`` -> ``"bitcoin"``; ``"ETH"`` -> ``"ethereum"`` (tokens.csv); a name no
    table knows -> ``None`` (report ``unknown_name_hint("asset", name)``).

    Raises:
        DataError: when a packaged table is missing or malformed.
    """
    key = name.strip()
    if not key:
        return None
    found = _packaged().get(("asset", key.lower()))
    if found is not None:
        return found.canonical_id
    if key.lower() in _asset_ids():
        return key.lower()
    token = load_tokens().get(key.upper())
    return token.asset_id if token is not None else None


@functools.lru_cache(maxsize=4096)
def canonical_protocol(name: str) -> str | None:
    """The protocol slug realyield uses for a protocol ``name``, or ``None`` when unknown.

    ``"AAVEV3"`` -> ``"aave-v3"``; ``"aave-v3"`` -> ``"aave-v3"``; ``"MAKER"`` ->
    ``"makerdao"``; an unlisted name -> ``None`` (no prefix or similarity matching).

    Raises:
        DataError: when a packaged table is missing or malformed.
    """
    key = name.strip().lower()
    if not key:
        return None
    found = _packaged().get(("protocol", key))
    if found is not None:
        return found.canonical_id
    return key if key in load_protocols() else None


def unknown_name_hint(kind: str, name: str) -> str:
    """What to tell a user whose ``kind`` (``asset``/``protocol``) name did not resolve."""
    return (
        f"unknown {kind} name {name!r}: add an alias row kind={kind} alias={name} "
        f"canonical_id=<the {'CoinGecko id' if kind == 'asset' else 'DeFiLlama slug'}> "
        "source=<where the link comes from> as_of=<date> to "
        "realyield/reference/data/aliases.csv"
    )
