"""``POST /v1/plan`` and ``POST /v1/backtest``: jobs over HTTP that return what the
library returns for the same inputs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from realyield.api.analysis_jobs import finite
from realyield.api.keys import create_key
from realyield.planning.service import PlanRequest, plan_stored
from tests.conftest import LiveApi


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> httpx.Client:
    new = create_key(live_api.engine, "analysis", rate_per_min=6000, burst=500)
    return httpx.Client(
        base_url=live_api.url, headers={"Authorization": f"Bearer {new.token}"}, timeout=60
    )


def finished(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    submitted = client.post(path, json=body)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    deadline = time.monotonic() + 240
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        polled = client.get(f"{path}/{job['id']}")
        if polled.status_code == 429:  # the key's rate limit: wait as told
            time.sleep(float(polled.headers["retry-after"]))
            continue
        assert polled.status_code == 200, polled.text
        job = polled.json()
    return job


def test_plan_job_equals_the_library_plan(client: httpx.Client, live_api: LiveApi) -> None:
    body = {"capital": 1_000_000, "income_per_year": 50_000, "paths": 600, "seed": 3}
    job = finished(client, "/v1/plan", body)
    assert job["status"] == "succeeded", job
    plan = job["result"]
    assert plan["required_yield"] == pytest.approx(0.05)
    # $1M for $50k is never unsustainable; "sustainable" only with the success threshold met
    assert plan["verdict"]["level"] != "unsustainable"
    if plan["verdict"]["level"] == "sustainable":
        assert plan["outcomes"]["success_probability"] >= plan["verdict"]["success_threshold"]
    local = plan_stored(live_api.engine, PlanRequest(1_000_000, 50_000, paths=600, seed=3))
    assert plan["allocation"] == pytest.approx(local.allocation)
    assert plan["outcomes"]["success_probability"] == pytest.approx(
        local.outcomes.success_probability
    )
    assert plan["meta"]["illustrative"] is True


def test_plan_refuses_bad_requests_before_queueing(client: httpx.Client) -> None:
    missing = client.post("/v1/plan", json={"capital": 1000})
    assert missing.status_code == 422 and "income_per_year" in missing.json()["message"]
    negative = client.post("/v1/plan", json={"capital": -5, "income_per_year": 10})
    assert negative.status_code == 422 and "capital" in str(negative.json()["detail"])
    unknown = client.post(
        "/v1/plan", json={"capital": 1e6, "income_per_year": 5e4, "allocation": {"moon": 1.0}}
    )
    assert unknown.status_code == 404
    bad_sum = client.post(
        "/v1/plan",
        json={"capital": 1e6, "income_per_year": 5e4, "allocation": {"growth": 0.5}},
    )
    assert bad_sum.status_code == 422 and "sum to 0.5" in bad_sum.json()["message"]
    assert (
        httpx.post(f"{client.base_url}/v1/plan", json={"preset": "supplemental"}).status_code == 401
    )


def test_preset_plan_job(client: httpx.Client) -> None:
    job = finished(client, "/v1/plan", {"preset": "supplemental", "paths": 400})
    assert job["status"] == "succeeded", job
    assert job["result"]["allocation"] == {
        "large-cap-staking": 0.6,
        "stablecoin-income": 0.3,
        "defi-yield": 0.1,
    }
    assert job["result"]["in_target_range"] is True


def test_backtest_job_returns_metrics_and_the_daily_path(client: httpx.Client) -> None:
    job = finished(client, "/v1/backtest", {"index": "large-cap-staking", "start": "2025-01-01"})
    assert job["status"] == "succeeded", job
    bt = job["result"]
    assert bt["name"] == "large-cap-staking" and bt["start"] >= "2025-01-01"
    values = [d["value"] for d in bt["daily"]]
    assert len(values) > 150
    # the reported drawdown is the path's own: value over its running peak, minus one
    peak, worst = bt["capital_usd"], 0.0  # the start (before day one) counts as a peak
    for v in values:
        peak = max(peak, v)
        worst = min(worst, v / peak - 1)
    assert min(d["drawdown"] for d in bt["daily"]) == pytest.approx(worst, abs=1e-9)
    assert set(bt["benchmarks"]) >= {"BTC hold", "ETH hold"}
    assert client.post("/v1/backtest", json={"index": "nope"}).status_code == 404


def test_finite_replaces_nan_and_infinity_at_any_depth() -> None:
    assert finite({"a": [1.0, float("nan")], "b": {"c": float("inf")}, "d": "x"}) == {
        "a": [1.0, None],
        "b": {"c": None},
        "d": "x",
    }
    import numpy as np

    out = finite({"ok": np.bool_(True), "n": np.int64(3), "x": [np.float64("nan")]})
    assert out == {"ok": True, "n": 3, "x": [None]} and type(out["ok"]) is bool


def test_dates_in_requests_are_iso_text_not_unix_numbers(client: httpx.Client) -> None:
    for path in ("/v1/backtest", "/v1/index-levels"):
        bad = client.post(path, json={"index": "large-cap-staking", "start": 0})
        assert bad.status_code == 422, (path, bad.text)
        assert "ISO 8601 date" in bad.json()["message"]
