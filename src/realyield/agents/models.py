"""The typed results of the MCP tools (their output schemas). Figures are the library's
own units: APYs in percent, yields and probabilities as fractions, amounts in USD."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScreenRow(BaseModel):
    """One row of ``realyield screen --json``."""

    model_config = ConfigDict(extra="allow")
    id: str
    label: str | None = None
    kind: str
    chain: str | None = None
    protocol: str | None = None
    symbol: str | None = None
    apy: float | None = Field(default=None, description="headline APY, percent")
    apy_base: float | None = None
    apy_reward: float | None = None
    apy_sustainable: float | None = Field(default=None, description="sustainable APY, percent")
    tvl_usd: float | None = None
    sustainability: float | None = Field(default=None, description="0-100, higher is better")
    sustainability_grade: str | None = None
    risk: float | None = Field(default=None, description="0-100, lower is safer")
    risk_grade: str | None = None
    excluded: bool = False
    excluded_reason: str | None = None


class ScreenResult(BaseModel):
    count: int
    rows: list[ScreenRow]


class Explanation(BaseModel):
    opportunity_id: str
    explanation: dict[str, Any] = Field(description="as `realyield explain ID --json`")


class IndexSummary(BaseModel):
    name: str
    title: str | None = None
    expected_apy: float | None = Field(default=None, description="percent")
    expected_real_apy: float | None = None
    expected_emission_apy: float | None = None
    risk: float | None = None
    risk_grade: str | None = None
    n_constituents: int = 0
    effective_bets: float | None = None
    error: str | None = Field(default=None, description="why the index could not be built")


class IndexList(BaseModel):
    indices: list[IndexSummary]


class IndexDetail(BaseModel):
    name: str
    composition: dict[str, Any] = Field(description="as one entry of `realyield indices --json`")


class PlanResult(BaseModel):
    capital: float
    income_per_year: float
    required_yield: float = Field(description="income / capital, a fraction")
    verdict: str = Field(description="sustainable | stretch | unsustainable")
    sentence: str
    success_probability: float | None = None
    reasons: list[str]
    allocation: dict[str, float]
    plan: dict[str, Any] = Field(description="as `realyield plan --json`")


class BacktestSummary(BaseModel):
    index: str
    start: str
    end: str
    metrics: dict[str, Any]
    result: dict[str, Any] = Field(description="as `realyield backtest NAME --json`")


class AlertList(BaseModel):
    alerts: list[dict[str, Any]]


class AlertResult(BaseModel):
    alert: dict[str, Any]


class LedgerReport(BaseModel):
    year: int | None
    report: dict[str, Any] | None = Field(description="None when the ledger is empty")


__all__ = [
    "AlertList",
    "AlertResult",
    "BacktestSummary",
    "Explanation",
    "IndexDetail",
    "IndexList",
    "IndexSummary",
    "LedgerReport",
    "PlanResult",
    "ScreenResult",
    "ScreenRow",
]
