"""Where a batch of independent tasks runs: in this process, a local process pool, or a
Dask distributed cluster. Sweeps and batch plans call ``Executor.map_chunks`` and never
know which.

Why a seam and not a home-made job system: Dask already schedules, moves data, retries
the tasks of a worker that died and shows a dashboard; the process pool is for one
machine without a cluster. The contract all three keep:

- ``task(shared, chunk)`` is a module-level function (it is pickled by reference);
  ``shared`` holds the large read-only inputs (histories, the scored universe) and is
  sent to each worker once (Dask ``scatter`` with ``broadcast``; the pool's worker
  initializer), never with every task;
- results come back in chunk order, whatever order the workers finish in, so the
  caller's output does not depend on the executor or the number of workers;
- ``progress(done, total)`` is called as chunks finish.

Raises (from ``map_chunks``): ``WorkerPoolError`` when a task cannot be completed (a task
raising an exception that is not one of ours, a pool that keeps dying, a cluster that
cannot be reached). Errors of single items are the caller's to catch inside the task:
a batch reports them per row instead of stopping.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from realyield.core.errors import ConfigError, WorkerPoolError

S = TypeVar("S")
C = TypeVar("C")
R = TypeVar("R")

#: task(shared, chunk) -> results of the chunk's items
Task = Callable[[Any, Any], Any]
#: progress(done chunks, total chunks)
ChunkProgress = Callable[[int, int], None]
#: progress(description, done, total): what the CLI's progress bar takes
Progress = Callable[[str, int, int], None]

EXECUTORS = ("local", "processes", "dask")
#: how many times a process pool is rebuilt after a worker died before giving up
POOL_RESTARTS = 3


class Executor(Protocol):
    """Runs ``task`` over ``chunks`` with ``shared`` sent once per worker."""

    name: str
    workers: int

    @property
    def dashboard_link(self) -> str | None: ...

    def map_chunks(
        self,
        task: Task,
        shared: Any,
        chunks: Sequence[Any],
        progress: ChunkProgress | None = None,
    ) -> list[Any]: ...

    def close(self) -> None: ...


def chunked(items: Sequence[C], size: int) -> list[list[C]]:
    """``items`` in consecutive chunks of ``size`` (the last may be shorter)."""
    if size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def default_chunk_size(n_items: int, workers: int, *, per_worker: int = 4) -> int:
    """Chunks large enough to amortise scheduling, small enough to balance: about
    ``per_worker`` chunks per worker (so a slow chunk or a lost worker does not leave
    the others idle for long)."""
    return max(1, math.ceil(n_items / max(1, workers * per_worker)))


def run_items(
    executor: Executor,
    task: Task,
    shared: Any,
    items: Sequence[Any],
    *,
    chunk_size: int | None = None,
    label: str = "items",
    progress: Progress | None = None,
) -> list[Any]:
    """``task`` over ``items`` in chunks on ``executor``: the results of every item, in
    the items' order (``task(shared, chunk)`` returns one result per item of its chunk).
    ``progress(description, done chunks, total chunks)`` follows the chunks.

    Raises:
        WorkerPoolError: as ``Executor.map_chunks``.
    """
    chunks = chunked(items, chunk_size or default_chunk_size(len(items), executor.workers))
    description = f"{label} ({executor.name})"

    def step(done: int, total: int) -> None:
        if progress:
            progress(description, done, total)

    step(0, len(chunks))
    parts = executor.map_chunks(task, shared, chunks, step)
    return [result for part in parts for result in part]


class LocalExecutor:
    """Everything in this process, in order: the reference the others must equal."""

    name = "local"
    workers = 1
    dashboard_link: str | None = None

    def map_chunks(
        self,
        task: Task,
        shared: Any,
        chunks: Sequence[Any],
        progress: ChunkProgress | None = None,
    ) -> list[Any]:
        out = []
        for k, chunk in enumerate(chunks):
            out.append(task(shared, chunk))
            if progress:
                progress(k + 1, len(chunks))
        return out

    def close(self) -> None:
        return None


# --- process pool --------------------------------------------------------------------

_WORKER_SHARED: Any = None


def _init_worker(shared: Any) -> None:
    """Pool initializer: the shared inputs arrive once per worker process."""
    global _WORKER_SHARED
    _WORKER_SHARED = shared


def _pool_task(task: Task, chunk: Any) -> Any:
    return task(_WORKER_SHARED, chunk)


class ProcessExecutor:
    """A local pool of ``workers`` processes (spawned, so no state leaks in from the
    parent). A pool whose worker dies is rebuilt and the unfinished chunks are sent
    again (up to ``POOL_RESTARTS`` times)."""

    name = "processes"
    dashboard_link: str | None = None

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")

    def map_chunks(
        self,
        task: Task,
        shared: Any,
        chunks: Sequence[Any],
        progress: ChunkProgress | None = None,
    ) -> list[Any]:
        results: dict[int, Any] = {}
        restarts = 0
        ctx = multiprocessing.get_context("spawn")
        while len(results) < len(chunks):
            todo = [k for k in range(len(chunks)) if k not in results]
            try:
                with ProcessPoolExecutor(
                    max_workers=min(self.workers, len(todo)),
                    mp_context=ctx,
                    initializer=_init_worker,
                    initargs=(shared,),
                ) as pool:
                    pending: dict[Future[Any], int] = {
                        pool.submit(_pool_task, task, chunks[k]): k for k in todo
                    }
                    while pending:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            k = pending.pop(fut)
                            results[k] = fut.result()
                            if progress:
                                progress(len(results), len(chunks))
            except BrokenProcessPool as exc:
                restarts += 1
                if restarts > POOL_RESTARTS:
                    raise WorkerPoolError(
                        f"the process pool lost a worker {restarts} times ({exc}); "
                        f"{len(chunks) - len(results)} of {len(chunks)} chunks unfinished. "
                        "Is the machine out of memory? Try fewer --workers"
                    ) from exc
        return [results[k] for k in range(len(chunks))]

    def close(self) -> None:
        return None


def make_executor(
    kind: str = "local",
    *,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Executor:
    """The executor for the CLI's ``--executor/--workers/--scheduler`` options.

    ``dask`` with ``scheduler`` connects to a running cluster (``tcp://HOST:8786``);
    without one it starts a LocalCluster of ``workers`` processes for the run (closed by
    ``close``).

    Raises:
        ConfigError: unknown executor, or options that do not fit it.
        WorkerPoolError: the Dask scheduler cannot be reached.
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    if scheduler and kind != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if kind == "local":
        return LocalExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    from realyield.scaleout.dask_executor import DaskExecutor

    return DaskExecutor(scheduler=scheduler, workers=workers)
