"""The ledger's storage: append-only events, idempotent inserts, reversals, tax-year methods.

Why append-only: a tax record must show what was known and when; editing a row in
place loses that. A correction is a *reversing* event (``reverses`` = the sequence
number of the row it cancels) followed, if needed, by a new event. Computations read
the *active* events: every row that neither reverses another nor is reversed.

Every write runs in one transaction on the caller's connection (or its own
``engine.begin()``), and inserts use ``ON CONFLICT DO NOTHING`` on the unique
``(source, account, key)``, so a re-run of an interrupted or repeated import only adds
what is missing. SQLite and PostgreSQL go through the same SQLAlchemy Core statements.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, String, and_, func, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite

from realyield.core import clock
from realyield.core.errors import DataError
from realyield.portfolio import runs
from realyield.portfolio.events import LedgerEvent, format_time, parse_time
from realyield.store.ledger_tables import (
    ExactDecimal,
    ledger_events,
    ledger_methods,
)

METHODS: Final = ("fifo", "lifo", "hifo", "acb")
DEFAULT_METHOD: Final = "fifo"
_INSERT_CHUNK: Final = 5000

E = ledger_events


def event_row(event: LedgerEvent, *, import_id: int | None, recorded_at: str) -> dict[str, Any]:
    """The store row of an event (``seq`` is assigned by the database)."""
    return {
        "source": event.source,
        "account": event.account,
        "key": event.key,
        "kind": event.kind,
        "time": format_time(event.time),
        "asset": event.asset,
        "asset_id": event.asset_id,
        "amount": event.amount,
        "counter_asset": event.counter_asset,
        "counter_asset_id": event.counter_asset_id,
        "counter_amount": event.counter_amount,
        "fee_asset": event.fee_asset,
        "fee_asset_id": event.fee_asset_id,
        "fee_amount": event.fee_amount,
        "value": event.value,
        "fee_value": event.fee_value,
        "fiat": event.fiat,
        "price_source": event.price_source,
        "price_date": None if event.price_date is None else event.price_date.isoformat(),
        "price_age_s": event.price_age_s,
        "warning": event.warning,
        "opportunity": event.opportunity,
        "note": event.note,
        "reverses": event.reverses,
        "import_id": import_id if import_id is not None else event.import_id,
        "recorded_at": recorded_at,
    }


def row_to_event(row: Mapping[Any, Any]) -> LedgerEvent:
    """Rebuild (and validate again) an event from its store row."""
    return LedgerEvent(
        kind=row["kind"],
        time=parse_time(row["time"]),
        asset=row["asset"],
        amount=row["amount"],
        key=row["key"],
        source=row["source"],
        account=row["account"],
        counter_asset=row["counter_asset"],
        counter_amount=row["counter_amount"],
        fee_asset=row["fee_asset"],
        fee_amount=row["fee_amount"],
        value=row["value"],
        fee_value=row["fee_value"],
        fiat=row["fiat"],
        price_source=row["price_source"],
        price_date=None if row["price_date"] is None else date.fromisoformat(row["price_date"]),
        price_age_s=row["price_age_s"],
        warning=row["warning"],
        opportunity=row["opportunity"],
        note=row["note"],
        asset_id=row["asset_id"],
        counter_asset_id=row["counter_asset_id"],
        fee_asset_id=row["fee_asset_id"],
        reverses=row["reverses"],
        seq=row["seq"],
        import_id=row["import_id"],
    )


def insert_events(
    conn: Connection, events: Sequence[LedgerEvent], *, import_id: int | None = None
) -> int:
    """Insert events, skipping any whose ``(source, account, key)`` is stored; return
    how many were new. Runs on the caller's connection (the caller's transaction)."""
    if not events:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    recorded_at = format_time(clock.now())
    rows = [event_row(e, import_id=import_id, recorded_at=recorded_at) for e in events]
    if conn.dialect.name == "postgresql":
        return _insert_postgres(conn, rows)
    inserted = 0
    for start in range(0, len(rows), _INSERT_CHUNK):
        stmt = dialect.insert(E).on_conflict_do_nothing(index_elements=["source", "account", "key"])
        inserted += max(conn.execute(stmt, rows[start : start + _INSERT_CHUNK]).rowcount, 0)
    return inserted


def _insert_postgres(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """PostgreSQL: one cached statement, psycopg's pipelined ``executemany``, counting
    the rows ``RETURNING`` gives back (only the inserted ones; psycopg does not sum
    ``rowcount`` over an executemany). SQLAlchemy's multi-row VALUES statements were
    four times slower here, because psycopg cannot cache such long queries."""
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f"%({c})s" for c in columns)
    sql = (
        f"INSERT INTO {E.name} ({names}) VALUES ({values}) "
        'ON CONFLICT ("source", "account", "key") DO NOTHING RETURNING "seq"'
    )
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows, returning=True)
        inserted = 0
        while True:
            inserted += len(cursor.fetchall())
            if not cursor.nextset():
                break
    finally:
        cursor.close()
    return inserted


def stored_keys(conn: Connection, events: Sequence[LedgerEvent]) -> set[tuple[str, str, str]]:
    """Which of these events' ``(source, account, key)`` are already stored (so an import
    can skip valuing them; the insert's ``ON CONFLICT`` still guards correctness)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for e in events:
        groups.setdefault((e.source, e.account), []).append(e.key)
    found: set[tuple[str, str, str]] = set()
    for (source, account), keys in groups.items():
        for start in range(0, len(keys), 900):
            stmt = select(E.c.key).where(
                E.c.source == source, E.c.account == account, E.c.key.in_(keys[start : start + 900])
            )
            found.update((source, account, key) for (key,) in conn.execute(stmt))
    return found


