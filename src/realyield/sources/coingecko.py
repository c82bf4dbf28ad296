"""CoinGecko: ``/coins/markets`` (prices, caps, supply) and ``/coins/{id}/market_chart``.

Daily convention: the point for date D is the 00:00 UTC price of D. ``market_chart``
with ``interval=daily`` serves midnight points plus, at the end, an intraday point for
the current day; when a day holds several samples the one nearest to its 00:00 UTC is
kept (the others are counted as duplicates), so the series never mixes conventions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from realyield.core.errors import DataError, FieldError, RecordError
from realyield.core.model import Asset, PricePoint
from realyield.core.parsing import MARKET_BOUNDS, PRICE_BOUNDS, is_missing, parse_timestamp
from realyield.sources.http import HttpSource
from realyield.sources.sanitize import GuardError, IngestReport, guard_error, to_number, to_text

SOURCE = "coingecko"

STABLECOINS = frozenset(
    {
        "tether",
        "usd-coin",
        "dai",
        "frax",
        "busd",
        "binance-usd",
        "true-usd",
        "paxos-standard",
        "first-digital-usd",
        "ethena-usde",
        "usds",
        "paypal-usd",
        "liquity-usd",
        "gho",
        "crvusd",
        "terrausd",
        "magic-internet-money",
    }
)
LIQUID_STAKING_TOKENS = frozenset(
    {
        "staked-ether",
        "rocket-pool-eth",
        "coinbase-wrapped-staked-eth",
        "wrapped-steth",
        "jito-staked-sol",
        "msol",
        "frax-ether",
        "staked-frax-ether",
        "benqi-liquid-staked-avax",
        "stride-staked-atom",
        "wrapped-beacon-eth",
        "mantle-staked-ether",
        "stakewise-v3-oseth",
    }
)
POS_L1 = frozenset(
    {
        "solana",
        "cardano",
        "polkadot",
        "cosmos",
        "avalanche-2",
        "near",
        "tron",
        "tezos",
        "algorand",
        "matic-network",
        "polygon-ecosystem-token",
        "sui",
        "aptos",
        "sei-network",
        "injective-protocol",
        "celestia",
        "the-open-network",
        "kusama",
        "osmosis",
    }
)
CATEGORY_BY_ID = {
    "bitcoin": "btc",
    "wrapped-bitcoin": "btc",
    "ethereum": "eth",
    "weth": "eth",
    "binancecoin": "exchange",
}


def asset_category(coin_id: str) -> str:
    """The realyield asset category of a CoinGecko coin id (``other`` when unknown)."""
    if coin_id in CATEGORY_BY_ID:
        return CATEGORY_BY_ID[coin_id]
    if coin_id in STABLECOINS:
        return "stablecoin"
    if coin_id in LIQUID_STAKING_TOKENS:
        return "lst"
    if coin_id in POS_L1:
        return "pos_l1"
    return "other"


def parse_markets(payload: Any, *, as_of: datetime, report: IngestReport) -> list[Asset]:
    """Parse a ``/coins/markets`` list into assets.

    Raises:
        DataError: when the payload is not a list of coin objects.
    """
    if not isinstance(payload, list):
        raise DataError(f"CoinGecko /coins/markets returned {type(payload).__name__}, not a list")
    assets: list[Asset] = []
    for index, raw in enumerate(payload):
        report.rows_seen += 1
        where = f"coin #{index + 1}"
        try:
            if not isinstance(raw, Mapping):
                raise GuardError("not_an_object", f"{type(raw).__name__} instead of an object")
            coin_id = to_text(raw.get("id"), "id", max_len=128)
            if coin_id is None:
                raise GuardError("missing_id", "no id")
            price = to_number(raw.get("current_price"), "current_price")
            if price is not None and price <= 0:
                raise GuardError("non_positive_price", f"current_price={price}")
            if price is not None:
                price = to_number(price, "current_price", bounds=PRICE_BOUNDS)
            updated = raw.get("last_updated")
            stamp = as_of if is_missing(updated) else _timestamp(updated, "last_updated")
            asset = Asset(
                id=coin_id,
                symbol=(to_text(raw.get("symbol"), "symbol", max_len=64) or coin_id).upper(),
                name=to_text(raw.get("name"), "name", max_len=200) or coin_id,
                category=asset_category(coin_id),
                as_of=stamp,
                source=SOURCE,
                price_usd=price,
                market_cap_usd=to_number(raw.get("market_cap"), "market_cap", bounds=MARKET_BOUNDS)
                or None,
                circulating_supply=to_number(raw.get("circulating_supply"), "circulating_supply"),
                total_supply=to_number(raw.get("total_supply"), "total_supply"),
            )
        except GuardError as exc:
            report.reject(where, exc.reason, exc.detail)
            continue
        except RecordError as exc:
            report.reject(where, f"invalid_{exc.field}", str(exc))
            continue
        assets.append(asset)
    report.accepted += len(assets)
    return assets


@dataclass(frozen=True, slots=True)
class PriceSample:
    """One raw price observation before it is collapsed to a daily point."""

    at: datetime
    price_usd: float | None
    market_cap_usd: float | None = None
    volume_usd: float | None = None


def collapse_to_days(
    asset_id: str, samples: Iterable[PriceSample], report: IngestReport, *, where: str = ""
) -> list[PricePoint]:
    """One PricePoint per UTC day: the sample nearest 00:00 UTC of that day wins.

    A zero market cap (CoinGecko's value at listing) becomes missing. Samples with a
    missing or non-positive price are rejected and counted.
    """
    best: dict[date, PriceSample] = {}
    for sample in samples:
        report.rows_seen += 1
        if sample.price_usd is None or sample.price_usd <= 0:
            report.reject(
                f"{where}{asset_id} {sample.at:%Y-%m-%d %H:%M}",
                "non_positive_price",
                f"price={sample.price_usd}",
            )
            continue
        day = sample.at.date()
        current = best.get(day)
        if current is not None:
            report.duplicates += 1
            if _seconds_into_day(sample.at) >= _seconds_into_day(current.at):
                continue
        best[day] = sample
    points = [
        PricePoint(
            asset_id,
            day,
            s.price_usd,  # type: ignore[arg-type]  # checked above
            s.market_cap_usd or None,
            s.volume_usd,
        )
        for day, s in sorted(best.items())
    ]
    report.accepted += len(points)
    return points


def _seconds_into_day(at: datetime) -> float:
    return at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6


def _timestamp(raw: object, column: str, unit: Literal["auto", "ms"] = "auto") -> datetime:
    """A timestamp through ``core.parsing``; its refusal as a ``GuardError``."""
    try:
        return parse_timestamp(raw, column=column, unit=unit)
    except FieldError as exc:
        raise guard_error(exc) from None


def parse_market_chart(payload: Any, asset_id: str, *, report: IngestReport) -> list[PricePoint]:
    """Parse a ``market_chart`` payload (``prices``/``market_caps``/``total_volumes``).

    Raises:
        DataError: when ``prices`` is absent or not a list of ``[ms, value]`` pairs.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("prices"), list):
        raise DataError(f"CoinGecko market_chart for {asset_id!r} has no 'prices' list")

    def series(name: str) -> dict[float, float | None]:
        out: dict[float, float | None] = {}
        for pair in payload.get(name) or []:
            if isinstance(pair, Sequence) and len(pair) == 2:
                try:
                    stamp = to_number(pair[0], f"{name}.timestamp")
                    value = to_number(pair[1], name, bounds=MARKET_BOUNDS)
                except GuardError:
                    continue  # a bad cap or volume is left missing; the price decides
                if stamp is not None:
                    out[stamp] = value
        return out

    caps, volumes = series("market_caps"), series("total_volumes")
    samples: list[PriceSample] = []
    for index, pair in enumerate(payload["prices"]):
        try:
            if not isinstance(pair, Sequence) or len(pair) != 2:
                raise GuardError("bad_pair", f"{pair!r} is not [ms, price]")
            stamp = to_number(pair[0], "timestamp")
            if stamp is None:
                raise GuardError("missing_timestamp", f"{pair!r}")
            price = to_number(pair[1], "price")
            if price is not None and price > 0:
                price = to_number(price, "price", bounds=PRICE_BOUNDS)
            samples.append(
                PriceSample(
                    _timestamp(stamp, "timestamp", unit="ms"),
                    price,
                    caps.get(stamp),
                    volumes.get(stamp),
                )
            )
        except GuardError as exc:
            report.rows_seen += 1
            report.reject(f"{asset_id} prices[{index}]", exc.reason, exc.detail)
    return collapse_to_days(asset_id, samples, report)


class CoinGeckoClient:
    """CoinGecko's public API through a protected ``HttpSource``."""

    def __init__(self, http: HttpSource) -> None:
        self.http = http

    def fetch_markets(
        self, coin_ids: Sequence[str], *, as_of: datetime, report: IngestReport
    ) -> list[Asset]:
        """Market data for ``coin_ids`` (250 per page, CoinGecko's maximum)."""
        assets: list[Asset] = []
        for start in range(0, len(coin_ids), 250):
            chunk = coin_ids[start : start + 250]
            payload = self.http.get_json(
                "/coins/markets",
                {"vs_currency": "usd", "ids": ",".join(chunk), "per_page": 250, "page": 1},
            )
            assets.extend(parse_markets(payload, as_of=as_of, report=report))
        return assets

    def fetch_daily_history(
        self, coin_id: str, *, days: int, report: IngestReport
    ) -> list[PricePoint]:
        """Daily USD prices, caps and volumes for the last ``days`` days."""
        payload = self.http.get_json(
            f"/coins/{coin_id}/market_chart",
            {"vs_currency": "usd", "days": days, "interval": "daily"},
        )
        return parse_market_chart(payload, coin_id, report=report)
