"""``realyield ledger import`` says what it did and fails when nothing could be imported;
``ledger status`` shows runs, including interrupted ones."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.settings import Settings
from realyield.store.engine import open_store
from realyield.store.ledger_tables import ledger_imports

runner = CliRunner()
GOOD = "2024-01-02T00:00:00Z,deposit,USD,10\n"


def write(path: Path, *rows: str) -> Path:
    path.write_text("time,kind,asset,amount\n" + "".join(rows), encoding="utf-8")
    return path


def test_exit_status_and_summary(settings: Settings, tmp_path: Path) -> None:
    partial = write(tmp_path / "partial.csv", GOOD, "2024-01-03T00:00:00Z,deposit,USD,-4\n")
    result = runner.invoke(app, ["ledger", "import", str(partial)])
    assert result.exit_code == 0, result.output
    assert "partial.csv: partial - 2 rows: imported 1, 0 already stored, 1 rejected" in (
        result.stdout
    )
    assert "partial.csv row 3, column 'amount': '-4' is negative" in result.stderr

    bad = write(tmp_path / "bad.csv", "2024-01-03T00:00:00Z,deposit,USD,-4\n")
    result = runner.invoke(app, ["ledger", "import", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv: failed" in result.stdout and " ok" not in result.stdout
    assert "no row could be imported" in result.stderr

    result = runner.invoke(app, ["ledger", "import", str(bad), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["status"] == "failed"

    empty = write(tmp_path / "empty.csv")
    result = runner.invoke(app, ["ledger", "import", str(empty)])
    assert result.exit_code == 1 and "the file has no rows" in result.stderr

    again = runner.invoke(app, ["ledger", "import", str(partial), "--json"])
    out = json.loads(again.stdout)
    assert again.exit_code == 0
    assert (out["status"], out["inserted"], out["duplicates"], out["rejected"]) == (
        "partial",
        0,
        1,
        1,
    )


def test_dry_run_writes_nothing(settings: Settings, tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", GOOD, "2024-01-04T00:00:00Z,deposit,USD,5\n")
    result = runner.invoke(app, ["ledger", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written: f.csv: ok - 2 rows: would import 2" in result.stdout
    status = json.loads(runner.invoke(app, ["ledger", "status", "--json"]).stdout)
    assert status == {"events": 0, "imports": []}


def test_status_and_summary_show_an_interrupted_run(settings: Settings, tmp_path: Path) -> None:
    engine = open_store(settings)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with engine.begin() as conn:
        conn.execute(
            ledger_imports.insert().values(
                source="generic",
                account="default",
                origin="killed.csv",
                started_at="2024-05-01T10:00:00.000000Z",
                status="running",
                rows_read=5000,
                inserted=5000,
                duplicates=0,
                host=socket.gethostname(),
                pid=dead.pid,
                pid_started=1.0,
            )
        )
    engine.dispose()
    result = runner.invoke(app, ["ledger", "status"])
    assert result.exit_code == 0, result.output
    assert "import #1 of killed.csv was interrupted" in result.stderr
    assert "interrupted" in result.stdout and "killed.csv" in result.stdout
    assert f"#1 interrupted: interrupted: process {dead.pid}" in result.stdout
    summary = runner.invoke(app, ["ledger", "summary", "--year", "2024"])
    assert summary.exit_code == 0, summary.output
    assert "1 import run(s) were interrupted or failed (#1 interrupted)" in summary.stderr


def test_ledger_add_reads_options_like_a_generic_row(settings: Settings) -> None:
    base = ["ledger", "add", "--kind", "staking_reward", "--asset", "ETH"]
    refused = {
        ("--amount", "1E+999999"): "--amount: '1E+999999' is outside the range",
        ("--amount", "1,5"): "--amount: '1,5' looks like a number with a thousands separator",
        ("--amount", "-1"): "--amount: '-1' is negative",
        ("--time", "0001-01-01T00:00:00+01:00"): "--time: '0001-01-01T00:00:00+01:00' is outside",
        ("--note", "a\x00b"): "--note: 'a\\x00b' contains the control character U+0000",
    }
    for (option, text), message in refused.items():
        args = (
            [*base, "--amount", "1", option, text]
            if option != "--amount"
            else [
                *base,
                option,
                text,
            ]
        )
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, result.stderr
    ok = runner.invoke(app, [*base, "--amount", "0.5", "--time", "2024-03-01T12:00:00Z", "--json"])
    assert ok.exit_code == 0, ok.output
    event = json.loads(ok.stdout)
    assert (event["amount"], event["time"], event["source"]) == (
        "0.5",
        "2024-03-01T12:00:00.000000Z",
        "manual",
    )
    assert event["key"].startswith("manual:")
