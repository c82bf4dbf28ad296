"""Import throughput: the 11,977-pool DeFiLlama file, every price file and the two pool
histories in ../shared/data.

Run on demand (``make bench`` or ``python benchmarks/bench_import.py``); CI does not time
things. Prints seconds and rows per second for parsing alone and for parse + store
(SQLite, one transaction per file), and the ratio against a reference: the same file
read by the standard library's ``csv`` module with no validation, i.e. the cost of our
guards and records over the bare minimum.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from realyield.core.settings import load_settings
from realyield.sources import files
from realyield.store.engine import open_store
from realyield.universe import build

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bare_csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(io.StringIO(handle.read()))) - 1


def main() -> int:
    if not SHARED.is_dir():
        print(f"skipped: real data not found at {SHARED}")
        return 0
    pools = SHARED / "defillama" / "pools_2023-07-26.csv"
    price_files = sorted((SHARED / "prices").glob("*/*.csv"))
    rows = []

    seconds, result = timed(lambda: files.import_pools(pools))
    n = len(result[0])  # type: ignore[index]
    ref, _ = timed(lambda: bare_csv_rows(pools))
    rows.append(("parse pools_2023-07-26.csv", n, seconds, ref))

    def parse_prices() -> int:
        return sum(len(files.import_prices(p)[0]) for p in price_files)

    def bare_prices() -> int:
        return sum(bare_csv_rows(p) for p in price_files)

    seconds, parsed = timed(parse_prices)
    n_prices = int(parsed)  # type: ignore[call-overload]
    ref, _ = timed(bare_prices)
    rows.append((f"parse {len(price_files)} price files", n_prices, seconds, ref))

    for name in ("defillama_dex_pool_history.csv.gz", "lending_markets_history.csv.gz"):
        path = SHARED / "yields" / name

        def read_history(path: Path = path) -> object:
            return files.import_apy_history(path)

        seconds, result = timed(read_history, repeat=1)
        n_hist = len(result[0].points)  # type: ignore[index]
        rows.append((f"parse {name}", n_hist, seconds, None))

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings({"REALYIELD_HOME": home})
        engine = open_store(settings)
        start = time.perf_counter()
        build.import_file(engine, pools)
        rows.append(("parse + store pools (SQLite)", n, time.perf_counter() - start, None))
        start = time.perf_counter()
        for path in price_files:
            build.import_file(engine, path)
        elapsed = time.perf_counter() - start
        rows.append(("parse + store all prices (SQLite)", n_prices, elapsed, None))
        engine.dispose()

    print(f"{'step':<38} {'rows':>8} {'seconds':>9} {'rows/s':>10} {'x bare csv':>11}")
    for name, count, secs, reference in rows:
        ratio = f"{secs / reference:>10.1f}x" if reference else f"{'':>11}"
        print(f"{name:<38} {count:>8,} {secs:>9.3f} {count / secs:>10,.0f} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
