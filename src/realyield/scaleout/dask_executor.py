"""The Dask distributed executor: a running cluster (``tcp://HOST:8786``) or a
LocalCluster started for the run.

Why these choices: the shared inputs are scattered once with ``broadcast=True`` so every
worker holds them before the tasks arrive (a task then carries only its chunk, a few
kilobytes); tasks are impure (``pure=False``) and keyed by run and chunk, so two runs
never share results by accident; the scheduler itself moves the tasks of a worker that
died to the survivors, and ``retries`` covers a task that failed on a worker that was
going down. Results are gathered in chunk order.

Imported only when ``--executor dask`` is chosen, so the rest of realyield does not pay
for importing distributed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import uuid
from collections.abc import Sequence
from typing import Any

from realyield.core.errors import ConfigError, WorkerPoolError
from realyield.scaleout.executors import ChunkProgress, Task

#: per-task retries for errors raised on a worker (a lost worker is rescheduled anyway)
TASK_RETRIES = 2
CONNECT_TIMEOUT = "10s"


class DaskExecutor:
    name = "dask"

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise ConfigError(
                "--executor dask needs the 'distributed' package: pip install 'dask[distributed]'"
            ) from exc
        self._cluster: Any = None
        try:
            if scheduler:
                if workers is not None:
                    raise ConfigError(
                        "--workers starts a local cluster; with --scheduler the cluster's own "
                        "workers run the tasks"
                    )
                self._client: Any = Client(scheduler, timeout=CONNECT_TIMEOUT)
            else:
                dashboard = "127.0.0.1:0" if importlib.util.find_spec("bokeh") else None
                self._cluster = LocalCluster(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=dashboard,
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as exc:
            self.close()
            where = scheduler or "a local cluster"
            raise WorkerPoolError(
                f"cannot reach the Dask scheduler at {where}: {exc}. Start one with "
                "`dask scheduler` and workers with `dask worker tcp://HOST:8786`, or leave "
                "out --scheduler to start a local cluster"
            ) from exc
        info = self._client.scheduler_info()
        self.workers = max(1, len(info.get("workers", {})))

    @property
    def dashboard_link(self) -> str | None:
        try:
            info = self._client.scheduler_info()
            if "dashboard" not in info.get("services", {}):
                return None
            return str(self._client.dashboard_link)
        except Exception:  # a dashboard link is a courtesy, never a failure
            return None

    def map_chunks(
        self,
        task: Task,
        shared: Any,
        chunks: Sequence[Any],
        progress: ChunkProgress | None = None,
    ) -> list[Any]:
        from distributed import as_completed

        run = uuid.uuid4().hex[:8]
        try:
            shared_future = self._client.scatter(shared, broadcast=True, hash=False)
        except (OSError, TimeoutError) as exc:
            raise WorkerPoolError(
                f"could not send the shared inputs to the cluster: {exc}"
            ) from exc
        futures = [
            self._client.submit(
                task,
                shared_future,
                chunk,
                key=f"realyield-{getattr(task, '__name__', 'task')}-{run}-{k}",
                pure=False,
                retries=TASK_RETRIES,
            )
            for k, chunk in enumerate(chunks)
        ]
        index = {f.key: k for k, f in enumerate(futures)}
        results: dict[int, Any] = {}
        try:
            for fut in as_completed(futures):
                k = index[fut.key]
                try:
                    results[k] = fut.result()
                except Exception as exc:
                    raise WorkerPoolError(
                        f"chunk {k + 1} of {len(chunks)} failed on the cluster after "
                        f"{TASK_RETRIES} retries: {type(exc).__name__}: {exc}"
                    ) from exc
                if progress:
                    progress(len(results), len(chunks))
        finally:
            for f in futures:
                f.release()
            shared_future.release()
        return [results[k] for k in range(len(chunks))]

    def close(self) -> None:
        client, cluster = getattr(self, "_client", None), self._cluster
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