@dataclass(frozen=True)
class AddResult:
    """What an insert did: new events and those already stored (same key)."""

    inserted: int
    duplicates: int

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "duplicates": self.duplicates}


def add_events(engine: Engine, events: Sequence[LedgerEvent]) -> AddResult:
    """Insert events in one transaction (all or nothing), idempotently."""
    with engine.begin() as conn:
        inserted = insert_events(conn, events)
    return AddResult(inserted, len(events) - inserted)


def _active() -> Any:
    """Rows that neither reverse another nor are reversed."""
    reversed_seqs = select(E.c.reverses).where(E.c.reverses.is_not(None))
    return and_(E.c.reverses.is_(None), E.c.seq.not_in(reversed_seqs))


def load_events(
    engine: Engine,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: Sequence[str] | None = None,
    active_only: bool = True,
    limit: int | None = None,
) -> list[LedgerEvent]:
    """Events in time order (then insertion order), ``start <= time < end``.

    ``active_only=False`` also returns reversed events and the reversals themselves.
    """
    stmt = select(E)
    if active_only:
        stmt = stmt.where(_active())
    if start is not None:
        stmt = stmt.where(E.c.time >= format_time(start))
    if end is not None:
        stmt = stmt.where(E.c.time < format_time(end))
    if kinds:
        stmt = stmt.where(E.c.kind.in_(list(kinds)))
    stmt = stmt.order_by(E.c.time, E.c.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [row_to_event(r) for r in conn.execute(stmt).mappings()]


#: Columns the lot engine reads, in this order (see ``iter_movements``).
MOVEMENT_COLUMNS: Final = (
    E.c.seq,
    E.c.kind,
    E.c.time,
    E.c.asset,
    E.c.amount,
    E.c.counter_asset,
    E.c.counter_amount,
    E.c.fee_asset,
    E.c.fee_amount,
    E.c.value,
    E.c.fee_value,
    E.c.fiat,
)


def iter_movements(engine: Engine, *, end: datetime | None = None) -> Iterator[tuple[Any, ...]]:
    """Active events as plain rows (``MOVEMENT_COLUMNS``; decimals as text or Decimal),
    in time order, streamed.

    Why not ``load_events``: the lot engine reads every event since the first one, and
    rebuilding validated records for a million rows would cost more than the
    computation itself; rows were validated when written.
    """
    # Decimal columns come as the driver gives them (exact text on SQLite, Decimal on
    # PostgreSQL), without a per-value type processor; the lot engine converts the ones
    # it uses. For a million rows this saves seconds.
    raw = [
        type_coerce(c, String) if isinstance(c.type, ExactDecimal) else c for c in MOVEMENT_COLUMNS
    ]
    stmt = select(*raw).where(_active())
    if end is not None:
        stmt = stmt.where(E.c.time < format_time(end))
    stmt = stmt.order_by(E.c.time, E.c.seq)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=20_000).execute(stmt)
        yield from result


