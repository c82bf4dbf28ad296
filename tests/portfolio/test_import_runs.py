"""Import runs left ``running`` by a dead process are marked ``interrupted`` at the next
start; live ones are left alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine

from realyield.core import clock
from realyield.portfolio import ledger
from realyield.portfolio.events import format_time
from realyield.store.ledger_tables import ledger_imports

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_run(engine: Engine, **values: Any) -> int:
    row = {
        "source": "generic",
        "account": "default",
        "origin": "f.csv",
        "started_at": format_time(NOW - timedelta(minutes=5)),
        "status": "running",
        "rows_read": 0,
        "inserted": 0,
        "duplicates": 0,
        **values,
    }
    with engine.begin() as conn:
        key = conn.execute(ledger_imports.insert().values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def status(engine: Engine) -> dict[int, str]:
    return {r["import_id"]: r["status"] for r in ledger.import_runs(engine, check=False)}


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not psutil.pid_exists(child.pid) or psutil.Process(child.pid).status() == "zombie"
    return child.pid


def test_runs_of_dead_processes_are_interrupted_and_live_ones_stay(
    db: Engine, dead_pid: int
) -> None:
    host = socket.gethostname()
    me = psutil.Process(os.getpid())
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(live.pid).create_time()
        ids = {
            "dead": add_run(db, host=host, pid=dead_pid, pid_started=me.create_time()),
            "live": add_run(db, host=host, pid=live.pid, pid_started=started),
            # the pid is alive but belongs to a process that started later: reused
            "reused": add_run(db, host=host, pid=live.pid, pid_started=started - 3600),
            "mine": add_run(db, host=host, pid=os.getpid(), pid_started=me.create_time()),
            "remote_quiet": add_run(
                db, host="other-host", pid=1, heartbeat_at=format_time(NOW - timedelta(hours=2))
            ),
            "remote_busy": add_run(
                db, host="other-host", pid=1, heartbeat_at=format_time(NOW - timedelta(minutes=9))
            ),
            "legacy_old": add_run(db, started_at=format_time(NOW - timedelta(hours=3))),
            "legacy_recent": add_run(db, started_at=format_time(NOW - timedelta(minutes=20))),
            "finished": add_run(db, host=host, pid=dead_pid, status="done"),
        }
        with clock.freeze(NOW):
            marked = ledger.mark_interrupted(db)
            assert ledger.mark_interrupted(db) == []  # idempotent
    finally:
        live.kill()
        live.wait()
    gone = {"dead", "reused", "remote_quiet", "legacy_old"}
    assert sorted(marked) == sorted(ids[name] for name in gone)
    states = status(db)
    for name, import_id in ids.items():
        expected = "interrupted" if name in gone else "done" if name == "finished" else "running"
        assert states[import_id] == expected, name
    messages = {r["import_id"]: r["message"] for r in ledger.import_runs(db, check=False)}
    assert f"process {dead_pid} on {host} is gone" in messages[ids["dead"]]
    assert "pid now belongs to another process" in messages[ids["reused"]]
    assert "no sign of life on other-host for 2.0 hours" in messages[ids["remote_quiet"]]
    assert "owner not recorded" in messages[ids["legacy_old"]]
    assert all("run the same import again" in messages[ids[n]] for n in gone)


def test_a_new_import_marks_dead_runs_first_and_records_its_owner(
    db: Engine, dead_pid: int, tmp_path: Any
) -> None:
    from realyield.portfolio.imports import import_file

    stale = add_run(db, host=socket.gethostname(), pid=dead_pid, pid_started=1.0)
    path = tmp_path / "one.csv"
    path.write_text("time,kind,asset,amount\n2024-01-02T00:00:00Z,deposit,USD,10\n")
    report = import_file(db, path, "generic")
    run = {r["import_id"]: r for r in ledger.import_runs(db, check=False)}
    assert run[stale]["status"] == "interrupted"
    mine = run[report.import_id or -1]
    assert (mine["status"], mine["pid"], mine["host"]) == (
        "done",
        os.getpid(),
        socket.gethostname(),
    )
    assert mine["pid_started"] == pytest.approx(psutil.Process().create_time(), abs=1.0)
    assert (mine["rows_read"], mine["inserted"], mine["rejected"]) == (1, 1, 0)
