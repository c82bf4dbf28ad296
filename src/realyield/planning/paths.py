"""The Monte Carlo kernel over many runs at once: arrays of runs x paths, monthly.

Why many runs: at 2,000 paths a run is too small for numpy to be efficient (the
per-month Python overhead dominates), while a batch of clients, or the candidate mixes
of one plan, are independent runs of the same recurrence. Stacking them makes each
numpy call work on ~100,000 numbers. A run's result does not depend on which runs it
is stacked with: everything random is drawn from the run's own generators, everything
transcendental (powers, exponentials, logarithms) is computed per run in arrays of the
run's own shape, and the stacked month loop uses only elementwise arithmetic, which
IEEE 754 makes exact whatever the array's size. Runs are ordered by horizon (longest
first) so that the runs still going are a prefix of the arrays.

The recurrence of one month, on every path (``montecarlo`` states the rules): yield
accrues on the value at the start of the month; prices move; jump events take their
loss; income tax is withheld; the withdrawal is paid from net yield first and from
principal for the rest (sales taxed on their gain share); yield beyond the withdrawal
is reinvested by the ``reinvest`` share. Before the income phase the withdrawal is 0,
so the same lines reinvest that share of all income.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from realyield.planning.montecarlo import PathTotals, PlanConfig, YieldModel
from realyield.planning.samplers import BlockBootstrap, PriceSampler
from realyield.planning.tailrisk import JumpDraws, draw_jumps

#: the number of path values one stacked call holds at most (runs x paths): small
#: enough that the month's arrays stay in the CPU cache, large enough to amortise Python
STACK = 32_000
_RULE = {"fixed": 0, "inflation-indexed": 0, "percent": 1, "guardrails": 2}


@dataclass
class Run:
    """One simulation: its rules, its price sampler and generator, the real-yield rate
    of every path and year, the emission rate of every month and its jump events."""

    config: PlanConfig
    sampler: PriceSampler
    price_rng: np.random.Generator
    real_m: NDArray[np.float64]  # paths x years, monthly rate
    emis_m: NDArray[np.float64]  # months, monthly rate
    jumps: JumpDraws
    jump_factor: NDArray[np.float64]  # per event: the value kept (1 - loss)

    @property
    def paths(self) -> int:
        return int(self.real_m.shape[0])


def yield_rates(
    yields: YieldModel, paths: int, years: int, months: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per path and year the monthly real-yield rate (a stationary log-AR(1) multiplier
    with mean 1 on the real yield), and per month the emission rate (decaying with its
    half-life)."""
    s, phi = yields.vol, yields.persistence
    x = np.empty((paths, years))
    if s > 0:
        x[:, 0] = rng.standard_normal(paths) * s
        for y in range(1, years):
            x[:, y] = phi * x[:, y - 1] + math.sqrt(1.0 - phi * phi) * s * rng.standard_normal(
                paths
            )
        mult = np.exp(x - 0.5 * s * s)
    else:
        mult = np.ones((paths, years))
    real_m = (1.0 + yields.real * mult) ** (1.0 / 12.0) - 1.0
    half = 12.0 * yields.emission_half_life_years
    emis_m = (1.0 + yields.emission * 0.5 ** (np.arange(months) / half)) ** (1.0 / 12.0) - 1.0
    return np.asarray(real_m, np.float64), np.asarray(emis_m, np.float64)


