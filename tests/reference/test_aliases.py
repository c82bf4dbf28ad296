"""The alias table: names other sources use -> realyield's ids, never guessed."""

from __future__ import annotations

import csv
import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from realyield.core.errors import DataError, RecordError
from realyield.reference import (
    ALIAS_COLUMNS,
    canonical_asset,
    canonical_protocol,
    load_aliases,
    load_chains,
    load_protocols,
    load_staking_params,
    load_tokens,
    unknown_name_hint,
)

HEADER = ",".join(ALIAS_COLUMNS)
ROW = "asset,bnb,binancecoin,CoinGecko export,2023-08-28,"


def _write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "aliases.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# --- the cases issue 16 names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bnb", "binancecoin"),
        ("BNB", "binancecoin"),
        ("avalanche", "avalanche-2"),
        (" avalanche ", "avalanche-2"),
        ("avalanche-2", "avalanche-2"),
        ("matic-network", "matic-network"),
        ("busd", "binance-usd"),
        ("terra-luna", "terra-luna"),
        ("ETH", "ethereum"),  # a tokens.csv symbol
        ("staked-ether", "staked-ether"),  # a tokens.csv asset id
    ],
)
def test_known_asset_names(name: str, expected: str) -> None:
    assert canonical_asset(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AAVEV3", "aave-v3"),
        ("aave-v3", "aave-v3"),
        ("LIDO", "lido"),
        ("MAKER", "makerdao"),
        ("makerdao", "makerdao"),
        ("SKY", "sky-savings"),
        ("PENDLEV2", "pendle"),
        ("pendle", "pendle"),
    ],
)
def test_known_protocol_names(name: str, expected: str) -> None:
    assert canonical_protocol(name) == expected


@pytest.mark.parametrize("name", ["bitcoi", "avalanch", "binance", "", "   ", "doge-killer"])
def test_unknown_asset_names_are_not_guessed(name: str) -> None:
    assert canonical_asset(name) is None


@pytest.mark.parametrize("name", ["aave", "aave-v3-prime", "AAVEV9", "uniswap", "compounder"])
def test_unknown_protocol_names_are_not_guessed(name: str) -> None:
    # protocol_facts() inherits a parent's facts by prefix; an id must never be inferred so
    assert canonical_protocol(name) is None


def test_hint_names_the_row_to_add() -> None:
    hint = unknown_name_hint("asset", "shib")
    assert "unknown asset name 'shib'" in hint
    assert "kind=asset alias=shib" in hint and "aliases.csv" in hint


# --- the packaged tables: dated, sourced, consistent ----------------------------------------


def test_every_packaged_row_has_a_source_and_a_date() -> None:
    today = datetime.now(UTC).date()
    rows: list[tuple[str, str, object]] = []
    rows += [(f"protocols {p.protocol}", p.source_url, p.as_of) for p in load_protocols().values()]
    rows += [(f"chains {c.chain}", c.source_url, c.as_of) for c in load_chains().values()]
    rows += [(f"tokens {t.symbol}", t.source, t.as_of) for t in load_tokens().values()]
    rows += [
        (f"staking {s.network}/{s.provider}", s.source_url, s.as_of) for s in load_staking_params()
    ]
    rows += [(f"aliases {a.alias}", a.source, a.as_of) for a in load_aliases().values()]
    episodes = resources.files("realyield").joinpath("data", "stress_episodes.toml")
    for e in tomllib.loads(episodes.read_text(encoding="utf-8"))["episode"]:
        rows.append((f"stress episode {e['name']}", e["source"], e["as_of"]))
    assert len(rows) > 600
    for what, source, as_of in rows:
        assert source.strip(), what
        assert as_of <= today, what  # type: ignore[operator]


def test_protocol_aliases_point_at_listed_slugs() -> None:
    protocols = load_protocols()
    for alias in load_aliases().values():
        if alias.kind == "protocol":
            assert alias.canonical_id in protocols, alias


def test_asset_aliases_agree_with_the_tokens_table() -> None:
    """Where tokens.csv lists the symbol an alias spells, both name the same id."""
    tokens = load_tokens()
    checked = 0
    for alias in load_aliases().values():
        token = tokens.get(alias.alias.upper())
        if alias.kind == "asset" and token is not None and token.asset_id:
            assert token.asset_id == alias.canonical_id, alias
            checked += 1
    assert checked >= 2  # BNB and BUSD at least


# --- the real files the table was seeded from ----------------------------------------------


def _daily_prices(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path)
    if "column_0" in frame.columns:  # market_chart dump: ms epoch, price
        day = pl.from_epoch(pl.col("column_0").cast(pl.Int64), time_unit="ms").dt.date()
        return frame.select(day.alias("day"), pl.col("column_1").alias("price"))
    day = pl.col("date").str.slice(0, 10).str.to_date()
    return frame.select(day.alias("day"), pl.col("price"))


