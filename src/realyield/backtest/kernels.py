"""The backtest kernel: numpy arrays in, holding paths out, many strategies at once.

Model. ``N`` instruments (tokens, lending deposits, staking positions, LP shares) each
have a daily price relative ``growth[t, n] = P[t] / P[t-1]`` of their principal and a
daily income rate ``income[t, n]`` (APY / 365 as a fraction). ``S`` strategies are
columns: each holds USD amounts ``h[s, n]``, cash, and tokens being unbonded. On day
``t`` a holding earns ``h * growth`` of price change and ``h * growth * income`` of
income (income is paid in the position's own token, so it is valued at the day's
close). Income is either compounded into the holding or paid out to the investor
(kept apart, never reinvested, counted in the value).

Why segments: between two trades a strategy's holdings are fixed amounts of each
instrument's total-return index, so over a stretch of days without any trade the
whole ``days x strategies`` value path is one matrix product of the instruments'
cumulative growth (days x N) with the holdings (N x S). The kernel therefore walks
from event to event (a scheduled rebalance, a drift trigger, an unbonding release)
and does the days in between with BLAS; strategies that do not trade at an event
simply carry their holdings on. Cost is O(T N S) multiply-adds in matrix products plus
O(events x N x S) for the trades.

Rebalancing at the close of day ``t`` (after that day's returns, so targets composed
from data up to ``t`` never see ``t + 1``): weights move to the target except where the
move is inside the no-trade ``band`` (those keep their weight and the traded ones
are scaled to fill the rest, as in ``indices.rebalance.apply_band``). Cash is a
holding like the others (target weight ``1 - sum(targets)``). Costs are
``cost_rate`` (fee + slippage, fraction of the traded value) plus ``gas`` per traded
instrument (same currency as ``capital``), paid pro rata from the new holdings.
A holding with a lock-up cannot be sold at once: the sold amount starts unbonding,
keeps its price exposure without income, and becomes cash ``lockup_days`` later;
cash waits for the next rebalance. A ``drift_trigger`` rebalances a strategy back to
its last target on the first day any weight is further than the trigger from it; it
does not fire while a sale is still unbonding (that rebalance is not finished), and
checks again from the day the unbonded cash arrives.

Removals (an index's holding that fails a screen between rebalances) sell one
instrument at the close of a day, before that day's scheduled rebalance, and spread
its value over its peers (its sleeve) in proportion to what they hold, or over every
other holding when no peer holds anything; they pay the same costs and lock-ups as a
rebalance, and the last target moves the same way (so the drift trigger measures
against a target without the removed holding). A removal is not counted as a
rebalance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from realyield.core.errors import DataError

Array = NDArray[np.float64]
_EPS = 1e-12
_DRIFT_CHUNK_CELLS = 4_000_000  # days x strategies x instruments checked at once


@dataclass(frozen=True)
class SimulationPaths:
    """Daily paths of every strategy (rows: days, columns: strategies), in the currency
    of ``capital``. ``nav[t] = nav[t-1] + price_pnl[t] + income_pnl[t] - cost[t]``
    exactly (up to float rounding). ``holdings`` (days x strategies x instruments),
    ``cash`` and ``unbonding`` are kept only when asked for."""

    nav: Array
    price_pnl: Array
    income_pnl: Array
    cost: Array
    turnover: Array  # one-way: half the summed absolute value moves, over the value
    rebalanced: NDArray[np.bool_]
    holdings: Array | None = None
    cash: Array | None = None  # cash plus income paid out
    unbonding: Array | None = None


def _per_strategy(value: ArrayLike, s: int, name: str) -> Array:
    arr = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(arr, (s,)).astype(float)
    except ValueError as exc:
        raise DataError(
            f"{name} must be a number or one per strategy ({s}), got {arr.shape}"
        ) from exc


def _n_strategies(
    targets: Array, band: ArrayLike, trigger: ArrayLike, rate: ArrayLike, active: ArrayLike | None
) -> int:
    sizes = set()
    if targets.ndim == 3:
        sizes.add(targets.shape[1])
    for p in (band, trigger):
        if np.ndim(p) == 1:
            sizes.add(int(np.size(p)))
    if np.ndim(rate) == 2:
        sizes.add(int(np.shape(rate)[0]))
    if active is not None and np.ndim(active) == 2:
        sizes.add(int(np.shape(active)[1]))
    sizes.discard(1)
    if len(sizes) > 1:
        raise DataError(
            f"per-strategy inputs disagree on the number of strategies: {sorted(sizes)}"
        )
    return sizes.pop() if sizes else 1


def _check(growth: Array, income: Array, days: NDArray[np.int64], targets: Array) -> None:
    t, n = growth.shape
    if income.shape != (t, n):
        raise DataError(f"income must have the shape of growth {(t, n)}, got {income.shape}")
    if t < 1 or n < 1:
        raise DataError("need at least one day and one instrument")
    if not (np.all(np.isfinite(growth)) and np.all(growth >= 0)):
        raise DataError("growth must be finite and >= 0 (fill missing prices before simulating)")
    if not (np.all(np.isfinite(income)) and np.all(income > -1)):
        raise DataError("income rates must be finite and > -1")
    if days.ndim != 1 or days.size == 0:
        raise DataError("need at least one rebalance day")
    if np.any(np.diff(days) <= 0) or days[0] < 0 or days[-1] >= t:
        raise DataError(f"rebalance days must be increasing and inside [0, {t})")
    if targets.shape[0] != days.size or targets.shape[-1] != n:
        raise DataError(
            f"targets must be (rebalances, [strategies,] instruments) = ({days.size}, .., {n}),"
            f" got {targets.shape}"
        )
    if not np.all(np.isfinite(targets)) or np.any(targets < -_EPS):
        raise DataError("target weights must be finite and >= 0")
    if np.any(targets.sum(axis=-1) > 1 + 1e-6):
        raise DataError("target weights must sum to at most 1 (the rest is cash)")


def band_weights(current: Array, target: Array, band: Array) -> Array:
    """``indices.rebalance.apply_band`` for many strategies at once (rows), on weights
    whose last column is cash: moves smaller than ``band`` are not traded, the traded
    weights are scaled to fill what the untraded ones leave, unless that leaves one of
    them still ``band`` or more from its target (then the row trades to the target)."""
    keep = (current > 0) & (target > 0) & (np.abs(target - current) < band[:, None])
    kept = np.where(keep, current, 0.0)
    traded = np.where(keep, 0.0, target)
    room = 1.0 - kept.sum(axis=1)
    total = traded.sum(axis=1)
    ok = (total > 0) & (room > 0)
    scale = np.where(ok, room / np.where(total > 0, total, 1.0), 1.0)
    scaled = traded * scale[:, None]
    # scaled back to where it stands (one holding drifted alone): trade all to target
    stuck = (np.where(keep | (target <= 0), 0.0, np.abs(scaled - target)) >= band[:, None]).any(
        axis=1
    )
    ok &= ~stuck
    return np.where(ok[:, None], kept + scaled, target)


@dataclass
class _State:
    h: Array  # (S, N) liquid holdings
    cash: Array  # (S,)
    paid: Array  # (S,) income paid out
    unb: Array  # (S, N) unbonding
    tranches: list[tuple[int, Array]]  # (release day, (S, N) amounts still unbonding)
    target: Array  # (S, N) last scheduled target
    has_target: NDArray[np.bool_]


def _rebalance(
    st: _State,
    rows: NDArray[np.int64],
    tgt: Array,
    day: int,
    band: Array,
    cost_rate: Array,
    gas: Array,
    lockup: NDArray[np.int64],
) -> tuple[Array, Array]:
    """Trade strategies ``rows`` to weights ``tgt`` (rows x N); returns (cost, turnover)."""
    h = st.h[rows]
    liquid = h.sum(axis=1) + st.cash[rows]
    alive = liquid > _EPS
    safe = np.where(alive, liquid, 1.0)
    cur = np.concatenate([h, st.cash[rows, None]], axis=1) / safe[:, None]
    goal = np.concatenate([tgt, np.clip(1.0 - tgt.sum(axis=1), 0.0, None)[:, None]], axis=1)
    new = band_weights(cur, goal, band[rows]) * liquid[:, None]
    x, x_cash = new[:, :-1], new[:, -1]
    sold_locked = np.zeros_like(h)
    if lockup.any():
        locked = (lockup > 0)[None, :] & (x < h - _EPS)
        sold_locked = np.where(locked, h - x, 0.0)
        q = sold_locked.sum(axis=1)
        if q.any():
            # what starts unbonding is not available: the free targets shrink by it
            free = np.where(locked, 0.0, x)
            free_total = free.sum(axis=1) + x_cash
            shrink = np.where(
                free_total > _EPS, 1.0 - q / np.where(free_total > 0, free_total, 1), 0
            )
            shrink = np.clip(shrink, 0.0, None)
            x = np.where(locked, x, x * shrink[:, None])
            x_cash = x_cash * shrink
    moved = np.abs(x - h)
    traded = moved > _EPS * np.maximum(liquid, 1.0)[:, None]
    market = np.where(sold_locked > 0, 0.0, moved)  # unbonding pays gas, no fee/slippage
    cost = (market * cost_rate[rows]).sum(axis=1) + (traded * gas[None, :]).sum(axis=1)
    cost = np.where(alive, cost, 0.0)
    available = x.sum(axis=1) + x_cash
    pay = np.minimum(cost, available)
    factor = np.where(available > _EPS, 1.0 - pay / np.where(available > 0, available, 1), 0)
    x = x * factor[:, None]
    x_cash = x_cash * factor
    turnover = 0.5 * (moved.sum(axis=1) + np.abs(x_cash - st.cash[rows])) / safe
    st.h[rows] = x
    st.cash[rows] = x_cash
    if sold_locked.any():
        st.unb[rows] += sold_locked
        for lock in np.unique(lockup[lockup > 0]):
            cols = lockup == lock
            part = np.zeros_like(st.h)
            part[np.ix_(rows, np.flatnonzero(cols))] = sold_locked[:, cols]
            if part.any():
                st.tranches.append((day + int(lock), part))
    return pay, np.where(alive, turnover, 0.0)


def _remove(
    st: _State,
    j: int,
    peers: NDArray[np.bool_],
    day: int,
    cost_rate: Array,
    gas: Array,
    lockup: NDArray[np.int64],
) -> tuple[Array, Array]:
    """Sell instrument ``j`` in every strategy holding it and spread its value over the
    ``peers`` it has (pro rata to their holdings; every other holding when no peer
    holds anything); the last target moves alike. Returns (cost, turnover) per
    strategy."""
    s, n = st.h.shape
    cost, turnover = np.zeros(s), np.zeros(s)
    rows = np.flatnonzero(st.h[:, j] > _EPS)
    if rows.size == 0:
        return cost, turnover
    peers = peers.copy()
    peers[j] = False
    others = np.ones(n, dtype=bool)
    others[j] = False

    def spread(x: Array) -> Array:
        """Rows of ``x`` with column ``j`` moved onto the peers (else the others)."""
        out = x.copy()
        freed = out[:, j].copy()
        out[:, j] = 0.0
        mine = np.where(peers[None, :], out, 0.0)
        pool = np.where(mine.sum(axis=1, keepdims=True) > _EPS, mine, np.where(others, out, 0.0))
        total = pool.sum(axis=1, keepdims=True)
        share = np.where(total > _EPS, pool / np.where(total > _EPS, total, 1.0), 0.0)
        return out + share * freed[:, None]

    h = st.h[rows]
    liquid = h.sum(axis=1) + st.cash[rows]
    goal = spread(h) / np.where(liquid > _EPS, liquid, 1.0)[:, None]
    st.target[rows] = spread(st.target[rows])
    c, to = _rebalance(st, rows, goal, day, np.zeros(s), cost_rate, gas, lockup)
    cost[rows], turnover[rows] = c, to
    return cost, turnover


def _first_drift(
    st: _State, growth_cum: Array, trigger: Array, rows: NDArray[np.int64]
) -> tuple[int, NDArray[np.int64]]:
    """First segment day (index into ``growth_cum``) on which any of ``rows`` drifts past
    its trigger, and which rows do; (-1, empty) when none does."""
    h, tgt, cash = st.h[rows], st.target[rows], st.cash[rows]
    goal_cash = np.clip(1.0 - tgt.sum(axis=1), 0.0, None)
    n_days = growth_cum.shape[0]
    step = max(1, _DRIFT_CHUNK_CELLS // max(1, rows.size * h.shape[1]))
    for a in range(0, n_days, step):
        g = growth_cum[a : a + step]
        vals = h[None, :, :] * g[:, None, :]
        liquid = vals.sum(axis=2) + cash[None, :]
        safe = np.where(liquid > _EPS, liquid, 1.0)
        dev = np.abs(vals / safe[:, :, None] - tgt[None]).max(axis=2)
        dev = np.maximum(dev, np.abs(cash[None, :] / safe - goal_cash[None, :]))
        hit = (dev > trigger[rows][None, :]) & (liquid > _EPS)
        if hit.any():
            first = int(np.argmax(hit.any(axis=1)))
            return a + first, rows[hit[first]]
    return -1, np.zeros(0, dtype=np.int64)


def simulate(
    growth: ArrayLike,
    income: ArrayLike,
    rebalance_days: ArrayLike,
    targets: ArrayLike,
    *,
    capital: float = 1.0,
    cost_rate: ArrayLike = 0.0,
    gas: ArrayLike = 0.0,
    band: ArrayLike = 0.0,
    drift_trigger: ArrayLike = np.inf,
    lockup_days: ArrayLike | None = None,
    active: ArrayLike | None = None,
    payout: bool = False,
    record_holdings: bool = False,
    removals: Sequence[tuple[int, int, NDArray[np.bool_]]] = (),
) -> SimulationPaths:
    """Simulate ``S`` strategies over ``T`` days and ``N`` instruments.

    Args:
        growth: (T, N) price relatives (row 0 is ignored: day 0 is the start).
        income: (T, N) daily income rates (fractions; APY / 100 / 365).
        rebalance_days: (R,) increasing day indices of the scheduled rebalances. Before
            the first one everything is cash.
        targets: (R, N) weights shared by all strategies or (R, S, N) per strategy;
            each row sums to at most 1, the rest is held in cash.
        capital: starting value of every strategy.
        cost_rate: fee + slippage as a fraction of traded value; a number, (N,) per
            instrument, (S, 1) per strategy or (S, N).
        gas: (N,) or a number: fixed cost per traded instrument, in capital's currency.
        band, drift_trigger: (S,) or numbers, fractions of the value (inf: no trigger).
        lockup_days: (N,) unbonding days of each instrument (0: sells at once).
        active: (R, S) booleans: which strategies rebalance at each scheduled day
            (default all); the first scheduled day of a strategy funds it.
        payout: pay income out instead of compounding it.
        record_holdings: also return (T, S, N) holdings, cash and unbonding paths.
        removals: (day, instrument, peers) sorted by day: sell the instrument at the
            close of that day (before a rebalance due then) and spread it over the
            ``peers`` mask (N,), for every strategy.

    Raises:
        DataError: inconsistent shapes, non-finite or negative inputs.
    """
    g = np.ascontiguousarray(growth, dtype=float)
    y = np.ascontiguousarray(income, dtype=float)
    days = np.asarray(rebalance_days, dtype=np.int64)
    tg = np.asarray(targets, dtype=float)
    if g.ndim != 2:
        raise DataError(f"growth must be a (days, instruments) array, got shape {g.shape}")
    _check(g, y, days, tg)
    n_days, n = g.shape
    s = _n_strategies(tg, band, drift_trigger, cost_rate, active)
    band_s = _per_strategy(band, s, "band")
    trig_s = _per_strategy(drift_trigger, s, "drift_trigger")
    try:
        rate_sn = np.broadcast_to(np.asarray(cost_rate, dtype=float), (s, n)).astype(float)
    except ValueError as exc:
        raise DataError(
            f"cost_rate must be a number, (instruments,), (strategies, 1) or (strategies, "
            f"instruments); got {np.shape(cost_rate)} for {s} strategies and {n} instruments"
        ) from exc
    gas_n = np.broadcast_to(np.asarray(gas, dtype=float), (n,)).astype(float)
    lock = (
        np.zeros(n, dtype=np.int64)
        if lockup_days is None
        else np.broadcast_to(np.asarray(lockup_days, dtype=np.int64), (n,)).copy()
    )
    act = (
        np.ones((days.size, s), dtype=bool)
        if active is None
        else np.broadcast_to(np.asarray(active, dtype=bool), (days.size, s))
    )
    if np.any(lock < 0) or np.any(rate_sn < 0) or np.any(gas_n < 0) or np.any(band_s < 0):
        raise DataError("lock-ups, cost rates, gas and bands must be >= 0")
    total_growth = g if payout else g * (1.0 + y)

    st = _State(
        h=np.zeros((s, n)),
        cash=np.full(s, float(capital)),
        paid=np.zeros(s),
        unb=np.zeros((s, n)),
        tranches=[],
        target=np.zeros((s, n)),
        has_target=np.zeros(s, dtype=bool),
    )
    nav = np.zeros((n_days, s))
    price_pnl = np.zeros((n_days, s))
    income_pnl = np.zeros((n_days, s))
    cost = np.zeros((n_days, s))
    turnover = np.zeros((n_days, s))
    rebalanced = np.zeros((n_days, s), dtype=bool)
    rec_h = np.zeros((n_days, s, n)) if record_holdings else None
    rec_cash = np.zeros((n_days, s)) if record_holdings else None
    rec_unb = np.zeros((n_days, s)) if record_holdings else None
    drift_on = bool(np.any(np.isfinite(trig_s)))
    triggered = np.zeros(0, dtype=np.int64)
    removal_days = sorted({int(d) for d, _, _ in removals})
    if removal_days and (removal_days[0] < 0 or removal_days[-1] >= n_days):
        raise DataError(f"removal days must be inside [0, {n_days})")
    r = 0
    t = 0
    k_removal = 0
    while True:
        # events at the close of day t: releases, scheduled rebalances, drift rebalances
        due = [tr for tr in st.tranches if tr[0] <= t]
        if due:
            st.tranches = [tr for tr in st.tranches if tr[0] > t]
            for _, part in due:
                st.unb = np.clip(st.unb - part, 0.0, None)
                st.cash += part.sum(axis=1)
        while k_removal < len(removal_days) and removal_days[k_removal] <= t:
            if removal_days[k_removal] == t:
                for _, j, peers in (x for x in removals if int(x[0]) == t):
                    c, to = _remove(
                        st, int(j), np.asarray(peers, dtype=bool), t, rate_sn, gas_n, lock
                    )
                    cost[t] += c
                    turnover[t] += to
            k_removal += 1
        done = np.zeros(s, dtype=bool)
        if r < days.size and days[r] == t:
            rows = np.flatnonzero(act[r])
            if rows.size:
                tgt = tg[r][rows] if tg.ndim == 3 else np.broadcast_to(tg[r], (rows.size, n))
                st.target[rows] = tgt
                st.has_target[rows] = True
                c, to = _rebalance(st, rows, tgt, t, band_s, rate_sn, gas_n, lock)
                cost[t, rows] += c
                turnover[t, rows] += to
                rebalanced[t, rows] = True
                done[rows] = True
            r += 1
        if triggered.size:
            rows = triggered[~done[triggered]]
            if rows.size:
                c, to = _rebalance(st, rows, st.target[rows], t, band_s, rate_sn, gas_n, lock)
                cost[t, rows] += c
                turnover[t, rows] += to
                rebalanced[t, rows] = True
            triggered = np.zeros(0, dtype=np.int64)
        unb_total = st.unb.sum(axis=1)
        nav[t] = st.h.sum(axis=1) + st.cash + st.paid + unb_total
        if rec_h is not None and rec_cash is not None and rec_unb is not None:
            rec_h[t] = st.h
            rec_cash[t] = st.cash + st.paid
            rec_unb[t] = unb_total
        if t == n_days - 1:
            break
        # the stretch of days until the next event
        nxt = n_days - 1
        if r < days.size:
            nxt = min(nxt, int(days[r]))
        if st.tranches:
            nxt = min(nxt, min(tr[0] for tr in st.tranches))
        if k_removal < len(removal_days):
            nxt = min(nxt, removal_days[k_removal])
        seg = slice(t + 1, nxt + 1)
        cum = np.cumprod(total_growth[seg], axis=0)
        prev = np.vstack([np.ones((1, n)), cum[:-1]])
        if drift_on:
            # while a sale is unbonding the last rebalance is not finished: its weights
            # cannot match the target yet, and trading again would only pay twice
            settled = st.unb.sum(axis=1) <= _EPS
            rows = np.flatnonzero(st.has_target & np.isfinite(trig_s) & settled)
            if rows.size:
                k, hit = _first_drift(st, cum, trig_s, rows)
                if k >= 0:
                    nxt = t + 1 + k
                    seg = slice(t + 1, nxt + 1)
                    cum, prev = cum[: k + 1], prev[: k + 1]
                    triggered = hit
        gs, ys = g[seg], y[seg]
        ht = st.h.T
        values = cum @ ht
        inc = (prev * gs * ys) @ ht
        # the holdings' change is price + income (compounded) or price alone (paid out):
        # one matrix product fewer than computing the price part on its own
        before = np.vstack([st.h.sum(axis=1)[None, :], values[:-1]])
        pp = values - before - (0.0 if payout else inc)
        if payout:
            paid = st.paid[None, :] + np.cumsum(inc, axis=0)
        else:
            paid = np.broadcast_to(st.paid, values.shape)
        unb_vals = np.zeros_like(values)
        unb_end = None
        if st.unb.any():
            pcum = np.cumprod(gs, axis=0)
            pprev = np.vstack([np.ones((1, n)), pcum[:-1]])
            unb_vals = pcum @ st.unb.T
            pp += (pprev * (gs - 1.0)) @ st.unb.T
            unb_end = pcum[-1]
        nav[seg] = values + st.cash[None, :] + paid + unb_vals
        price_pnl[seg] = pp
        income_pnl[seg] = inc
        if rec_h is not None and rec_cash is not None and rec_unb is not None:
            rec_h[seg] = st.h[None, :, :] * cum[:, None, :]
            rec_cash[seg] = st.cash[None, :] + paid
            rec_unb[seg] = unb_vals
        st.h = st.h * cum[-1]
        st.paid = np.array(paid[-1], dtype=float)
        if unb_end is not None:
            st.unb = st.unb * unb_end
            st.tranches = [(d, part * unb_end) for d, part in st.tranches]
        t = nxt
    return SimulationPaths(
        nav, price_pnl, income_pnl, cost, turnover, rebalanced, rec_h, rec_cash, rec_unb
    )
