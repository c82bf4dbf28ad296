"""Job kinds ``review`` and ``rebalance-plan``: the monitor's quarterly review and a
rebalancing plan over HTTP.

A review builds an index's holdings and replays a quarter of stored data (seconds), so
it is a job. A rebalance through the API is only ever *planned* on the paper broker
(``dry_run``): orders that touch an exchange, or even the paper balances, need the CLI
(``realyield rebalance``), where live trading takes ``--live`` and a typed
confirmation. The routes hold no logic: ``monitor.review`` and ``execution.rebalance``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from realyield.api.analysis_jobs import finite
from realyield.api.jobs import JobContext, JobKind
from realyield.core.errors import NotFoundError
from realyield.exchange.orders import Balances
from realyield.execution.brokers import open_broker
from realyield.execution.rebalance import rebalance
from realyield.execution.targets import index_targets
from realyield.monitor.review import index_holdings, parse_quarter, quarterly_review
from realyield.monitor.review_report import render_markdown
from realyield.presentation import models as m
from realyield.presentation.data import DataSnapshot

_INDEX = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")


def _snapshot(services: Any) -> DataSnapshot:
    snap: DataSnapshot = services.data.current()
    return snap


def _known_index(services: Any, name: str) -> None:
    snap = _snapshot(services)
    if name not in snap.definitions:
        raise NotFoundError(f"no index {name!r}; known: {sorted(snap.definitions)}")


class ReviewParams(m.Model):
    """Review ``index`` as if ``capital_usd`` were held at its weights, over ``quarter``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"quarter": "2025Q2", "index": "defi-yield", "capital_usd": 100000}]
        },
    )
    quarter: str = Field(pattern=r"^(19[7-9]\d|2[01]\d\d)Q[1-4]$")
    index: str = _INDEX
    capital_usd: float = Field(gt=0, le=1e12)
    income_per_year_usd: float | None = Field(None, gt=0, le=1e12)


class ReviewOut(m.Model):
    model_config = ConfigDict(extra="allow")
    markdown: str
    meta: m.DataMeta


def check_review(services: Any, params: ReviewParams) -> None:
    parse_quarter(params.quarter)  # ConfigError -> 422
    _known_index(services, params.index)


def run_review(ctx: JobContext, params: ReviewParams) -> ReviewOut:
    """Raises: ConfigError, InsufficientDataError (the job fails with the message)."""
    from realyield.presentation.views import meta

    snap = _snapshot(ctx.services)
    home = ctx.services.settings.home
    holdings, targets, labels = index_holdings(
        snap.engine, params.index, params.capital_usd, home=home
    )
    review = quarterly_review(
        snap.engine,
        params.quarter,
        holdings,
        targets=targets,
        income_per_year_usd=params.income_per_year_usd,
        labels=labels,
    )
    return ReviewOut(**finite(review.as_dict()), markdown=render_markdown(review), meta=meta(snap))


REVIEW = JobKind(
    name="review",
    params=ReviewParams,
    result=ReviewOut,
    run=run_review,
    description="Quarterly review of an index held at a capital: yield, scores, alerts.",
    check=check_review,
)


class RebalancePlanParams(m.Model):
    """The orders that would move a paper account (holding ``cash`` of ``quote``) to an
    index's coin weights. Planned only: nothing is filled or stored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"index": "large-cap-staking", "cash": 10000}]},
    )
    index: str = _INDEX
    cash: float = Field(gt=0, le=1e12)
    quote: str = Field("USDT", pattern=r"^[A-Z]{2,10}$")


class RebalancePlanOut(m.Model):
    model_config = ConfigDict(extra="allow")
    targets: dict[str, float]
    notes: list[str]
    meta: m.DataMeta


class _CashOnly:
    """A paper broker seen as holding only ``cash`` (nothing is read from or written to
    the stored paper balances): the plan of a first investment."""

    def __init__(self, inner: Any, cash: dict[str, Any]) -> None:
        self._inner = inner
        self._cash = cash

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def balances(self) -> Balances:
        return Balances(dict(self._cash), dict(self._cash))

    def reconcile(self) -> list[Any]:
        return []


def check_rebalance(services: Any, params: RebalancePlanParams) -> None:
    _known_index(services, params.index)


def run_rebalance_plan(ctx: JobContext, params: RebalancePlanParams) -> RebalancePlanOut:
    """Raises: ConfigError, DataError (no stored price for a market)."""
    from decimal import Decimal

    from realyield.presentation.views import meta

    snap = _snapshot(ctx.services)
    targets, notes = index_targets(snap.engine, params.index, home=ctx.services.settings.home)
    bases = [t for t in targets if t != params.quote]
    opened = open_broker("paper", snap.engine, bases=bases, quote=params.quote)
    broker = _CashOnly(opened.broker, {params.quote: Decimal(str(params.cash))})
    result = rebalance(broker, targets, quote=params.quote, dry_run=True)
    return RebalancePlanOut(
        **finite(result.as_dict()), targets=targets, notes=notes, meta=meta(snap)
    )


REBALANCE_PLAN = JobKind(
    name="rebalance-plan",
    params=RebalancePlanParams,
    result=RebalancePlanOut,
    run=run_rebalance_plan,
    description="Plan (never send) the paper orders that would track an index.",
    check=check_rebalance,
)
