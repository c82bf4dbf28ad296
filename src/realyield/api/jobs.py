"""Long computations as jobs: submit, get an id, poll until done.

A ``JobKind`` names a computation, its parameter and result models, and the function
that runs it. ``JobRunner`` runs jobs on a bounded thread pool and records every job in
the store's ``api_jobs`` table (parameters, status, result or error), so a result
outlives the request and the server process. Limits, all from settings:

- ``api_job_workers`` jobs run at once; at most ``api_job_queue_limit`` wait; one key
  may have ``api_jobs_per_key`` queued or running. Past any limit a submission is
  refused (``LimitError``, HTTP 429 with Retry-After).
- A job running longer than ``api_job_timeout_s`` is marked failed; the function is
  told through ``JobContext.cancelled`` and should stop (threads cannot be killed: a
  function that never checks keeps its worker until it returns; its result is dropped).
- Results above ``MAX_RESULT_BYTES`` fail the job rather than bloat the store.
- Finished jobs are deleted after ``api_job_retention_days``. Jobs queued or running
  when the server stopped are marked failed at the next start (submit them again).

Jobs are visible only to the key that submitted them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, delete, select, update

from realyield.core import clock, events
from realyield.core.errors import LimitError, NotFoundError, RealyieldError
from realyield.store import schema

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 20 * 2**20
FINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class JobContext:
    """What a running job sees: its id, who asked, shared services, and whether to stop."""

    job_id: str
    key_id: str
    services: Any  # the app's state (data snapshot, engine, settings)
    deadline: float  # time.monotonic() after which the job is failed
    timeout_s: float
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled or ran out of time: stop and return."""
        return self._cancel.is_set() or time.monotonic() > self.deadline

    def progress(self, done: int, total: int, note: str = "") -> None:
        """Tell the live streams how far the job is (``done`` of ``total`` steps)."""
        events.publish(
            "job", job_id=self.job_id, status="running", done=done, total=total, note=note
        )


JobFunction = Callable[[JobContext, Any], BaseModel]


