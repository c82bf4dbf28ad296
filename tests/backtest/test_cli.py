"""``realyield backtest`` end to end on the bundled snapshot (Typer's runner, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from realyield.backtest.report import read_figures
from realyield.cli import app
from realyield.core.settings import Settings

runner = CliRunner()


def test_index_backtest_json_and_report(settings: Settings, tmp_path: Path) -> None:
    report = tmp_path / "out" / "bt.html"
    result = runner.invoke(
        app,
        [
            "backtest",
            "stablecoin-income",
            "--from",
            "2024-01-01",
            "--to",
            "2024-06-30",
            "--rebalance",
            "monthly",
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["start"], out["end"], out["rebalance"]) == ("2024-01-01", "2024-06-30", "monthly")
    m, a = out["metrics"], out["attribution"]
    assert m["days"] == 181  # 182 days of values, 181 returns
    parts = a["price_return"] + a["income_return"] - a["costs"]
    assert abs(parts - m["total_return"]) < 1e-10
    assert a["income_return"] > 0  # a stablecoin income index earns income
    assert out["illustrative_data"]  # the bundled snapshot's histories are generated
    assert any(n.startswith("ILLUSTRATIVE DATA") for n in out["notes"])
    assert set(out["benchmarks"]) == {"BTC hold", "ETH hold", "60/40 ETH/USDC"}
    assert {s["name"] for s in out["stress"]} == {"luna-ust", "steth-discount", "ftx", "usdc-depeg"}
    luna = next(s for s in out["stress"] if s["name"] == "luna-ust")
    assert luna["status"] == "no_data" and luna["loss"] is None  # snapshot starts 2022-07
    figures = read_figures(report.read_text(encoding="utf-8"))
    assert len(figures["equity"]["data"][0]["y"]) == 182
    assert out["report"] == str(report)


def test_weights_file_table_output(settings: Settings, tmp_path: Path) -> None:
    weights = tmp_path / "mine.csv"
    weights.write_text(
        "date,id,weight\n2023-01-01,bitcoin,0.5\n2023-01-01,aave-v3:ethereum:usdc,0.5\n"
    )
    result = runner.invoke(
        app, ["backtest", str(weights), "--to", "2023-12-31", "--no-stress", "--income", "payout"]
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "ILLUSTRATIVE DATA" in text and "Sharpe" in text and "BTC hold" in text
    assert "income payout" in text
    json_out = runner.invoke(
        app, ["backtest", str(weights), "--to", "2023-12-31", "--no-stress", "--json"]
    )
    out = json.loads(json_out.stdout)
    assert out["start"] == "2023-01-01" and out["stress"] == []
    assert np.isfinite(out["metrics"]["sharpe"])


def test_errors_are_clear(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,id,weight\n2023-01-01,bitcoin,0.5\n2023-01-01,bitcoinn-typo,0.5\n")
    result = runner.invoke(app, ["backtest", str(bad)])
    assert result.exit_code == 1
    assert "line 3: unknown id 'bitcoinn-typo'" in result.stderr
    assert "did you mean bitcoin" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["backtest", "no-such-index"])
    assert result.exit_code == 2 and "neither a weights CSV file nor an index" in result.stderr
    result = runner.invoke(app, ["backtest", "growth", "--rebalance", "hourly"])
    assert result.exit_code == 2 and "unknown rebalance 'hourly'" in result.stderr
    result = runner.invoke(app, ["backtest", str(bad), "--writedown", "x@2023-13-01=0.2"])
    assert result.exit_code == 2 and "ID@YYYY-MM-DD=LOSS" in result.stderr
