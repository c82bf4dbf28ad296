"""The executors' contract on plain tasks: results in chunk order, progress per chunk,
and a process pool that loses a worker finishes the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realyield.core.errors import ConfigError, ExecutionError, WorkerPoolError
from realyield.scaleout.executors import (
    LocalExecutor,
    ProcessExecutor,
    default_chunk_size,
    make_executor,
    run_items,
)


def square_all(offset: int, chunk: list[int]) -> list[int]:
    return [offset + x * x for x in chunk]


def die_once_then_square(marker_dir: str, chunk: list[int]) -> list[int]:
    """Kills its own worker process the first time it sees item 5 (a worker lost to
    the OOM killer, say); later attempts succeed."""
    marker = Path(marker_dir) / "died"
    if 5 in chunk and not marker.exists():
        marker.write_text("x")
        os._exit(9)
    return [x * x for x in chunk]


def always_die(_shared: object, _chunk: list[int]) -> list[int]:
    os._exit(9)


@pytest.mark.parametrize(
    "executor", [LocalExecutor(), ProcessExecutor(2)], ids=["local", "processes"]
)
def test_results_come_back_in_item_order_with_progress(executor: object) -> None:
    seen: list[tuple[str, int, int]] = []
    out = run_items(
        executor,  # type: ignore[arg-type]
        square_all,
        100,
        list(range(23)),
        chunk_size=4,
        label="squares",
        progress=lambda d, done, total: seen.append((d, done, total)),
    )
    assert out == [100 + x * x for x in range(23)]
    assert seen[0][1:] == (0, 6) and seen[-1][1:] == (6, 6)
    assert sorted(s[1] for s in seen) == list(range(7))
    assert seen[0][0].startswith("squares (")


def test_a_pool_that_loses_a_worker_is_rebuilt_and_completes(tmp_path: Path) -> None:
    out = run_items(
        ProcessExecutor(2), die_once_then_square, str(tmp_path), list(range(12)), chunk_size=2
    )
    assert (tmp_path / "died").exists()  # a worker really died
    assert out == [x * x for x in range(12)]


def test_a_pool_that_keeps_dying_gives_up_with_a_clear_error() -> None:
    with pytest.raises(WorkerPoolError, match="lost a worker") as lost:
        run_items(ProcessExecutor(1), always_die, None, [1, 2], chunk_size=1)
    # not the order error of core.errors, which callers of brokers catch and retry
    assert not isinstance(lost.value, ExecutionError)


def test_chunk_sizes_and_options() -> None:
    assert default_chunk_size(1000, 2) == 125  # four chunks per worker
    assert default_chunk_size(3, 8) == 1
    with pytest.raises(ConfigError, match="--workers"):
        make_executor("processes", workers=0)
    assert make_executor("local").name == "local"
