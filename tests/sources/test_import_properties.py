"""Property tests: every data importer fed generated malformed rows among good ones.

For pools (CSV and JSON), prices and APY histories, hypothesis writes files mixing
good rows (fresh ids), known-bad rows aimed at values already in the store (thousands
separators, decimal commas, overflow, 1e300, NUL characters, dates in year 1 or 9999,
epochs out of range ...) and rows of arbitrary text, and imports them through
``build.import_file`` into a store shared by the examples of one test. Each must:

* let no exception escape (``--strict`` may refuse the file with ``DataError``);
* leave every stored value a rejected row aimed at unchanged, and store the good rows;
* count every row: read = accepted + rejected + duplicates resolved.

``REALYIELD_PROPERTY_STATS=path.json`` writes how many files and rows were tried, and
``REALYIELD_PROPERTY_EXAMPLES`` sets the examples per importer (the README quotes a
long run).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from realyield.core.errors import DataError
from realyield.core.settings import load_settings
from realyield.store import schema
from realyield.store.engine import open_store
from realyield.universe import build

#: examples per importer (``REALYIELD_PROPERTY_EXAMPLES`` for a longer run)
EXAMPLES = int(os.environ.get("REALYIELD_PROPERTY_EXAMPLES", "100"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATS: Counter[str] = Counter()
BASE_IDS = [f"base-{i}" for i in range(5)]
HISTORY_IDS = [f"hbase-{i}" for i in range(5)]
BASE_DAYS = [f"2024-01-0{d}" for d in range(1, 6)]

BAD_NUMBERS = [
    "1.234,56",
    "1,5",
    "1,234.5",
    "1 234",
    "1_000",
    "1e400",
    "-1e400",
    "1e300",
    "-1e300",
    "abc",
    "0x1F",
    "$5",
    "\u0661\u0662",
    "9" * 200,
    "1e5e5",
]
BAD_TEXT = ["a\x00b", "x\x1b[31m", "r\u202eev", "n\nl", "z" * 600]
BAD_DATES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-05:00",
    "9999-01-01",
    "1970-01-01",
    "99999999999999999999",
    "-5",
    "2024-02-30",
    "28/09/2022",
    "yesterday",
    "",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    """One store per module, holding baseline pools, prices and history to protect."""
    home = tmp_path_factory.mktemp("property-home")
    engine = open_store(load_settings(env={"REALYIELD_HOME": str(home)}))
    files = tmp_path_factory.mktemp("property-files")
    base = files / "pools_2023-07-26.csv"
    base.write_text(
        "pool,apy,tvlUsd,symbol\n"
        + "".join(f"{p},{i + 1}.5,{i + 1}000,S{i}\n" for i, p in enumerate(BASE_IDS))
    )
    prices = files / "bitcoin.csv"
    prices.write_text(
        "date,price\n" + "".join(f"{d},{i + 10}.25\n" for i, d in enumerate(BASE_DAYS))
    )
    history = files / "h.csv"
    history.write_text(
        "date,pool,apy\n"
        + "".join(f"{d},{p},{i}.5\n" for p in HISTORY_IDS for i, d in enumerate(BASE_DAYS))
    )
    for path in (base, prices, history):
        assert build.import_file(engine, path).status == "ok"
    yield engine, files
    engine.dispose()
    out = os.environ.get("REALYIELD_PROPERTY_STATS")
    if out:
        Path(out).write_text(json.dumps(dict(STATS), indent=1, sort_keys=True))


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every stored row of the three tables the importers write (to compare)."""
    with engine.connect() as conn:
        return {
            name: sorted(tuple(map(str, row)) for row in conn.execute(select(table)))
            for name, table in (
                ("opportunities", schema.opportunities),
                ("prices", schema.prices),
                ("apy_history", schema.apy_history),
            )
        }


