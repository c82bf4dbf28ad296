"""The protocol, chain and token facts tables: coverage, known facts, guards, lookups."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from realyield.core.errors import DataError, RecordError
from realyield.reference import (
    CHAIN_COLUMNS,
    PROTOCOL_COLUMNS,
    TOKEN_COLUMNS,
    ProtocolFacts,
    chain_facts,
    family_members,
    load_chains,
    load_protocols,
    load_tokens,
    protocol_facts,
    split_symbol,
    token_facts,
)

SNAPSHOT = Path(__file__).resolve().parents[2] / "src" / "realyield" / "data" / "snapshot"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
POOLS_2023 = SHARED_DATA / "defillama" / "pools_2023-07-26.csv"
#: Measured 95.2% (11,398 of 11,977 pools) when the tables were written; the floor
#: leaves room for honest corrections, not for losing whole protocols.
COVERAGE_FLOOR_2023 = 0.93
AS_OF = date(2025, 6, 30)

PROTOCOL_ROW = (
    "aave-v3,aave,2022-03-16,12,0,,0,overcollateralized,0,non_custodial,lending,"
    "2025-06-30,https://defillama.com/protocol/aave-v3,ok"
)
CHAIN_ROW = "Ethereum,2015-07-30,l1,Ethereum,false,3,2025-06-30,https://defillama.com,ok"
TOKEN_ROW = "USDC,usd-coin,stablecoin,circle,usd,Ethereum,2025-06-30,hand-entered,ok"


def _snapshot_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in ("opportunities.csv", "delisted.csv"):
        with (SNAPSHOT / name).open(encoding="utf-8", newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def _write(tmp_path: Path, name: str, columns: tuple[str, ...], *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join((",".join(columns), *rows)) + "\n", encoding="utf-8")
    return path


def _replace_field(row: str, columns: tuple[str, ...], field: str, value: str) -> str:
    values = next(csv.reader([row]))
    values[columns.index(field)] = value
    return ",".join(values)


# --- the packaged tables -------------------------------------------------------------------


def test_packaged_tables_load_with_expected_sizes() -> None:
    assert len(load_protocols()) >= 200
    assert len(load_chains()) >= 40
    assert len(load_tokens()) >= 100


def test_every_row_is_dated_and_sourced() -> None:
    for p in load_protocols().values():
        assert p.as_of == AS_OF
        assert p.source_url.startswith("https://")
    for c in load_chains().values():
        assert c.as_of == AS_OF
    for t in load_tokens().values():
        assert t.as_of == AS_OF


def test_every_snapshot_protocol_chain_and_pegged_token_has_facts() -> None:
    rows = _snapshot_rows()
    assert rows
    missing_protocols = {r["protocol"] for r in rows if protocol_facts(r["protocol"]) is None}
    missing_chains = {r["chain"] for r in rows if chain_facts(r["chain"]) is None}
    assert missing_protocols == set()
    assert missing_chains == set()
    for r in rows:  # exact slugs, not prefix guesses
        facts = protocol_facts(r["protocol"])
        assert facts is not None and facts.protocol == r["protocol"]
    # every stablecoin, LST and wrapped token the snapshot holds is known
    for r in rows:
        for sym in split_symbol(r["symbol"]):
            if sym in {"USDC", "USDT", "DAI", "USDS", "SUSDS", "SUSDE", "USDE", "WSTETH",
                       "STETH", "RETH", "CBETH", "WEETH", "SFRXETH", "JITOSOL", "MSOL",
                       "SAVAX", "STATOM", "VDOT", "WBTC", "CBBTC", "BTCB", "WETH", "WBNB",
                       "CRVUSD", "FRAX"}:  # fmt: skip
                assert token_facts(sym) is not None, sym


def test_every_token_origin_and_chain_settlement_is_a_known_chain() -> None:
    for t in load_tokens().values():
        assert chain_facts(t.chain_of_origin) is not None, (t.symbol, t.chain_of_origin)
    for c in load_chains().values():
        assert chain_facts(c.settlement) is not None


def test_exploit_fields_are_consistent() -> None:
    for p in load_protocols().values():
        if p.exploits == 0:
            assert p.last_exploit is None and not p.exploit_loss_usd, p.protocol
        else:
            assert p.last_exploit is not None and p.launched <= p.last_exploit <= p.as_of


@pytest.mark.shared_data
def test_coverage_of_the_2023_defillama_pools() -> None:
    if not POOLS_2023.is_file():
        pytest.skip(f"real public data not found at {POOLS_2023} (../shared/data beside the repo)")
    with POOLS_2023.open(encoding="utf-8", newline="") as f:
        pools = list(csv.DictReader(f))
    assert len(pools) == 11_977
    resolved = sum(protocol_facts(p["project"]) is not None for p in pools)
    share = resolved / len(pools)
    assert share >= COVERAGE_FLOOR_2023, f"{share:.1%} of pools resolve"
    chains = sum(chain_facts(p["chain"]) is not None for p in pools) / len(pools)
    assert chains >= 0.99
    # the 40 most common chains are all present
    counts: dict[str, int] = {}
    for p in pools:
        counts[p["chain"]] = counts.get(p["chain"], 0) + 1
    top = sorted(counts, key=counts.__getitem__, reverse=True)[:40]
    assert [c for c in top if chain_facts(c) is None] == []


# --- known facts --------------------------------------------------------------------------


def test_known_protocol_facts() -> None:
    aave = protocol_facts("aave-v3")
    assert aave is not None
    assert aave.collateral == "overcollateralized" and aave.category == "lending"
    assert aave.family == "aave" and aave.custody == "non_custodial" and aave.layers == 0
    yearn = protocol_facts("yearn-finance")
    assert yearn is not None and yearn.layers >= 1
    euler = protocol_facts("euler")
    assert euler is not None and euler.exploits >= 1
    assert euler.last_exploit == date(2023, 3, 13)
    assert sum(p.exploits for p in family_members("euler")) >= 1
    curve = protocol_facts("curve-dex")
    assert curve is not None and curve.exploits >= 1 and curve.last_exploit == date(2023, 7, 30)
    convex = protocol_facts("convex-finance")
    assert convex is not None and convex.layers == 1
    concentrator = protocol_facts("concentrator")
    assert concentrator is not None and concentrator.layers == 2
    ethena = protocol_facts("ethena-usde")
    assert ethena is not None and ethena.custody == "custodial"
    maple = protocol_facts("maple")
    assert maple is not None and maple.collateral == "undercollateralized"
    uniswap = protocol_facts("uniswap-v3")
    assert uniswap is not None and uniswap.collateral == "not_lending" and not uniswap.lending


def test_known_chain_facts() -> None:
    arb = chain_facts("Arbitrum")
    assert arb is not None and arb.kind == "rollup" and arb.settlement == "Ethereum"
    assert arb.bridge_dependency and arb.settles_elsewhere
    eth = chain_facts("Ethereum")
    assert eth is not None and eth.kind == "l1" and not eth.bridge_dependency
    sol = chain_facts("Solana")
    assert sol is not None and sol.major_incidents >= 5
    fantom = chain_facts("Fantom")
    assert fantom is not None and fantom.bridge_dependency and fantom.major_incidents >= 1


def test_known_token_facts() -> None:
    usdc = token_facts("USDC")
    assert usdc is not None
    assert (usdc.kind, usdc.issuer, usdc.peg, usdc.asset_id) == (
        "stablecoin", "circle", "usd", "usd-coin",
    )  # fmt: skip
    wsteth = token_facts("WSTETH")
    assert wsteth is not None and (wsteth.kind, wsteth.issuer, wsteth.peg) == ("lst", "lido", "eth")
    weeth = token_facts("weETH")
    assert weeth is not None and weeth.kind == "lrt" and weeth.issuer == "ether.fi"
    wbtc = token_facts("WBTC")
    assert wbtc is not None and wbtc.kind == "wrapped" and wbtc.peg == "btc"
    weth = token_facts("WETH")
    assert weth is not None and weth.kind == "native" and not weth.pegged


# --- lookups -------------------------------------------------------------------------------


def test_protocol_lookup_exact_then_longest_prefix() -> None:
    assert protocol_facts("AAVE-V3") is protocol_facts("aave-v3")
    sub = protocol_facts("aave-v3-prime-market")
    assert sub is not None and sub.protocol == "aave-v3"
    v3 = protocol_facts("pancakeswap-amm-v3")
    assert v3 is not None and v3.protocol == "pancakeswap-amm-v3"
    longest = protocol_facts("pancakeswap-amm-v3-stable")
    assert longest is not None and longest.protocol == "pancakeswap-amm-v3"
    assert protocol_facts("compounder-finance") is None  # a prefix must end at a '-'
    assert protocol_facts("no-such-protocol") is None
    assert protocol_facts("") is None


def test_family_members_are_grouped_oldest_first() -> None:
    aave = family_members("aave")
    assert [p.protocol for p in aave][:2] == ["aave-v2", "aave-v3"]
    assert family_members("no-such-family") == ()


def test_chain_lookup_is_case_insensitive() -> None:
    near = chain_facts("NEAR")
    assert near is not None and near is chain_facts("Near")
    assert chain_facts("ZkSync Era") is chain_facts("zkSync Era") is not None
    assert chain_facts("Atlantis") is None


def test_token_lookup_is_case_insensitive_and_strips_bridged_markers() -> None:
    assert token_facts("usdc") is token_facts("USDC")
    own = token_facts("USDC.e")  # has its own row
    assert own is not None and own.symbol == "USDC.E" and own.issuer == "circle"
    dai = token_facts("DAI.e")  # no row: the suffix is stripped
    assert dai is not None and dai.symbol == "DAI"
    assert token_facts("xcDOT") is not None
    axl = token_facts("axlUSDC")
    assert axl is not None and axl.issuer == "axelar"
    assert token_facts("NOTATOKEN") is None
    assert token_facts("E") is None


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("WETH-USDC", ("WETH", "USDC")),
        ("USDC/USDT", ("USDC", "USDT")),
        ("crvUSD-USDC", ("CRVUSD", "USDC")),
        ("PT-SUSDE-25SEP2025", ("SUSDE",)),
        ("YT-weETH-26DEC2024", ("WEETH",)),
        ("PT-wstETH-2025-12-25", ("WSTETH",)),
        ("DAI-USDC-USDT", ("DAI", "USDC", "USDT")),
        ("FUSDT-WBTC-WETH(TRICRYPTO)", ("FUSDT", "WBTC", "WETH")),
        ("USDC[HTS]-DAI[HTS]", ("USDC", "DAI")),
        ("USD+-DAI+", ("USD+", "DAI+")),
        ("USDC.e-WETH", ("USDC.E", "WETH")),
        ("USDC-USDC[HTS]", ("USDC",)),
        ("LP-USD+", ("USD+",)),
        ("STETH", ("STETH",)),
        ("", ()),
    ],
)
def test_split_symbol(symbol: str, expected: tuple[str, ...]) -> None:
    assert split_symbol(symbol) == expected


def test_lookups_are_fast_enough_for_20000_opportunities() -> None:
    import time

    slugs = list(load_protocols())
    start = time.perf_counter()
    for i in range(20_000):
        protocol_facts(slugs[i % len(slugs)] + ("-x" if i % 3 else ""))
        chain_facts("Arbitrum")
        for sym in split_symbol(f"WETH-USDC-{i % 50}"):
            token_facts(sym)
    assert time.perf_counter() - start < 0.5


# --- guards on bad rows --------------------------------------------------------------------


def test_custom_tables_load_from_a_path(tmp_path: Path) -> None:
    p = load_protocols(_write(tmp_path, "p.csv", PROTOCOL_COLUMNS, PROTOCOL_ROW))
    assert isinstance(p["aave-v3"], ProtocolFacts) and p["aave-v3"].audits == 12
    c = load_chains(_write(tmp_path, "c.csv", CHAIN_COLUMNS, CHAIN_ROW))
    assert c["ethereum"].kind == "l1"
    t = load_tokens(_write(tmp_path, "t.csv", TOKEN_COLUMNS, TOKEN_ROW))
    assert t["USDC"].peg == "usd"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("collateral", "kinda", "unknown value"),
        ("custody", "exchange", "unknown value"),
        ("category", "casino", "unknown value"),
        ("launched", "2021-13-01", "ISO date"),
        ("launched", "2026-01-01", "after the row's as_of"),
        ("audits", "-1", "negative"),
        ("audits", "two", "whole number"),
        ("exploits", "-2", "negative"),
        ("layers", "9", "<= 4"),
        ("exploit_loss_usd", "nan", "finite"),
        ("last_exploit", "2023-01-01", "exploits is 0"),
        ("source_url", "defillama.com", "http(s)"),
        ("protocol", "Aave V3", "slug"),
    ],
)
def test_bad_protocol_rows_name_file_row_and_field(
    tmp_path: Path, field: str, value: str, problem: str
) -> None:
    bad = _replace_field(PROTOCOL_ROW, PROTOCOL_COLUMNS, field, value)
    path = _write(
        tmp_path, "protocols.csv", PROTOCOL_COLUMNS, PROTOCOL_ROW.replace("aave-v3", "a"), bad
    )
    with pytest.raises(RecordError) as info:
        load_protocols(path)
    assert info.value.record == "protocols.csv row 3"
    assert info.value.field == field
    assert problem in str(info.value)


def test_exploits_without_a_date_are_refused(tmp_path: Path) -> None:
    bad = _replace_field(PROTOCOL_ROW, PROTOCOL_COLUMNS, "exploits", "1")
    with pytest.raises(RecordError, match=r"row 2\.last_exploit.*missing"):
        load_protocols(_write(tmp_path, "p.csv", PROTOCOL_COLUMNS, bad))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "parachain"),
        ("bridge_dependency", "maybe"),
        ("major_incidents", "-1"),
        ("launched", "yesterday"),
        ("settlement", "Atlantis"),
    ],
)
def test_bad_chain_rows_name_file_row_and_field(tmp_path: Path, field: str, value: str) -> None:
    bad = _replace_field(CHAIN_ROW.replace("Ethereum", "Other"), CHAIN_COLUMNS, field, value)
    path = _write(tmp_path, "chains.csv", CHAIN_COLUMNS, CHAIN_ROW, bad)
    with pytest.raises(RecordError) as info:
        load_chains(path)
    assert info.value.record == "chains.csv row 3"
    assert info.value.field == field


def test_a_rollup_cannot_settle_on_itself(tmp_path: Path) -> None:
    bad = "Arbitrum,2021-08-31,rollup,Arbitrum,true,0,2025-06-30,https://x.org,"
    with pytest.raises(RecordError, match="settles elsewhere"):
        load_chains(_write(tmp_path, "c.csv", CHAIN_COLUMNS, CHAIN_ROW, bad))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "memecoin"),
        ("peg", "doubloon"),
        ("symbol", "usdc"),
        ("issuer", "Circle Inc"),
        ("source", ""),
    ],
)
def test_bad_token_rows_name_file_row_and_field(tmp_path: Path, field: str, value: str) -> None:
    bad = _replace_field(TOKEN_ROW.replace("USDC", "USDX"), TOKEN_COLUMNS, field, value)
    path = _write(tmp_path, "tokens.csv", TOKEN_COLUMNS, TOKEN_ROW, bad)
    with pytest.raises(RecordError) as info:
        load_tokens(path)
    assert info.value.record == "tokens.csv row 3"
    assert info.value.field == field


def test_structural_problems_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="header lacks"):
        load_tokens(_write(tmp_path, "a.csv", TOKEN_COLUMNS[:-1], "USDC,x,stablecoin"))
    with pytest.raises(DataError, match="duplicates row 2"):
        load_tokens(_write(tmp_path, "b.csv", TOKEN_COLUMNS, TOKEN_ROW, TOKEN_ROW))
    with pytest.raises(DataError, match="more values than columns"):
        load_tokens(_write(tmp_path, "c.csv", TOKEN_COLUMNS, TOKEN_ROW + ",extra"))
    with pytest.raises(DataError, match="too few values"):
        load_tokens(_write(tmp_path, "d.csv", TOKEN_COLUMNS, "USDC,usd-coin"))
    with pytest.raises(DataError, match="no rows"):
        load_tokens(_write(tmp_path, "e.csv", TOKEN_COLUMNS))
    with pytest.raises(DataError, match="cannot read"):
        load_tokens(tmp_path / "missing.csv")
