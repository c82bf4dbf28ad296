"""Imports that finish and say what they replace: through the store and the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.errors import ConfigError, DataError
from realyield.store import schema
from realyield.universe import build
from realyield.universe.repository import price_history_frame, table_counts

runner = CliRunner()
HEADER = "chain,project,symbol,apy,pool\n"
#: the five highest APYs of the real 2023-07-26 universe (``defillama/pools_2023-07-26.csv``)
TOP_FIVE = [196_485.33952, 30_180.37653, 9_846.91082, 8_505.48031, 5_811.5662]


def pools_file(tmp_path: Path, apys: list[str], name: str = "pools_2023-07-26.csv") -> Path:
    rows = "".join(f'Ethereum,proj-{i},TOK{i},"{apy}",pool-{i}\n' for i, apy in enumerate(apys))
    path = tmp_path / name
    path.write_text(HEADER + rows + "Ethereum,aave-v3,USDC,4.2,usdc\n", encoding="utf-8")
    return path


def stored_apys(engine: Engine) -> dict[str, float | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.opportunities.c.id, schema.opportunities.c.apy))
        return {row.id: row.apy for row in rows}


def test_a_european_reimport_never_overwrites_stored_apys(engine: Engine, tmp_path: Path) -> None:
    """The issue's case: a re-import of the pools file with ``1.234,56`` values once
    overwrote five stored APYs (196,485 -> 1.23456) without a word."""
    build.import_file(engine, pools_file(tmp_path, [str(a) for a in TOP_FIVE]))
    before = stored_apys(engine)
    assert before["pool-0"] == pytest.approx(196_485.33952)
    result = build.import_file(engine, pools_file(tmp_path, ["1.234,56"] * 5))
    assert stored_apys(engine) == before  # nothing stored is changed by a rejected row
    assert result.status == "ok" and result.report is not None
    assert result.report.rejected == {"decimal_comma": 5}
    assert "5 bad row(s) skipped" in result.message
    assert result.changes is not None
    assert (result.changes.changed, result.changes.unchanged) == (0, 1)


def test_replacing_stored_values_is_counted_and_shown(engine: Engine, tmp_path: Path) -> None:
    build.import_file(engine, pools_file(tmp_path, [str(a) for a in TOP_FIVE]))
    european = pools_file(tmp_path, ["1.234,56"] * 5)
    european.write_text(european.read_text().replace("4.2", '"4,2"'), encoding="utf-8")
    result = build.import_file(engine, european, decimal_comma=True)
    changes = result.changes
    assert changes is not None and changes.changed == 5 and changes.by_field == {"apy": 5}
    assert changes.summary() == "5 stored pools changed APY; 0 new, 1 unchanged"
    first = changes.examples[0]
    assert (first.key, first.old, first.new) == ("pool-0 2023-07-26", 196_485.33952, 1234.56)
    assert "196,485.3395 -> 1,234.56" in str(first)
    assert stored_apys(engine)["usdc"] == 4.2  # 4,2 read as 4.2: unchanged
    assert stored_apys(engine)["pool-0"] == 1234.56  # the user said: decimal commas


def test_dry_run_shows_what_would_change_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    build.import_file(engine, pools_file(tmp_path, [str(a) for a in TOP_FIVE]))
    before, counts = stored_apys(engine), table_counts(engine)
    dry = build.import_file(engine, pools_file(tmp_path, ["1", "2", "3", "4", "5"]), dry_run=True)
    assert dry.status == "dry-run" and dry.written == {}
    assert dry.changes is not None and dry.changes.by_field == {"apy": 5}
    assert [(c.old, c.new) for c in dry.changes.examples] == list(
        zip(TOP_FIVE, [1.0, 2.0, 3.0, 4.0, 5.0], strict=True)
    )
    assert stored_apys(engine) == before and table_counts(engine) == counts


def test_a_rerun_completes_and_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("date,pool,apy\n2024-01-01,p,1\n2024-01-02,p,x\n2024-01-03,p,3\n")
    first = build.import_file(engine, path)
    second = build.import_file(engine, path)
    assert first.status == second.status == "ok"
    assert first.changes is not None and second.changes is not None
    assert (first.changes.new, second.changes.new, second.changes.unchanged) == (2, 0, 2)
    assert second.changes.changed == 0 and table_counts(engine)["apy_history"] == 2


def test_a_file_with_no_good_row_fails_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("pool,apy\na,1.234,56\nb,abc\n")
    result = build.import_file(engine, path, kind="pools")
    assert result.status == "failed" and "no good row" in result.message
    assert table_counts(engine)["opportunities"] == 0
    with engine.connect() as conn:
        runs = conn.execute(select(schema.refresh_runs.c.status)).scalars().all()
    assert runs == ["failed"]


def test_strict_still_refuses_the_whole_file(engine: Engine, tmp_path: Path) -> None:
    path = pools_file(tmp_path, ["1", "1.234,56"])
    with pytest.raises(DataError, match=r"1 bad row\(s\).*row 3: decimal_comma"):
        build.import_file(engine, path, strict=True)
    assert table_counts(engine)["opportunities"] == 0


YAHOO_FULL = (
    "Date,Open,High,Low,Close,Adj Close,Volume\n"
    "2024-01-01,42280.23,44175.44,42214.98,44167.33,44167.33,18426978443\n"
    "2024-01-02,44187.14,45899.71,44176.95,44957.97,44957.97,39335274536\n"
    "2024-01-03,44961.60,45503.24,40813.54,42848.18,42848.18,46342323118\n"
)


def test_a_yahoo_adj_close_file_imports_with_no_options(engine: Engine, tmp_path: Path) -> None:
    """Done-means: Yahoo's ``BTC-USD.csv`` with ``Date,Adj_Close`` imports as it is. The
    close of D is the 00:00 UTC price of D+1, so it agrees with the Open of D+1 from the
    full export."""
    adj = tmp_path / "BTC-USD.csv"
    adj.write_text("Date,Adj_Close\n2024-01-01,44167.33\n2024-01-02,44957.97\n")
    result = build.import_file(engine, adj)
    assert result.status == "ok" and result.written["prices"] == 2
    with engine.connect() as conn:
        (asset,) = set(conn.execute(select(schema.prices.c.asset_id)).scalars())
    assert asset in ("BTC", "bitcoin")  # the ticker, or its id once aliases map it
    frame = price_history_frame(engine, [asset])
    assert frame["date"].to_list() == [date(2024, 1, 2), date(2024, 1, 3)]
    full = tmp_path / "btc-full.csv"
    full.write_text(YAHOO_FULL)
    build.import_file(engine, full, asset_id="btc-full")
    full_frame = price_history_frame(engine, ["btc-full"])
    opens = dict(zip(full_frame["date"], full_frame["price_usd"], strict=True))
    closes = dict(zip(frame["date"], frame["price_usd"], strict=True))
    for day, price in closes.items():
        assert price == pytest.approx(opens[day], rel=1e-3)


def test_exchange_ohlcv_export_is_detected(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "1704067200000,42283.58,44184.1,42180.77,44179.55,27174.29\n"
        "1704153600000,44179.55,45879.63,44148.34,44946.91,65146.40\n"
    )
    result = build.import_file(engine, path, asset_id="bitcoin")
    assert result.status == "ok"
    frame = price_history_frame(engine, ["bitcoin"])
    assert frame["price_usd"].to_list() == [42283.58, 44179.55]  # the Open: 00:00 UTC
    assert frame["volume_usd"][0] == pytest.approx(27174.29 * 42283.58)  # base units x price


def test_column_mapping_reads_any_csv(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("Day;Px;Other\n2024-01-01;42000,5;x\n2024-01-02;43000;y\n")
    result = build.import_file(
        engine, path, columns={"date": "Day", "price": "Px"}, decimal_comma=True, asset_id="btc"
    )
    assert result.status == "ok"
    assert price_history_frame(engine, ["btc"])["price_usd"].to_list() == [42000.5, 43000.0]
    with pytest.raises(ConfigError, match=r"unknown target\(s\) \['prize'\]"):
        build.import_file(engine, path, kind="prices", columns={"prize": "Px"})
    with pytest.raises(DataError, match=r"no column 'Nope'.*Day"):
        build.import_file(engine, path, kind="prices", columns={"date": "Nope", "price": "Px"})


# --- the command line ------------------------------------------------------------------


@pytest.mark.usefixtures("settings")
def test_cli_exit_status_and_summary(tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text('pool,apy\na,"1.234,56"\nb,"2,5"\n')
    result = runner.invoke(app, ["data", "import", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "p.csv: failed" in result.stdout and ": ok" not in result.stdout
    assert "skipped 2 x decimal_comma" in result.stdout
    assert "p.csv row 2: column 'apy': '1.234,56'" in result.stdout
    good = runner.invoke(app, ["data", "import", str(bad), "--decimal-comma"])
    assert good.exit_code == 0 and "p.csv: ok" in good.stdout
    dry = runner.invoke(app, ["data", "import", str(bad), "--dry-run", "--json"])
    assert dry.exit_code == 1  # no good row: the dry run says so too
    yahoo = tmp_path / "ethereum.csv"
    yahoo.write_text("Date,Adj_Close\n2024-01-01,2352.04\n")
    out = runner.invoke(app, ["data", "import", str(yahoo), "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["written"]["prices"] == 1
    changed = tmp_path / "eth2.csv"
    changed.write_text("Date,Price\n2024-01-02,2400\n")
    dry = runner.invoke(app, ["data", "import", str(changed), "--asset", "ethereum", "--dry-run"])
    assert dry.exit_code == 0 and "would change price" in dry.stdout
    assert "ethereum 2024-01-02 price: 2,352.04 -> 2,400" in dry.stdout


@pytest.mark.usefixtures("settings")
def test_cli_column_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Day,Px\n2024-01-01,1\n")
    unknown = runner.invoke(app, ["data", "import", str(path), "--columns", "prize=Px"])
    assert unknown.exit_code == 2 and "unknown target" in unknown.stderr
    missing = runner.invoke(app, ["data", "import", str(path), "--columns", "date=D,price=Px"])
    assert missing.exit_code == 1 and "no column 'D'" in missing.stderr
    malformed = runner.invoke(app, ["data", "import", str(path), "--columns", "date"])
    assert malformed.exit_code == 2 and "TARGET=COLUMN" in malformed.stderr
    mapped = runner.invoke(
        app, ["data", "import", str(path), "--columns", "date=Day,price=Px", "--asset", "x"]
    )
    assert mapped.exit_code == 0, mapped.output


def test_adding_missing_values_is_a_fill_not_a_change(engine: Engine, tmp_path: Path) -> None:
    """As when CoinGecko's daily export (with caps) follows its market_chart dump
    (without) over the 17 days they share: the caps are added, no value is replaced."""
    dump = tmp_path / "dump.csv"
    dump.write_text("date,price\n2023-08-12,1850.5\n2023-08-13,1848.2\n")
    build.import_file(engine, dump, asset_id="ethereum")
    daily = tmp_path / "daily.csv"
    daily.write_text("date,price,market_cap\n2023-08-12,1850.5,2.2e11\n2023-08-13,1849,2.2e11\n")
    result = build.import_file(engine, daily, asset_id="ethereum")
    changes = result.changes
    assert changes is not None and (changes.changed, changes.filled) == (1, 1)
    assert changes.summary() == (
        "1 stored daily prices changed price; 2 filled market cap; 0 new, 0 unchanged"
    )
    assert [(c.field, c.old, c.new) for c in changes.examples] == [("price_usd", 1848.2, 1849.0)]
