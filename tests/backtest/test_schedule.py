"""Weights CSV: the documented format reads, every problem is named with its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from realyield.backtest.schedule import read_weights_csv, rebalance_days
from realyield.core.errors import ConfigError, DataError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "weights.csv"
    path.write_text(text)
    return path


def test_reads_the_documented_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,id,weight,comment\n"
        "2021-01-01,bitcoin,0.40,core\n"
        "2021-01-01,ethereum,0.35,\n"
        "2021-01-01,aave-v3:ethereum:usdc,0.25,\n"
        "\n"
        "2022-01-01 00:00:00,bitcoin,0.5,\n"
        "2022-01-01,cash,0.5,dry powder\n",
    )
    s = read_weights_csv(path)
    assert s.dates == [date(2021, 1, 1), date(2022, 1, 1)]
    assert s.ids == ["aave-v3:ethereum:usdc", "bitcoin", "ethereum"]  # cash is the rest
    np.testing.assert_allclose(s.weights, [[0.25, 0.40, 0.35], [0.0, 0.5, 0.0]])
    assert s.lines == {"bitcoin": 2, "ethereum": 3, "aave-v3:ethereum:usdc": 4, "cash": 7}
    assert s.row_at(date(2020, 12, 31)) == -1
    assert s.row_at(date(2021, 6, 1)) == 0 and s.row_at(date(2022, 1, 1)) == 1


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,id,weight\n"
        "2021-01-01,bitcoin,0.5\n"  # 2
        "2021-01-01,ethereum,-0.1\n"  # 3 negative
        "2021-01-01,solana,nan\n"  # 4 NaN
        "2021-13-01,bitcoin,0.5\n"  # 5 bad date
        "2021-02-01,bitcoin,abc\n"  # 6 not a number
        "2021-02-01,,0.5\n"  # 7 empty id
        "2021-03-01,bitcoin,0.5\n"  # 8
        "2021-03-01,bitcoin,0.5\n"  # 9 duplicate
        "2021-04-01,bitcoin,0.7\n",  # 10 sums to 0.7
    )
    with pytest.raises(DataError) as info:
        read_weights_csv(path)
    text = str(info.value)
    for expected in (
        "line 3: negative weight",
        "line 4: weight 'nan' is not a finite number",
        "line 5: date '2021-13-01' is not YYYY-MM-DD",
        "line 6: weight 'abc' is not a number",
        "line 7: empty id",
        "line 9: bitcoin appears twice on 2021-03-01",
        "lines 10-10: weights on 2021-04-01 sum to 0.7, not 1",
    ):
        assert expected in text, expected


def test_percent_weights_get_a_hint_and_columns_are_checked(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"fractions: 0\.25, not 25"):
        read_weights_csv(write(tmp_path, "date,id,weight\n2021-01-01,a,60\n2021-01-01,b,40\n"))
    with pytest.raises(DataError, match=r"missing column\(s\) \['weight'\]"):
        read_weights_csv(write(tmp_path, "date,id,w\n2021-01-01,a,1\n"))
    with pytest.raises(DataError, match="empty file"):
        read_weights_csv(write(tmp_path, ""))
    with pytest.raises(DataError, match="no weight rows"):
        read_weights_csv(write(tmp_path, "date,id,weight\n"))


def test_rebalance_days() -> None:
    start, end = date(2024, 1, 10), date(2024, 4, 2)
    assert rebalance_days(start, end, "monthly") == [
        start,
        date(2024, 2, 1),
        date(2024, 3, 1),
        date(2024, 4, 1),
    ]
    weekly = rebalance_days(start, end, "weekly")
    assert weekly[0] == start and all(d.weekday() == 0 for d in weekly[1:])
    assert (weekly[2] - weekly[1]).days == 7 and weekly[-1] <= end
    assert rebalance_days(start, end, "none") == [start]
    assert rebalance_days(start, end, "dates", [date(2024, 1, 1), date(2024, 3, 5)]) == [
        start,
        date(2024, 3, 5),
    ]
    with pytest.raises(ConfigError, match="unknown rebalance"):
        rebalance_days(start, end, "daily")
