"""Methodology sweeps: Pareto front against brute force, variants against the plain
backtest, and the same table on every executor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from realyield.backtest.service import backtest_index_on, index_config
from realyield.indices.methodology import packaged_definitions
from realyield.scaleout.executors import LocalExecutor, ProcessExecutor, chunked
from realyield.scaleout.sweep import pareto_front, sweep_on
from realyield.scaleout.sweep_report import write_report
from realyield.scaleout.sweep_spec import parse_spec
from realyield.scaleout.tables import write_results
from tests.scaleout.conftest import ScaleoutStore

SPEC = {
    "index": "large-cap-staking",
    "seed": 5,
    "parameters": {
        "caps.single": [0.25, 0.35, 1.5],  # 1.5 breaks the rules: a failed row
        "rebalance.schedule": ["quarterly", "monthly"],
    },
}


def _brute_front(income: np.ndarray, dd: np.ndarray) -> np.ndarray:
    n = income.size
    out = np.zeros(n, dtype=bool)
    for i in range(n):
        if not (np.isfinite(income[i]) and np.isfinite(dd[i])):
            continue
        dominated = any(
            np.isfinite(income[j])
            and np.isfinite(dd[j])
            and income[j] >= income[i]
            and dd[j] >= dd[i]
            and (income[j] > income[i] or dd[j] > dd[i])
            for j in range(n)
        )
        out[i] = not dominated
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.02, 0.05, float("nan")]),
            st.sampled_from([-0.3, -0.2, -0.1, 0.0, float("nan")]),
        ),
        max_size=25,
    )
)
def test_pareto_front_equals_brute_force(points: list[tuple[float, float]]) -> None:
    income = np.array([p[0] for p in points], dtype=float)
    dd = np.array([p[1] for p in points], dtype=float)
    assert (pareto_front(income, dd) == _brute_front(income, dd)).all()


@pytest.fixture(scope="module")
def local_result(scaleout_store: ScaleoutStore):  # type: ignore[no-untyped-def]
    return sweep_on(scaleout_store.data, parse_spec(SPEC), LocalExecutor())


def test_each_variant_equals_the_plain_backtest_of_its_rules(
    scaleout_store: ScaleoutStore,
    local_result,  # type: ignore[no-untyped-def]
) -> None:
    table = local_result.table
    assert table.height == 6
    assert table["variant"].to_list() == list(range(6))
    failed = table.filter(pl.col("status") == "failed")
    assert failed["caps.single"].to_list() == [1.5, 1.5]
    assert all("caps.single" in e for e in failed["error"].to_list())
    # reference: the same rules run through backtest_index_on by hand, on fresh data caches
    base = packaged_definitions()
    for row in table.filter(pl.col("status") == "ok").iter_rows(named=True):
        r = base["large-cap-staking"].rebalance
        defn = replace(
            base["large-cap-staking"],
            caps=replace(base["large-cap-staking"].caps, single=row["caps.single"]),
            rebalance=replace(r, schedule=row["rebalance.schedule"]),
        )
        config = index_config(defn, {"benchmarks": False})
        ref = backtest_index_on(
            scaleout_store.data.sharing_scores(),
            "large-cap-staking",
            config,
            definitions={**base, "large-cap-staking": defn},
        )
        assert row["cagr"] == ref.metrics.cagr
        assert row["max_drawdown"] == ref.metrics.max_drawdown
        assert row["income_return"] == ref.attribution["income_return"]
        assert row["turnover_annual"] == ref.attribution["turnover_annual"]
    ok = table.filter(pl.col("status") == "ok")
    # monthly and quarterly rebalancing really differ
    assert ok["rebalances"].n_unique() > 1
    # the front flags are the brute-force front of the ok rows
    front = _brute_front(ok["income_return"].to_numpy(), ok["max_drawdown"].to_numpy())
    assert ok["pareto"].to_list() == front.tolist()


def test_process_pool_gives_the_same_table_to_the_last_digit(
    scaleout_store: ScaleoutStore,
    local_result,  # type: ignore[no-untyped-def]
) -> None:
    other = sweep_on(scaleout_store.data, parse_spec(SPEC), ProcessExecutor(2), chunk_size=1)
    assert_frame_equal(other.table, local_result.table, check_exact=True)
    assert other.executor == "processes" and other.workers == 2


def test_results_and_report_are_written(local_result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pq = write_results(local_result.table, tmp_path / "out" / "sweep.parquet")
    assert_frame_equal(pl.read_parquet(pq), local_result.table, check_exact=True)
    csv = write_results(local_result.table, tmp_path / "sweep.csv")
    assert pl.read_csv(csv).height == 6
    assert not list(tmp_path.rglob("*.partial"))
    html = write_report(tmp_path / "sweep.html", local_result).read_text(encoding="utf-8")
    assert "Pareto front" in html and 'id="fig-front"' in html
    assert "Plotly.newPlot" in html


def test_chunked_keeps_order_and_sizes() -> None:
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(Exception, match="at least 1"):
        chunked([1], 0)


def test_history_data_travels_without_its_price_prefixes(scaleout_store: ScaleoutStore) -> None:
    import pickle
    from datetime import date

    from realyield.indices.service import HistoryData

    src = scaleout_store.data
    data = HistoryData(src.opportunities, src.history, src.assets, src.prices)
    empty = len(pickle.dumps(data))
    days = [date(2023, m, 1) for m in range(1, 13)]
    before = {d: data.inputs_at(d) for d in days}
    prefix = len(pickle.dumps(before[days[-1]].prices))
    blob = pickle.dumps(data)
    # twelve scored days add their scores, not twelve copies of the price history
    assert len(blob) - empty < 12 * prefix / 4
    after = pickle.loads(blob)
    for d in days:
        restored = after.inputs_at(d).prices
        assert restored is not None and before[d].prices is not None
        assert_frame_equal(restored, before[d].prices, check_exact=True)
        assert restored["date"].max() <= d
