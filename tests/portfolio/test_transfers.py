"""Transfers between one's own accounts keep basis and holding period (issue 18 item 2).

Hand-computed: 1.0005 BTC bought on an exchange 2023-01-10 for 17,008.50 USD, withdrawn
2024-02-01 to one's own wallet (1.0005 sent, 1 arrives: 0.0005 lost to the network),
1 BTC sold from the wallet 2024-03-01 for 60,000 USD. The sale must dispose the 2023
lot (basis 17,008.50 x 1 / 1.0005 = 17,000, long term), not a lot opened by the
deposit at 43,000 on 2024-02-01.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import Engine

from realyield.portfolio import ledger, service
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.holdings import build_portfolio
from realyield.portfolio.transfers import match_transfers


def ev(kind: str, when: datetime, asset: str, amount: str, key: str, **kw: object) -> LedgerEvent:
    return LedgerEvent(kind=kind, time=when, asset=asset, amount=D(amount), key=key, **kw)  # type: ignore[arg-type]


BUY = ev("trade", datetime(2023, 1, 10, tzinfo=UTC), "BTC", "1.0005", "b1",
         source="ccxt:kraken", account="main", counter_asset="USD",
         counter_amount=D("17008.50"), value=D("17008.50"))  # fmt: skip
OUT = ev("withdrawal", datetime(2024, 2, 1, 9, tzinfo=UTC), "BTC", "1.0005", "w1",
         source="ccxt:kraken", account="main", value=D("43021.50"))  # fmt: skip
IN = ev("deposit", datetime(2024, 2, 1, 10, tzinfo=UTC), "BTC", "1", "d1", source="manual",
        account="cold", value=D("43000"))  # fmt: skip
SALE = ev("trade", datetime(2024, 3, 1, tzinfo=UTC), "USD", "60000", "s1", source="manual",
          account="cold", counter_asset="BTC", counter_amount=D("1"), value=D("60000"))  # fmt: skip


def test_a_transfer_to_ones_wallet_then_a_sale_keeps_basis_and_date(db: Engine) -> None:
    ledger.add_events(db, [BUY, OUT, IN, SALE])
    report = service.gains(db, 2024, "fifo")
    sale = [d for d in report.disposals if d.kind == "trade"]
    fee = [d for d in report.disposals if d.kind == "fee"]
    # The network fee (0.0005 BTC) is disposed first (it left first), at its share of the
    # withdrawal's value: 43,021.50 x 0.0005 / 1.0005 = 21.5; its basis is 17,008.5 x
    # 0.0005 / 1.0005 = 8.5.
    assert [(d.quantity, d.proceeds, d.basis) for d in fee] == [(D("0.0005"), D("21.5"), D("8.5"))]
    # The sale takes the rest of the 2023 lot: basis 17,000 and the 2023-01-10 date, so
    # the gain is long term (held more than 365 days), not a 17,000 short-term one.
    assert [(d.quantity, d.basis, d.acquired.date().isoformat(), d.term) for d in sale] == [
        (D("1"), D("17000.0"), "2023-01-10", "long")
    ]
    assert sale[0].proceeds - sale[0].basis == D("43000.0")
    folio = build_portfolio(db, as_of=datetime(2024, 2, 15, tzinfo=UTC))
    assert folio.unmatched_transfers == []
    (btc,) = folio.holdings
    assert (btc.quantity, btc.cost) == (D("1"), D("17000.0"))
    assert btc.accounts == {"manual/cold": D("1")}  # left the exchange, arrived in the wallet


def test_unmatched_and_explicit_transfers() -> None:
    far = ev("deposit", datetime(2024, 3, 1, tzinfo=UTC), "BTC", "1", "d2", source="manual",
             account="cold", seq=12)  # fmt: skip
    out = ev("withdrawal", datetime(2024, 2, 1, tzinfo=UTC), "BTC", "1", "w2", source="x",
             account="a", seq=11)  # fmt: skip
    same_acct = ev("deposit", datetime(2024, 2, 1, 1, tzinfo=UTC), "BTC", "1", "d3", source="x",
                   account="a", seq=13)  # fmt: skip
    too_little = ev("deposit", datetime(2024, 2, 1, 2, tzinfo=UTC), "BTC", "0.9", "d4",
                    source="y", account="b", seq=14)  # fmt: skip
    match = match_transfers([out, far, same_acct, too_little])
    assert match.pairs == {} and [e.seq for e in match.unmatched] == [11, 13, 14, 12]
    # The same transfer: key on both sides matches whatever the delay.
    tagged_out = ev("withdrawal", datetime(2024, 2, 1, tzinfo=UTC), "BTC", "1", "transfer:t1",
                    source="x", account="a", seq=21)  # fmt: skip
    tagged_in = ev("deposit", datetime(2024, 3, 1, tzinfo=UTC), "BTC", "1", "transfer:t1",
                   source="manual", account="cold", seq=22)  # fmt: skip
    assert match_transfers([tagged_out, tagged_in]).pairs == {21: 22}


def test_portfolio_values_at_stored_prices_and_says_when_they_are_old(db: Engine) -> None:
    from datetime import date

    from realyield.core.model import PricePoint
    from realyield.store import records

    with db.begin() as conn:
        records.save_prices(conn, "coingecko", [PricePoint("bitcoin", date(2024, 2, 10), 48000.0)])
    ledger.add_events(db, [BUY, OUT, IN])
    folio = build_portfolio(db, as_of=datetime(2024, 2, 20, tzinfo=UTC))
    (btc,) = folio.holdings
    assert (btc.price_usd, btc.value_usd) == (D("48000.0"), D("48000.0"))
    assert btc.unrealised == D("31000.0")  # 48,000 - 17,000 kept basis
    assert any("2024-02-10 (10 days old)" in n for n in folio.notes)
