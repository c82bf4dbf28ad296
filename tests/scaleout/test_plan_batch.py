"""Batch plans: client files read strictly, bad rows reported without stopping the
batch, each plan equal to the planner run alone with its derived seed, and the same
table on every executor."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from realyield.core.errors import DataError
from realyield.planning.service import PlanRequest, plan_stored
from realyield.scaleout.executors import LocalExecutor, ProcessExecutor
from realyield.scaleout.plan_batch import parse_clients, plan_batch_on, read_clients
from realyield.scaleout.seeds import item_seed
from tests.scaleout.conftest import ScaleoutStore

HEADER = "client,capital,income,horizon,risk,tax_income,inflation,start_in,withdrawal,reinvest"
CLIENTS = f"""{HEADER},allocation
a,1m,50k/year,30y,moderate,,,,,,
b,500000,50000,30,conservative,,,,,,
c,300k,1500/month,25,moderate,25%,3%,2,inflation-indexed,50%,"large-cap-staking=60%,stablecoin-income=40%"
bad-capital,lots,50k,30,moderate,,,,,,
bad-risk,1m,50k,30,reckless,,,,,,
d,2m,60k/yr,20,aggressive,,,,guardrails,,
"""


@pytest.fixture(scope="module")
def local(scaleout_store: ScaleoutStore):  # type: ignore[no-untyped-def]
    return plan_batch_on(scaleout_store.basis, parse_clients(CLIENTS), LocalExecutor())


def test_bad_rows_are_reported_and_the_batch_goes_on(local) -> None:  # type: ignore[no-untyped-def]
    t = local.table
    assert t["client"].to_list() == ["a", "b", "c", "bad-capital", "bad-risk", "d"]
    assert t["line"].to_list() == [2, 3, 4, 5, 6, 7]
    status = dict(zip(t["client"], t["status"], strict=True))
    assert status == {
        "a": "ok",
        "b": "ok",
        "c": "ok",
        "bad-capital": "failed",
        "bad-risk": "failed",
        "d": "ok",
    }
    errors = dict(zip(t["client"], t["error"], strict=True))
    assert "capital 'lots' is not an amount" in errors["bad-capital"]
    assert "reckless" in errors["bad-risk"]
    summary = local.as_dict(rows=False)
    assert [f["line"] for f in summary["failed"]] == [5, 6]


def test_required_yield_and_verdicts_match_the_hand_figures(local) -> None:  # type: ignore[no-untyped-def]
    rows = {r["client"]: r for r in local.table.iter_rows(named=True)}
    assert rows["a"]["required_yield"] == pytest.approx(50_000 / 1_000_000)
    assert rows["b"]["required_yield"] == pytest.approx(50_000 / 500_000)
    assert rows["c"]["required_yield"] == pytest.approx(18_000 / 300_000)
    assert rows["d"]["required_yield"] == pytest.approx(60_000 / 2_000_000)
    assert rows["a"]["verdict"] != "unsustainable"  # the README's $1M / $50k
    assert rows["b"]["verdict"] == "unsustainable"  # the README's $500k / $50k
    for r in rows.values():
        if r["status"] != "ok":
            continue
        assert 0.0 <= r["success_probability"] <= 1.0
        assert r["capital_end_p5"] <= r["capital_end_p50"] <= r["capital_end_p95"]
        assert r["income_first_year_p5"] <= r["income_first_year_p50"] <= r["income_first_year_p95"]
        assert sum(json.loads(r["allocation"]).values()) == pytest.approx(1.0)
        # one plan, one verdict: "sustainable" only with the profile's success threshold met
        if r["verdict"] == "sustainable":
            assert r["success_probability"] >= r["success_threshold"] >= 0.80
    # client c named its mix: it is planned as named, the recommendation beside it
    assert json.loads(rows["c"]["allocation"]) == {
        "large-cap-staking": 0.6,
        "stablecoin-income": 0.4,
    }


def test_each_plan_equals_the_planner_alone_with_its_derived_seed(
    scaleout_store: ScaleoutStore,
    local,  # type: ignore[no-untyped-def]
) -> None:
    basis = scaleout_store.basis
    row = local.table.row(2, named=True)  # client c, third row: position 2
    assert row["seed"] == item_seed(basis.seed, 2)
    request = PlanRequest(
        capital=300_000,
        income_per_year=18_000,
        horizon_years=25,
        risk="moderate",
        tax_income=0.25,
        inflation=0.03,
        start_in_years=2.0,
        withdrawal="inflation-indexed",
        reinvest=0.5,
        allocation={"large-cap-staking": 0.6, "stablecoin-income": 0.4},
        paths=basis.paths,
        seed=item_seed(basis.seed, 2),
    )
    # the standalone planner, building its own indices and context from the store
    alone = plan_stored(scaleout_store.engine, request)
    assert row["success_probability"] == alone.outcomes.success_probability
    assert row["capital_end_p50"] == float(alone.outcomes.capital_pct[2, -1])
    # the first income year is year 3 (income starts after 2 years)
    assert row["income_first_year_p50"] == float(alone.outcomes.income_pct[2, 2])
    assert json.loads(row["allocation"]) == alone.allocation
    assert row["verdict"] == alone.verdict.level


def test_a_client_equals_itself_stacked_with_others_or_alone(
    scaleout_store: ScaleoutStore,
    local,  # type: ignore[no-untyped-def]
) -> None:
    """The Monte Carlo of many clients is stacked; a client's row must not depend on who
    it is stacked with: one row per task gives the same table to the last digit."""
    alone = plan_batch_on(
        scaleout_store.basis, parse_clients(CLIENTS), LocalExecutor(), chunk_size=1
    )
    assert_frame_equal(alone.table, local.table, check_exact=True)


def test_process_pool_gives_the_same_table_to_the_last_digit(
    scaleout_store: ScaleoutStore,
    local,  # type: ignore[no-untyped-def]
) -> None:
    other = plan_batch_on(
        scaleout_store.basis, parse_clients(CLIENTS), ProcessExecutor(2), chunk_size=2
    )
    assert_frame_equal(other.table, local.table, check_exact=True)


def test_client_files_are_checked_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="lacks"):
        parse_clients("client,capital\nx,1m\n")
    with pytest.raises(DataError, match="unknown columns"):
        parse_clients("client,capital,income,colour\nx,1m,50k,red\n")
    with pytest.raises(DataError, match="already on line 2"):
        parse_clients("client,capital,income\nx,1m,50k\nx,2m,50k\n")
    with pytest.raises(DataError, match="no client rows"):
        parse_clients("client,capital,income\n")
    with pytest.raises(DataError, match="cannot read"):
        read_clients(tmp_path / "missing.csv")
    path = tmp_path / "c.csv"
    path.write_text("\ufeffClient,Capital,Income\n\nx,1m,50k\n", encoding="utf-8")
    (row,) = read_clients(path)  # BOM, header case and blank lines tolerated
    assert row.client == "x" and row.line == 3 and row.cells["capital"] == "1m"


def test_verdict_counts_in_the_summary(local) -> None:  # type: ignore[no-untyped-def]
    ok = local.table.filter(pl.col("status") == "ok")
    assert sum(local.as_dict(rows=False)["verdicts"].values()) == ok.height == 4
