"""``/v1/ledger/...``: the ledger over HTTP returns what the library computes, imports
are idempotent, and the data is private (a key is needed)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from realyield.api.keys import create_key
from realyield.portfolio import service
from tests.conftest import LiveApi

GENERIC = Path(__file__).parents[1] / "fixtures" / "ledger" / "generic.csv"


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> httpx.Client:
    new = create_key(live_api.engine, "ledger", rate_per_min=6000, burst=500)
    c = httpx.Client(
        base_url=live_api.url, headers={"Authorization": f"Bearer {new.token}"}, timeout=60
    )
    body = {"format": "generic", "text": GENERIC.read_text(), "name": "generic.csv"}
    first = c.post("/v1/ledger/import", json=body)
    assert first.status_code == 200, first.text
    return c


def test_import_is_idempotent_over_http(client: httpx.Client) -> None:
    body = {"format": "generic", "text": GENERIC.read_text(), "name": "generic.csv"}
    again = client.post("/v1/ledger/import", json=body).json()
    assert again["inserted"] == 0 and again["duplicates"] == again["events"] > 0
    bad = client.post("/v1/ledger/import", json={**body, "format": "quicken"})
    assert bad.status_code == 422


def test_an_upload_with_no_good_row_is_422_and_dry_run_or_decimal_commas_as_the_cli(
    client: httpx.Client, live_api: LiveApi
) -> None:
    before = len(service.list_events(live_api.engine))
    header = "time,kind,asset,amount,note\n"
    bad = {"format": "generic", "text": header + "yesterday,deposit,USD,1,x\n", "name": "bad"}
    failed = client.post("/v1/ledger/import", json=bad)
    assert failed.status_code == 422
    assert failed.json()["status"] == "failed" and failed.json()["problems"][0]["row"] == 2
    european = header + '2024-03-01T00:00:00Z,deposit,USD,"1.234,56",eu\n'
    body = {"format": "generic", "text": european, "name": "eu.csv"}
    assert client.post("/v1/ledger/import", json=body).status_code == 422
    dry = client.post("/v1/ledger/import", json={**body, "decimal_comma": True, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["inserted"] == 1
    assert len(service.list_events(live_api.engine)) == before  # nothing stored
    stored = client.post("/v1/ledger/import", json={**body, "decimal_comma": True})
    assert stored.status_code == 200, stored.text
    [event] = [e for e in service.list_events(live_api.engine) if e.note == "eu"]
    assert str(event.amount) == "1234.56"


def test_reports_equal_the_library(client: httpx.Client, live_api: LiveApi) -> None:
    year = 2024
    summary = client.get("/v1/ledger/summary", params={"year": year}).json()
    assert summary == service.ledger_summary(live_api.engine, year).as_dict()
    for method in ("fifo", "hifo"):
        gains = client.get("/v1/ledger/gains", params={"year": year, "method": method}).json()
        assert gains == service.gains(live_api.engine, year, method).as_dict()
    income = client.get("/v1/ledger/income", params={"year": year}).json()
    assert income == service.income(live_api.engine, year).as_dict(lines=True)
    assert income["total"] != "0" and income["categories"]
    events = client.get("/v1/ledger/events", params={"year": year}).json()["data"]
    assert len(events) == len(service.list_events(live_api.engine, year=year))


def test_exports_are_files_in_the_accountants_formats(client: httpx.Client) -> None:
    koinly = client.get("/v1/ledger/export", params={"format": "koinly"})
    assert koinly.status_code == 200 and koinly.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(koinly.text)))
    assert header[:4] == ["Date", "Sent Amount", "Sent Currency", "Received Amount"]
    assert "attachment" in koinly.headers["content-disposition"]
    needs_year = client.get("/v1/ledger/export", params={"format": "8949"})
    assert needs_year.status_code == 422 and "per tax year" in needs_year.json()["message"]
    html = client.get("/v1/ledger/export", params={"format": "html", "year": 2024})
    assert html.headers["content-type"].startswith("text/html") and "<table" in html.text


def test_ledger_is_private(live_api: LiveApi) -> None:
    for path in ("/v1/ledger/summary?year=2024", "/v1/ledger/events", "/v1/ledger/gains?year=2024"):
        assert httpx.get(live_api.url + path).status_code == 401