def baseline(engine: Engine) -> dict[str, list[Any]]:
    """The stored baseline values that bad rows aim at."""
    with engine.connect() as conn:
        o, p, h = schema.opportunities, schema.prices, schema.apy_history
        return {
            "pools": sorted(
                conn.execute(
                    select(o.c.id, o.c.apy, o.c.tvl_usd, o.c.symbol).where(o.c.id.in_(BASE_IDS))
                )
            ),
            "prices": sorted(
                conn.execute(select(p.c.date, p.c.price_usd).where(p.c.asset_id == "bitcoin"))
            ),
            "history": sorted(
                conn.execute(select(h.c.id, h.c.date, h.c.apy).where(h.c.id.in_(HISTORY_IDS)))
            ),
        }


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # \r\n rows: a \r inside a cell gets quoted
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# Row kinds: ("good", ...), ("bad", ...) aimed at the baseline, ("junk", ...) arbitrary text.
junk_text = st.text(max_size=15) | st.sampled_from(BAD_NUMBERS + BAD_TEXT + BAD_DATES)


def pool_rows(draw: Any, serial: int) -> tuple[list[list[str]], int, int]:
    good = draw(st.integers(0, 6))
    rows: list[list[str]] = [
        [f"new-{serial}-{i}", f"{i}.25", f"{i + 1}e6", f"T{i}"] for i in range(good)
    ]
    bad = draw(st.integers(0, 6))
    for _ in range(bad):
        row = [draw(st.sampled_from(BASE_IDS)), "2", "100", "B"]
        column = draw(st.sampled_from([1, 2, 3]))
        row[column] = draw(st.sampled_from(BAD_TEXT if column == 3 else BAD_NUMBERS))
        rows.append(row)
    for i in range(draw(st.integers(0, 4))):
        rows.append([f"junk-{serial}-{i}", draw(junk_text), draw(junk_text), draw(junk_text)])
    return draw(st.permutations(rows)), good, bad


SERIAL = Counter[str]()


def next_serial(kind: str) -> int:
    SERIAL[kind] += 1
    return SERIAL[kind]


def check_counts(result: build.LoadResult, rows: int, good: int, bad: int) -> None:
    report = result.report
    assert report is not None
    assert report.rows_seen == rows
    assert report.accepted + report.rejected_total + report.duplicates == rows
    assert report.accepted >= good and report.rejected_total >= bad
    assert result.status == ("ok" if report.accepted else "failed")
    STATS["files"] += 1
    STATS["rows"] += rows
    STATS["rows_rejected"] += report.rejected_total
    STATS["known_bad_rows"] += bad


@PROPERTY
@given(data=st.data(), strict=st.booleans())
def test_pools_csv(store: tuple[Engine, Path], data: st.DataObject, strict: bool) -> None:
    engine, folder = store
    serial = next_serial("pools")
    rows, good, bad = pool_rows(data.draw, serial)
    path = folder / "pools_2023-07-26.csv"
    path.write_text(to_csv(["pool", "apy", "tvlUsd", "symbol"], rows), encoding="utf-8")
    before, everything = baseline(engine), snapshot(engine)
    try:
        result = build.import_file(engine, path, kind="pools", strict=strict)
    except DataError:
        assert strict
        assert snapshot(engine) == everything  # a refused file writes nothing
        STATS["strict_refusals"] += 1
        return
    assert baseline(engine) == before
    check_counts(result, len(rows), good, bad)
    with engine.connect() as conn:
        o = schema.opportunities
        query = select(o.c.id, o.c.apy).where(o.c.id.like(f"new-{serial}-%"))
        stored = {row[0]: row[1] for row in conn.execute(query)}
    assert stored == {f"new-{serial}-{i}": i + 0.25 for i in range(good)}


