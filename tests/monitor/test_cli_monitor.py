"""``realyield monitor``, ``alerts`` and ``review`` through Typer's runner (no network)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core import clock
from tests.monitor.test_review import NOW as REVIEW_NOW
from tests.monitor.test_review import fill as fill_review
from tests.monitor.test_service import NOW, fill_store

runner = CliRunner()


def run_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_monitor_then_alerts_then_ack(engine: Engine, tmp_path: Path) -> None:
    fill_store(engine)
    config = tmp_path / "monitor.toml"
    config.write_text('[holdings]\n"pool-a" = 10000\n[rules]\ndisabled = ["stale_data"]\n')
    with clock.freeze(NOW):
        out = run_json("monitor", "--config", str(config))
    assert out["evaluated"] == ["2024-03-31", "2024-03-31"]  # type: ignore[index]
    new = {(a["rule"], a["subject"]) for a in out["new_or_escalated"]}  # type: ignore[index]
    assert new == {("tvl_drop", "pool-a"), ("depeg", "usd-coin")}
    listed = run_json("alerts")
    assert {a["rule"] for a in listed} == {"tvl_drop", "depeg"}  # type: ignore[union-attr]
    depeg = next(a for a in listed if a["rule"] == "depeg")  # type: ignore[union-attr]
    assert depeg["evidence"]["price_usd"] == 0.97 and depeg["status"] == "open"
    acked = run_json("alerts", "--ack", str(depeg["id"]), "--note", "seen")
    assert acked["status"] == "acknowledged" and acked["ack_note"] == "seen"  # type: ignore[index]
    assert [a["id"] for a in run_json("alerts", "--status", "acknowledged")] == [depeg["id"]]  # type: ignore[union-attr]
    text = runner.invoke(app, ["alerts"])
    assert text.exit_code == 0 and "USDC at $0.9700" in text.output
    missing = runner.invoke(app, ["alerts", "--ack", "999"])
    assert missing.exit_code == 2 and "no alert with id 999" in missing.output


def test_replay_prints_what_would_have_fired(engine: Engine) -> None:
    fill_store(engine)
    out = run_json("monitor", "--replay", "2024-03-01:2024-03-31")
    episodes = out["episodes"]  # type: ignore[index]
    assert [(e["rule"], e["subject"], e["first_day"]) for e in episodes] == [
        ("depeg", "usd-coin", "2024-03-31")
    ]
    assert "portfolio rules" in out["notes"][0]  # type: ignore[index]
    every = run_json("monitor", "--replay", "2024-03-01:2024-03-31", "--all")
    assert {e["rule"] for e in every["episodes"]} == {"depeg", "tvl_drop"}  # type: ignore[index]
    bad = runner.invoke(app, ["monitor", "--replay", "2024-03-31"])
    assert bad.exit_code == 2 and "FROM:TO" in bad.output


def test_review_from_config_writes_reports(engine: Engine, tmp_path: Path) -> None:
    fill_review(engine)
    config = tmp_path / "monitor.toml"
    config.write_text("[portfolio]\nincome_per_year_usd = 2000\n[holdings]\na = 10000\nb = 20000\n")
    with clock.freeze(REVIEW_NOW):
        out = run_json(
            "review", "--quarter", "2024Q1", "--config", str(config), "--out", str(tmp_path)
        )
    assert out["days"] == 91 and out["earned_basis"] == "estimated from stored APY"  # type: ignore[index]
    assert round(out["earned_usd"], 2) == round(10_000 * 0.05 * 91 / 365 + 20_000 * 5.5 / 365, 2)  # type: ignore[index]
    assert (tmp_path / "review-2024Q1.html").is_file() and (tmp_path / "review-2024Q1.md").is_file()
    with clock.freeze(REVIEW_NOW):
        bad = runner.invoke(app, ["review", "--quarter", "2024Q9", "--config", str(config)])
    assert bad.exit_code == 2 and "YYYYQn" in bad.output
