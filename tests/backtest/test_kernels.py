"""The segment kernel against a plain day-by-day simulator written from the documented
rules, hand-computed cases, and the column independence of strategies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.backtest.kernels import band_weights, simulate
from realyield.core.errors import DataError


def reference(
    g: np.ndarray,
    y: np.ndarray,
    days: list[int],
    targets: np.ndarray,
    *,
    capital: float,
    rate: float,
    gas: np.ndarray,
    band: float,
    trigger: float,
    lock: np.ndarray,
    payout: bool,
    removals: list[tuple[int, int, list[bool]]] | None = None,
) -> dict[str, np.ndarray]:
    """One strategy, one day at a time, scalar loops: the rules of the kernel's docstring
    (a band that would leave a traded weight where it stands trades all to target; no
    drift trigger while a sale unbonds; removals sold into their peers before the day's
    rebalance, at the same costs)."""
    n_days, n = g.shape
    h = [0.0] * n
    cash, paid = capital, 0.0
    unb = [0.0] * n
    tranches: list[tuple[int, list[float]]] = []
    target: list[float] | None = None
    schedule = {d: list(targets[k]) for k, d in enumerate(days)}
    out = {k: np.zeros(n_days) for k in ("nav", "price", "income", "cost", "turnover")}
    for t in range(n_days):
        if t > 0:
            for j in range(n):
                inc = h[j] * g[t, j] * y[t, j]
                out["price"][t] += h[j] * (g[t, j] - 1) + unb[j] * (g[t, j] - 1)
                out["income"][t] += inc
                h[j] = h[j] * g[t, j] + (0.0 if payout else inc)
                paid += inc if payout else 0.0
                unb[j] *= g[t, j]
            tranches = [(d, [a * g[t, j] for j, a in enumerate(am)]) for d, am in tranches]
        drifted = False
        if target is not None and t > 0 and sum(unb) <= 1e-12:
            liquid = sum(h) + cash
            if liquid > 1e-12:
                dev = max(abs(h[j] / liquid - target[j]) for j in range(n))
                dev = max(dev, abs(cash / liquid - max(0.0, 1 - sum(target))))
                drifted = dev > trigger
        for d, am in list(tranches):
            if d <= t:
                for j in range(n):
                    unb[j] = max(0.0, unb[j] - am[j])
                cash += sum(am)
                tranches.remove((d, am))

        def trade(goal_w: list[float], band_: float, t: int) -> list[tuple[int, list[float]]]:
            """Trade to ``goal_w``; returns the sales that start unbonding."""
            nonlocal h, cash
            started = []
            liquid = sum(h) + cash
            cur = [x / liquid for x in h] + [cash / liquid]
            goal = [*goal_w, max(0.0, 1 - sum(goal_w))]
            keep = [
                cur[k] > 0 and goal[k] > 0 and abs(goal[k] - cur[k]) < band_ for k in range(n + 1)
            ]
            room = 1 - sum(cur[k] for k in range(n + 1) if keep[k])
            traded = sum(goal[k] for k in range(n + 1) if not keep[k])
            if traded > 0 and room > 0:
                new = [cur[k] if keep[k] else goal[k] * room / traded for k in range(n + 1)]
                if any(
                    not keep[k] and goal[k] > 0 and abs(new[k] - goal[k]) >= band_
                    for k in range(n + 1)
                ):
                    new = goal
            else:
                new = goal
            x = [w * liquid for w in new[:n]]
            xc = new[n] * liquid
            sold = [h[j] - x[j] if lock[j] > 0 and x[j] < h[j] - 1e-12 else 0.0 for j in range(n)]
            q = sum(sold)
            if q > 0:
                free = sum(x[j] for j in range(n) if sold[j] == 0) + xc
                shrink = max(0.0, 1 - q / free) if free > 1e-12 else 0.0
                x = [x[j] if sold[j] > 0 else x[j] * shrink for j in range(n)]
                xc *= shrink
            moved = [abs(x[j] - h[j]) for j in range(n)]
            cost = sum(moved[j] * rate for j in range(n) if sold[j] == 0)
            cost += sum(gas[j] for j in range(n) if moved[j] > 1e-12 * max(liquid, 1))
            available = sum(x) + xc
            pay = min(cost, available)
            factor = 1 - pay / available if available > 1e-12 else 0.0
            x = [v * factor for v in x]
            xc *= factor
            out["turnover"][t] += 0.5 * (sum(moved) + abs(xc - cash)) / liquid
            out["cost"][t] += pay
            for j in range(n):
                if sold[j] > 0:
                    unb[j] += sold[j]
            for lk in sorted({int(v) for v in lock if v > 0}):
                part = [sold[j] if lock[j] == lk else 0.0 for j in range(n)]
                if any(part):
                    started.append((t + lk, part))
            h, cash = x, xc
            return started

        def spread(x: list[float], j: int, peers: list[bool]) -> list[float]:
            out_ = list(x)
            freed, out_[j] = out_[j], 0.0
            mine = [out_[k] if peers[k] and k != j else 0.0 for k in range(n)]
            pool = mine if sum(mine) > 1e-12 else [out_[k] if k != j else 0.0 for k in range(n)]
            total = sum(pool)
            return [out_[k] + (freed * pool[k] / total if total > 1e-12 else 0.0) for k in range(n)]

        for day, j, peers in removals or []:
            if day == t and h[j] > 1e-12:
                liquid = sum(h) + cash
                assert target is not None
                target = spread(target, j, peers)
                tranches += trade([v / liquid for v in spread(h, j, peers)], 0.0, t)
        goal_w = None
        if t in schedule:
            target = goal_w = schedule[t]
        elif drifted:
            goal_w = target
        if goal_w is not None:
            tranches += trade(goal_w, band, t)
        out["nav"][t] = sum(h) + cash + paid + sum(unb)
    return out


def _market(seed: int, n_days: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = np.exp(rng.normal(0.0, 0.04, (n_days, n)))
    y = rng.uniform(0.0, 0.0008, (n_days, n))
    return g, y


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    band=st.sampled_from([0.0, 0.02]),
    trigger=st.sampled_from([np.inf, 0.03]),
    payout=st.booleans(),
    locked=st.booleans(),
    removing=st.booleans(),
)
def test_kernel_equals_a_day_by_day_reference(
    seed: int, band: float, trigger: float, payout: bool, locked: bool, removing: bool
) -> None:
    n_days, n = 70, 4
    g, y = _market(seed, n_days, n)
    rng = np.random.default_rng(seed + 1)
    days = [0, 9, 23, 31, 52]
    raw = rng.dirichlet(np.ones(n + 1), size=len(days))
    targets = raw[:, :n]  # the last share is cash
    targets[2, 1] = 0.0  # a holding leaves the portfolio (sold, possibly unbonding)
    gas = np.array([2.0, 0.5, 0.0, 1.0])
    lock = np.array([0, 5, 0, 12]) if locked else np.zeros(n, dtype=int)
    # holdings failing a screen: sold into their sleeve ({0, 1} and {2, 3}), once on a
    # scheduled day (before its rebalance), once with no peer left holding anything
    sleeves = [[True, True, False, False], [False, False, True, True]]
    removals = (
        [(15, 0, sleeves[0]), (23, 3, sleeves[1]), (40, 2, sleeves[1]), (44, 3, sleeves[1])]
        if removing
        else []
    )
    paths = simulate(
        g,
        y,
        days,
        targets,
        capital=10_000.0,
        cost_rate=0.003,
        gas=gas,
        band=band,
        drift_trigger=trigger,
        lockup_days=lock,
        payout=payout,
        removals=[(d, j, np.array(p)) for d, j, p in removals],
    )
    ref = reference(
        g,
        y,
        days,
        targets,
        capital=10_000.0,
        rate=0.003,
        gas=gas,
        band=band,
        trigger=trigger,
        lock=lock,
        payout=payout,
        removals=removals,
    )
    np.testing.assert_allclose(paths.nav[:, 0], ref["nav"], rtol=1e-10)
    np.testing.assert_allclose(paths.cost[:, 0], ref["cost"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(paths.turnover[:, 0], ref["turnover"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(paths.income_pnl[:, 0], ref["income"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(paths.price_pnl[:, 0], ref["price"], rtol=1e-9, atol=1e-7)
    # the value's change is exactly price + income - costs
    change = 10_000.0 + np.cumsum(paths.price_pnl + paths.income_pnl - paths.cost, axis=0)
    np.testing.assert_allclose(paths.nav, change, rtol=1e-10)


def test_strategies_as_columns_equal_separate_runs() -> None:
    g, y = _market(7, 120, 5)
    rng = np.random.default_rng(3)
    days = [0, 30, 61, 91]
    targets = rng.dirichlet(np.ones(5), size=(len(days), 3))  # (R, S, N)
    band = np.array([0.0, 0.01, 0.05])
    trig = np.array([np.inf, 0.04, 0.02])
    rate = np.array([[0.001], [0.002], [0.004]])
    together = simulate(
        g,
        y,
        days,
        targets,
        capital=1.0,
        cost_rate=rate,
        gas=1e-4,
        band=band,
        drift_trigger=trig,
        lockup_days=[0, 3, 0, 0, 9],
    )
    for s in range(3):
        alone = simulate(
            g,
            y,
            days,
            targets[:, s, :],
            capital=1.0,
            cost_rate=float(rate[s, 0]),
            gas=1e-4,
            band=float(band[s]),
            drift_trigger=float(trig[s]),
            lockup_days=[0, 3, 0, 0, 9],
        )
        np.testing.assert_allclose(together.nav[:, s], alone.nav[:, 0], rtol=1e-12)
        np.testing.assert_array_equal(together.rebalanced[:, s], alone.rebalanced[:, 0])
    assert together.rebalanced[:, 2].sum() > together.rebalanced[:, 0].sum()  # drift trades


def test_hand_computed_two_assets() -> None:
    # day 1: A doubles, B flat; 50/50 bought on day 0 and rebalanced on day 2
    g = np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    y = np.zeros((3, 2))
    p = simulate(g, y, [0, 2], np.array([[0.5, 0.5], [0.5, 0.5]]), capital=100.0, cost_rate=0.01)
    # funding costs 1% of 100 traded; then 99 -> A 49.5 doubles to 99, B 49.5: 148.5
    assert p.cost[0, 0] == pytest.approx(1.0)
    assert p.nav[1, 0] == pytest.approx(148.5)
    # rebalance moves 24.75 out of A into B: cost 1% of 49.5 traded
    assert p.cost[2, 0] == pytest.approx(0.495)
    assert p.nav[2, 0] == pytest.approx(148.5 - 0.495)
    assert p.turnover[2, 0] == pytest.approx(0.5 * 49.5 / 148.5)


def test_income_compounds_or_is_paid_out() -> None:
    n_days = 366
    g = np.ones((n_days, 1))
    y = np.full((n_days, 1), 0.05 / 365)
    comp = simulate(g, y, [0], np.array([[1.0]]), capital=1.0)
    paid = simulate(g, y, [0], np.array([[1.0]]), capital=1.0, payout=True)
    assert comp.nav[-1, 0] == pytest.approx((1 + 0.05 / 365) ** 365)
    assert paid.nav[-1, 0] == pytest.approx(1.05)  # simple interest, never reinvested


def test_unbonding_keeps_price_exposure_and_releases_cash_later() -> None:
    g = np.ones((20, 2))
    g[5, 0] = 0.5  # the staked coin halves while unbonding
    y = np.full((20, 2), 0.001)
    targets = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = simulate(g, y, [0, 2], targets, lockup_days=[10, 0], record_holdings=True)
    assert p.unbonding is not None and p.holdings is not None and p.cash is not None
    staked = (1.001) ** 2
    assert p.unbonding[2, 0] == pytest.approx(staked)  # nothing could be sold at once
    assert p.holdings[2, 0, 1] == pytest.approx(0.0)
    assert p.unbonding[5, 0] == pytest.approx(staked * 0.5)  # no income while unbonding
    assert p.cash[12, 0] == pytest.approx(staked * 0.5)  # released 10 days after
    assert p.unbonding[12, 0] == pytest.approx(0.0)


def test_band_weights_matches_indices_apply_band() -> None:
    from realyield.indices.rebalance import apply_band

    cur = {"a": 0.50, "b": 0.30, "c": 0.20}
    tgt = {"a": 0.505, "b": 0.20, "c": 0.295}
    expected = apply_band(cur, tgt, 0.01)
    got = band_weights(
        np.array([[0.5, 0.3, 0.2, 0.0]]), np.array([[0.505, 0.2, 0.295, 0.0]]), np.array([0.01])
    )[0]
    assert got[:3] == pytest.approx([expected["a"], expected["b"], expected["c"]])
    # one holding drifted away alone: scaled to fill the rest it would stay at 40%, so
    # both rules trade everything to the target (and a drift trigger cannot fire daily)
    goal = {"a": 0.36, "b": 0.32, "c": 0.32}
    assert apply_band({"a": 0.39, "b": 0.305, "c": 0.305}, goal, 0.02) == goal
    got = band_weights(
        np.array([[0.39, 0.305, 0.305, 0.0]]),
        np.array([[0.36, 0.32, 0.32, 0.0]]),
        np.array([0.02]),
    )[0]
    assert got == pytest.approx([0.36, 0.32, 0.32, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"growth": np.full((5, 2), np.nan)}, "finite"),
        ({"targets": np.array([[0.8, 0.8]])}, "at most 1"),
        ({"rebalance_days": [3, 1]}, "increasing"),
        ({"income": np.zeros((4, 2))}, "shape"),
        ({"band": [0.1, 0.2], "drift_trigger": [0.1, 0.2, 0.3]}, "disagree"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "growth": np.ones((5, 2)),
        "income": np.zeros((5, 2)),
        "rebalance_days": [0],
        "targets": np.array([[0.5, 0.5]]),
    }
    args.update(kwargs)
    if "rebalance_days" in kwargs:
        args["targets"] = np.array([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(DataError, match=message):
        simulate(**args)  # type: ignore[arg-type]
