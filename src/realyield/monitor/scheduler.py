"""Running the monitor on a schedule (APScheduler), through source outages.

``monitor_job`` wraps one run so that nothing but a programming error escapes it: a
source that is down becomes a stale-data alert inside the run (``service.run_monitor``),
and any other ``RealyieldError`` (a locked database, a broken config file edited while
running) is logged and the next run tries again. The scheduler allows one run at a
time and merges missed runs into one (``coalesce``), so a slow run never piles up.

``watch`` blocks (the CLI's ``--watch``); ``start_background`` returns a running
``BackgroundScheduler`` for a long-lived process such as the API server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from realyield.core import clock
from realyield.core.errors import ConfigError, RealyieldError
from realyield.monitor.service import MonitorRun

log = logging.getLogger(__name__)

JOB_ID = "realyield-monitor"


def monitor_job(
    run_once: Callable[[], MonitorRun],
    on_result: Callable[[MonitorRun], None] | None = None,
    on_error: Callable[[RealyieldError], None] | None = None,
) -> Callable[[], None]:
    """A job that runs ``run_once`` and never lets a ``RealyieldError`` stop the
    schedule; results and errors go to the callbacks (and the log)."""

    def job() -> None:
        try:
            result = run_once()
        except RealyieldError as exc:
            log.error("monitor run failed, retrying at the next interval: %s", exc)
            if on_error is not None:
                on_error(exc)
            return
        log.info(
            "monitor run: %d finding(s), %d new or escalated alert(s)",
            len(result.findings),
            sum(c.kind in ("opened", "escalated") for c in result.changes),
        )
        if on_result is not None:
            on_result(result)

    return job


def _trigger(every_minutes: float) -> IntervalTrigger:
    if not every_minutes > 0:
        raise ConfigError(f"monitor interval {every_minutes!r}: give a positive number of minutes")
    return IntervalTrigger(seconds=round(every_minutes * 60), timezone="UTC")


def _add(scheduler: Any, job: Callable[[], None], every_minutes: float) -> None:
    scheduler.add_job(
        job,
        _trigger(every_minutes),
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(60, round(every_minutes * 30)),
        next_run_time=clock.now() + timedelta(seconds=1),
        replace_existing=True,
    )


def start_background(job: Callable[[], None], every_minutes: float) -> BackgroundScheduler:
    """Start ``job`` now and every ``every_minutes`` on a background thread; the caller
    stops it with ``scheduler.shutdown()``."""
    scheduler = BackgroundScheduler(timezone="UTC")
    _add(scheduler, job, every_minutes)
    scheduler.start()
    return scheduler


def watch(job: Callable[[], None], every_minutes: float) -> None:
    """Run ``job`` now and every ``every_minutes`` until interrupted (Ctrl-C)."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add(scheduler, job, every_minutes)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
