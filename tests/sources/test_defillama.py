"""DeFiLlama /pools and /chart parsers on recorded responses, and every ingestion guard."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from realyield.core.errors import DataError
from realyield.sources.defillama import DefiLlamaClient, parse_chart, parse_pools
from realyield.sources.http import HttpSource
from realyield.sources.sanitize import IngestReport
from tests.conftest import contract

AS_OF = datetime(2025, 6, 30, 12, tzinfo=UTC)


def parsed() -> tuple[dict[str, object], IngestReport]:
    report = IngestReport("defillama")
    opps = parse_pools(contract("defillama/pools.json"), as_of=AS_OF, report=report)
    return {o.id: o for o in opps}, report


def test_full_schema_is_parsed_into_fields_and_meta() -> None:
    by_id, _ = parsed()
    usdc = by_id["aa70268e-4b52-42bf-a116-608b370f9501"]
    assert (usdc.kind, usdc.chain, usdc.protocol, usdc.symbol) == (
        "lending",
        "Ethereum",
        "aave-v3",
        "USDC",
    )
    assert (usdc.apy, usdc.apy_base, usdc.apy_reward) == (4.93019, 4.61832, 0.31187)
    assert usdc.tvl_usd == 3104657012
    assert usdc.stablecoin is True and usdc.il_risk is False and usdc.exposure == "single"
    assert usdc.reward_tokens == ("0x7Fc66500c84A76Ad7e9c93437bFc5Ac33E2DDaE9",)
    assert usdc.underlying == ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",)
    meta = usdc.meta
    assert meta["mu"] == 3.71 and meta["sigma"] == 0.05216 and meta["count"] == 848
    assert meta["apy_mean_30d"] == 4.38 and meta["apy_base_7d"] == 4.55
    assert (meta["apy_pct_1d"], meta["apy_pct_7d"], meta["apy_pct_30d"]) == (0.31, 0.11, 0.92)
    assert meta["outlier"] is False
    assert meta["predicted_class"] == "Down" and meta["predicted_probability"] == 58
    assert meta["binned_confidence"] == 1
    lp = by_id["c6d1a3b8-3ea2-4e01-9b0d-2b0c1a3ff0a1"]
    assert lp.meta["il_7d"] == -0.42 and lp.meta["volume_usd_7d"] == 601234567.1
    assert lp.meta["pool_meta"] == "0.05%"
    assert by_id["747c1d2a-c668-4682-b9f9-296708a3dd90"].kind == "liquid_staking"


def test_numbers_sent_as_strings_and_nan_become_values_or_missing() -> None:
    by_id, _ = parsed()
    lp = by_id["c6d1a3b8-3ea2-4e01-9b0d-2b0c1a3ff0a1"]
    assert lp.tvl_usd == 61234567.5 and lp.apy == 18.22 and lp.kind == "liquidity"
    assert "apy_pct_30d" not in lp.meta  # "NaN" -> missing
    jito = by_id["0e7d0722-c054-4907-8303-5d7d0b3b5a0e"]
    assert jito.apy_base is None and jito.apy == 7.52  # "Infinity" -> missing
    assert jito.meta["predicted_class"] == "Stable/Up"  # predictions sent as a JSON string


def test_guards_reject_and_repair_with_reasons() -> None:
    by_id, report = parsed()
    aero = by_id["f5a1c2d3-0000-4a4a-9b9b-aaaaaaaaaaaa"]
    assert aero.apy_base == 0.0 and aero.apy == pytest.approx(61.3)  # -0.4 clipped, total rebuilt
    assert report.repaired["negative_apy_base_clipped"] == 1
    assert dict(report.rejected) == {
        "implausible_apy": 1,  # 45,000,000% farm
        "implausible_tvl": 1,  # $990 trillion
        "not_a_number": 1,  # tvlUsd "not-a-number"
        "invalid_apy": 1,  # 9.0 != 2.1 + 0.4
        "missing_id": 1,
    }
    assert report.rows_seen == 11
    assert report.duplicates == 1  # stETH listed twice: the last one wins
    assert by_id["747c1d2a-c668-4682-b9f9-296708a3dd90"].apy == 2.84
    assert report.accepted == len(by_id) == 5
    where = {p.reason: p.where for p in report.problems}
    assert where["missing_id"] == "pool #9"


def test_wrong_payloads_raise_clear_errors() -> None:
    with pytest.raises(DataError, match="status='error'"):
        parse_pools({"status": "error", "data": []}, as_of=AS_OF, report=IngestReport("x"))
    with pytest.raises(DataError, match="no 'data' or 'pools'"):
        parse_pools({"status": "success"}, as_of=AS_OF, report=IngestReport("x"))


def test_chart_one_point_per_utc_day_with_guards() -> None:
    report = IngestReport("defillama")
    points = parse_chart(contract("defillama/chart.json"), "pool-1", report=report)
    assert [p.date for p in points] == [
        date(2023, 7, 22),
        date(2023, 7, 23),
        date(2023, 7, 24),
        date(2023, 7, 26),
    ]
    assert points[2].apy == 3.6  # the later point of 07-24 wins
    assert points[0].tvl_usd == 3038552103 and points[0].apy_base == 3.55712
    assert points[3].apy == 0.0  # negative apy clipped
    assert report.duplicates == 1
    assert report.rejected == {"negative_tvl": 1, "missing_timestamp": 1}


@respx.mock
def test_client_fetches_pools_and_chart_over_http() -> None:
    base = "https://yields.llama.fi"
    respx.get(f"{base}/pools").mock(
        return_value=httpx.Response(200, json=contract("defillama/pools.json"))
    )
    respx.get(f"{base}/chart/pool-1").mock(
        return_value=httpx.Response(200, json=contract("defillama/chart.json"))
    )
    client = DefiLlamaClient(HttpSource("defillama", base, client=httpx.Client()))
    report = IngestReport("defillama")
    assert len(client.fetch_pools(as_of=AS_OF, report=report)) == 5
    assert len(client.fetch_chart("pool-1", report=report)) == 4
