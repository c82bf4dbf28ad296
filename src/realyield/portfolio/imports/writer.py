"""The batched, crash-safe, idempotent writer every import goes through.

Why batches in transactions: an import of a million rows must not hold one giant
transaction, yet a crash (even SIGKILL) must never leave half an event or half a
batch. Each batch of events is valued, inserted with ``ON CONFLICT DO NOTHING`` and
counted on its import run inside one transaction; a killed process loses at most the
batch in flight, and running the same import again inserts exactly what is missing
(the run left behind is marked ``interrupted`` by ``portfolio.runs``).

Why per row inside a batch: a row that cannot be valued (an amount whose product with
a price overflows) or that the database refuses (a value PostgreSQL cannot hold) is
rejected alone with its row number, and the batch goes on; a failing database
(connection lost, disk full) still stops the import, since no later row could fare
better.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from realyield.core.errors import DataError, StoreError, shown_value
from realyield.portfolio import ledger
from realyield.portfolio.events import MOVE_KINDS, LedgerEvent
from realyield.portfolio.imports.base import (
    FIAT_VALUE_BOUNDS,
    ImportReport,
    Parsed,
    Problem,
    RowEvent,
)
from realyield.portfolio.pricing import AssetIds, PriceBook, value_event

_RUN_STATUS = {"ok": "done", "partial": "partial", "failed": "failed"}


def _row_level(exc: BaseException, engine: Engine) -> bool:
    """Whether the database refused the *data* (so one row is at fault), as opposed to
    failing itself (connection, disk, lock): a DB-API ``DataError`` (wrapped by
    SQLAlchemy, or raw from the PostgreSQL fast path, which uses the driver's cursor),
    or a value that could not even be bound to the statement."""
    if isinstance(exc, sa_exc.DataError):
        return True
    raw_data_error = getattr(engine.dialect.dbapi, "DataError", None)
    if isinstance(raw_data_error, type) and isinstance(exc, raw_data_error):
        return True
    return isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError)


def _database_failed(exc: BaseException, engine: Engine) -> bool:
    """A failure of the database itself (SQLAlchemy's, or the driver's on the
    PostgreSQL fast path), as opposed to a bug or an interruption."""
    raw_error = getattr(engine.dialect.dbapi, "Error", None)
    return isinstance(exc, sa_exc.SQLAlchemyError) or (
        isinstance(raw_error, type) and isinstance(exc, raw_error)
    )


def _close_failed_run(
    engine: Engine, import_id: int, exc: BaseException, unrecorded: int, rows: int
) -> None:
    """Mark the run ``failed`` (an error) or ``interrupted`` (Ctrl-C, exit), best effort:
    when the database itself is down this cannot be written, and the original error
    matters more."""
    status = "failed" if isinstance(exc, Exception) else "interrupted"
    with contextlib.suppress(Exception):  # the error being raised is the one to report
        ledger.finish_import(
            engine,
            import_id,
            status,
            rejected=unrecorded,
            message=f"stopped at row {rows}: {type(exc).__name__}: {_reason(exc)}",
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa_exc.StatementError):
        return shown_value(str(exc.orig if exc.orig is not None else exc).split("\n")[0], 200)
    return shown_value(str(exc), 300)


def implausible_value(event: LedgerEvent) -> str | None:
    """Why a value computed from stored prices is implausible (an amount near the top
    of the plausible amounts times a high price), or None; such a value would also
    exceed the 28 digits the reports round money to."""
    for name in ("value", "fee_value"):
        value = getattr(event, name)
        if value is not None and value > FIAT_VALUE_BOUNDS.high:
            return (
                f"its {name.replace('_', ' ')} from stored prices, {value:.3e} {event.fiat}, "
                f"is above the plausible {FIAT_VALUE_BOUNDS.high:g}; check the amounts"
            )
    return None


def _key(event: LedgerEvent) -> tuple[str, str, str]:
    return (event.source, event.account, event.key)


@dataclass
class _Writer:
    engine: Engine
    report: ImportReport
    book: PriceBook
    ids: AssetIds
    import_id: int | None
    pending: list[RowEvent] = field(default_factory=list)
    unrecorded: int = 0  # rows rejected since the run's counts were last committed
    seen: set[tuple[str, str, str]] = field(default_factory=set)  # dry run only

    def reject(self, problem: Problem) -> None:
        self.report.reject(problem)
        self.unrecorded += 1

    def value(self, rows: list[RowEvent]) -> list[RowEvent]:
        """The rows valued; a row that cannot be valued is rejected alone."""
        valued: list[RowEvent] = []
        limit_s = self.book.max_age.total_seconds()
        for r in rows:
            try:
                e = value_event(r.event, self.book, self.ids)
            except ArithmeticError as exc:
                self.reject(
                    Problem(
                        r.row,
                        "cannot be valued: the amount times its price overflows or is "
                        f"undefined ({type(exc).__name__}); check the amounts of this row",
                    )
                )
                continue
            except DataError as exc:
                self.reject(Problem(r.row, f"cannot be valued: {_reason(exc)}"))
                continue
            implausible = implausible_value(e)
            if implausible is not None:
                self.reject(Problem(r.row, implausible))
                continue
            valued.append(RowEvent(r.row, e))
            if e.value is None and e.kind not in MOVE_KINDS:
                self.report.unpriced += 1
            elif e.price_age_s is not None and e.price_age_s > limit_s:
                self.report.old_prices += 1
        return valued

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if self.import_id is None:
            self.dry_flush(batch)
            return
        import_id = self.import_id
        with self.engine.connect() as conn:
            known = ledger.stored_keys(conn, [r.event for r in batch])
        fresh = [r for r in batch if _key(r.event) not in known]
        already = len(batch) - len(fresh)
        valued = self.value(fresh)
        try:
            with self.engine.begin() as conn:
                inserted = ledger.insert_events(
                    conn, [r.event for r in valued], import_id=import_id
                )
                ledger.record_batch(
                    conn, import_id, already + len(valued), inserted, self.unrecorded
                )
            self.unrecorded = 0
            accepted = len(valued)
        except Exception as exc:
            if not _row_level(exc, self.engine):
                raise
            inserted, accepted = self.one_by_one(import_id, valued, already=already)
        self.report.inserted += inserted
        self.report.duplicates += already + accepted - inserted

    def one_by_one(
        self, import_id: int, valued: list[RowEvent], *, already: int
    ) -> tuple[int, int]:
        """Store a batch the database refused, one event per transaction, so only the
        refused rows are rejected; return how many were inserted and accepted
        (inserted or already stored)."""
        with self.engine.begin() as conn:
            ledger.record_batch(conn, import_id, already, 0, self.unrecorded)
        self.unrecorded = 0
        inserted = accepted = 0
        for r in valued:
            try:
                with self.engine.begin() as conn:
                    n = ledger.insert_events(conn, [r.event], import_id=import_id)
                    ledger.record_batch(conn, import_id, 1, n)
            except Exception as exc:
                if not _row_level(exc, self.engine):
                    raise
                self.reject(Problem(r.row, f"the database refused this event: {_reason(exc)}"))
                with self.engine.begin() as conn:
                    ledger.record_batch(conn, import_id, 0, 0, self.unrecorded)
                self.unrecorded = 0
                continue
            inserted += n
            accepted += 1
        return inserted, accepted

    def dry_flush(self, batch: list[RowEvent]) -> None:
        """What ``flush`` would do, writing nothing (duplicates within the file too)."""
        with self.engine.connect() as conn:
            known = ledger.stored_keys(conn, [r.event for r in batch])
        fresh: list[RowEvent] = []
        for r in batch:
            k = _key(r.event)
            if k in known or k in self.seen:
                self.report.duplicates += 1
            else:
                self.seen.add(k)
                fresh.append(r)
        self.report.inserted += len(self.value(fresh))


def write_events(
    engine: Engine,
    parsed: Iterable[Parsed],
    report: ImportReport,
    *,
    source: str,
    account: str,
    digest: str | None,
    book: PriceBook,
    ids: AssetIds,
    batch_size: int = 5000,
    on_batch: Callable[[ImportReport], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Value and store ``parsed`` rows in batches (see the module docstring); rejected
    rows are counted on the report and the run. ``dry_run`` writes nothing (no run
    either) and reports what would be new, already stored and rejected.

    Raises:
        DataError: ``batch_size`` < 1.
        StoreError: the database failed (the batch in flight is rolled back; earlier
            batches stay, the run is marked ``failed``, and a re-run completes the
            import).
    """
    if batch_size < 1:
        raise DataError(f"batch size {batch_size} must be >= 1")
    report.dry_run = dry_run
    import_id = None
    if not dry_run:
        import_id = ledger.start_import(
            engine, source=source, account=account, origin=report.origin, digest=digest
        )
    report.import_id = import_id
    w = _Writer(engine, report, book, ids, import_id)
    try:
        for item in parsed:
            report.rows += 1
            if isinstance(item, Problem):
                w.reject(item)
                continue
            w.pending.append(item)
            if len(w.pending) >= batch_size:
                w.flush()
                if on_batch is not None:
                    on_batch(report)
        if w.pending:
            w.flush()
            if on_batch is not None:
                on_batch(report)
    except BaseException as exc:
        if import_id is not None:
            _close_failed_run(engine, import_id, exc, w.unrecorded, report.rows)
        if _database_failed(exc, engine):
            raise StoreError(
                f"the database failed while importing {report.origin} at row {report.rows} "
                f"({_reason(exc)}); the batches before it are stored: run the same import "
                "again to complete it"
            ) from exc
        raise
    if import_id is not None:
        status = report.status
        message = None
        if status != "ok":
            message = report.first_reasons() if report.rejected_count else "the file has no rows"
        ledger.finish_import(
            engine, import_id, _RUN_STATUS[status], rejected=w.unrecorded, message=message
        )
    return report


__all__ = ["implausible_value", "write_events"]
