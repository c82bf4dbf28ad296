"""Monitor and execution over HTTP: acknowledging an alert, the quarterly review job and
the (paper, planned-only) rebalance job."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from realyield.api.keys import create_key
from realyield.monitor.alerts import get_alert, record_findings
from realyield.monitor.rules import Finding
from realyield.store import schema
from tests.api.test_analysis_jobs import finished
from tests.conftest import LiveApi


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> httpx.Client:
    new = create_key(live_api.engine, "monitor", rate_per_min=6000, burst=500)
    return httpx.Client(
        base_url=live_api.url, headers={"Authorization": f"Bearer {new.token}"}, timeout=60
    )


def test_acknowledge_an_alert(client: httpx.Client, live_api: LiveApi) -> None:
    finding = Finding(
        rule="lst_discount",
        subject="staked-ether",
        day=date(2022, 6, 19),
        severity="critical",
        title="stETH 6.5% below ETH",
        evidence={"ratio": 0.9346},
        action="Avoid selling into the discount",
        magnitude=0.0654,
    )
    (change,) = record_findings(live_api.engine, [finding], cooldown_days=7)
    alert_id = change.alert.alert_id
    assert alert_id is not None
    anonymous = httpx.post(f"{live_api.url}/v1/alerts/{alert_id}/ack")
    assert anonymous.status_code == 401
    done = client.post(f"/v1/alerts/{alert_id}/ack", json={"note": "known, holding"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "acknowledged" and done.json()["ack_note"] == "known, holding"
    stored = get_alert(live_api.engine, alert_id)
    assert stored.status == "acknowledged" and stored.ack_note == "known, holding"
    again = client.post(f"/v1/alerts/{alert_id}/ack")  # idempotent
    assert again.status_code == 200 and again.json()["acknowledged_at"] == stored.acknowledged_at
    assert client.post("/v1/alerts/999999/ack").status_code == 404


def test_quarterly_review_job(client: httpx.Client) -> None:
    body = {"quarter": "2025Q2", "index": "stablecoin-income", "capital_usd": 100_000}
    job = finished(client, "/v1/review", body)
    assert job["status"] == "succeeded", job
    review = job["result"]
    assert review["markdown"].startswith("#") and "2025Q2" in review["markdown"]
    assert review["meta"]["illustrative"] is True
    bad = client.post("/v1/review", json={**body, "quarter": "2025Q5"})
    assert bad.status_code == 422
    assert client.post("/v1/review", json={**body, "index": "nope"}).status_code == 404


def test_rebalance_plan_job_plans_on_paper_and_stores_nothing(
    client: httpx.Client, live_api: LiveApi
) -> None:
    with live_api.engine.connect() as conn:
        before = conn.execute(schema.paper_balances.select()).all()
        journal = conn.execute(schema.order_journal.select()).all()
    job = finished(client, "/v1/rebalance-plan", {"index": "large-cap-staking", "cash": 10_000})
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert sum(result["targets"].values()) == pytest.approx(1.0, abs=1e-9)
    orders = result["plan"]["orders"]
    assert orders and all(o["side"] == "buy" for o in orders)
    spent = sum(Decimal(str(o["amount"])) * Decimal(str(o["reference_price"])) for o in orders)
    assert spent <= Decimal(10_000)
    with live_api.engine.connect() as conn:
        assert conn.execute(schema.paper_balances.select()).all() == before
        assert conn.execute(schema.order_journal.select()).all() == journal
