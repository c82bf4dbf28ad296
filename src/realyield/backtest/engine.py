"""The backtest engine: a weights schedule and daily histories in, a holdings path,
its attribution and its metrics out.

``run_backtest`` turns the schedule into the kernel's arrays (``instruments``), runs
the kernel for the strategy and, in one more call with the benchmarks as columns,
for BTC hold, ETH hold and 60/40 ETH/USDC rebalanced on the same days with the same
costs. It then splits the value's change into price, income, costs, impermanent loss
(part of the price change of liquidity holdings) and write-downs, and computes the
metrics (``metrics``). Everything is in USD from ``capital_usd``.

Impermanent loss is measured per holding period, the way an LP experiences it: at
every trade the position is (re)deposited, and until the next trade its loss is the
pool share's value minus the value of simply holding the tokens deposited at the
start of the period (fees excluded; the compounding of fees into the position during
the period is left out of this measure).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from realyield.backtest import impermanent_loss as il
from realyield.backtest.instruments import (
    AssetShock,
    HoldingShock,
    Market,
    as_day,
    build_market,
    tokens_of,
)
from realyield.backtest.kernels import SimulationPaths, simulate
from realyield.backtest.metrics import Metrics, drawdowns, metrics_table, returns_from_values
from realyield.backtest.schedule import (
    REBALANCE_CHOICES,
    HoldingInfo,
    WeightsSchedule,
    rebalance_days,
)
from realyield.core.errors import ConfigError, InsufficientDataError

INCOME_MODES = ("compound", "payout")
BENCHMARK_ASSETS = {"btc": "bitcoin", "eth": "ethereum", "usdc": "usd-coin"}
BENCHMARKS = ("BTC hold", "ETH hold", "60/40 ETH/USDC")


@dataclass(frozen=True)
class BacktestConfig:
    """How to run a backtest. Costs: ``fee_bps`` and ``slippage_bps`` of traded value,
    ``gas_usd`` per trade by chain (``default_gas_usd`` elsewhere). ``band`` and
    ``drift_trigger`` are fractions of the portfolio (0.02 = 2 points).

    Raises:
        ConfigError: on any value out of range.
    """

    start: date | None = None
    end: date | None = None
    rebalance: str = "monthly"
    income: str = "compound"
    capital_usd: float = 100_000.0
    fee_bps: float = 10.0
    slippage_bps: float = 10.0
    gas_usd: Mapping[str, float] = field(default_factory=dict)
    default_gas_usd: float = 1.0
    band: float = 0.0
    drift_trigger: float | None = None
    lp_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    asset_shocks: tuple[AssetShock, ...] = ()
    holding_shocks: tuple[HoldingShock, ...] = ()
    benchmarks: bool = True

    def __post_init__(self) -> None:
        if self.rebalance not in REBALANCE_CHOICES:
            raise ConfigError(
                f"unknown rebalance {self.rebalance!r}; use one of {', '.join(REBALANCE_CHOICES)}"
            )
        if self.income not in INCOME_MODES:
            raise ConfigError(f"unknown income mode {self.income!r}; use one of {INCOME_MODES}")
        if not self.capital_usd > 0:
            raise ConfigError(f"capital must be a positive amount, not {self.capital_usd}")
        for name in ("fee_bps", "slippage_bps", "default_gas_usd", "band"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a number >= 0, not {value}")
        if any(not (np.isfinite(v) and v >= 0) for v in self.gas_usd.values()):
            raise ConfigError(f"gas costs must be numbers >= 0, got {dict(self.gas_usd)}")
        if self.drift_trigger is not None and not self.drift_trigger > 0:
            raise ConfigError(f"drift trigger must be > 0, not {self.drift_trigger}")
        if self.start and self.end and self.end <= self.start:
            raise ConfigError(
                f"the backtest needs an end after its start: {self.start}..{self.end}"
            )

    def gas(self, chain: str | None) -> float:
        table = {k.lower(): v for k, v in self.gas_usd.items()}
        return float(table.get((chain or "").lower(), self.default_gas_usd))

    @property
    def cost_rate(self) -> float:
        return (self.fee_bps + self.slippage_bps) / 10_000.0


@dataclass
class BenchmarkResult:
    name: str
    daily: pl.DataFrame  # date, value, drawdown
    metrics: Metrics


@dataclass
class BacktestResult:
    """One backtest: the daily path, the allocation over time, metrics and attribution."""

    name: str
    source: str
    config: BacktestConfig
    daily: pl.DataFrame
    allocation: pl.DataFrame
    metrics: Metrics
    attribution: dict[str, float]
    benchmarks: list[BenchmarkResult]
    notes: list[str]
    illustrative: list[str]
    labels: dict[str, str]
    final_weights: dict[str, float] = field(default_factory=dict)  # the last target
    info: dict[str, HoldingInfo] = field(default_factory=dict)

    @property
    def start(self) -> date:
        value: date = self.daily["date"][0]
        return value

    @property
    def end(self) -> date:
        value: date = self.daily["date"][-1]
        return value

    def as_dict(self, *, daily: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rebalance": self.config.rebalance,
            "income": self.config.income,
            "capital_usd": self.config.capital_usd,
            "metrics": self.metrics.as_dict(),
            "attribution": self.attribution,
            "benchmarks": {b.name: b.metrics.as_dict() for b in self.benchmarks},
            "illustrative_data": self.illustrative,
            "notes": self.notes,
        }
        if daily:
            out["daily"] = self.daily.to_dicts()
            out["allocation"] = self.allocation.to_dicts()
        return out


def _window(
    schedule: WeightsSchedule, config: BacktestConfig, last_day: date
) -> tuple[date, date, list[str]]:
    notes = []
    start = config.start or schedule.dates[0]
    if start < schedule.dates[0]:
        notes.append(
            f"the weights start on {schedule.dates[0]}: the backtest starts there, not on {start}"
        )
        start = schedule.dates[0]
    end = config.end or last_day
    if end > last_day:
        notes.append(f"prices end on {last_day}: the backtest ends there, not on {end}")
        end = last_day
    if end <= start:
        raise InsufficientDataError(
            f"nothing to backtest between {start} and {end}: the weights start on "
            f"{schedule.dates[0]} and the stored prices end on {last_day}"
        )
    return start, end, notes


def _returns(nav: np.ndarray, capital: float) -> np.ndarray:
    """Daily returns measured from the capital: the costs of the first purchase (at the
    close of day 0) fall in day 1's return, so the total return is ``end / capital - 1``
    over the ``days - 1`` days of the backtest."""
    values = np.array(nav, dtype=float)
    values[0] = capital
    return returns_from_values(values)


def _impermanent_loss(
    market: Market, paths: SimulationPaths, trade_days: Sequence[int]
) -> np.ndarray:
    """Cumulative impermanent loss (USD, <= 0) of strategy 0, day by day."""
    n_days = len(market.days)
    total = np.zeros(n_days)
    if not market.lp or paths.holdings is None:
        return total
    bounds = sorted({0, *[int(t) for t in np.flatnonzero(paths.rebalanced[:, 0])], n_days - 1})
    recentres = sorted(set(trade_days))
    for ident, spec in market.lp.items():
        j = market.ids.index(ident)
        legs = np.column_stack([market.prices[a] for a in spec.legs])
        value = np.cumprod(market.growth[:, j])
        realised = 0.0
        for a, b in itertools.pairwise(bounds):
            held = paths.holdings[a, 0, j]
            if held <= 0 or np.isnan(legs[a]).any():
                total[a + 1 : b + 1] += realised
                continue
            if spec.concentrated and spec.lower is not None and spec.upper is not None:
                centre = max([c for c in recentres if c <= a], default=0)
                ratio = legs[:, 0] / legs[:, 1]
                x, y = il.v3_amounts(
                    ratio[a], spec.lower * ratio[centre], spec.upper * ratio[centre]
                )
                share_a = float(x * ratio[a] / (x * ratio[a] + y))
                shares = np.array([share_a, 1.0 - share_a])
            else:
                shares = np.full(len(spec.legs), 1.0 / len(spec.legs))
            seg = slice(a + 1, b + 1)
            lp_rel = value[seg] / value[a] if value[a] > 0 else np.zeros(b - a)
            hodl = (legs[seg] / legs[a]) @ shares
            running = held * (lp_rel - hodl)
            total[seg] += realised + running
            realised += float(running[-1])
    return total


def _benchmarks(
    days: Sequence[date],
    prices: pl.DataFrame,
    config: BacktestConfig,
    notes: list[str],
) -> list[BenchmarkResult]:
    ids = list(BENCHMARK_ASSETS.values())
    have = set(prices.filter(pl.col("asset_id").is_in(ids))["asset_id"].unique().to_list())
    missing = [a for a in ids if a not in have]
    info = {a: HoldingInfo(a, a, "asset", "Ethereum") for a in ids}
    wanted = {
        "BTC hold": {"bitcoin": 1.0},
        "ETH hold": {"ethereum": 1.0},
        "60/40 ETH/USDC": {"ethereum": 0.6, "usd-coin": 0.4},
    }
    runnable = [n for n, w in wanted.items() if not set(w) - have]
    for name in wanted:
        if name not in runnable:
            notes.append(f"benchmark {name} left out: the store has no prices for {missing}")
    if not runnable:
        return []
    used = sorted({a for n in runnable for a in wanted[n]})
    trade_days = [(d - days[0]).days for d in rebalance_days(days[0], days[-1], "monthly")]
    market = build_market(
        days,
        used,
        {a: info[a] for a in used},
        prices,
        pl.DataFrame(schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64}),
    )
    if market.illustrative_prices:
        notes.append(
            "benchmarks: ILLUSTRATIVE prices (bundled snapshot) for "
            + ", ".join(market.illustrative_prices)
            + " in part of the window"
        )
    targets = np.zeros((len(trade_days), len(runnable), len(used)))
    for s, name in enumerate(runnable):
        for a, w in wanted[name].items():
            targets[:, s, used.index(a)] = w
    active = np.zeros((len(trade_days), len(runnable)), dtype=bool)
    active[0] = True
    for s, name in enumerate(runnable):
        if "/" in name:
            active[:, s] = True  # the mix is rebalanced monthly
    paths = simulate(
        market.growth,
        market.income,
        trade_days,
        targets,
        capital=config.capital_usd,
        cost_rate=config.cost_rate,
        gas=np.array([config.gas("Ethereum")] * len(used)),
        active=active,
    )
    returns = _returns(paths.nav, config.capital_usd)
    dd = drawdowns(returns)
    return [
        BenchmarkResult(
            name,
            pl.DataFrame({"date": list(days), "value": paths.nav[:, s], "drawdown": dd[:, s]}),
            m,
        )
        for s, (name, m) in enumerate(zip(runnable, metrics_table(returns), strict=True))
    ]


def run_backtest(
    schedule: WeightsSchedule,
    prices: pl.DataFrame,
    apy: pl.DataFrame,
    config: BacktestConfig,
    *,
    name: str | None = None,
) -> BacktestResult:
    """Simulate ``schedule`` over the stored histories ``prices`` (``asset_id, date,
    price_usd[, source]``) and ``apy`` (``id, date, apy[, source]``, percent).

    Raises:
        InsufficientDataError: no overlap between the weights and the prices.
        DataError: a holding without prices for any of its tokens.
        ConfigError: inconsistent options (e.g. a range for a non-pool holding).
    """
    info = schedule.info
    used_assets = sorted({a for i in schedule.ids for a in tokens_of(info[i])})
    sub = prices.filter(pl.col("asset_id").is_in(used_assets))
    if sub.is_empty():
        raise InsufficientDataError(
            f"the store holds no prices for any of {used_assets[:8]}: import them first "
            "(realyield data import FILE, or realyield data refresh --source coingecko)"
        )
    start, end, notes = _window(schedule, config, as_day(sub["date"].max()))
    notes = [*schedule.notes, *notes]
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    trade_dates = rebalance_days(start, end, config.rebalance, schedule.dates)
    t_of = {d: t for t, d in enumerate(days)}
    trade_days = [t_of[d] for d in trade_dates]
    rows = [schedule.row_at(d) for d in trade_dates]
    targets = schedule.weights[np.maximum(rows, 0)]
    targets[np.asarray(rows) < 0] = 0.0
    sleeve_of = [info[i].sleeve for i in schedule.ids]
    col_of = {i: j for j, i in enumerate(schedule.ids)}
    removals = [
        (t_of[d], col_of[i], np.array([s == sleeve_of[col_of[i]] for s in sleeve_of]))
        for d, i in schedule.removals
        if d in t_of and i in col_of
    ]
    market = build_market(
        days,
        schedule.ids,
        info,
        prices,
        apy,
        lp_ranges=config.lp_ranges,
        recentre_days=trade_dates,
        swap_cost=config.cost_rate,
        asset_shocks=config.asset_shocks,
        holding_shocks=config.holding_shocks,
    )
    notes.extend(market.notes)
    paths = simulate(
        market.growth,
        market.income,
        trade_days,
        targets,
        capital=config.capital_usd,
        cost_rate=config.cost_rate,
        gas=np.array([config.gas(c) for c in market.chains]),
        band=config.band,
        drift_trigger=np.inf if config.drift_trigger is None else config.drift_trigger,
        lockup_days=market.lockup_days,
        payout=config.income == "payout",
        record_holdings=True,
        removals=removals,
    )
    assert paths.holdings is not None and paths.cash is not None and paths.unbonding is not None
    nav = paths.nav[:, 0]
    returns = _returns(paths.nav, config.capital_usd)
    il_path = _impermanent_loss(market, paths, trade_days)
    writedowns = sum(
        float(paths.holdings[t - 1, 0, j]) * loss for t, j, loss, _ in market.shocks if t > 0
    )
    daily = pl.DataFrame(
        {
            "date": days,
            "value": nav,
            "price_pnl": paths.price_pnl[:, 0],
            "income_pnl": paths.income_pnl[:, 0],
            "cost": paths.cost[:, 0],
            "turnover": paths.turnover[:, 0],
            "rebalanced": paths.rebalanced[:, 0],
            "drawdown": drawdowns(returns)[:, 0],
            "impermanent_loss": il_path,
            "cash": paths.cash[:, 0],
            "unbonding": paths.unbonding[:, 0],
        }
    )
    safe = np.where(nav > 0, nav, 1.0)[:, None]
    weights = paths.holdings[:, 0, :] / safe
    allocation = pl.DataFrame(
        {
            "date": days,
            **{i: weights[:, j] for j, i in enumerate(schedule.ids)},
            "cash": paths.cash[:, 0] / safe[:, 0],
            "unbonding": paths.unbonding[:, 0] / safe[:, 0],
        }
    )
    capital = config.capital_usd
    years = max(len(days) - 1, 1) / 365.0
    mean_value = float(np.mean(nav[:-1])) if len(nav) > 1 else capital
    after_funding = paths.turnover[1:, 0].sum()
    attribution = {
        "price_return": float(paths.price_pnl[:, 0].sum() / capital),
        "income_return": float(paths.income_pnl[:, 0].sum() / capital),
        "costs": float(paths.cost[:, 0].sum() / capital),
        "costs_usd": float(paths.cost[:, 0].sum()),
        "impermanent_loss": float(il_path[-1] / capital),
        "impermanent_loss_usd": float(il_path[-1]),
        "writedowns": float(writedowns / capital),
        "realised_yield": float(paths.income_pnl[:, 0].sum() / mean_value / years)
        if mean_value > 0
        else 0.0,
        "turnover": float(after_funding),
        "turnover_annual": float(after_funding / years),
        "rebalances": float(paths.rebalanced[:, 0].sum()),
        "end_value_usd": float(nav[-1]),
    }
    benchmarks = _benchmarks(days, prices, config, notes) if config.benchmarks else []
    warning = market.illustrative_note()
    if warning:
        notes.insert(0, warning)
    labels = {i: info[i].label for i in schedule.ids}
    last = schedule.weights[max(schedule.row_at(end), 0)]
    return BacktestResult(
        name or schedule.source,
        schedule.source,
        config,
        daily,
        allocation,
        metrics_table(returns)[0],
        attribution,
        benchmarks,
        notes,
        market.illustrative,
        labels,
        {i: float(w) for i, w in zip(schedule.ids, last, strict=True) if w > 0},
        dict(info),
    )
