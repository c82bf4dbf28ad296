"""Job kind ``index-levels``: replay an index point in time over a window you choose.

The default three-year history of every index is precomputed (``GET /v1/indices/
{name}``); another window rebuilds the index at each rebalance date from data up to that
date, which takes seconds, so it runs as a job. It reuses the snapshot's history data,
whose per-date scoring is shared between replays.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from realyield.api.jobs import JobContext, JobKind
from realyield.backtest.service import index_history
from realyield.core.errors import ConfigError, InsufficientDataError, NotFoundError
from realyield.presentation import models as m
from realyield.presentation.data import DataSnapshot
from realyield.presentation.views import levels_out

MAX_YEARS = 10


class IndexLevelsParams(m.Model):
    """Which index, over which window (``end`` defaults to the data's date)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"index": "large-cap-staking", "start": "2025-01-01", "end": "2025-06-30"}]
        },
    )
    index: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    start: m.IsoDate
    end: m.IsoDate | None = None

    @model_validator(mode="after")
    def _window(self) -> IndexLevelsParams:
        if self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        if self.end is not None and (self.end - self.start).days > MAX_YEARS * 366:
            raise ValueError(f"the window may span at most {MAX_YEARS} years")
        return self


class IndexLevelsResult(m.Model):
    index: str
    history: m.LevelHistoryOut
    meta: m.DataMeta


def _snapshot(services: Any) -> DataSnapshot:
    snap: DataSnapshot = services.data.current()
    return snap


def check(services: Any, params: IndexLevelsParams) -> None:
    """Refuse at once what cannot run: unknown index, window after the data."""
    snap = _snapshot(services)
    if params.index not in snap.definitions:
        raise NotFoundError(f"no index {params.index!r}; known: {sorted(snap.definitions)}")
    if params.start >= snap.as_of:
        raise ConfigError(f"start {params.start} must be before the data's date {snap.as_of}")
    if (params.end or snap.as_of) > snap.as_of:
        raise ConfigError(f"end {params.end} is after the data's date {snap.as_of}")
    if ((params.end or snap.as_of) - params.start).days > MAX_YEARS * 366:
        raise ConfigError(f"the window may span at most {MAX_YEARS} years")


def run(ctx: JobContext, params: IndexLevelsParams) -> IndexLevelsResult:
    """Raises: InsufficientDataError when no rebalance date in the window has data."""
    from realyield.presentation.views import meta

    snap = _snapshot(ctx.services)
    if snap.history_data is None:
        raise InsufficientDataError("no index could be built from the stored data")
    end = params.end or snap.as_of
    levels = index_history(
        params.index,
        snap.history_data,
        start=max(params.start, end - timedelta(days=MAX_YEARS * 366)),
        end=end,
        definitions=snap.definitions,
    )
    return IndexLevelsResult(index=params.index, history=levels_out(levels), meta=meta(snap))


INDEX_LEVELS = JobKind(
    name="index-levels",
    params=IndexLevelsParams,
    result=IndexLevelsResult,
    run=run,
    description="Replay an index's daily levels point in time over a chosen window.",
    check=check,
)
