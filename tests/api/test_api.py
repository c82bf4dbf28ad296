"""The REST API over HTTP (httpx against a real uvicorn server on the bundled snapshot).

Figures are checked against independent computations: the scored table filtered and
sorted by hand with polars, allocations grouped by hand from the constituents, the
30-day change and drawdowns recomputed from the served levels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import httpx
import polars as pl
import pytest

from realyield.scoring.service import score_stored
from realyield.universe.repository import UniverseQuery, default_sources
from tests.conftest import LiveApi


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> httpx.Client:
    return httpx.Client(base_url=live_api.url, timeout=30)


@pytest.fixture(scope="module")
def table(live_api: LiveApi) -> pl.DataFrame:
    """The scored universe computed here, straight from the library."""
    engine = live_api.engine
    scored, _ = score_stored(
        engine, UniverseQuery(sources=default_sources(engine)), home=live_api.settings.home
    )
    return scored.table()


def all_pages(client: httpx.Client, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    cursor = None
    totals = set()
    for _ in range(200):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/opportunities", params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) <= limit
        rows += body["data"]
        totals.add(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(totals) == 1
    return rows, totals.pop()


def test_health_states_the_data_and_that_it_is_illustrative(client: httpx.Client) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["data_ready"]
    assert health["data_as_of"] == "2025-06-30"
    meta = client.get("/v1/indices").json()["meta"]
    assert meta["illustrative"] is True and meta["sources"] == ["snapshot"]
    assert meta["as_of"] == "2025-06-30" and "illustrative" in meta["note"]


def test_default_listing_is_the_passing_universe_by_sustainable_apy(
    client: httpx.Client, table: pl.DataFrame
) -> None:
    expected = (
        table.filter(~pl.col("excluded"))
        .sort(["apy_sustainable", "id"], descending=[True, False], nulls_last=True)["id"]
        .to_list()
    )
    body = client.get("/v1/opportunities", params={"limit": 500}).json()
    assert [r["id"] for r in body["data"]] == expected
    assert body["total"] == len(expected) and body["next_cursor"] is None
    first = body["data"][0]
    row = table.filter(pl.col("id") == first["id"]).to_dicts()[0]
    for key in ("apy", "apy_sustainable", "sustainability", "risk", "risk_grade"):
        assert (
            first[key] == pytest.approx(row[key])
            if isinstance(row[key], float)
            else (first[key] == row[key])
        )


@pytest.mark.parametrize(
    ("params", "column", "descending"),
    [
        ({}, "apy_sustainable", True),
        ({"sort": "risk"}, "risk", False),
        ({"sort": "tvl", "order": "asc"}, "tvl_usd", False),
        ({"sort": "forecast", "include_excluded": "true"}, "forecast_apy_30d", True),
        ({"sort": "apy", "kind": "lending"}, "apy", True),
    ],
)
def test_cursor_pages_cover_every_row_once_in_order(
    client: httpx.Client,
    table: pl.DataFrame,
    params: dict[str, str],
    column: str,
    descending: bool,
) -> None:
    rows, total = all_pages(client, 7, **params)
    expected = table if params.get("include_excluded") else table.filter(~pl.col("excluded"))
    if "kind" in params:
        expected = expected.filter(pl.col("kind") == params["kind"])
    ids = expected.sort([column, "id"], descending=[descending, False], nulls_last=True)["id"]
    assert [r["id"] for r in rows] == ids.to_list()
    assert total == len(ids) == len({r["id"] for r in rows})


def test_filters_match_a_hand_filter(client: httpx.Client, table: pl.DataFrame) -> None:
    params = {
        "kind": "lending",
        "chain": "ETHEREUM",
        "min_sustainability": 60,
        "max_risk": 30,
        "min_tvl_usd": 1e7,
        "limit": 500,
    }
    body = client.get("/v1/opportunities", params=params).json()
    expected = table.filter(
        ~pl.col("excluded")
        & (pl.col("kind") == "lending")
        & (pl.col("chain") == "Ethereum")
        & (pl.col("sustainability") >= 60)
        & (pl.col("risk") <= 30)
        & (pl.col("tvl_usd") >= 1e7)
    )
    assert expected.height > 3
    assert {r["id"] for r in body["data"]} == set(expected["id"].to_list())
    assert body["total"] == expected.height


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 501}, ["query", "limit"]),
        ({"kind": "farming"}, ["query", "kind"]),
        ({"sort": "colour"}, ["query", "sort"]),
        ({"min_tvl_usd": "nan"}, ["query", "min_tvl_usd"]),
        ({"max_risk": -1}, ["query", "max_risk"]),
        ({"cursor": "not-a-cursor"}, ["query", "cursor"]),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: httpx.Client, params: dict[str, Any], field: list[str]
) -> None:
    response = client.get("/v1/opportunities", params=params)
    assert response.status_code == 422
    body = response.json()
    assert [e["loc"] for e in body["detail"]] == [field]
    assert body["message"].startswith(".".join(field) + ":")


def test_a_cursor_only_continues_its_own_query(client: httpx.Client) -> None:
    cursor = client.get("/v1/opportunities", params={"limit": 2}).json()["next_cursor"]
    response = client.get("/v1/opportunities", params={"limit": 2, "sort": "apy", "cursor": cursor})
    assert response.status_code == 422
    assert "other filters" in response.json()["detail"][0]["msg"]


def test_opportunity_detail_explains_every_point(client: httpx.Client) -> None:
    body = client.get("/v1/opportunities/aave-v3:ethereum:usdc").json()
    for score in (body["sustainability"], body["risk"]):
        assert sum(f["effect"] for f in score["factors"]) == pytest.approx(score["total"], abs=1e-3)
    assert body["dependencies"]["issuers"] == ["circle"]
    assert body["forecast"]["forecast_apy_30d"] is not None
    days = [date.fromisoformat(p["date"]) for p in body["history"]]
    assert days == sorted(days) and days[-1] <= date(2025, 6, 30) and len(days) > 365
    listed = client.get(
        "/v1/opportunities", params={"limit": 500, "include_excluded": "true"}
    ).json()
    row = next(r for r in listed["data"] if r["id"] == "aave-v3:ethereum:usdc")
    assert row["sustainability"] == pytest.approx(body["sustainability"]["total"], abs=1e-3)
    missing = client.get("/v1/opportunities/no-such-pool")
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"
    assert "no-such-pool" in missing.json()["detail"]


def test_indices_split_yield_and_change_over_30_days(client: httpx.Client) -> None:
    listed = client.get("/v1/indices").json()["data"]
    assert {i["name"] for i in listed} == {
        "balanced",
        "defi-yield",
        "growth",
        "large-cap-staking",
        "stablecoin-income",
    }
    for summary in listed:
        detail = client.get(f"/v1/indices/{summary['name']}").json()
        constituents = detail["constituents"]
        assert sum(c["weight"] for c in constituents) == pytest.approx(1.0, abs=1e-6)
        headline = sum(c["weight"] * c["apy"] for c in constituents)
        real = sum(c["weight"] * c["apy_real"] for c in constituents)
        assert summary["expected_apy"] == pytest.approx(headline)
        assert summary["expected_real_apy"] == pytest.approx(real)
        levels = detail["history"]["levels"]
        end = date.fromisoformat(levels[-1]["date"])
        past = [p for p in levels if date.fromisoformat(p["date"]) <= end - timedelta(days=30)]
        change = levels[-1]["level_total"] / past[-1]["level_total"] - 1
        assert summary["change_30d"] == pytest.approx(change)


def test_index_allocations_and_drawdowns_by_hand(client: httpx.Client) -> None:
    detail = client.get("/v1/indices/defi-yield").json()
    by_chain: dict[str, float] = defaultdict(float)
    by_kind: dict[str, float] = defaultdict(float)
    for c in detail["constituents"]:
        by_chain[c["chain"]] += c["weight"]
        by_kind[c["kind"]] += c["weight"]
    assert detail["allocation"]["chain"] == pytest.approx(dict(by_chain))
    assert detail["allocation"]["kind"] == pytest.approx(dict(by_kind))
    assert sum(detail["allocation"]["protocol"].values()) == pytest.approx(1.0)
    peak = -math.inf
    for p in detail["history"]["levels"]:
        peak = max(peak, p["level_total"])
        assert p["drawdown"] == pytest.approx(p["level_total"] / peak - 1, abs=1e-12)
    assert min(p["drawdown"] for p in detail["history"]["levels"]) < -0.01
    growth = client.get("/v1/indices/growth").json()
    assert set(growth["allocation"]["chain"]) >= {"held directly"}
    short = client.get("/v1/indices/defi-yield", params={"history": "false"}).json()
    assert short["history"] is None and short["constituents"] == detail["constituents"]
    missing = client.get("/v1/indices/nope")
    assert missing.status_code == 404 and "known:" in missing.json()["detail"]


def test_etag_answers_304_until_the_data_changes(client: httpx.Client) -> None:
    first = client.get("/v1/indices")
    etag = first.headers["etag"]
    again = client.get("/v1/indices", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/v1/indices", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
    page = client.get("/v1/opportunities", params={"limit": 3})
    assert page.headers["etag"] != etag  # one tag per response, not per data version


def test_alerts_are_an_honest_empty_list(client: httpx.Client) -> None:
    body = client.get("/v1/alerts").json()
    assert body == {"data": [], "monitor_configured": False}
    assert client.get("/v1/alerts", params={"since": "yesterday"}).status_code == 422


def test_alerts_list_what_the_monitor_stored(client: httpx.Client, live_api: LiveApi) -> None:
    """Runs after the empty-list test (file order): a stored episode is served as is."""
    from realyield.monitor.alerts import LAST_DAY_KEY, record_findings
    from realyield.monitor.rules import Finding
    from realyield.store.records import set_meta

    finding = Finding(
        rule="depeg",
        subject="usd-coin",
        day=date(2023, 3, 12),
        severity="critical",
        title="USDC 3.4% off its peg",
        evidence={"price_usd": 0.9656, "date": "2023-03-12"},
        action="Move stablecoin holdings to another issuer",
        magnitude=0.0344,
    )
    record_findings(live_api.engine, [finding], cooldown_days=7)
    with live_api.engine.begin() as conn:
        set_meta(conn, LAST_DAY_KEY, "2023-03-12")
    body = client.get("/v1/alerts").json()
    assert body["monitor_configured"] is True
    (alert,) = [a for a in body["data"] if a["subject"] == "usd-coin"]
    assert alert["rule"] == "depeg" and alert["severity"] == "critical"
    assert alert["evidence"]["price_usd"] == 0.9656 and alert["first_day"] == "2023-03-12"
    assert alert["status"] == "open" and alert["action"].startswith("Move")
    later = client.get("/v1/alerts", params={"since": "2023-04-01"}).json()
    assert all(a["subject"] != "usd-coin" for a in later["data"])


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    client.get("/v1/indices/balanced", params={"history": "false"})
    client.get("/v1/indices/nope")
    text = client.get("/metrics").text
    counted = 'realyield_http_requests_total{method="GET",route="/v1/indices/{name}",status="200"}'
    assert counted in text
    assert 'route="/v1/indices/{name}",status="404"' in text
    assert "/v1/indices/nope" not in text  # raw paths never become labels
    assert "realyield_data_ready 1.0" in text
    assert 'realyield_http_request_duration_seconds_bucket{le="0.05",route="/v1/indices"}' in text


def test_openapi_document_describes_the_api(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/v1/opportunities",
        "/v1/opportunities/{opportunity_id}",
        "/v1/indices",
        "/v1/indices/{name}",
        "/v1/alerts",
        "/v1/jobs/{job_id}",
        "/v1/index-levels",
        "/v1/index-levels/{job_id}",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path
    assert "422" in paths["/v1/opportunities"]["get"]["responses"]
    assert paths["/v1/index-levels"]["post"]["security"]
    assert "/" not in paths  # dashboard pages are not API
