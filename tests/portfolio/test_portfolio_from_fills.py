"""Issue 18 done-means: a paper rebalance writes its fills to the ledger, and
``portfolio`` values what the ledger holds.

Independent check of the total: the paper broker buys at the stored price moved 10 bps
against the buyer and charges a 10 bps fee, so after funding 10,000 USDT the holdings
are worth 10,000 less the fees less each fill's slippage (cost - filled x stored price),
computed here from the fills themselves and the stored prices, not from the portfolio
code.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.cli import app
from realyield.execution.paper import stored_prices
from realyield.universe import build

runner = CliRunner()


def run_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_paper_rebalance_fills_reach_the_ledger_and_the_portfolio(engine: Engine) -> None:
    build.load_snapshot(engine)
    out = run_json(
        "rebalance", "--fund", "USDT=10000", "--target", "BTC=50%", "--target", "ETH=30%"
    )
    fills = {f["symbol"]: f for f in out["fills"]}
    assert set(fills) == {"BTC/USDT", "ETH/USDT"}

    events = run_json("ledger", "list")
    trades = {e["asset"]: e for e in events if e["kind"] == "trade"}
    assert set(trades) == {"BTC", "ETH"}
    for base in ("BTC", "ETH"):
        fill, event = fills[f"{base}/USDT"], trades[base]
        assert event["key"] == fill["client_order_id"] and event["source"] == "paper"
        assert event["account"] == "paper:default"
        assert D(event["amount"]) == D(fill["filled"])
        assert (event["counter_asset"], D(event["counter_amount"])) == ("USDT", D(fill["cost"]))
        assert D(event["fee_amount"]) == D(fill["fee"]) and D(event["value"]) == D(fill["cost"])
    deposits = [e for e in events if e["kind"] == "deposit"]
    assert [(e["asset"], D(e["amount"])) for e in deposits] == [("USDT", D("10000.0"))]

    folio = run_json("portfolio", "--target", "BTC=50%", "--target", "ETH=30%")
    held = {h["asset"]: h for h in folio["holdings"]}
    assert {"BTC", "ETH", "USDT"} <= set(held)
    stored = stored_prices(engine, ["BTC", "ETH"])
    fees = sum(D(f["fee"]) for f in fills.values())
    slippage = sum(
        D(f["cost"]) - D(f["filled"]) * stored[s] for s, f in fills.items()
    )  # what the fills paid above the stored price
    usdt = held["USDT"]
    expected = D(usdt["quantity"]) * D(str(usdt["price_usd"])) + sum(
        D(f["filled"]) * stored[s] for s, f in fills.items()
    )
    assert abs(D(str(folio["total_value_usd"])) - expected) < D("0.01")
    costs = fees + slippage
    assert D(0) < costs < D(20)  # 10 bps fee + 10 bps slippage on 8,000 bought
    usdt_par_gap = abs(D(str(usdt["price_usd"])) - 1) * D(usdt["quantity"])
    assert abs(D(str(folio["total_value_usd"])) - (D(10_000) - costs)) <= usdt_par_gap + D("0.01")
    assert abs(held["BTC"]["weight"] - 0.5) < 0.01 and abs(held["ETH"]["weight"] - 0.3) < 0.01
    assert abs(held["BTC"]["drift_pp"]) < 1.0
    assert D(str(held["BTC"]["cost_basis"])) == D(fills["BTC/USDT"]["cost"]) + D(
        fills["BTC/USDT"]["fee"]
    )
    (paper,) = folio["accounts"]
    assert paper["kind"] == "paper" and D(paper["balances"]["BTC"]) == D(
        fills["BTC/USDT"]["filled"]
    )