def make_run(
    config: PlanConfig,
    sampler: PriceSampler,
    yields: YieldModel,
    *,
    paths: int,
    seed: int,
    jumps: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> Run:
    """A run of ``paths`` paths seeded by ``seed``: prices, yields and jumps each from
    their own generator spawned from it (so candidate mixes of one plan, seeded alike,
    see the same market and the same events)."""
    price_seq, yield_seq, jump_seq = np.random.SeedSequence(seed).spawn(3)
    real_m, emis_m = yield_rates(
        yields, paths, config.horizon_years, config.months, np.random.default_rng(yield_seq)
    )
    if jumps is None:
        intensity, loss = np.zeros(0), np.zeros(0)
    else:
        intensity, loss = jumps
    draws = draw_jumps(np.random.default_rng(jump_seq), intensity, paths, config.months)
    return Run(
        config,
        sampler,
        np.random.default_rng(price_seq),
        real_m,
        emis_m,
        draws,
        1.0 - loss[draws.source] if draws.source.size else np.zeros(0),
    )


def simulate_runs(runs: Sequence[Run]) -> list[PathTotals]:
    """Every run's totals, in the order given (stacked in groups of ``STACK`` values)."""
    out: list[PathTotals | None] = [None] * len(runs)
    order = sorted(range(len(runs)), key=lambda i: (runs[i].paths, -runs[i].config.months))
    group: list[int] = []
    size = 0
    for i in order:
        full = size + runs[i].paths > STACK
        if group and (full or runs[i].paths != runs[group[0]].paths):
            for k, t in zip(group, _stacked([runs[j] for j in group]), strict=True):
                out[k] = t
            group, size = [], 0
        group.append(i)
        size += runs[i].paths
    if group:
        for k, t in zip(group, _stacked([runs[j] for j in group]), strict=True):
            out[k] = t
    return [t for t in out if t is not None]


def _col(runs: Sequence[Run], name: str) -> NDArray[np.float64]:
    return np.array([[float(getattr(r.config, name))] for r in runs])


def _stacked(runs: Sequence[Run]) -> list[PathTotals]:
    """The month loop over runs of equal path counts, longest horizon first."""
    n_runs, paths = len(runs), runs[0].paths
    cfgs = [r.config for r in runs]
    months = np.array([c.months for c in cfgs])
    m_max, y_max = int(months[0]), cfgs[0].horizon_years
    start = np.array([[c.start_month] for c in cfgs])
    ti, ts, reinv_share = _col(runs, "tax_income"), _col(runs, "tax_sales"), _col(runs, "reinvest")
    cap = _col(runs, "capital")
    infl = _col(runs, "inflation")
    band, step = _col(runs, "guardrail_band"), _col(runs, "guardrail_step")
    rate = np.array([[c.percent_rate or c.income_per_year / c.capital] for c in cfgs])
    rule = np.array([[_RULE[c.withdrawal]] for c in cfgs])
    goal = np.zeros((n_runs, m_max))
    emis = np.zeros((n_runs, m_max))
    real = np.zeros((n_runs, paths, y_max))
    for k, r in enumerate(runs):
        goal[k, : months[k]] = r.config.goal_by_month()
        emis[k, : months[k]] = r.emis_m[: months[k]]
        real[k, :, : r.config.horizon_years] = r.real_m
    prices = _Prices(runs, paths)
    jm = np.concatenate([r.jumps.month for r in runs])
    jflat = np.concatenate([k * paths + r.jumps.path for k, r in enumerate(runs)])
    jfac = np.concatenate([r.jump_factor for r in runs])
    jorder = np.argsort(jm, kind="stable")
    jm, jflat, jfac = jm[jorder], jflat[jorder], jfac[jorder]
    jcut = np.searchsorted(jm, np.arange(m_max + 1))

    v = np.repeat(cap, paths, axis=1)
    sales_tax = bool((ts > 0).any())
    reinvesting = bool((reinv_share > 0).any())
    keep_ti = 1.0 - ti
    basis = v.copy()
    alive = np.ones((n_runs, paths), dtype=bool)
    exhausted = np.full((n_runs, paths), -1, dtype=np.int64)
    capital = np.zeros((n_runs, paths, y_max))
    income = np.zeros((n_runs, paths, y_max))
    early = np.ones((n_runs, paths))
    early_until = int(start.max()) + 60
    sums = np.zeros((n_runs, 4, y_max))  # yield income, from yield, from principal, sale tax
    w_month = np.zeros((n_runs, paths))  # 0 before the income phase and on dead paths
    wr0 = np.repeat(rate, paths, axis=1)
    growth = np.zeros((n_runs, paths))
    year_income = np.zeros((n_runs, paths))
    for t in range(m_max):
        n = int((months > t).sum())  # the runs still going: a prefix
        year = t // 12
        s = slice(0, n)
        prices.draw(t, n, growth)
        growth[s] += 1.0
        if t % 12 == 0:
            rm = real[s, :, year]
        upd = (start[s, 0] <= t) & ((t % 12 == 0) | (start[s, 0] == t))
        if upd.any():
            _withdraw(
                t,
                upd,
                v[s],
                w_month[s],
                wr0[s],
                goal[s, t],
                start[s],
                rule[s],
                rate[s],
                infl[s],
                band[s],
                step[s],
            )
            w_month[s] *= alive[s]
        vs, gs, ws = v[s], growth[s], w_month[s]
        inc = vs * (rm + emis[s, t, None])
        vs *= gs
        if jcut[t + 1] > jcut[t]:
            np.multiply.at(v.reshape(-1), jflat[jcut[t] : jcut[t + 1]], jfac[jcut[t] : jcut[t + 1]])
        net = inc * keep_ti[s]
        from_y = np.minimum(net, ws)
        if reinvesting:
            reinv = (net - from_y) * reinv_share[s]
            vs += reinv
            if sales_tax:
                basis[s] += reinv
        need = ws - from_y
        m = sums[s, :, year]
        m[:, 0] += inc.sum(axis=1)
        m[:, 1] += from_y.sum(axis=1)
        year_income[s] += from_y
        if need.max() > 0:
            count = int(np.count_nonzero(need))
            if count * 4 > need.size:  # most paths sell: whole arrays are cheaper
                proceeds, sale_tax, broke = _sell(
                    need, vs, basis[s] if sales_tax else None, ts[s], cap[s]
                )
            else:
                idx = np.flatnonzero(need)
                run = idx // paths
                flat_v, flat_b = vs.reshape(-1), basis[s].reshape(-1)
                vi = flat_v[idx]
                bi = flat_b[idx] if sales_tax else None
                p_i, t_i, b_i = _sell(need.reshape(-1)[idx], vi, bi, ts[s, 0][run], cap[s, 0][run])
                flat_v[idx] = vi
                if bi is not None:
                    flat_b[idx] = bi
                proceeds, sale_tax = np.zeros_like(vs), np.zeros_like(vs)
                broke = np.zeros(vs.shape, dtype=bool)
                proceeds.reshape(-1)[idx] = p_i
                sale_tax.reshape(-1)[idx] = t_i
                broke.reshape(-1)[idx] = b_i
            year_income[s] += proceeds
            m[:, 2] += proceeds.sum(axis=1)
            if sales_tax:
                m[:, 3] += sale_tax.sum(axis=1)
            if broke.any():
                exhausted[s][broke] = t
                alive[s][broke] = False
                vs[broke] = 0.0
                ws[broke] = 0.0
        if t < early_until:
            early[s] *= np.where((start[s] <= t) & (t < start[s] + 60), gs, 1.0)
        if t % 12 == 11:
            capital[s, :, year] = vs
            income[s, :, year] = year_income[s]
            year_income[s] = 0.0
    out = []
    for k, c in enumerate(cfgs):
        y = c.horizon_years
        inc_y, from_y_y, principal, sale_tax_y = sums[k, :, :y] / paths
        surplus = inc_y * (1.0 - c.tax_income) - from_y_y
        reinvested = surplus * c.reinvest
        out.append(
            PathTotals(
                capital[k, :, :y].copy(),
                income[k, :, :y].copy(),
                exhausted[k].copy(),
                np.log(early[k]),
                from_y_y,
                principal,
                inc_y * c.tax_income + sale_tax_y,
                reinvested,
                surplus - reinvested,
            )
        )
    return out


def _sell(
    need: NDArray[np.float64],
    v: NDArray[np.float64],
    basis: NDArray[np.float64] | None,
    ts: NDArray[np.float64],
    cap: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Sell principal to raise ``need`` (net of the sales tax on the gain share of the
    cost basis ``basis``; ``None``: no sales tax anywhere). Updates ``v`` and ``basis``
    in place; returns the proceeds, the tax on the sales, and the paths exhausted (that
    cannot raise what they need). Whole arrays or gathered positions alike: the same
    elementwise arithmetic either way."""
    if basis is None:
        sell = np.minimum(need, v)
        v -= sell
        return sell, np.zeros_like(sell), need >= sell + 1e-9 * cap
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = v > 0
        gain = np.where(pos, np.clip(1.0 - basis / v, 0.0, 1.0), 0.0)
        rate = ts * gain
        gross = need / (1.0 - rate)
        sell = np.minimum(gross, v)
        basis *= np.where(pos, 1.0 - sell / v, 0.0)
    v -= sell
    return sell * (1.0 - rate), sell * rate, gross >= sell + 1e-9 * cap


class _Prices:
    """The month's price growth of every run: block-bootstrap runs gathered at once from
    their concatenated histories (the same generator calls as ``BlockBootstrap.draw``,
    so the same numbers), any other sampler drawn run by run."""

    def __init__(self, runs: Sequence[Run], paths: int) -> None:
        self.runs = runs
        samplers = [r.sampler for r in runs]
        boots = [s for s in samplers if isinstance(s, BlockBootstrap)]
        blocks = {s.block_months for s in boots}
        self.block = blocks.pop() if len(boots) == len(runs) and len(blocks) == 1 else 0
        if self.block:
            sizes = np.array([s.history.size for s in boots])
            self.size = sizes[:, None]
            self.offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])[:, None]
            self.end = self.offset + self.size
            self.flat = np.concatenate([s.history for s in boots])
            self.pos = np.zeros((len(runs), paths), dtype=np.intp)  # into ``flat``
        else:
            for r in runs:
                r.sampler.reset(r.price_rng, paths)

    def draw(self, t: int, n: int, out: NDArray[np.float64]) -> None:
        if not self.block:
            for k in range(n):
                out[k] = self.runs[k].sampler.draw(self.runs[k].price_rng, t)
            return
        pos = self.pos[:n]
        if t % self.block == 0:
            for k in range(n):
                start = self.runs[k].price_rng.integers(0, int(self.size[k, 0]), size=pos.shape[1])
                np.add(start, self.offset[k, 0], out=pos[k])
        else:
            pos += 1
            np.subtract(pos, self.size[:n], out=pos, where=pos >= self.end[:n])
        np.take(self.flat, pos, out=out[:n])


def _withdraw(
    t: int,
    upd: NDArray[np.bool_],
    v: NDArray[np.float64],
    w: NDArray[np.float64],
    wr0: NDArray[np.float64],
    goal: NDArray[np.float64],
    start: NDArray[np.int64],
    rule: NDArray[np.int64],
    rate: NDArray[np.float64],
    infl: NDArray[np.float64],
    band: NDArray[np.float64],
    step: NDArray[np.float64],
) -> None:
    """Set this year's monthly withdrawal (in place) for the runs in ``upd``: the goal
    (fixed, indexed, and guardrails in their first year), a share of capital (percent),
    or last year's amount indexed and cut or raised when the withdrawal rate has left
    the band around the initial rate (guardrails, Guyton-Klinger style)."""
    first = start == t
    with np.errstate(invalid="ignore", divide="ignore"):
        indexed = w * (1.0 + infl)
        now = np.where(v > 0, 12.0 * indexed / v, np.inf)
        g = np.where(now > wr0 * (1 + band), indexed * (1 - step), indexed)
        g = np.where(now < wr0 * (1 - band), g * (1 + step), g)
        new = np.where(rule == 1, v * rate / 12.0, goal[:, None])
        new = np.where((rule == 2) & ~first, g, new)
        w[upd] = new[upd]
        set_wr0 = upd[:, None] & first & (rule == 2)
        wr0[:] = np.where(set_wr0, np.where(v > 0, 12.0 * w / v, np.inf), wr0)
