"""Job kinds ``plan`` and ``backtest``: the planner and the backtest engine over HTTP.

Both compute for seconds (a plan runs its optimizer's Monte Carlos, a backtest rebuilds
an index point in time), so they run as jobs in the bounded worker pool: ``POST
/v1/plan`` or ``POST /v1/backtest`` answers 202 with a job, polled at ``.../{id}``. The
routes hold no logic: a plan is ``planning.service.plan_on_indices`` on the cached
indices of the current data version; a backtest is ``backtest.service.backtest_index``.
Non-finite figures (an undefined Sortino, say) become ``null``: JSON has no NaN.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from realyield.api.jobs import JobContext, JobKind
from realyield.backtest.service import backtest_index
from realyield.core.errors import ConfigError, InsufficientDataError, NotFoundError
from realyield.planning.profiles import check_allocation
from realyield.planning.service import PlanRequest, plan_on_indices, request_from_preset
from realyield.presentation import models as m
from realyield.presentation.data import DataSnapshot

MAX_PATHS = 100_000


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (at any depth) replaced by ``None`` and
    every numpy scalar made a Python one (a library dict may carry ``numpy.bool``, which
    the JSON encoder of a result cannot write)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _snapshot(services: Any) -> DataSnapshot:
    snap: DataSnapshot = services.data.current()
    return snap


# ----------------------------------------------------------------------------- plan


class PlanParams(m.Model):
    """A goal and how to plan it. Rates are fractions (0.25 = 25%); income is a year's.
    With ``preset``, the preset fills every field not given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"capital": 300000, "income_per_year": 18000, "risk": "moderate", "paths": 5000},
                {"preset": "supplemental", "tax_income": 0.25, "inflation": 0.03},
            ]
        },
    )
    capital: float | None = Field(None, gt=0, le=1e12)
    income_per_year: float | None = Field(None, gt=0, le=1e12)
    preset: Literal["supplemental", "early-retirement", "independence"] | None = None
    risk: Literal["conservative", "moderate", "aggressive"] | None = None
    allocation: dict[str, float] | None = Field(
        None,
        min_length=1,
        description="Index name -> share (fractions summing to 1); default: optimized.",
    )
    horizon_years: int | None = Field(None, ge=1, le=100)
    start_in_years: float | None = Field(None, ge=0, le=99)
    withdrawal: Literal["fixed", "inflation-indexed", "percent", "guardrails"] | None = None
    reinvest: float | None = Field(None, ge=0, le=1)
    tax_income: float | None = Field(None, ge=0, lt=1)
    tax_sales: float | None = Field(None, ge=0, lt=1)
    inflation: float | None = Field(None, gt=-0.5, lt=1)
    paths: int | None = Field(None, ge=100, le=MAX_PATHS)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    price_model: Literal["bootstrap", "regime"] | None = None
    price_drift: float | None = Field(None, gt=-1, lt=2)
    optimize: bool | None = None

    @model_validator(mode="after")
    def _goal(self) -> PlanParams:
        if self.preset is None and (self.capital is None or self.income_per_year is None):
            raise ValueError("give capital and income_per_year, or a preset")
        if (
            self.start_in_years is not None
            and self.horizon_years is not None
            and (self.start_in_years >= self.horizon_years)
        ):
            raise ValueError("start_in_years must be below horizon_years")
        return self

    def request(self) -> PlanRequest:
        given = self.model_dump(exclude_none=True, exclude={"preset"})
        given.setdefault("paths", 5_000)
        if self.preset is not None:
            return request_from_preset(self.preset, **given)
        return PlanRequest(**given)


class PlanResult(m.Model):
    """The plan: verdict, allocation, blended yield, Monte Carlo outcomes, cash flow."""

    model_config = ConfigDict(extra="forbid")
    as_of: date
    request: dict[str, Any]
    required_yield: float
    verdict: dict[str, Any]
    allocation: dict[str, float]
    blended_apy: dict[str, float]
    in_target_range: bool | None
    outcomes: dict[str, Any]
    cash_flow: list[dict[str, Any]]
    optimizer: dict[str, Any] | None
    index_yields: dict[str, dict[str, Any]]
    history: dict[str, Any]
    notes: list[str]
    meta: m.DataMeta


