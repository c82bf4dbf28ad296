"""What a file import would change in the store, counted before anything is written.

An import upserts: a row whose key (source ``file``, id, date) is already stored
replaces the stored values. That is how a corrected file fixes a stored value, and how
a misread file (a European ``1.234,56`` read as 1.23456) once overwrote five stored
APYs without a word. So every import compares its rows with the stored ones first and
reports what it replaces (``5 stored pools changed APY``), and ``--dry-run`` shows the
same figures, with the first changes old -> new, without writing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, select

from realyield.store import records, schema

#: How many changes are shown one by one.
EXAMPLES_SHOWN = 10
_LABELS = {
    "apy": "APY",
    "apy_base": "base APY",
    "apy_reward": "reward APY",
    "tvl_usd": "TVL",
    "price_usd": "price",
    "market_cap_usd": "market cap",
    "volume_usd": "volume",
}
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Change:
    """One stored value an import replaces."""

    key: str
    field: str
    old: float | None
    new: float | None

    def __str__(self) -> str:
        label = _LABELS.get(self.field, self.field)
        return f"{self.key} {label}: {_num(self.old)} -> {_num(self.new)}"


@dataclass
class ImportChanges:
    """Rows of an import that are new, identical to the stored ones, or replace them."""

    noun: str  # "pools", "daily prices", "pool-days"
    new: int = 0
    unchanged: int = 0
    changed: int = 0  # rows whose stored values are replaced
    filled: int = 0  # rows that only add values the stored row was missing
    by_field: Counter[str] = field(default_factory=Counter)
    filled_by_field: Counter[str] = field(default_factory=Counter)
    examples: list[Change] = field(default_factory=list)

    def summary(self, verb: str = "changed") -> str:
        """E.g. ``5 stored pools changed APY, 1 changed TVL; 3 new, 11,969 unchanged``
        (``17 filled market cap`` when missing stored values are only added); ``verb``
        is ``"would change"`` for a dry run."""
        parts = [
            f"{n:,} {'stored ' + self.noun + ' ' if i == 0 else ''}{verb} {_LABELS.get(f, f)}"
            for i, (f, n) in enumerate(self.by_field.most_common())
        ]
        head = ", ".join(parts) if parts else f"no stored {self.noun} {verb}"
        fill = "would fill" if verb.startswith("would") else "filled"
        filled = "".join(
            f"; {n:,} {fill} {_LABELS.get(f, f)}" for f, n in self.filled_by_field.most_common()
        )
        return f"{head}{filled}; {self.new:,} new, {self.unchanged:,} unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "changed_by_field": {_LABELS.get(f, f): n for f, n in self.by_field.items()},
            "filled": self.filled,
            "filled_by_field": {_LABELS.get(f, f): n for f, n in self.filled_by_field.items()},
            "examples": [
                {"key": c.key, "field": c.field, "old": c.old, "new": c.new} for c in self.examples
            ],
            "summary": self.summary(),
        }


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.10g}"


def _same(old: Any, new: float | None) -> bool:
    if old is None or new is None:
        return old is None and new is None
    return math.isclose(float(old), new, rel_tol=1e-12, abs_tol=0.0)


def compare(
    conn: Connection,
    table: Table,
    *,
    source: str,
    id_column: str,
    date_column: str,
    fields: Sequence[str],
    rows: Iterable[tuple[str, date, Sequence[float | None]]],
    noun: str,
) -> ImportChanges:
    """Compare ``rows`` (id, date, values of ``fields``) with the stored rows of ``source``.

    Stored rows are read for the ids at hand only, in chunks, so the comparison costs
    one indexed read per 500 ids whatever the store holds.
    """
    wanted = list(rows)
    ids = sorted({r[0] for r in wanted})
    stored: dict[tuple[str, date], Sequence[Any]] = {}
    columns = [table.c[id_column], table.c[date_column], *(table.c[f] for f in fields)]
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        query = select(*columns).where(table.c.source == source, table.c[id_column].in_(chunk))
        for row in conn.execute(query):
            stored[(row[0], records.as_date(row[1]))] = row[2:]
    result = ImportChanges(noun)
    for key_id, day, values in wanted:
        old = stored.get((key_id, day))
        if old is None:
            result.new += 1
            continue
        diffs = [(f, o, v) for f, o, v in zip(fields, old, values, strict=True) if not _same(o, v)]
        fills = [f for f, o, _ in diffs if o is None]
        diffs = [d for d in diffs if d[1] is not None]
        result.filled_by_field.update(fills)
        if not diffs:
            result.filled += bool(fills)
            result.unchanged += not fills
            continue
        result.changed += 1
        for name, o, v in diffs:
            result.by_field[name] += 1
            if len(result.examples) < EXAMPLES_SHOWN:
                old_value = None if o is None else float(o)
                result.examples.append(Change(f"{key_id} {day:%Y-%m-%d}", name, old_value, v))
    return result


def compare_batch(conn: Connection, batch: Any, kind: str) -> ImportChanges:
    """The changes a ``build.Batch`` of one file import would make (``kind`` as in
    ``build.FILE_KINDS``)."""
    if kind == "pools":
        fields = ("apy", "apy_base", "apy_reward", "tvl_usd")
        return compare(
            conn,
            schema.opportunities,
            source=batch.source,
            id_column="id",
            date_column="as_of_date",
            fields=fields,
            rows=(
                (o.id, o.as_of.date(), (o.apy, o.apy_base, o.apy_reward, o.tvl_usd))
                for o in batch.opportunities
            ),
            noun="pools",
        )
    if kind == "prices":
        return compare(
            conn,
            schema.prices,
            source=batch.source,
            id_column="asset_id",
            date_column="date",
            fields=("price_usd", "market_cap_usd", "volume_usd"),
            rows=(
                (p.asset_id, p.date, (p.price_usd, p.market_cap_usd, p.volume_usd))
                for p in batch.prices
            ),
            noun="daily prices",
        )
    return compare(
        conn,
        schema.apy_history,
        source=batch.source,
        id_column="id",
        date_column="date",
        fields=("apy", "apy_base", "apy_reward", "tvl_usd"),
        rows=(
            (p.opportunity_id, p.date, (p.apy, p.apy_base, p.apy_reward, p.tvl_usd))
            for p in batch.apy_history
        ),
        noun="pool-days",
    )
