"""A process killed with SIGKILL in the middle of an import leaves a consistent ledger,
and running the same import again completes it exactly (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from realyield.portfolio import ledger, service
from realyield.portfolio.imports import import_file

ROWS = 40_000
BATCH = 1_000

CHILD = """
import sys
from pathlib import Path
from realyield.store.engine import open_store
from realyield.portfolio.imports import import_file

url, path, progress = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = open_store(url=url)

def signal_progress(report):
    progress.write_text(str(report.inserted))

import_file(engine, path, "generic", batch_size=int(sys.argv[4]), on_batch=signal_progress)
progress.write_text("finished")
"""


def write_big_file(path: Path) -> None:
    with path.open("w") as fh:
        fh.write("time,kind,asset,amount,counter_asset,counter_amount,value,opportunity\n")
        start = datetime(2024, 1, 1, tzinfo=UTC)
        for i in range(ROWS):  # every row at its own time: no two rows share a key
            stamp = (start + timedelta(seconds=97 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if i % 10 == 0:  # buys, so the rewards later have lots next to them
                fh.write(f"{stamp},trade,ETH,0.5,USD,{1000 + i % 500},{1000 + i % 500},\n")
            else:
                fh.write(f"{stamp},staking_reward,ETH,0.0001,,,0.{i % 7 + 1},lido-steth\n")


def test_sigkill_mid_import_then_rerun_completes(
    db: Engine, store_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "big.csv"
    write_big_file(data)
    progress = tmp_path / "progress"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REALYIELD_")}
    env["REALYIELD_HOME"] = str(tmp_path / "child-home")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store_url, str(data), str(progress), str(BATCH)],
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = progress.read_text() if progress.exists() else ""
        if text.isdigit() and int(text) >= 3 * BATCH:
            break
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert progress.read_text() != "finished", "the import ended before it could be killed"

    # Consistent: whole batches only, each event complete and valid, lots recompute.
    stored = ledger.event_count(db)
    assert 3 * BATCH <= stored < ROWS and stored % BATCH == 0
    events = service.list_events(db)  # rebuilding validates every stored row
    assert len(events) == stored
    assert all(e.value is not None and e.amount > 0 for e in events)
    runs = ledger.import_runs(db, check=False)
    assert [r["status"] for r in runs] == ["running"]  # as the killed process left it
    assert runs[0]["inserted"] == stored  # its counts were committed with its rows
    assert runs[0]["pid"] == child.pid and runs[0]["pid_started"] is not None
    # The next look at the runs sees the process is gone and says so.
    assert ledger.mark_interrupted(db) == [runs[0]["import_id"]]
    run = ledger.import_runs(db)[0]
    assert run["status"] == "interrupted" and run["finished_at"] is not None
    assert f"process {child.pid} on " in run["message"] and "is gone" in run["message"]
    assert ledger.mark_interrupted(db) == []  # once
    gains = service.gains(db, 2024)
    assert gains.missing_quantity == 0
    income = service.income(db, 2024)
    assert income.by_category()["staking_reward"]["events"] == len(
        [e for e in events if e.kind == "staking_reward"]
    )

    # Running the same import again completes it, exactly.
    report = import_file(db, data, "generic", batch_size=BATCH)
    assert (report.inserted, report.duplicates) == (ROWS - stored, stored)
    assert ledger.event_count(db) == ROWS
    assert [r["status"] for r in ledger.import_runs(db)] == ["interrupted", "done"]
    full = service.income(db, 2024).by_category()["staking_reward"]
    assert full["events"] == ROWS - ROWS // 10