@pytest.mark.shared_data
def test_every_real_price_file_name_and_label_resolves(shared_data: Path) -> None:
    files = sorted((shared_data / "prices").glob("*/*.csv"))
    assert len(files) == 32
    for path in files:
        assert canonical_asset(path.stem) is not None, unknown_name_hint("asset", path.stem)
        with path.open(encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            labels = {row.get("coin_name") or row.get("ticker") or "" for row in reader}
        for label in labels:
            assert canonical_asset(label) == canonical_asset(path.stem), (path, label)


@pytest.mark.shared_data
def test_files_linked_to_one_id_carry_one_price_series(shared_data: Path) -> None:
    """Independent evidence for each link: two exports that resolve to the same id have
    the same price on every day they share (avalanche.csv and avalanche-2.csv do)."""
    daily = {canonical_asset(p.stem): p for p in (shared_data / "prices/coingecko_daily").glob("*")}
    chart = (shared_data / "prices/coingecko_2023-08_2024-08").glob("*.csv")
    overlaps = 0
    for path in chart:
        twin = daily.get(canonical_asset(path.stem))
        if twin is None:
            continue
        joined = _daily_prices(twin).join(_daily_prices(path), on="day", suffix="_chart")
        assert joined.height >= 10, path
        worst = joined.select((pl.col("price") / pl.col("price_chart") - 1).abs().max()).item()
        assert worst < 1e-9, path
        overlaps += 1
    assert overlaps == 10  # every market_chart coin but chainlink has a daily twin


@pytest.mark.shared_data
def test_every_tracker_protocol_id_resolves(shared_data: Path) -> None:
    frame = pl.read_csv(shared_data / "yields/lending_staking_apy_history.csv")
    ids = sorted(frame["protocol"].unique().to_list())
    assert ids == ["AAVEV3", "LIDO", "MAKER", "PENDLEV2", "SKY"]
    assert [canonical_protocol(i) for i in ids] == [
        "aave-v3",
        "lido",
        "makerdao",
        "pendle",
        "sky-savings",
    ]


# --- the parser's guards -------------------------------------------------------------------


def test_load_from_path(tmp_path: Path) -> None:
    table = load_aliases(_write(tmp_path, ROW, "protocol,AAVEV3,aave-v3,tracker,2025-02-11,x"))
    assert table[("asset", "bnb")].canonical_id == "binancecoin"
    assert table[("protocol", "aavev3")].as_of.isoformat() == "2025-02-11"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("chain,bnb,binancecoin,x,2023-08-28,", "kind"),
        ("asset,,binancecoin,x,2023-08-28,", "alias"),
        ("asset,bnb,BinanceCoin,x,2023-08-28,", "canonical_id"),
        ("asset,bnb,binance coin,x,2023-08-28,", "canonical_id"),
        ("asset,bnb,binancecoin,,2023-08-28,", "source"),
        ("asset,bnb,binancecoin,x,28/08/2023,", "as_of"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, row: str, field: str) -> None:
    path = _write(tmp_path, "asset,busd,binance-usd,x,2023-08-28,", row)
    with pytest.raises(RecordError) as info:
        load_aliases(path)
    assert info.value.record == "aliases.csv row 3"
    assert info.value.field == field


def test_structural_problems_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="header lacks"):
        load_aliases(_write(tmp_path, "asset,bnb", header="kind,alias"))
    with pytest.raises(DataError, match="duplicates row 2"):
        load_aliases(_write(tmp_path, ROW, ROW.replace("bnb", "BNB")))
    with pytest.raises(DataError, match="more values than columns"):
        load_aliases(_write(tmp_path, ROW + ",extra"))
    with pytest.raises(DataError, match="too few values"):
        load_aliases(_write(tmp_path, "asset,bnb"))
    with pytest.raises(DataError, match="no rows"):
        load_aliases(_write(tmp_path))
    with pytest.raises(DataError, match="cannot read"):
        load_aliases(tmp_path / "missing.csv")


def test_an_alias_cannot_shadow_another_id(tmp_path: Path) -> None:
    # "avalanche-2" is an id; a row sending that name elsewhere would redirect its prices
    rows = ("asset,avalanche,avalanche-2,x,2023-08-28,", "asset,avalanche-2,avax,x,2023-08-28,")
    with pytest.raises(DataError, match="must not shadow"):
        load_aliases(_write(tmp_path, *rows))


def test_the_same_alias_may_name_an_asset_and_a_protocol(tmp_path: Path) -> None:
    rows = ("asset,lido,lido-dao,x,2023-08-28,", "protocol,lido,lido,x,2025-03-14,")
    table = load_aliases(_write(tmp_path, *rows))
    assert table[("asset", "lido")].canonical_id == "lido-dao"
    assert table[("protocol", "lido")].canonical_id == "lido"