def check_plan(services: Any, params: PlanParams) -> None:
    """Refuse at once a bad allocation (shares not summing to 1, an index not built) and
    options the planner rejects."""
    if params.allocation is not None:
        check_allocation("allocation", params.allocation)
        built = {k for k, v in _snapshot(services).indices.items() if not isinstance(v, Exception)}
        unknown = sorted(set(params.allocation) - built)
        if unknown:
            raise NotFoundError(f"no index {unknown}; built: {sorted(built)}")
    params.request()  # option errors surface here (ConfigError -> 422), not in the job


def run_plan(ctx: JobContext, params: PlanParams) -> PlanResult:
    """Raises: ConfigError, InsufficientDataError (the job fails with the message)."""
    from realyield.presentation.views import meta

    snap = _snapshot(ctx.services)
    plan = plan_on_indices(
        snap.engine,
        params.request(),
        snap.indices,
        as_of=snap.as_of,
        notes=[snap.forecast_note] if snap.forecast_note else [],
        forecast=snap.scored.forecast,
    )
    body = finite(plan.as_dict())
    return PlanResult(**body, meta=meta(snap))


PLAN = JobKind(
    name="plan",
    params=PlanParams,
    result=PlanResult,
    run=run_plan,
    description="Plan an income goal: verdict, allocation, Monte Carlo, cash flow.",
    check=check_plan,
)

# ------------------------------------------------------------------------- backtest


class BacktestParams(m.Model):
    """Which index, over which window, how rebalanced and how income is treated."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"index": "large-cap-staking", "rebalance": "monthly"}]},
    )
    index: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    start: m.IsoDate | None = None
    end: m.IsoDate | None = None
    rebalance: Literal["weekly", "monthly", "quarterly", "none"] | None = None
    income: Literal["compound", "payout"] | None = None
    capital_usd: float | None = Field(None, gt=0, le=1e12)

    @model_validator(mode="after")
    def _window(self) -> BacktestParams:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class BacktestOut(m.Model):
    """Metrics, attribution, benchmarks, the daily path and the allocation over time."""

    model_config = ConfigDict(extra="forbid")
    name: str
    source: str
    start: date
    end: date
    rebalance: str
    income: str
    capital_usd: float
    metrics: dict[str, Any]
    attribution: dict[str, Any]
    benchmarks: dict[str, dict[str, Any]]
    illustrative_data: list[str]
    notes: list[str]
    daily: list[dict[str, Any]]
    allocation: list[dict[str, Any]]
    meta: m.DataMeta


def check_backtest(services: Any, params: BacktestParams) -> None:
    snap = _snapshot(services)
    if params.index not in snap.definitions:
        raise NotFoundError(f"no index {params.index!r}; known: {sorted(snap.definitions)}")
    if params.start is not None and params.start >= snap.as_of:
        raise ConfigError(f"start {params.start} must be before the data's date {snap.as_of}")


def run_backtest(ctx: JobContext, params: BacktestParams) -> BacktestOut:
    """Raises: ConfigError, InsufficientDataError (the job fails with the message)."""
    from realyield.presentation.views import meta

    snap = _snapshot(ctx.services)
    overrides = params.model_dump(exclude_none=True, exclude={"index"})
    result = backtest_index(
        snap.engine, params.index, overrides, sources=snap.sources, definitions=snap.definitions
    )
    body = finite(result.as_dict(daily=True))
    if not body.get("daily"):
        raise InsufficientDataError("the backtest produced no days")
    return BacktestOut(**body, meta=meta(snap))


BACKTEST = JobKind(
    name="backtest",
    params=BacktestParams,
    result=BacktestOut,
    run=run_backtest,
    description="Backtest an index rebuilt point in time: metrics, equity, drawdown.",
    check=check_backtest,
)
