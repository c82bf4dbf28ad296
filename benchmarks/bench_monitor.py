"""Replaying the alert rules over years of real history, and planning orders for many
markets (targets: replay of all rules over the 80,842 DEX pool-days plus eight
CoinGecko price series in under 2 s; a 200-market order plan in under 0.2 s).

Run on demand: ``python benchmarks/bench_monitor.py``. Needs ../shared/data (the
DeFiLlama DEX pool histories and the CoinGecko daily prices); the order-plan part runs
without it. The reference for the replay is the time to build the frames from the
imported records, i.e. what it costs just to hold the data the rules read.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from realyield.exchange.orders import Balances, MarketRules
from realyield.execution.orders import plan_orders
from realyield.monitor.alerts import AlertBook
from realyield.monitor.rules import RuleConfig
from realyield.monitor.service import market_and_yield_findings
from realyield.sources.files import import_apy_history, import_prices

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PRICE_FILES = (
    "usd-coin",
    "dai",
    "tether",
    "frax",
    "busd",
    "terra-luna",
    "staked-ether",
    "ethereum",
)
REPLAY_TARGET_S = 2.0
PLAN_TARGET_S = 0.2


def replay_bench() -> None:
    if not DATA.is_dir():
        print(f"skipped replay: no shared data at {DATA}")
        return
    history, _ = import_apy_history(DATA / "yields" / "defillama_dex_pool_history.csv.gz")
    points = []
    for name in PRICE_FILES:
        found, _ = import_prices(DATA / "prices" / "coingecko_daily" / f"{name}.csv")
        points += found
    t0 = time.perf_counter()
    apy = pl.DataFrame(
        {
            "id": [p.opportunity_id for p in history.points],
            "date": [p.date for p in history.points],
            "apy": [p.apy for p in history.points],
            "apy_base": [p.apy_base for p in history.points],
            "apy_reward": [p.apy_reward for p in history.points],
            "tvl_usd": [p.tvl_usd for p in history.points],
        }
    )
    prices = pl.DataFrame(
        {
            "asset_id": [p.asset_id for p in points],
            "date": [p.date for p in points],
            "price_usd": [p.price_usd for p in points],
        }
    )
    reference = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = market_and_yield_findings(
        prices, apy, RuleConfig(), date(2015, 1, 1), date(2025, 12, 31)
    )
    rules_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    book = AlertBook()
    book.record(findings)
    book_s = time.perf_counter() - t0
    total = rules_s + book_s
    print(
        f"replay: {apy.height:,} pool-days + {prices.height:,} price-days -> "
        f"{len(findings):,} findings, {len(book.alerts):,} episodes"
    )
    print(
        f"  rules {rules_s:.2f} s + episodes {book_s:.2f} s = {total:.2f} s "
        f"(target {REPLAY_TARGET_S} s, ratio {total / REPLAY_TARGET_S:.2f}); "
        f"building the frames {reference:.2f} s (ratio {total / reference:.1f}x)"
    )


def plan_bench(n: int = 200) -> None:
    rules = {
        f"C{i}/USDT": MarketRules(
            f"C{i}/USDT",
            f"C{i}",
            "USDT",
            Decimal("0.001"),
            Decimal("0.01"),
            min_cost=Decimal(5),
            taker_fee=Decimal("0.001"),
        )
        for i in range(n)
    }
    prices = {s: Decimal(10 + i) for i, s in enumerate(rules)}
    held = {f"C{i}": Decimal(i % 7) for i in range(n)}
    balances = Balances({**held, "USDT": Decimal(50_000)}, {**held, "USDT": Decimal(50_000)})
    targets = {f"C{i}": 1 / n for i in range(n)}
    t0 = time.perf_counter()
    plan = plan_orders(targets, balances, prices, rules, quote="USDT", run_id="bench")
    took = time.perf_counter() - t0
    print(
        f"order plan: {n} markets -> {len(plan.orders)} orders, {len(plan.skipped)} skipped "
        f"in {took:.3f} s (target {PLAN_TARGET_S} s, ratio {took / PLAN_TARGET_S:.2f})"
    )


if __name__ == "__main__":
    replay_bench()
    plan_bench()
    sys.exit(0)
