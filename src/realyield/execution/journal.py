"""The order journal: every order realyield sends, written before it is sent.

Why before: if the process dies between sending an order and hearing back, the next run
finds the order in the journal as ``submitting`` and looks it up by its client id
instead of planning it again, so a crash or a timeout can never turn into a second
order. The journal is also the record of fills that reconciliation updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from realyield.core import clock
from realyield.core.secrets import redact
from realyield.exchange.orders import ZERO, OrderRequest, OrderState, dec
from realyield.store import schema
from realyield.store.records import upsert

UNRESOLVED = ("submitting", "unknown", "open")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _state(row: Any) -> OrderState:
    return OrderState(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=row["side"],
        status=row["status"],
        amount=dec(row["amount"]) or ZERO,
        filled=dec(row["filled"]) or ZERO,
        average=dec(row["average"]),
        cost=dec(row["cost"]) or ZERO,
        fee=dec(row["fee"]) or ZERO,
        fee_currency=row["fee_currency"],
        exchange_order_id=row["exchange_order_id"],
        type=row["type"],
        price=dec(row["price"]),
    )


def write_request(
    conn: Connection, broker: str, run_id: str, request: OrderRequest, status: str = "submitting"
) -> None:
    """Record ``request`` (before sending it) on the caller's connection."""
    now = clock.now().isoformat()
    upsert(
        conn,
        schema.order_journal,
        [
            {
                "client_order_id": request.client_order_id,
                "broker": broker,
                "run_id": run_id,
                "symbol": request.symbol,
                "side": request.side,
                "type": request.type,
                "amount": str(request.amount),
                "price": _text(request.price),
                "status": status,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def write_state(conn: Connection, state: OrderState, error: str | None = None) -> None:
    """Update the journal row of ``state.client_order_id`` with what is now known."""
    t = schema.order_journal
    conn.execute(
        t.update()
        .where(t.c.client_order_id == state.client_order_id)
        .values(
            status=state.status,
            exchange_order_id=state.exchange_order_id,
            filled=str(state.filled),
            average=_text(state.average),
            cost=str(state.cost),
            fee=str(state.fee),
            fee_currency=state.fee_currency,
            error=None if error is None else redact(error)[:1000],
            updated_at=clock.now().isoformat(),
        )
    )


def write_error(conn: Connection, client_order_id: str, error: str) -> None:
    """Attach ``error`` (scrubbed of secrets) to a journal row."""
    t = schema.order_journal
    conn.execute(
        t.update().where(t.c.client_order_id == client_order_id).values(error=redact(error)[:1000])
    )


def mark(engine: Engine, client_order_id: str, status: str, error: str | None = None) -> None:
    """Set only the status (and error) of a journal row."""
    t = schema.order_journal
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.client_order_id == client_order_id)
            .values(
                status=status,
                error=None if error is None else redact(error)[:1000],
                updated_at=clock.now().isoformat(),
            )
        )


def record_request(engine: Engine, broker: str, run_id: str, request: OrderRequest) -> None:
    with engine.begin() as conn:
        write_request(conn, broker, run_id, request)


def record_state(engine: Engine, state: OrderState, error: str | None = None) -> None:
    with engine.begin() as conn:
        write_state(conn, state, error)


def get(engine: Engine, client_order_id: str) -> tuple[OrderState, str, str | None] | None:
    """The journal's state of an order, its broker and its last error; ``None`` if the
    journal has never seen it."""
    t = schema.order_journal
    with engine.connect() as conn:
        row = (
            conn.execute(select(t).where(t.c.client_order_id == client_order_id)).mappings().first()
        )
    return None if row is None else (_state(row), row["broker"], row["error"])


def orders(
    engine: Engine,
    *,
    broker: str | None = None,
    run_id: str | None = None,
    statuses: Sequence[str] | None = None,
) -> list[OrderState]:
    """Journal entries, oldest first, filtered by broker, run and status."""
    t = schema.order_journal
    stmt = select(t)
    if broker is not None:
        stmt = stmt.where(t.c.broker == broker)
    if run_id is not None:
        stmt = stmt.where(t.c.run_id == run_id)
    if statuses is not None:
        stmt = stmt.where(t.c.status.in_(list(statuses)))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(t.c.created_at, t.c.client_order_id)).mappings().all()
    return [_state(r) for r in rows]