@dataclass(frozen=True)
class JobKind:
    """A kind of job: ``run(ctx, params)`` takes a validated ``params`` model and
    returns a ``result`` model; ``RealyieldError``s become the job's error message."""

    name: str
    params: type[BaseModel]
    result: type[BaseModel]
    run: JobFunction
    description: str = ""
    timeout_s: float | None = None  # None: the runner's default
    #: optional check before queueing (e.g. the index exists); raises ConfigError,
    #: DataError (422) or NotFoundError (404) so a doomed job is never queued
    check: Callable[[Any, Any], None] | None = None


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    key_id: str
    status: str
    submitted_at: str
    started_at: str | None
    finished_at: str | None
    params: dict[str, Any]
    result: Any | None
    error: str | None

    def public(self) -> dict[str, Any]:
        """The fields a client sees (not the key id)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "submitted_at": self.submitted_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "params": self.params,
            "result": self.result,
            "error": self.error,
        }


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.job_id,
        kind=row.kind,
        key_id=row.key_id,
        status=row.status,
        submitted_at=row.submitted_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        params=json.loads(row.params),
        result=json.loads(row.result) if row.result is not None else None,
        error=row.error,
    )


class JobRunner:
    """Runs and records jobs. ``start()`` before submitting; ``stop()`` at shutdown."""

    def __init__(
        self,
        engine: Engine,
        kinds: Mapping[str, JobKind],
        *,
        services: Any = None,
        workers: int = 1,
        queue_limit: int = 16,
        per_key: int = 4,
        timeout_s: float = 900.0,
        retention_days: float = 7.0,
    ) -> None:
        if workers < 1 or queue_limit < 1 or per_key < 1 or timeout_s <= 0:
            raise ValueError("job workers, queue limit, per-key limit and timeout must be > 0")
        self.engine = engine
        self.kinds = dict(kinds)
        self.services = services
        self.workers = workers
        self.queue_limit = queue_limit
        self.per_key = per_key
        self.timeout_s = timeout_s
        self.retention_days = retention_days
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, JobContext | None]] = {}  # id -> (key, ctx)
        self._running = 0

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Fail jobs a previous process left unfinished, drop expired ones, open the pool."""
        now = clock.now()
        t = schema.api_jobs
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.status.in_(("queued", "running")))
                .values(
                    status="failed",
                    finished_at=now.isoformat(),
                    error="the server stopped before this job finished; submit it again",
                )
            )
            cutoff = (now - timedelta(days=self.retention_days)).isoformat()
            conn.execute(delete(t).where(t.c.finished_at < cutoff))
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="realyield-job")

    def stop(self) -> None:
        """Stop taking jobs; queued ones are cancelled, running ones told to stop."""
        executor, self._executor = self._executor, None
        with self._lock:
            active = list(self._active.items())
        for job_id, (_key, ctx) in active:
            if ctx is not None:
                ctx._cancel.set()
            self._finish(job_id, "failed", error="the server stopped before this job finished")
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # --- submitting and reading ----------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"running": self._running, "queued": len(self._active) - self._running}

    def submit(self, kind: str, params: BaseModel, key_id: str) -> JobRecord:
        """Queue a job.

        Raises:
            NotFoundError: unknown kind.
            LimitError: the queue is full or the key has too many jobs.
            RealyieldError: the runner is not started.
        """
        if kind not in self.kinds:
            raise NotFoundError(f"no job kind {kind!r}; known: {sorted(self.kinds)}")
        if self._executor is None:
            raise RealyieldError("the job runner is not running")
        job_id = uuid.uuid4().hex
        with self._lock:
            mine = sum(1 for key, _ in self._active.values() if key == key_id)
            if mine >= self.per_key:
                raise LimitError(
                    f"this API key already has {mine} unfinished job(s) (limit {self.per_key});"
                    " wait for one to finish",
                    retry_after_s=5.0,
                )
            if len(self._active) - self._running >= self.queue_limit:
                raise LimitError(
                    f"the job queue is full ({self.queue_limit} waiting); try again later",
                    retry_after_s=10.0,
                )
            self._active[job_id] = (key_id, None)
        submitted = clock.now().isoformat()
        payload = params.model_dump(mode="json")
        with self.engine.begin() as conn:
            conn.execute(
                schema.api_jobs.insert().values(
                    job_id=job_id,
                    kind=kind,
                    key_id=key_id,
                    status="queued",
                    submitted_at=submitted,
                    params=json.dumps(payload),
                )
            )
        events.publish("job", job_id=job_id, job_kind=kind, status="queued")
        self._executor.submit(self._run, job_id, kind, params, key_id)
        return JobRecord(job_id, kind, key_id, "queued", submitted, None, None, payload, None, None)

    def get(self, job_id: str, key_id: str) -> JobRecord:
        """A job of ``key_id``.

        Raises:
            NotFoundError: no such job for this key (other keys' jobs are not shown).
        """
        self._expire_overdue()
        t = schema.api_jobs
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t).where((t.c.job_id == job_id) & (t.c.key_id == key_id))
            ).one_or_none()
        if row is None:
            raise NotFoundError(f"no job {job_id!r} for this API key")
        return _record(row)

    def list(self, key_id: str, *, limit: int = 50) -> list[JobRecord]:
        """The key's jobs, newest first."""
        self._expire_overdue()
        t = schema.api_jobs
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t)
                .where(t.c.key_id == key_id)
                .order_by(t.c.submitted_at.desc(), t.c.job_id)
                .limit(limit)
            ).all()
        return [_record(r) for r in rows]

    def cancel(self, job_id: str, key_id: str) -> JobRecord:
        """Cancel a queued or running job of ``key_id`` (a finished one is left as is).

        Raises:
            NotFoundError: no such job for this key.
        """
        record = self.get(job_id, key_id)
        if record.status not in FINAL:
            with self._lock:
                entry = self._active.get(job_id)
            if entry is not None and entry[1] is not None:
                entry[1]._cancel.set()
            self._finish(job_id, "cancelled", error="cancelled by the client")
        return self.get(job_id, key_id)

    # --- running -------------------------------------------------------------------
    def _run(self, job_id: str, kind_name: str, params: BaseModel, key_id: str) -> None:
        kind = self.kinds[kind_name]
        timeout = kind.timeout_s or self.timeout_s
        ctx = JobContext(job_id, key_id, self.services, time.monotonic() + timeout, timeout)
        with self._lock:
            if job_id not in self._active:  # cancelled while queued
                return
            self._active[job_id] = (key_id, ctx)
            self._running += 1
        try:
            t = schema.api_jobs
            with self.engine.begin() as conn:
                started = conn.execute(
                    update(t)
                    .where((t.c.job_id == job_id) & (t.c.status == "queued"))
                    .values(status="running", started_at=clock.now().isoformat())
                ).rowcount
            if not started:
                return
            events.publish("job", job_id=job_id, job_kind=kind_name, status="running")
            try:
                result = kind.run(ctx, params).model_dump(mode="json")
            except RealyieldError as exc:
                self._finish(job_id, "failed", error=str(exc))
                return
            except Exception as exc:  # a bug in the job: record it, keep the worker alive
                log.exception("job %s (%s) crashed", job_id, kind_name)
                self._finish(job_id, "failed", error=f"internal error: {type(exc).__name__}")
                return
            if time.monotonic() > ctx.deadline:
                self._finish(job_id, "failed", error=f"timed out after {timeout:g} s")
                return
            body = json.dumps(result, allow_nan=False)
            if len(body) > MAX_RESULT_BYTES:
                self._finish(
                    job_id,
                    "failed",
                    error=f"result of {len(body):,} bytes exceeds the {MAX_RESULT_BYTES:,} limit",
                )
                return
            self._finish(job_id, "succeeded", result=body)
        finally:
            with self._lock:
                if self._active.pop(job_id, None) is not None:
                    self._running -= 1

    def _finish(
        self, job_id: str, status: str, *, result: str | None = None, error: str | None = None
    ) -> None:
        """Record a final status unless the job already has one (first writer wins)."""
        t = schema.api_jobs
        with self.engine.begin() as conn:
            finished = conn.execute(
                update(t)
                .where((t.c.job_id == job_id) & t.c.status.in_(("queued", "running")))
                .values(
                    status=status,
                    finished_at=clock.now().isoformat(),
                    result=result,
                    error=error,
                )
            ).rowcount
        if finished:  # id, kind and status only: the result and error are the key's
            with self.engine.connect() as conn:
                kind = conn.execute(select(t.c.kind).where(t.c.job_id == job_id)).scalar()
            events.publish("job", job_id=job_id, job_kind=kind, status=status)
        if status in FINAL:
            with self._lock:
                entry = self._active.get(job_id)
                if entry is not None and entry[1] is None:  # never started: free its slot
                    self._active.pop(job_id, None)

    def _expire_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [
                (job_id, ctx)
                for job_id, (_key, ctx) in self._active.items()
                if ctx is not None and now > ctx.deadline
            ]
        for job_id, ctx in overdue:
            ctx._cancel.set()
            self._finish(job_id, "failed", error=f"timed out after {ctx.timeout_s:g} s")
