"""Ledger throughput: importing 1,000,000 events (target < 60 s) and FIFO gains over
1,000,000 events (target < 10 s), on the default store (SQLite, WAL) in a temp folder.

Run on demand: ``python benchmarks/bench_ledger.py [EVENTS]``. The file is the
documented generic CSV: 10% trades (buys and sells of ETH against USD, so every sale
consumes lots), 90% staking rewards and lending interest *without* values, so each is
valued from the stored daily prices (nearest earlier price, age recorded), as a real
import of reward history would be. Times are wall-clock seconds of the library calls a
user's ``realyield ledger import`` and ``realyield ledger gains`` make: parsing,
validation, valuation, batched idempotent inserts; and reading every event back,
replaying the lots and building the report. The reference for the ratios is the target.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from realyield.core.model import PricePoint
from realyield.portfolio import service
from realyield.portfolio.imports import import_file
from realyield.store import records
from realyield.store.engine import open_store

START = datetime(2022, 1, 1, tzinfo=UTC)


def write_file(path: Path, events: int, rng: random.Random) -> None:
    step = timedelta(days=3 * 365) / events
    with path.open("w") as fh:
        fh.write("time,kind,asset,amount,counter_asset,counter_amount,opportunity,key\n")
        for i in range(events):
            stamp = (START + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if i % 10 == 0:
                usd = f"{rng.uniform(1500, 4000):.2f}"
                if i % 20 == 0:
                    fh.write(f"{stamp},trade,ETH,1.5,USD,{usd},,b{i}\n")
                else:
                    fh.write(f"{stamp},trade,USD,{usd},ETH,1,,s{i}\n")
            elif i % 3 == 0:
                fh.write(f"{stamp},lending_interest,USDC,{rng.uniform(0.1, 5):.6f},,,aave,i{i}\n")
            else:
                fh.write(f"{stamp},staking_reward,ETH,{rng.uniform(1e-5, 1e-3):.8f},,,lido,r{i}\n")


def main() -> int:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = open_store(url=f"sqlite:///{folder / 'realyield.db'}")
        days = [date(2021, 12, 1) + timedelta(days=d) for d in range(3 * 365 + 40)]
        with engine.begin() as conn:
            records.save_prices(
                conn,
                "coingecko",
                [PricePoint("ethereum", d, 1500 + 1000 * rng.random()) for d in days],
            )
            records.save_prices(
                conn,
                "coingecko",
                [PricePoint("usd-coin", d, 0.999 + 0.002 * rng.random()) for d in days],
            )
        data = folder / "events.csv"
        write_file(data, events, rng)

        start = time.perf_counter()
        report = import_file(engine, data, "generic", batch_size=5000)
        seconds = time.perf_counter() - start
        assert report.inserted == events, report.as_dict()
        print(
            f"import {events:,} events:      {seconds:7.2f} s  ({seconds / 60:.2f}x the 60 s "
            f"target; {events / seconds:,.0f} events/s; {report.old_prices} old prices)"
        )

        start = time.perf_counter()
        again = import_file(engine, data, "generic", batch_size=5000)
        seconds = time.perf_counter() - start
        assert again.inserted == 0 and again.duplicates == events
        print(f"re-import (all duplicates):  {seconds:7.2f} s  (nothing changes)")

        last_year = (START + timedelta(days=3 * 365 - 1)).year
        start = time.perf_counter()
        gains = service.gains(engine, last_year, "fifo")
        seconds = time.perf_counter() - start
        print(
            f"FIFO gains over {events:,} events: {seconds:7.2f} s  ({seconds / 10:.2f}x the "
            f"10 s target; {len(gains.disposals):,} disposal lines in {last_year}, "
            f"gain {gains.gain:,.2f} USD)"
        )
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
