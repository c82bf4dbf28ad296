"""The API's response and request bodies (pydantic): the OpenAPI document is built from
these, and every response is validated against them once, when it is first built.

Units follow the library: APY fields are percent, weights and returns are fractions.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Kind = Literal["staking", "liquid_staking", "lending", "liquidity", "vault"]


def _date_text(value: Any) -> Any:
    """Dates in requests are ISO text only: pydantic alone would also take a bare number
    as a Unix time (``"start": 0`` -> 1970-01-01), which is never what a caller means."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date, e.g. 2025-06-30")
    return value


#: A date field of a request body: ISO text (``YYYY-MM-DD``) only.
IsoDate = Annotated[date, BeforeValidator(_date_text)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataMeta(Model):
    """Which data a response was computed from."""

    as_of: date = Field(description="Date of the data (UTC); nothing after it was used.")
    version: str = Field(description="Changes whenever the stored data changes.")
    sources: list[str] = Field(description="Stored sources the universe was read from.")
    illustrative: bool = Field(
        description="True when the data is the bundled snapshot: current figures "
        "approximate, histories generated (not market data)."
    )
    note: str | None = Field(None, description="Anything the reader should know.")


class ErrorBody(Model):
    """Every error that is not a validation error (422)."""

    detail: str = Field(description="What was wrong and what to do about it.")
    type: str = Field(description="not_found | unauthorized | rate_limited | unavailable | ...")


class OpportunityRow(Model):
    """One opportunity of the screener: yields, scores, grades, screens, forecast."""

    id: str
    kind: Kind
    chain: str
    protocol: str
    symbol: str
    apy: float | None = Field(description="Headline APY, percent.")
    apy_base: float | None = Field(description="Base APY (fees, interest, staking), percent.")
    apy_reward: float | None = Field(description="Emission APY, percent.")
    apy_real_base: float | None = Field(description="Base APY net of supply inflation.")
    apy_sustainable: float | None = Field(description="Real base + emissions likely kept.")
    tvl_usd: float | None
    sustainability: float = Field(ge=0, le=100, description="0-100, higher is better.")
    sustainability_grade: str
    risk: float = Field(ge=0, le=100, description="0-100, higher is riskier.")
    risk_grade: str
    excluded: bool = Field(description="Failed at least one screen.")
    excluded_reason: str | None
    forecast_apy_30d: float | None = Field(None, description="Median APY forecast, 30 days.")
    p_down: float | None = Field(None, description="Probability the APY falls over 20%.")
    confidence: str | None = None
    forecast_note: str | None = None


class OpportunityPage(Model):
    """A page of opportunities; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[OpportunityRow]
    total: int = Field(description="Rows matching the filters (all pages).")
    next_cursor: str | None = Field(description="Absent on the last page.")
    meta: DataMeta


class Factor(Model):
    name: str
    value: float | str | None = Field(description="The factor's input value.")
    effect: float = Field(description="Points this factor adds to the score.")
    explanation: str


class ScoreOut(Model):
    kind: Literal["sustainability", "risk"]
    total: float
    grade: str
    factors: list[Factor] = Field(description="The effects sum to ``total``.")


class Dependencies(Model):
    protocol: str | None
    chain: str | None
    tokens: list[str]
    issuers: list[str]
    reward_tokens: list[str]
    bridge: str | None


class Forecast(Model):
    forecast_apy_30d: float | None
    p_down: float | None
    confidence: str | None
    n_obs: int | None
    reason: str | None = Field(description="Why there is no forecast, when there is none.")


class HistoryPoint(Model):
    date: date
    apy: float | None
    apy_base: float | None
    apy_reward: float | None
    tvl_usd: float | None


class OpportunityDetail(Model):
    """One opportunity with every factor behind its scores, its forecast and history."""

    id: str
    kind: Kind
    chain: str
    protocol: str
    symbol: str
    apy: float | None
    apy_base: float | None
    apy_reward: float | None
    tvl_usd: float | None
    exposure: str | None
    stablecoin: bool | None
    il_risk: bool | None
    lockup_days: float | None
    underlying: list[str]
    reward_tokens: list[str]
    source: str
    as_of: str
    label: str = Field(description="A readable name (protocol, symbol, chain).")
    apy_impermanent_loss: float = Field(
        description="Expected impermanent loss, percent a year (<= 0), already netted out "
        "of apy_real_base."
    )
    impermanent_loss_basis: str | None = Field(
        description="How the impermanent loss was estimated (volatilities, correlation)."
    )
    apy_real_base: float | None
    apy_reward_retained: float | None
    apy_sustainable: float | None
    sustainability: ScoreOut
    risk: ScoreOut
    excluded: bool
    excluded_reason: str | None
    dependencies: Dependencies
    forecast: Forecast | None
    history: list[HistoryPoint] = Field(description="Daily APY/TVL up to ``meta.as_of``.")
    meta: DataMeta


class IndexSummary(Model):
    """One index at the data's date (``error`` instead of figures when it cannot be built)."""

    name: str
    title: str
    as_of: date | None
    expected_apy: float | None = Field(description="Weighted headline APY, percent.")
    expected_real_apy: float | None = Field(description="Fees, interest, real staking.")
    expected_emission_apy: float | None = Field(description="Token emissions.")
    expected_sustainable_apy: float | None
    risk: float | None
    risk_grade: str | None
    n_constituents: int
    effective_bets: float | None
    change_30d: float | None = Field(description="Total return over 30 days (fraction).")
    error: str | None = None


class IndexList(Model):
    data: list[IndexSummary]
    meta: DataMeta


class Constituent(Model):
    id: str
    label: str
    kind: str
    chain: str | None
    weight: float = Field(ge=0, le=1)
    apy: float
    apy_real: float
    apy_emission: float
    apy_sustainable: float
    risk: float
    sleeve: str | None
    underlying: list[str]
    dependencies: list[str]


class LevelPoint(Model):
    date: date
    level_price: float
    level_income: float
    level_total: float
    drawdown: float = Field(le=0, description="Total-return level below its running peak.")
    n_constituents: int
    rebalanced: bool


class LevelHistoryOut(Model):
    """Daily levels (base 100), rebuilt point in time."""

    start: date
    end: date
    summary: dict[str, float]
    events: list[str]
    levels: list[LevelPoint]


class IndexDetail(Model):
    """One index: figures, constituents, allocations, rules and level history."""

    summary: IndexSummary
    constituents: list[Constituent]
    allocation: dict[str, dict[str, float]] = Field(
        description="Weights summed by chain, protocol and kind."
    )
    bets_by: dict[str, float]
    notes: list[str]
    rules: dict[str, Any]
    history: LevelHistoryOut | None
    history_error: str | None = None
    meta: DataMeta


class AlertOut(Model):
    """One alert episode: a rule on a subject over consecutive days, with its evidence."""

    id: int
    rule: str
    subject: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["open", "acknowledged"]
    title: str
    first_day: date
    last_day: date
    days: int
    evidence: dict[str, Any] = Field(description="Numbers and dates behind the alert.")
    action: str = Field(description="What to do about it.")
    acknowledged_at: str | None
    ack_note: str | None


class AlertList(Model):
    """Alerts raised by the monitor (`realyield monitor`), newest first."""

    data: list[AlertOut]
    monitor_configured: bool = Field(
        description="False until a monitor has run on this store: then an empty list "
        "means nobody is looking, not all clear."
    )


class Health(Model):
    status: Literal["ok", "starting", "degraded"]
    data_ready: bool
    data_version: str | None
    data_as_of: date | None
    detail: str | None


JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobOut(Model):
    """A job; poll ``GET /v1/jobs/{id}`` until ``status`` is final."""

    id: str
    kind: str
    status: JobStatus
    submitted_at: str
    started_at: str | None
    finished_at: str | None
    params: dict[str, Any]
    result: Any | None = Field(None, description="When succeeded: the kind's result.")
    error: str | None = Field(None, description="When failed: what went wrong.")


class JobList(Model):
    data: list[JobOut]
