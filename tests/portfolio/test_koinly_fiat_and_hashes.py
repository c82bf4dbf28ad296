"""Koinly: a buy paid in fiat is worth the fiat sent (not Koinly's Net Worth), and the
export's TxHash carries chain hashes only (issue 18, item 6)."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import Engine

from realyield.portfolio import service
from realyield.portfolio.exports.events import chain_hash
from realyield.portfolio.imports import import_text

HEADER = (
    "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,"
    "Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash\n"
)
EVM = "0x" + "ab" * 32


def test_a_fiat_buy_takes_its_basis_from_the_fiat_sent_plus_fee(db: Engine) -> None:
    text = HEADER + (
        "2024-01-05 10:00 UTC,19999.5,USD,0.5,BTC,0.5,USD,20000,USD,,buy,\n"
        "2024-06-05 10:00 UTC,0.5,BTC,30100,USD,0,USD,30000,USD,,sell,\n"
    )
    assert import_text(db, text, "koinly").inserted == 2
    buy, sell = sorted(service.list_events(db), key=lambda e: e.time)
    assert (buy.value, buy.price_source, buy.fee_value) == (D("19999.5"), "fiat", D("0.5"))
    assert sell.value == D("30100")  # the fiat received, not Net Worth 30,000
    (line,) = service.gains(db, 2024).disposals
    assert line.basis == D("20000.0")  # 19,999.5 + 0.5 (was 20,000.5 from Net Worth)
    assert line.proceeds == D("30100")


def test_koinly_export_leaves_txhash_empty_unless_a_chain_hash_is_known(db: Engine) -> None:
    text = HEADER + (
        f"2024-03-01 12:00 UTC,,,0.006,ETH,,,20,USD,reward,r,{EVM}\n"
        "2024-03-02 12:00 UTC,,,0.007,ETH,,,21,USD,reward,r,\n"
        "2024-03-03 12:00 UTC,,,0.008,ETH,,,22,USD,reward,r,not-a-hash\n"
    )
    assert import_text(db, text, "koinly").inserted == 3
    rows = service.export(db, "koinly").splitlines()[1:]
    assert [r.rsplit(",", 1)[1] for r in rows] == [EVM, "", ""]


def test_chain_hash_tells_chain_hashes_from_internal_keys() -> None:
    btc = "f" * 64
    sol = "5" + "J" * 87
    assert chain_hash(f"{EVM}:0123456789ab") == EVM
    assert chain_hash(btc) == btc and chain_hash(sol) == sol
    for internal in ("trade:123", "ledger:9", "0123456789abcdef" * 2, "paper:abc", "x:y:z"):
        assert chain_hash(internal) is None