json_bad = st.sampled_from(
    ["1.234,56", "1_000", 1e300, -1e300, 10**30, True, [1], {"a": 1}, "abc", "1e400"]
)
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY
@given(data=st.data())
def test_pools_json(store: tuple[Engine, Path], data: st.DataObject) -> None:
    engine, folder = store
    serial = next_serial("json")
    good = data.draw(st.integers(0, 5))
    pools: list[Any] = [
        {"pool": f"jnew-{serial}-{i}", "apy": i + 0.5, "tvlUsd": 1e6, "symbol": "X"}
        for i in range(good)
    ]
    bad = data.draw(st.integers(0, 5))
    for _ in range(bad):
        field = data.draw(st.sampled_from(["apy", "tvlUsd", "symbol", "timestamp"]))
        value: Any = data.draw(
            st.sampled_from(BAD_TEXT)
            if field == "symbol"
            else st.sampled_from(BAD_DATES[:-1])
            if field == "timestamp"
            else json_bad
        )
        pools.append({"pool": data.draw(st.sampled_from(BASE_IDS)), "apy": 2, field: value})
    junk = data.draw(st.lists(json_junk, max_size=4))
    pools.extend(junk)
    pools = data.draw(st.permutations(pools))
    path = folder / "pools_2023-07-26.json"
    path.write_text(json.dumps({"status": "success", "data": pools}), encoding="utf-8")
    before = baseline(engine)
    result = build.import_file(engine, path)
    assert baseline(engine) == before
    check_counts(result, len(pools), good, bad)


def good_price_day(serial: int, i: int) -> str:
    """A day for the good rows of one example (real asset ids only: the importer maps
    names through the alias table, so the examples differ by day, not by asset)."""
    return (date(2015, 1, 1) + timedelta(days=(serial * 7) % 3000 + i)).isoformat()


@PROPERTY
@given(data=st.data())
def test_prices(store: tuple[Engine, Path], data: st.DataObject) -> None:
    engine, folder = store
    serial = next_serial("prices")
    good = data.draw(st.integers(0, 6))
    rows = [[good_price_day(serial, i), f"{i + 1}.5", "ethereum"] for i in range(good)]
    bad = data.draw(st.integers(0, 6))
    for _ in range(bad):
        if data.draw(st.booleans()):
            row = [data.draw(st.sampled_from(BAD_DATES)), "99", "bitcoin"]
        else:
            day = data.draw(st.sampled_from(BASE_DAYS))
            row = [day, data.draw(st.sampled_from(BAD_NUMBERS)), "bitcoin"]
        rows.append(row)
    for _ in range(data.draw(st.integers(0, 4))):
        rows.append([data.draw(junk_text), data.draw(junk_text), "solana"])
    rows = data.draw(st.permutations(rows))
    path = folder / "prices.csv"
    path.write_text(to_csv(["date", "price", "coin_name"], rows), encoding="utf-8")
    before = baseline(engine)
    result = build.import_file(engine, path, kind="prices")
    assert baseline(engine) == before
    check_counts(result, len(rows), good, bad)


@PROPERTY
@given(data=st.data(), decimal_comma=st.booleans())
def test_apy_history(store: tuple[Engine, Path], data: st.DataObject, decimal_comma: bool) -> None:
    engine, folder = store
    serial = next_serial("history")
    good = data.draw(st.integers(0, 6))
    rows = [[f"2024-03-{i + 1:02d}", f"hnew-{serial}", str(i + 1), "1000"] for i in range(good)]
    bad = data.draw(st.integers(0, 6))
    numbers = [n for n in BAD_NUMBERS if not (decimal_comma and n in ("1,5", "1.234,56"))]
    for _ in range(bad):
        row = [
            data.draw(st.sampled_from(BASE_DAYS)),
            data.draw(st.sampled_from(HISTORY_IDS)),
            "7",
            "5",
        ]
        column = data.draw(st.sampled_from([0, 2, 3]))
        row[column] = data.draw(st.sampled_from(BAD_DATES[:-1] if column == 0 else numbers))
        rows.append(row)
    for i in range(data.draw(st.integers(0, 4))):
        rows.append(
            [
                data.draw(junk_text),
                f"hjunk-{serial}-{i}",
                data.draw(junk_text),
                data.draw(junk_text),
            ]
        )
    rows = data.draw(st.permutations(rows))
    path = folder / "history.csv"
    path.write_text(to_csv(["date", "pool", "apy", "tvl_usd"], rows), encoding="utf-8")
    before = baseline(engine)
    result = build.import_file(engine, path, kind="apy-history", decimal_comma=decimal_comma)
    assert baseline(engine) == before
    check_counts(result, len(rows), good, bad)
