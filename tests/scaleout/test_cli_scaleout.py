"""``realyield sweep`` and ``realyield plan-batch`` end to end on the bundled snapshot:
the CLI prints what the library computes, writes the files it names, and refuses bad
options with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.errors import WorkerPoolError
from realyield.core.settings import Settings, load_settings
from realyield.indices.service import load_history_data
from realyield.scaleout import dask_executor
from realyield.scaleout.executors import make_executor
from realyield.scaleout.sweep import sweep_on
from realyield.scaleout.sweep_spec import load_spec
from realyield.store.engine import open_store
from tests.scaleout.conftest import ScaleoutStore

runner = CliRunner()


@pytest.fixture
def snapshot_home(
    settings: Settings, scaleout_store: ScaleoutStore, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The session's snapshot store (read only here) as the CLI's REALYIELD_HOME."""
    monkeypatch.setenv("REALYIELD_HOME", str(scaleout_store.home))
    return load_settings()


def test_sweep_prints_the_library_result_and_writes_table_and_report(
    snapshot_home: Settings, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'index = "large-cap-staking"\nseed = 4\n[parameters]\n'
        '"caps.single" = [0.3, 0.5]\n"rebalance.schedule" = ["quarterly"]\n',
        encoding="utf-8",
    )
    out, report = tmp_path / "r.parquet", tmp_path / "r.html"
    result = runner.invoke(
        app, ["sweep", str(spec), "--json", "--out", str(out), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["variants"] == 2 and payload["failed"] == 0
    assert payload["executor"] == "local"
    engine = open_store(snapshot_home)
    ref = sweep_on(load_history_data(engine), load_spec(spec))
    engine.dispose()
    got = {r["variant"]: r for r in payload["results"]}
    for row in ref.table.iter_rows(named=True):
        assert got[row["variant"]]["sharpe"] == row["sharpe"]
        assert got[row["variant"]]["income_return"] == row["income_return"]
    assert pl.read_parquet(out).height == 2
    assert "Pareto front" in report.read_text(encoding="utf-8")
    text = runner.invoke(app, ["sweep", str(spec)])
    assert text.exit_code == 0 and "Pareto front" in text.stdout and "Best 10" in text.stdout


def test_plan_batch_reports_bad_rows_and_writes_csv(
    snapshot_home: Settings, tmp_path: Path
) -> None:
    clients = tmp_path / "clients.csv"
    clients.write_text(
        "client,capital,income,risk\nok-1,1m,50k/year,moderate\nbad,1m,50k,yolo\n",
        encoding="utf-8",
    )
    out = tmp_path / "plans.csv"
    result = runner.invoke(
        app, ["plan-batch", str(clients), "--paths", "200", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["clients"] == 2 and payload["planned"] == 1
    assert payload["failed"][0]["line"] == 3 and "yolo" in payload["failed"][0]["error"]
    assert payload["results"][0]["required_yield"] == pytest.approx(0.05)
    written = pl.read_csv(out)
    assert written["client"].to_list() == ["ok-1", "bad"]
    text = runner.invoke(app, ["plan-batch", str(clients), "--paths", "200"])
    assert text.exit_code == 0 and "1 of 2 clients planned" in text.stdout
    assert "line 3 (bad)" in text.stdout


def test_bad_options_are_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('index = "large-cap-staking"\n[parameters]\n"caps.single" = [0.3]\n')
    r = runner.invoke(app, ["sweep", str(spec), "--executor", "spark"])
    assert r.exit_code == 2 and "unknown executor 'spark'" in r.stderr
    r = runner.invoke(app, ["sweep", str(spec), "--scheduler", "tcp://127.0.0.1:1"])
    assert r.exit_code == 2 and "--scheduler needs --executor dask" in r.stderr
    r = runner.invoke(app, ["plan-batch", str(tmp_path / "none.csv")])
    assert r.exit_code == 1 and "cannot read the clients file" in r.stderr
    assert "Traceback" not in r.output


def test_an_unreachable_scheduler_is_an_execution_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(
        WorkerPoolError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        make_executor("dask", scheduler="tcp://127.0.0.1:9")
