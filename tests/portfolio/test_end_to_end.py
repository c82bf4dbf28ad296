"""Issue 18's end-to-end path through the command line, on the bundled snapshot:

a plan -> a paper rebalance onto the plan's index -> its fills in the ledger -> a month
of staking rewards imported -> ``portfolio`` shows value and income -> ``review`` takes
earned from the ledger -> ``ledger gains`` and the Koinly export include the fills.

The figures checked are computed here from the inputs (the fills the broker reported,
the rewards written into the file), not read back from the code under test.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.cli import app
from realyield.cli.plan import _portfolio_capital
from realyield.core import clock
from realyield.universe import build

runner = CliRunner()
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
REWARD = D("0.0004")  # ETH a day
REWARD_VALUE = D("1.25")  # USD a day, given in the file


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json"))


def test_plan_to_trades_to_ledger_to_portfolio_review_and_tax(
    engine: Engine, tmp_path: Path
) -> None:
    build.load_snapshot(engine)
    with clock.freeze(NOW):
        plan = cli_json(
            "plan", "--capital", "10000", "--income", "30/month", "--allocation",
            "large-cap-staking=100%", "--paths", "100", "--seed", "1", "--no-optimize",
        )  # fmt: skip
        (index,) = plan["allocation"]
        out = cli_json("rebalance", "--fund", "USDT=10000", "--index", index)
        fills = [f for f in out["fills"] if f["status"] == "closed"]
        assert fills, out
        bought = {f["symbol"].split("/")[0]: f for f in fills}

        # The fills are in the ledger, keyed by their client order ids.
        events = cli_json("ledger", "list", "--limit", "1000")
        keys = {e["key"]: e for e in events if e["kind"] == "trade"}
        assert set(keys) == {f["client_order_id"] for f in fills}

        # A month of daily staking rewards on ETH (the plan's staking index holds ETH).
        start = (NOW - timedelta(days=30)).replace(hour=0)
        rows = ["time,kind,asset,amount,value,fiat,opportunity,account,key"]
        rows += [
            f"{(start + timedelta(days=i)).isoformat()},staking_reward,ETH,{REWARD},"
            f"{REWARD_VALUE},USD,lido-steth,wallet,reward-{i}"
            for i in range(30)
        ]
        rewards = tmp_path / "rewards.csv"
        rewards.write_text("\n".join(rows) + "\n")
        report = cli_json("ledger", "import", str(rewards), "--format", "generic")
        assert report["inserted"] == 30

        folio = cli_json("portfolio")  # (--index would rebuild the index: 8 s)
        held = {h["asset"]: h for h in folio["holdings"]}
        assert set(bought) <= set(held)
        assert D(str(held["ETH"]["income_this_year"])) == 30 * REWARD_VALUE
        eth_fill = D(bought["ETH"]["filled"]) if "ETH" in bought else D(0)
        assert D(held["ETH"]["quantity"]) == eth_fill + 30 * REWARD
        assert held["ETH"]["opportunity"] == "lido-steth"  # where the rewards come from
        fees = sum(D(f["fee"]) for f in fills)
        assert D(10_000) - fees - D(40) < D(str(folio["total_value_usd"])) < D(10_000) + D(60)

        # plan --from-portfolio starts from this value (the helper the option calls).
        assert _portfolio_capital(None) == f"{D(str(folio['total_value_usd'])):.2f}"

        config = tmp_path / "monitor.toml"
        config.write_text('[holdings]\n"lido-steth" = 3000\n')
        review = cli_json("review", "--quarter", "2026Q4", "--config", str(config))
        assert review["earned_basis"] == "ledger"
        (lido,) = review["holdings"]
        assert D(str(lido["earned_usd"])) == 30 * REWARD_VALUE

        gains = cli_json("ledger", "gains", "--year", "2026")
        fill_seqs = {keys[f["client_order_id"]]["seq"] for f in fills}
        assert fill_seqs <= {d["seq"] for d in gains["disposals"]}  # USDT spent on the buys
        koinly = list(csv.DictReader(io.StringIO(cli("ledger", "export", "--format", "koinly"))))
    buys = [r for r in koinly if r["Sent Currency"] == "USDT"]
    received = {(r["Received Currency"], D(r["Received Amount"])) for r in buys}
    assert received == {(base, D(f["filled"])) for base, f in bought.items()}
    assert all(r["TxHash"] == "" for r in koinly)  # paper fills have no chain hash


def test_plan_from_portfolio_needs_a_priced_ledger_and_no_capital(engine: Engine) -> None:
    empty = runner.invoke(app, ["plan", "--from-portfolio", "--income", "30/month"])
    assert empty.exit_code == 2 and "the ledger holds nothing priced" in empty.output
    both = runner.invoke(app, ["plan", "--from-portfolio", "--capital", "5000"])
    assert both.exit_code == 2 and "drop --capital" in both.output