def get_event(engine: Engine, seq: int) -> LedgerEvent:
    """The stored event with sequence number ``seq``.

    Raises:
        DataError: no such event.
    """
    with engine.connect() as conn:
        row = conn.execute(select(E).where(E.c.seq == seq)).mappings().first()
    if row is None:
        raise DataError(f"no ledger event #{seq}; list them with `realyield ledger list`")
    return row_to_event(row)


def find_event(engine: Engine, source: str, account: str, key: str) -> LedgerEvent | None:
    """The stored event with this idempotency key, if any."""
    stmt = select(E).where(E.c.source == source, E.c.account == account, E.c.key == key)
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return None if row is None else row_to_event(row)


def reverse_event(engine: Engine, seq: int, *, note: str | None = None) -> LedgerEvent:
    """Cancel event ``seq`` by appending its reversal; return the reversal (idempotent:
    reversing twice returns the stored reversal).

    Raises:
        DataError: no such event, or it is itself a reversal (add the event again
            instead of reversing a reversal).
    """
    original = get_event(engine, seq)
    if original.reverses is not None:
        raise DataError(
            f"event #{seq} is a reversal of #{original.reverses}; to restore the original, "
            "add it again as a new event"
        )
    reversal = original.with_value(
        key=f"reversal:{seq}",
        reverses=seq,
        seq=None,
        import_id=None,
        time=clock.now(),
        note=note or f"reverses #{seq}",
    )
    with engine.begin() as conn:
        insert_events(conn, [reversal])
        row = conn.execute(select(E).where(E.c.reverses == seq)).mappings().first()
    assert row is not None
    return row_to_event(row)


# -- import runs (portfolio.runs; re-exported here, where callers have found them) ---------

start_import = runs.start_import
record_batch = runs.record_batch
finish_import = runs.finish_import
import_runs = runs.import_runs
mark_interrupted = runs.mark_interrupted


# -- methods per tax year --------------------------------------------------------------------


def check_method(method: str) -> str:
    """The method name, lower case.

    Raises:
        DataError: not one of fifo, lifo, hifo, acb.
    """
    name = str(method).strip().lower()
    if name not in METHODS:
        raise DataError(f"unknown cost-basis method {method!r}; use one of {', '.join(METHODS)}")
    return name


def set_method(engine: Engine, year: int, method: str) -> None:
    """Choose the cost-basis method of a tax year (kept for every later computation).

    Raises:
        DataError: unknown method or an implausible year.
    """
    name = check_method(method)
    if not 1990 <= int(year) <= 2200:
        raise DataError(f"tax year {year!r} is not plausible")
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ledger_methods).values(
        year=int(year), method=name, chosen_at=format_time(clock.now())
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["year"],
        set_={"method": stmt.excluded.method, "chosen_at": stmt.excluded.chosen_at},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def chosen_methods(engine: Engine) -> dict[int, str]:
    """The method chosen for each tax year that has one (others use FIFO)."""
    with engine.connect() as conn:
        rows = conn.execute(select(ledger_methods.c.year, ledger_methods.c.method)).all()
    return {int(y): str(m) for y, m in rows}


def event_count(engine: Engine, *, active_only: bool = False) -> int:
    stmt = select(func.count()).select_from(E)
    if active_only:
        stmt = stmt.where(_active())
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def to_decimal_cell(value: Any) -> Decimal | None:
    """A stored decimal cell (Decimal on PostgreSQL, text on SQLite) as Decimal."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(value)


def as_movement(event: LedgerEvent, seq: int | None = None) -> tuple[Any, ...]:
    """The ``MOVEMENT_COLUMNS`` tuple of an event (what ``iter_movements`` yields)."""
    return (
        event.seq if seq is None else seq,
        event.kind,
        format_time(event.time),
        event.asset,
        event.amount,
        event.counter_asset,
        event.counter_amount,
        event.fee_asset,
        event.fee_amount,
        event.value,
        event.fee_value,
        event.fiat,
    )
