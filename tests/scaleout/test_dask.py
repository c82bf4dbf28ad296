"""A real Dask cluster: a scheduler and two workers started as separate processes on
127.0.0.1. The sweep and the batch give the in-process tables to the last digit, also
when a worker is killed in the middle of the run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from realyield.scaleout.executors import LocalExecutor, make_executor
from realyield.scaleout.plan_batch import BatchResult, parse_clients, plan_batch_on
from realyield.scaleout.sweep import SweepResult, sweep_on
from realyield.scaleout.sweep_spec import parse_spec
from tests.scaleout.conftest import ScaleoutStore

distributed = pytest.importorskip("distributed")
DASK = str(Path(sys.executable).parent / "dask")

SPEC = {
    "index": "large-cap-staking",
    "search": "random",
    "samples": 4,
    "seed": 21,
    "parameters": {
        "caps.single": {"low": 0.2, "high": 0.6},
        "rebalance.schedule": ["quarterly", "monthly"],
    },
}
ROWS = "\n".join(
    ["client,capital,income,horizon,risk"]
    + [
        f"c{k},{300 + 50 * k}k,{20 + 2 * k}k/year,{15 + k},"
        f"{('conservative', 'moderate', 'aggressive')[k % 3]}"
        for k in range(5)
    ]
    + ["broken,1m,-5,30,moderate"]
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.address = f"tcp://127.0.0.1:{_port()}"
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.env = env
        self._start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                self.address.rsplit(":", 1)[1],
                "--no-dashboard",
            ],
            "scheduler",
        )
        self.workers = [self.add_worker(f"w{k}") for k in range(2)]

    def _start(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [DASK, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def add_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self._start(
            [
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--name",
                name,
            ],
            name,
        )

    def wait_for_workers(self, n: int) -> None:
        with distributed.Client(self.address, timeout="60s") as client:
            client.wait_for_workers(n, timeout=90)

    def stop(self) -> None:
        """Throwaway processes: killed outright (a graceful Dask shutdown takes seconds)."""
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.procs:
            p.wait(timeout=15)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.wait_for_workers(2)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def local_runs(scaleout_store: ScaleoutStore) -> tuple[SweepResult, BatchResult]:
    """The in-process reference both tests compare with (run once)."""
    return (
        sweep_on(scaleout_store.data, parse_spec(SPEC), LocalExecutor()),
        plan_batch_on(scaleout_store.basis, parse_clients(ROWS), LocalExecutor()),
    )


def test_sweep_and_batch_on_a_real_cluster_equal_the_in_process_run(
    cluster: Cluster, scaleout_store: ScaleoutStore, local_runs: tuple[SweepResult, BatchResult]
) -> None:
    spec = parse_spec(SPEC)
    rows = parse_clients(ROWS)
    local_sweep, local_batch = local_runs
    ex = make_executor("dask", scheduler=cluster.address)
    try:
        assert ex.workers == 2
        seen: list[int] = []
        dask_sweep = sweep_on(
            scaleout_store.data,
            spec,
            ex,
            chunk_size=1,
            progress=lambda _t, done, _n: seen.append(done),
        )
        dask_batch = plan_batch_on(scaleout_store.basis, rows, ex, chunk_size=2)
    finally:
        ex.close()
    assert_frame_equal(dask_sweep.table, local_sweep.table, check_exact=True)
    assert_frame_equal(dask_batch.table, local_batch.table, check_exact=True)
    assert dask_sweep.table.height == 4 and dask_batch.table.height == 6
    assert dask_batch.table.filter(status="failed")["client"].to_list() == ["broken"]
    assert seen[-1] == 4  # progress reached every chunk


def test_a_worker_killed_mid_run_loses_nothing(
    cluster: Cluster, scaleout_store: ScaleoutStore, local_runs: tuple[SweepResult, BatchResult]
) -> None:
    rows = parse_clients(ROWS)
    local = local_runs[1]
    ex = make_executor("dask", scheduler=cluster.address)
    killed = threading.Event()
    victim = cluster.workers[1]

    def on_progress(_task: str, done: int, total: int) -> None:
        if done >= 1 and not killed.is_set():  # one chunk back, the rest in flight
            os.killpg(victim.pid, signal.SIGKILL)
            killed.set()

    try:
        started = time.monotonic()
        result = plan_batch_on(scaleout_store.basis, rows, ex, chunk_size=1, progress=on_progress)
    finally:
        ex.close()
    assert killed.is_set() and victim.wait(timeout=10) == -signal.SIGKILL
    assert time.monotonic() - started < 300
    assert_frame_equal(result.table, local.table, check_exact=True)
    assert result.table.height == 6
