"""Import runs: one row per import, so the user sees what each import did and which
ones never finished.

Why record the owner: a run is committed as ``running`` before its first batch, so a
killed import (SIGKILL, power cut, a closed laptop) leaves that row behind forever
unless someone decides the process is gone. ``mark_interrupted`` decides it at the next
start (the next import, and every ledger command that reads the runs):

* a run started **on this host** records its ``pid`` and the process's own start time
  (``pid_started``, from the operating system): it is gone when no process has that
  pid, or the process that has it started at another time (the pid was reused). This
  is exact, immediate, and needs no clock agreement.
* a run started **on another host** (a shared PostgreSQL ledger), or an old run with no
  owner recorded, cannot be checked that way: it is gone when its last sign of life
  (``heartbeat_at``, renewed with every committed batch) is older than
  ``REMOTE_STALE_AFTER``. A batch takes well under a second, so an hour of silence is
  far beyond any live import, yet short enough that the user is told the same day.

A run this process is running itself is never marked (the API imports in threads).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any, Final

import psutil
from sqlalchemy import Connection, Engine, select, update

from realyield.core import clock
from realyield.portfolio.events import format_time, parse_time
from realyield.store.ledger_tables import ledger_imports

REMOTE_STALE_AFTER: Final = timedelta(hours=1)
#: Statuses of a run: ``partial`` = finished with some rows rejected; ``failed`` =
#: stopped by an error or no row could be imported; ``interrupted`` = the process died.
STATUSES: Final = ("running", "done", "partial", "failed", "interrupted")
_SAME_START_S: Final = 1.0

T = ledger_imports


def _host() -> str:
    return socket.gethostname()[:255]


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), None when there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:  # exists but cannot be inspected (another user): trust the pid
        return -1.0


def start_import(
    engine: Engine, *, source: str, account: str, origin: str, digest: str | None
) -> int:
    """Record an import run as ``running`` with its owner and return its id (committed
    at once, so a killed import leaves a visible trace). Runs of dead processes are
    marked ``interrupted`` first."""
    mark_interrupted(engine)
    now = format_time(clock.now())
    pid = os.getpid()
    with engine.begin() as conn:
        result = conn.execute(
            T.insert().values(
                source=source,
                account=account,
                origin=origin,
                digest=digest,
                started_at=now,
                heartbeat_at=now,
                status="running",
                rows_read=0,
                inserted=0,
                duplicates=0,
                rejected=0,
                host=_host(),
                pid=pid,
                pid_started=_process_start(pid),
            )
        )
        key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def record_batch(
    conn: Connection, import_id: int, rows: int, inserted: int, rejected: int = 0
) -> None:
    """Add a committed batch's counts to its import run (same transaction as the rows)
    and renew its heartbeat. ``rows`` are the batch's events; ``rejected`` the rows
    refused since the previous batch."""
    conn.execute(
        update(T)
        .where(T.c.import_id == import_id)
        .values(
            rows_read=T.c.rows_read + rows + rejected,
            inserted=T.c.inserted + inserted,
            duplicates=T.c.duplicates + (rows - inserted),
            rejected=T.c.rejected + rejected,
            heartbeat_at=format_time(clock.now()),
        )
    )


def finish_import(
    engine: Engine,
    import_id: int,
    status: str,
    *,
    rejected: int = 0,
    message: str | None = None,
) -> None:
    """Close a run with its final status; ``rejected`` adds the rows refused after the
    last batch; ``message`` says why it failed or what was rejected first."""
    now = format_time(clock.now())
    with engine.begin() as conn:
        conn.execute(
            update(T)
            .where(T.c.import_id == import_id)
            .values(
                status=status,
                finished_at=now,
                heartbeat_at=now,
                rows_read=T.c.rows_read + rejected,
                rejected=T.c.rejected + rejected,
                message=None if message is None else message[:2000],
            )
        )


def _gone(run: dict[str, Any], host: str, now: datetime) -> str | None:
    """Why a ``running`` run's process is gone, or None while it may be alive."""
    pid = run.get("pid")
    if run.get("host") == host and pid is not None:
        if pid == os.getpid():
            return None
        started = _process_start(int(pid))
        if started is None:
            return f"process {pid} on {host} is gone"
        recorded = run.get("pid_started")
        if started >= 0 and recorded is not None and abs(started - recorded) > _SAME_START_S:
            return f"process {pid} on {host} is gone (its pid now belongs to another process)"
        return None
    last = run.get("heartbeat_at") or run["started_at"]
    silent = now - parse_time(last)
    if silent > REMOTE_STALE_AFTER:
        where = f"on {run['host']}" if run.get("host") else "(owner not recorded)"
        return f"no sign of life {where} for {silent.total_seconds() / 3600:.1f} hours"
    return None


def mark_interrupted(engine: Engine) -> list[int]:
    """Mark ``running`` runs whose process is gone as ``interrupted``; return their ids.

    Their committed batches stay (each batch is whole); running the same import again
    completes it. Safe to call concurrently: only rows still ``running`` change.
    """
    with engine.connect() as conn:
        running = [
            dict(r) for r in conn.execute(select(T).where(T.c.status == "running")).mappings()
        ]
    if not running:
        return []
    host, now = _host(), clock.now()
    marked: list[int] = []
    for run in running:
        reason = _gone(run, host, now)
        if reason is None:
            continue
        with engine.begin() as conn:
            changed = conn.execute(
                update(T)
                .where(T.c.import_id == run["import_id"], T.c.status == "running")
                .values(
                    status="interrupted",
                    finished_at=format_time(now),
                    message=f"interrupted: {reason}; run the same import again to complete it",
                )
            ).rowcount
        if changed:
            marked.append(int(run["import_id"]))
    return marked


def import_runs(engine: Engine, *, check: bool = True) -> list[dict[str, Any]]:
    """Every import run, oldest first (after marking dead ``running`` ones, unless
    ``check`` is False)."""
    if check:
        mark_interrupted(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(T).order_by(T.c.import_id))
        return [dict(r) for r in rows.mappings()]


__all__ = [
    "REMOTE_STALE_AFTER",
    "STATUSES",
    "finish_import",
    "import_runs",
    "mark_interrupted",
    "record_batch",
    "start_import",
]
