"""The job runner's limits and lifecycle, with test job kinds that block on events, and
the data service's rebuild on new data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from realyield.api.jobs import MAX_RESULT_BYTES, JobContext, JobKind, JobRunner
from realyield.core.errors import DataError, LimitError, NotFoundError
from realyield.presentation import data as data_module
from realyield.presentation.data import DataService
from realyield.presentation.models import Model
from realyield.store import schema


class Params(Model):
    n: int = 1
    size: int = 0


class Result(Model):
    doubled: int
    blob: str = ""


gate = threading.Event()


def blocking(ctx: JobContext, params: Params) -> Result:
    gate.wait(10)
    if params.n < 0:
        raise DataError("n must not be negative")
    if params.n == 13:
        raise ZeroDivisionError("bug")
    return Result(doubled=2 * params.n, blob="x" * params.size)


def patient(ctx: JobContext, params: Params) -> Result:
    while not ctx.cancelled:
        time.sleep(0.01)
    return Result(doubled=0)


KINDS = {
    "double": JobKind("double", Params, Result, blocking),
    "patient": JobKind("patient", Params, Result, patient, timeout_s=0.3),
}


@pytest.fixture
def runner(engine: Engine) -> Iterator[JobRunner]:
    gate.clear()
    r = JobRunner(engine, KINDS, workers=1, queue_limit=2, per_key=3)
    r.start()
    yield r
    gate.set()
    r.stop()


def wait_final(runner: JobRunner, job_id: str, key: str = "k") -> Any:
    for _ in range(500):
        record = runner.get(job_id, key)
        if record.status in ("succeeded", "failed", "cancelled"):
            return record
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def test_jobs_run_and_record_results_and_errors(runner: JobRunner) -> None:
    ok = runner.submit("double", Params(n=21), "k")
    bad = runner.submit("double", Params(n=-1), "k")
    gate.set()
    done = wait_final(runner, ok.id)
    assert done.status == "succeeded" and done.result == {"doubled": 42, "blob": ""}
    assert done.started_at is not None and done.finished_at >= done.started_at
    failed = wait_final(runner, bad.id)
    assert failed.status == "failed" and failed.error == "n must not be negative"
    crashed = wait_final(runner, runner.submit("double", Params(n=13), "k").id)
    assert crashed.error == "internal error: ZeroDivisionError"  # no traceback leaks
    assert [r.id for r in runner.list("k")][:1] == [crashed.id]
    with pytest.raises(NotFoundError):
        runner.get(ok.id, "someone-else")
    with pytest.raises(NotFoundError, match="no job kind"):
        runner.submit("nope", Params(), "k")


def test_queue_and_per_key_limits(runner: JobRunner) -> None:
    first = runner.submit("double", Params(), "a")  # running (1 worker), blocked on gate
    time.sleep(0.1)
    runner.submit("double", Params(), "a")
    runner.submit("double", Params(), "b")  # queue now holds 2 = the limit
    with pytest.raises(LimitError, match="queue is full") as full:
        runner.submit("double", Params(), "c")
    assert full.value.retry_after_s
    runner.per_key = 2
    with pytest.raises(LimitError, match="already has 2 unfinished"):
        runner.submit("double", Params(), "a")
    assert runner.counts() == {"running": 1, "queued": 2}
    gate.set()
    assert wait_final(runner, first.id, "a").status == "succeeded"
    for _ in range(500):
        if runner.counts() == {"running": 0, "queued": 0}:
            break
        time.sleep(0.01)
    assert runner.submit("double", Params(), "c").status == "queued"  # room again


def test_cancel_a_queued_job_and_timeouts(runner: JobRunner) -> None:
    blocker = runner.submit("double", Params(), "k")
    queued = runner.submit("double", Params(n=5), "k")
    cancelled = runner.cancel(queued.id, "k")
    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by the client"
    gate.set()
    wait_final(runner, blocker.id)
    time.sleep(0.1)
    assert runner.get(queued.id, "k").status == "cancelled"  # never ran
    slow = wait_final(runner, runner.submit("patient", Params(), "k").id)
    assert slow.status == "failed" and slow.error == "timed out after 0.3 s"


def test_oversized_results_fail_the_job(runner: JobRunner) -> None:
    gate.set()
    big = wait_final(runner, runner.submit("double", Params(size=MAX_RESULT_BYTES), "k").id)
    assert big.status == "failed" and "exceeds" in big.error and big.result is None


def test_unfinished_jobs_of_a_stopped_server_fail_at_start(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(schema.api_jobs).values(
                job_id="abc",
                kind="double",
                key_id="k",
                status="running",
                submitted_at="2025-01-01T00:00:00+00:00",
                params="{}",
            )
        )
    runner = JobRunner(engine, KINDS)
    runner.start()
    try:
        record = runner.get("abc", "k")
        assert record.status == "failed" and "submit it again" in record.error
    finally:
        runner.stop()


def test_data_service_rebuilds_in_the_background_on_new_data(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    release = threading.Event()

    def fake_build(_engine: Engine, version: str, *, home: Any) -> Any:
        if builds:
            release.wait(10)  # the rebuild takes a while
        builds.append(version)
        return SimpleNamespace(version=version)

    monkeypatch.setattr(data_module, "build_snapshot", fake_build)
    service = DataService(engine, check_interval_s=0)
    first = service.current()
    assert builds == [first.version] and service.current() is first
    with engine.begin() as conn:
        conn.execute(
            insert(schema.refresh_runs).values(
                source="file", started_at="x", finished_at="y", status="ok", summary="{}"
            )
        )
    assert service.current() is first  # old data served while the new is built
    release.set()
    for _ in range(500):
        if service.current() is not first:
            break
        time.sleep(0.01)
    newer = service.current()
    assert newer.version != first.version and builds == [first.version, newer.version]
    with engine.connect() as conn:
        assert conn.execute(select(schema.refresh_runs.c.source)).scalars().all() == ["file"]


def test_a_failed_rebuild_keeps_the_old_data_and_is_not_retried_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def flaky_build(_engine: Engine, version: str, *, home: Any) -> Any:
        attempts.append(version)
        if len(attempts) > 1:
            raise DataError("the new data cannot be scored")
        return SimpleNamespace(version=version)

    monkeypatch.setattr(data_module, "build_snapshot", flaky_build)
    service = DataService(engine, check_interval_s=0)
    first = service.current()
    with engine.begin() as conn:
        conn.execute(
            insert(schema.refresh_runs).values(
                source="file", started_at="x", finished_at="y", status="ok", summary="{}"
            )
        )
    for _ in range(200):
        assert service.current() is first
        if service.last_error:
            break
        time.sleep(0.01)
    assert service.last_error == "the new data cannot be scored"
    for _ in range(20):
        assert service.current() is first
        time.sleep(0.01)
    assert len(attempts) == 2  # one failed rebuild, not one per request
