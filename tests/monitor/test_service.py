"""A monitoring run over a small store: every kind of rule fires on the day it should,
a second run adds nothing, a source outage becomes a stale-data alert, and the
scheduler keeps going through errors."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine

from realyield.core import clock
from realyield.core.errors import StoreError
from realyield.core.model import ApyPoint, Asset, Opportunity, PricePoint, utc_datetime
from realyield.core.settings import Settings
from realyield.monitor.config import MonitorConfig, parse_config
from realyield.monitor.scheduler import monitor_job, start_background
from realyield.monitor.service import MonitorRun, run_monitor
from realyield.store.records import save_apy_history, save_assets, save_opportunities, save_prices

DAY = date(2024, 3, 31)
NOW = datetime(2024, 4, 1, 9, tzinfo=UTC)


def fill_store(engine: Engine) -> None:
    opp = Opportunity(
        id="pool-a",
        kind="lending",
        chain="Ethereum",
        protocol="aave-v3",
        symbol="USDC",
        apy=5.0,
        apy_base=5.0,
        apy_reward=0.0,
        tvl_usd=6e6,
        as_of=utc_datetime(DAY),
        source="defillama",
        underlying=("usd-coin",),
        exposure="single",
        stablecoin=True,
    )
    points = [
        ApyPoint("pool-a", DAY - timedelta(days=i), 5.0, 5.0, 0.0, 6e6 if i == 0 else 10e6)
        for i in range(40)
    ]
    prices = [
        PricePoint("usd-coin", DAY - timedelta(days=i), 0.97 if i == 0 else 1.0) for i in range(40)
    ]
    asset = Asset(
        "usd-coin", "USDC", "USD Coin", "stablecoin", utc_datetime(DAY), "coingecko", 0.97
    )
    with engine.begin() as conn:
        save_opportunities(conn, [opp])
        save_apy_history(conn, "defillama", points)
        save_prices(conn, "coingecko", prices)
        save_assets(conn, [asset])


CONFIG = parse_config(
    {
        "portfolio": {"income_per_year_usd": 2000},
        "holdings": {"pool-a": 10_000, "pool-gone": 5_000},
        "targets": {"pool-a": 0.5, "pool-gone": 0.5},
        "schedule": {"refresh": ["defillama"]},
    }
)


def failing_refresh(
    engine: Engine, settings: Settings, sources: Any
) -> tuple[dict[str, str], list[str]]:
    return {s: f"{s} unreachable: timed out" for s in sources}, []


def test_one_run_raises_each_rule_once_and_a_second_run_nothing(
    engine: Engine, settings: Settings
) -> None:
    fill_store(engine)
    with clock.freeze(NOW):
        run = run_monitor(engine, settings, CONFIG, refresher=failing_refresh)
    assert run.evaluated == (DAY, DAY)
    fired = {(c.alert.rule, c.alert.subject): c.alert for c in run.changes if c.kind == "opened"}
    assert set(fired) == {
        ("tvl_drop", "pool-a"),  # 6M against 10M a week earlier: -40%
        ("depeg", "usd-coin"),  # 0.97: 3% off, critical
        ("screened_out", "pool-gone"),  # held, but no longer in the universe
        ("drift", "portfolio"),  # 66.7% / 33.3% against 50% / 50%
        ("income_below_plan", "portfolio"),  # 10,000 x 5% = 500 a year against 2,000
        ("stale_data", "defillama"),  # the refresh failed: a warning, not a crash
    }
    assert fired[("tvl_drop", "pool-a")].evidence["drop_pct"] == pytest.approx(40.0)
    assert fired[("depeg", "usd-coin")].severity == "critical"
    assert fired[("drift", "portfolio")].evidence["max_drift_pp"] == pytest.approx(
        100 * (2 / 3 - 0.5), abs=1e-3
    )
    income = fired[("income_below_plan", "portfolio")]
    assert income.evidence["income_usd"] == 500.0 and income.severity == "critical"
    stale = fired[("stale_data", "defillama")]
    assert stale.evidence["last_refresh_error"] == "defillama unreachable: timed out"
    assert ("stale_data", "coingecko") not in fired  # data from yesterday is within 48 h
    with clock.freeze(NOW + timedelta(hours=1)):
        again = run_monitor(engine, settings, CONFIG, refresher=failing_refresh)
    assert {c.kind for c in again.changes} == {"unchanged"}


def test_nothing_configured_still_watches_prices(engine: Engine, settings: Settings) -> None:
    fill_store(engine)
    with clock.freeze(NOW):
        run = run_monitor(engine, settings, MonitorConfig(), refresh=False)
    rules = {c.alert.rule for c in run.changes}
    assert rules == {"depeg"}
    assert any("watch nothing" in n for n in run.notes)


def test_empty_store_reports_instead_of_failing(engine: Engine, settings: Settings) -> None:
    with clock.freeze(NOW):
        run = run_monitor(engine, settings, MonitorConfig(), refresh=False)
    assert run.evaluated is None and any("holds no data" in n for n in run.notes)


def test_scheduler_survives_errors_and_runs_again() -> None:
    calls: list[int] = []
    done = threading.Event()
    errors: list[str] = []

    def once() -> MonitorRun:
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("database is locked")
        done.set()
        return MonitorRun(None)

    job = monitor_job(once, on_error=lambda e: errors.append(str(e)))
    job()  # the first run fails: logged and reported, not raised
    assert errors == ["database is locked"]
    scheduler = start_background(job, every_minutes=60)
    try:
        assert done.wait(5.0), "the scheduled run did not happen"
    finally:
        scheduler.shutdown(wait=False)
    assert len(calls) == 2


@respx.mock
def test_a_real_refresh_outage_becomes_a_stale_data_alert(
    engine: Engine, settings: Settings
) -> None:
    respx.get(url__startswith=settings.defillama_yields_url).mock(
        side_effect=httpx.ConnectError("[Errno -3] Temporary failure in name resolution")
    )
    fill_store(engine)
    fast = replace(settings, http_backoff_base_s=0.0, http_backoff_max_s=0.0)
    with clock.freeze(NOW):
        run = run_monitor(engine, fast, replace(MonitorConfig(), refresh=("defillama",)))
    (stale,) = [c.alert for c in run.changes if c.alert.rule == "stale_data"]
    assert stale.subject == "defillama" and "unreachable" in stale.evidence["last_refresh_error"]
    assert {c.alert.rule for c in run.changes} == {"stale_data", "depeg"}  # it went on
