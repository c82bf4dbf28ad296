"""The weighting kernel every index uses: exact caps on shared dependencies.

Ten pools that all rest on one protocol, one stablecoin issuer or one chain are one bet,
so an index caps not only each holding but every dependency its holdings share. The
caps overlap (one pool is in its protocol, chain and issuer groups at once), which rules
out the classic cap-and-redistribute loop: capping one group pushes weight into another.
:func:`capped_weights` therefore states the problem as a linear programme and solves it
exactly with HiGHS (the build SciPy ships, driven directly by :mod:`realyield.indices.lp`;
the answers are ``scipy.optimize.linprog(method="highs")``'s):

* stage 1 finds the smallest L1 distance ``sum |w_i - t_i|`` to the target proportions
  under every cap (variables split as kept target plus excess, so the LP has one row per
  group and one for the sum);
* stage 2 (only when zero-target candidates were given weight) keeps that distance and
  gives as little weight as possible to candidates whose target is zero;
* stage 3 keeps both and picks, among the many L1-optimal answers, the one that scales
  holdings together: freed weight spread in proportion to the targets, a capped group
  cut by one factor across its members (a bare LP vertex would drop some members and
  keep others whole). With only the single cap this is exactly the water-filling of
  :func:`capped_proportional`.

The L1 objective has one visible consequence: cutting a holding that sits in two capped
groups relieves both at the price of one, so such holdings are cut first, to zero if
need be, before holdings in a single capped group.

A last repair step clips solver noise (HiGHS works to a tolerance) so that every cap holds
to floating point and the weights sum to one to 1e-12.

Pure numpy/scipy: arrays in, arrays out; the index constructor wraps it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from realyield.core.errors import ConfigError, DataError
from realyield.indices import lp
from realyield.indices.lp import CscMatrix
from realyield.indices.membership import Membership

#: A weight above this is a constituent; anything at or below it is returned as 0.
CONSTITUENT_EPS = 1e-9
#: Tolerance on the sum of the weights and on the single-holding cap.
SUM_TOL = 1e-12
#: Tolerance on group (dependency) caps.
GROUP_TOL = 1e-9

_STAGE_SLACK = 1e-9  # how much of the stage-1 optimum later stages may give up


class InfeasibleWeightsError(DataError):
    """The caps, minimum weight or minimum constituent count cannot all hold.

    ``reason`` names the binding constraint in plain words (e.g. "single cap 10% needs at
    least 10 candidates, got 7"); callers keep their previous weights and report it.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, eq=False)
class CapGroup:
    """Candidates whose summed weight must stay at or below ``cap`` (a fraction).

    ``key`` names the shared dependency (``protocol:aave``, ``chain:Ethereum``,
    ``issuer:circle``); ``members`` are candidate positions. Groups may overlap freely.
    Members are stored sorted and de-duplicated (a group is a set). Compared by identity,
    since array fields make value equality ambiguous.

    Raises:
        ConfigError: empty key, or cap outside (0, 1].
        DataError: members not a one-dimensional array of non-negative integers.
    """

    key: str
    members: NDArray[np.intp]
    cap: float

    def __post_init__(self) -> None:
        if not self.key:
            raise ConfigError("a cap group needs a non-empty key (e.g. 'protocol:aave')")
        cap = _fraction(f"cap of group {self.key}", self.cap)
        members = np.asarray(self.members)
        if members.ndim != 1:
            raise DataError(
                f"cap group {self.key}: members must be a 1-D array of candidate indices, "
                f"got shape {members.shape}"
            )
        if members.size and not np.issubdtype(members.dtype, np.integer):
            raise DataError(
                f"cap group {self.key}: members must be integer candidate indices, "
                f"got dtype {members.dtype}"
            )
        members = np.unique(members.astype(np.intp))
        if members.size and members[0] < 0:
            raise DataError(f"cap group {self.key}: member index {int(members[0])} is negative")
        members.setflags(write=False)
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "cap", cap)


# --------------------------------------------------------------------------- validation


def _pct(x: float) -> str:
    return f"{x * 100:.4g}%"


def _floor_pct(x: float) -> str:
    """A share rounded down, so "at most 83.33%" is never an overstatement."""
    return f"{math.floor(x * 10_000 + 1e-9) / 100:g}%"


def _fraction(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number in (0, 1], got {value!r}") from exc
    if not 0.0 < v <= 1.0:
        raise ConfigError(f"{name} must be a fraction in (0, 1], got {value!r}")
    return v


def _target_shares(target: NDArray[np.float64] | Sequence[float]) -> NDArray[np.float64]:
    """Validated target proportions summing to one.

    Raises:
        DataError: not 1-D, non-finite or negative entries.
        InfeasibleWeightsError: no candidates, or every target is zero.
    """
    try:
        t = np.asarray(target, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"target must be an array of numbers: {exc}") from exc
    if t.ndim != 1:
        raise DataError(f"target must be one-dimensional, got shape {t.shape}")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise DataError(
            f"target[{int(bad[0])}] is {t[bad[0]]}: targets must be finite "
            f"({bad.size} non-finite value(s))"
        )
    neg = np.flatnonzero(t < 0)
    if neg.size:
        raise DataError(
            f"target[{int(neg[0])}] = {t[neg[0]]:g} is negative: targets are non-negative "
            f"proportions ({neg.size} negative value(s))"
        )
    if t.size == 0:
        raise InfeasibleWeightsError("no candidates to weight")
    top = float(t.max())
    if top == 0.0:
        raise InfeasibleWeightsError(
            f"every target is zero: none of the {t.size} candidates has a positive target"
        )
    t = t / top  # avoids overflow of the sum for huge inputs
    shares: NDArray[np.float64] = t / t.sum()
    return shares


def _group_matrix(groups: Sequence[CapGroup], n: int) -> Membership:
    """Groups x candidates 0/1 membership matrix.

    Raises:
        DataError: a member index is out of range.
    """
    for k, g in enumerate(groups):
        if not isinstance(g, CapGroup):
            raise DataError(f"groups[{k}] is {type(g).__name__}, expected CapGroup")
        if g.members.size and g.members[-1] >= n:
            raise DataError(
                f"cap group {g.key}: member index {int(g.members[-1])} is out of range "
                f"for {n} candidates"
            )
    return Membership.from_rows([g.members for g in groups], n)


# --------------------------------------------------------------------------- checker


def check_weights(
    w: NDArray[np.float64],
    *,
    single_cap: float,
    groups: Sequence[CapGroup],
    min_constituents: int = 1,
    min_weight: float = 0.0,
    tol: float = SUM_TOL,
    group_tol: float = GROUP_TOL,
) -> list[str]:
    """The rules ``w`` breaks, in words; an empty list means every rule holds.

    Rules: finite, non-negative, summing to 1 (within ``tol``), each weight at most
    ``single_cap`` (+ ``tol``), each group's sum at most its cap (+ ``group_tol``), at
    least ``min_constituents`` weights above 1e-9, and no constituent below
    ``min_weight``. Used as the post-condition of :func:`capped_weights` and by callers
    that adjust weights afterwards (e.g. dropping a screened-out holding).

    Raises:
        DataError: ``w`` is not one-dimensional or a group member is out of range.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1:
        raise DataError(f"weights must be one-dimensional, got shape {w.shape}")
    problems: list[str] = []
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        return [f"{bad.size} weight(s) are not finite (first at position {int(bad[0])})"]
    neg = np.flatnonzero(w < 0)
    if neg.size:
        problems.append(
            f"{neg.size} weight(s) are negative (position {int(neg[0])}: {w[neg[0]]:g})"
        )
    total = float(w.sum())
    if abs(total - 1.0) > tol:
        problems.append(f"weights sum to {total!r}, not 1")
    over = np.flatnonzero(w > single_cap + tol)
    if over.size:
        worst = int(over[np.argmax(w[over])])
        problems.append(
            f"{over.size} weight(s) exceed the single cap {_pct(single_cap)} "
            f"(position {worst}: {_pct(float(w[worst]))})"
        )
    if groups:
        sums = _group_matrix(groups, w.size) @ w
        for g, s in zip(groups, sums, strict=True):
            if s > g.cap + group_tol:
                problems.append(
                    f"group {g.key} sums to {_pct(float(s))}, above its cap {_pct(g.cap)}"
                )
    count = int((w > CONSTITUENT_EPS).sum())
    if count < min_constituents:
        problems.append(f"{count} constituent(s), fewer than the minimum {min_constituents}")
    if min_weight > 0:
        dust = np.flatnonzero((w > CONSTITUENT_EPS) & (w < min_weight - tol))
        if dust.size:
            problems.append(f"{dust.size} holding(s) below the minimum weight {_pct(min_weight)}")
    return problems


# --------------------------------------------------------------------------- water-filling


def capped_proportional(
    target: NDArray[np.float64] | Sequence[float], cap: float
) -> NDArray[np.float64]:
    """Market-cap style weights with a single-asset cap (classic water-filling).

    Weights are proportional to ``target`` except that any weight above ``cap`` is cut to
    ``cap`` and the excess redistributed proportionally over the rest, repeatedly. The
    fixed point is unique: the ``k`` largest targets sit at the cap and the others share
    ``1 - k * cap`` in proportion to their targets, with the smallest ``k`` for which no
    uncapped weight exceeds the cap. Computed exactly in one sorted pass (no iteration).
    Zero targets get zero weight.

    Raises:
        DataError: NaN, infinite or negative targets.
        ConfigError: cap outside (0, 1].
        InfeasibleWeightsError: fewer than ``ceil(1 / cap)`` positive targets, or none.
    """
    t = _target_shares(target)
    u = _fraction("cap", cap)
    n_pos = int((t > 0).sum())
    if n_pos * u < 1.0 - SUM_TOL:
        raise InfeasibleWeightsError(
            f"cap {_pct(u)} needs at least {math.ceil(1.0 / u - 1e-9)} candidates with a "
            f"positive target, got {n_pos}"
        )
    order = np.argsort(-t, kind="stable")[:n_pos]
    ts = t[order]
    suffix = np.cumsum(ts[::-1])[::-1]  # suffix[k] = sum of ts[k:]
    k = np.arange(n_pos)
    remaining = 1.0 - k * u
    factor = remaining / suffix
    fits = np.flatnonzero((remaining > 0) & (ts * factor <= u))
    w = np.zeros(t.size, dtype=np.float64)
    if fits.size:
        k_star = int(fits[0])
        ws = np.where(k < k_star, u, np.minimum(ts * factor[k_star], u))
    else:  # n_pos * cap == 1 up to rounding: everything sits at the cap
        ws = np.full(n_pos, 1.0 / n_pos)
    w[order] = ws
    return w


# --------------------------------------------------------------------------- the LP


def _entries(gm: Membership) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(group, candidate) of every membership, in row order: the blocks the LPs are built
    from (numpy triplets and one compressed-column conversion per LP, no sparse stacking)."""
    return gm.rows, gm.indices


def _ub_rows(caps: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower bounds of the cap rows ``sum w <= cap``: none."""
    return np.full(caps.size, -np.inf)


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _capacity_reason(
    u: float, gm: Membership, caps: NDArray[np.float64], keys: Sequence[str]
) -> tuple[float, str]:
    """The most the caps let one allocate, and the caps that bind it (in words)."""
    n_rows, m = gm.shape
    g_rows, g_cols = _entries(gm)
    res = lp.solve(
        -np.ones(m),
        CscMatrix.from_triplets(g_rows, g_cols, np.ones(g_rows.size), (n_rows, m)),
        _ub_rows(caps),
        caps,
        np.zeros(m),
        np.full(m, u),
        duals=True,
    )
    if res.status != lp.OPTIMAL:  # cannot happen (w = 0 is feasible); say what we know
        return math.nan, f"the caps cannot be met ({res.message})"
    assert res.row_dual is not None and res.upper_dual is not None
    most = float(-res.fun)
    parts: list[str] = []
    if gm.shape[0]:
        duals = res.row_dual
        binding = np.flatnonzero(duals < -1e-9)
        binding = binding[np.argsort(duals[binding], kind="stable")]
        parts = [f"{keys[i]} ({_pct(float(caps[i]))})" for i in binding[:6]]
        if binding.size > 6:
            parts.append(f"{binding.size - 6} more groups")
    at_single = int((res.upper_dual < -1e-9).sum())
    if at_single:
        parts.append(f"the single cap {_pct(u)} on {at_single} candidate(s)")
    what = "caps on " + _join(parts) if parts else "the caps"
    return most, f"{what} leave at most {_floor_pct(most)} to allocate"


def _repair(
    w: NDArray[np.float64], u: float, gm: Membership, caps: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Remove solver noise: clip, zero dust, scale down over-cap groups, sum to one.

    Scaling a group down only lowers every other group, so one pass leaves all groups at
    or below their caps. The weights are then renormalised exactly when that breaks no
    cap; otherwise the residual shortfall (of the order of the solver tolerance) goes to
    holdings with headroom under every cap that applies to them (held ones first, to
    create no new holding).
    """
    w = np.clip(w, 0.0, u)
    w[w <= CONSTITUENT_EPS] = 0.0
    if gm.shape[0]:
        sums = gm @ w
        for g in np.flatnonzero(sums > caps):
            mem = gm.members(int(g))
            s = float(w[mem].sum())
            if s > caps[g]:
                w[mem] *= caps[g] / s * (1.0 - 4e-16)
    total = float(w.sum())
    if total > 1.0:
        w /= total
    elif total < 1.0:  # exact renormalisation, kept only if it breaks no cap
        scaled = w / total
        if scaled.max() <= u and (gm.shape[0] == 0 or bool((gm @ scaled <= caps).all())):
            w = scaled
    for _ in range(64):
        short = 1.0 - float(w.sum())
        if short <= SUM_TOL / 4:
            break
        room = u - w
        if gm.shape[0]:
            slack = caps - gm @ w
            np.minimum.at(room, gm.indices, slack[gm.rows])
        room[room < 0] = 0.0
        # prefer held positions, then the most room
        order = np.lexsort((-room, w <= 0))
        i = int(order[0])
        if room[i] <= 0:
            break
        w[i] += min(room[i], short)
    return w


def _spread(
    t: NDArray[np.float64],
    u: float,
    gm: Membership,
    caps: NDArray[np.float64],
    shortfall: float,
    zero_total: float,
    start: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    """Stage 3: among the L1-optimal weights, the one that scales holdings uniformly.

    A plain LP vertex meets a group cap by dropping some members and keeping others
    whole; an index should scale the members down together. So every positive-target
    weight is written ``w_i = t_i (nu - sum mu_g - kappa_c - pi_i)``: one index-wide
    factor ``nu``, a cut ``mu_g >= 0`` shared by all members of each group at its cap, a
    cut ``kappa_c >= 0`` shared by all candidates in exactly the same set of capped
    groups (the L1 optimum first cuts holdings that relieve several caps at once), and
    an individual cut ``pi_i >= 0``. Minimising ``nu + sum t_i pi_i + sum m_c kappa_c / 2``
    (``m_c`` the cell's target mass) spreads freed weight in proportion to the targets
    and prefers shared cuts to individual ones. The groups "at their cap" are those of
    the previous solution (first stage 1's), re-solved until they no longer change (a
    vertex of stage 1 touches some caps by accident and misses groups that the spread
    fills up); holdings put at the single cap by an individual cut are fixed there, as
    water-filling does, so the single cap does not distort the shared cuts. At most
    eight rounds; every round's solution is L1-optimal and meets every cap, so stopping
    early only costs evenness. The total shortfall
    ``sum max(0, t_i - w_i)`` stays at the stage-1 optimum and zero-target candidates at
    the stage-2 minimum. ``None`` if the solver fails (the caller keeps the stage-1/2
    solution).
    """
    pos = np.flatnonzero(t > 0)
    tight = np.flatnonzero(gm @ start >= caps - GROUP_TOL)
    # held at the single cap, out of the family; start with targets above the cap that
    # stage 1 holds at it (if that guess is wrong the first LP fails and we start empty)
    fixed = (t[pos] >= u) & (start[pos] >= u - SUM_TOL)
    best: NDArray[np.float64] | None = None
    # The rounds can cycle between two sets of groups at their cap; a round's LP depends
    # only on (tight, fixed), so a repeated state reuses its solution: the same rounds
    # and the same answer, without solving the same LP again.
    solutions: dict[tuple[bytes, bytes], tuple[NDArray[np.float64], NDArray[np.float64]] | None]
    solutions = {}

    def solve(
        tight: NDArray[np.intp], fixed: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        key = (tight.tobytes(), fixed.tobytes())
        if key not in solutions:
            solutions[key] = _spread_lp(t, u, gm, caps, shortfall, zero_total, tight, fixed)
        return solutions[key]

    for _ in range(8):
        solved = solve(tight, fixed)
        if solved is None and best is None and fixed.any():
            fixed[:] = False
            solved = solve(tight, fixed)
        if solved is None:
            break
        best, cut = solved
        at_cap = np.flatnonzero(gm @ best >= caps - GROUP_TOL)
        capped = (~fixed) & (best[pos] >= u - SUM_TOL) & (cut > SUM_TOL)
        if np.array_equal(at_cap, tight) and not capped.any():
            break
        tight = at_cap
        fixed |= capped
    return best


def _spread_lp(
    t: NDArray[np.float64],
    u: float,
    gm: Membership,
    caps: NDArray[np.float64],
    shortfall: float,
    zero_total: float,
    tight: NDArray[np.intp],
    fixed: NDArray[np.bool_],
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """One stage-3 LP: the weights and the individual cuts ``pi`` (per positive target)."""
    m = t.size
    pos = np.flatnonzero(t > 0)
    zero = np.flatnonzero(t == 0)
    p, n_rows = pos.size, gm.shape[0]
    tp = t[pos]
    free = np.flatnonzero(~fixed)
    f, tf = free.size, tp[free]
    # memberships of free positive candidates in tight groups, by free row then group
    g_rows, g_cols = _entries(gm)
    tight_of = np.full(n_rows, -1, dtype=np.intp)
    tight_of[tight] = np.arange(tight.size)
    free_of = np.full(m, -1, dtype=np.intp)
    free_of[pos[free]] = np.arange(f)
    hit = (tight_of[g_rows] >= 0) & (free_of[g_cols] >= 0)
    mem_row, mem_group = free_of[g_cols[hit]], tight_of[g_rows[hit]]
    order = np.lexsort((mem_group, mem_row))
    mem_row, mem_group = mem_row[order], mem_group[order]
    # a cell: the free candidates in exactly the same set of tight groups (in order of
    # first appearance)
    bounds = np.searchsorted(mem_row, np.arange(f + 1))
    cell_of: dict[bytes, int] = {}
    in_cell = np.flatnonzero(np.diff(bounds) > 0)
    cell_idx = np.array(
        [
            cell_of.setdefault(mem_group[bounds[i] : bounds[i + 1]].tobytes(), len(cell_of))
            for i in in_cell
        ],
        dtype=np.intp,
    )
    k, nt = len(cell_of), tight.size
    # columns: w (m) | d (p) | pi (p) | kappa (k) | mu (nt) | nu (1)
    n_var = m + 2 * p + k + nt + 1
    c_d, c_pi, c_kappa, c_mu, c_nu = m, m + p, m + 2 * p, m + 2 * p + k, n_var - 1
    # rows: caps (n_rows) | shortfall d_i >= t_i - w_i (p) | sum d | [sum of zero-target
    # weights] | family w_i = t_i (nu - sum mu - kappa - pi_i) (f) | sum w = 1
    r_short, r_sum_d = n_rows, n_rows + p
    with_zero_row = zero.size > 0 and zero_total > CONSTITUENT_EPS
    r_family = r_sum_d + 1 + int(with_zero_row)
    r_total = r_family + f
    ar_p, ar_f = np.arange(p), np.arange(f)
    blocks = [
        (g_rows, g_cols, np.ones(g_rows.size)),
        (r_short + ar_p, pos, np.full(p, -1.0)),
        (r_short + ar_p, c_d + ar_p, np.full(p, -1.0)),
        (np.full(p, r_sum_d), c_d + ar_p, np.ones(p)),
        (r_family + ar_f, pos[free], np.ones(f)),
        (r_family + ar_f, c_pi + free, tf),
        (r_family + in_cell, c_kappa + cell_idx, tf[in_cell]),
        (r_family + mem_row, c_mu + mem_group, tf[mem_row]),
        (r_family + ar_f, np.full(f, c_nu), -tf),
        (np.full(m, r_total), np.arange(m), np.ones(m)),
    ]
    if with_zero_row:
        blocks.append((np.full(zero.size, r_sum_d + 1), zero, np.ones(zero.size)))
    a = CscMatrix.from_triplets(
        np.concatenate([b[0] for b in blocks]),
        np.concatenate([b[1] for b in blocks]),
        np.concatenate([b[2] for b in blocks]),
        (r_total + 1, n_var),
    )
    row_hi = np.concatenate(
        [
            caps,
            -tp,
            [shortfall + _STAGE_SLACK],
            [zero_total + _STAGE_SLACK] if with_zero_row else [],
            np.zeros(f),
            [1.0],
        ]
    )
    row_lo = row_hi.copy()
    row_lo[:r_family] = -np.inf
    lo, hi = np.zeros(n_var), np.full(n_var, np.inf)
    hi[:m] = u
    lo[pos[fixed]] = u
    hi[c_d : c_d + p] = tp
    if zero.size and not with_zero_row:
        hi[zero] = 0.0
    c = np.zeros(n_var)
    c[c_pi + free] = tf
    c[c_kappa : c_kappa + k] = 0.5 * np.bincount(cell_idx, weights=tf[in_cell], minlength=k)
    c[c_nu] = 1.0
    res = lp.solve(c, a, row_lo, row_hi, lo, hi)
    if res.x is None:
        return None
    return res.x[:m], res.x[c_pi : c_pi + p]


def _solve(
    t: NDArray[np.float64],
    u: float,
    gm: Membership,
    caps: NDArray[np.float64],
    keys: Sequence[str],
    *,
    explain: bool = True,
) -> NDArray[np.float64]:
    """Capped weights for one candidate set (``t`` sums to 1); see the module docstring.

    Raises:
        InfeasibleWeightsError: the caps cannot be met; with ``explain`` the message
            names the binding caps (one more LP), else it only says so (for a caller
            that tries another candidate set anyway).
    """
    m = t.size
    if m * u < 1.0 - SUM_TOL:
        raise InfeasibleWeightsError(
            f"single cap {_pct(u)} needs at least {math.ceil(1.0 / u - 1e-9)} candidates, got {m}"
        )
    # A group cap that even all its members at the single cap cannot reach never binds.
    reach = np.minimum(gm @ np.full(m, u), 1.0)
    live = np.flatnonzero(caps < reach)
    gm, caps = gm.select_rows(live), caps[live]
    keys = [keys[int(i)] for i in live]
    n_rows = gm.shape[0]

    if (t <= u).all() and (n_rows == 0 or bool((gm @ t <= caps).all())):
        return _repair(t.copy(), u, gm, caps)  # the target already meets every cap

    # w = a + b: a in [0, min(t, u)] is the part of the target kept, b in [0, u - t]
    # the excess. Every feasible w splits this way, and the L1 distance is 2 (1 - sum a).
    a_cols = np.flatnonzero(t > 0)
    b_cols = np.flatnonzero(t < u)
    a_ub = np.minimum(t[a_cols], u)
    b_ub = u - t[b_cols]
    na, nb = a_cols.size, b_cols.size
    # the caps over (a, b): each membership of candidate i appears in a_i's and b_i's column
    g_rows, g_cols = _entries(gm)
    a_of = np.full(m, -1, dtype=np.intp)
    a_of[a_cols] = np.arange(na)
    b_of = np.full(m, -1, dtype=np.intp)
    b_of[b_cols] = na + np.arange(nb)
    in_a, in_b = a_of[g_cols] >= 0, b_of[g_cols] >= 0
    ab_rows = np.concatenate([g_rows[in_a], g_rows[in_b]])
    ab_cols = np.concatenate([a_of[g_cols[in_a]], b_of[g_cols[in_b]]])
    col_lo = np.zeros(na + nb)
    col_hi = np.concatenate([a_ub, b_ub])
    everything = np.arange(na + nb)

    def weights_of(x: NDArray[np.float64]) -> NDArray[np.float64]:
        w = np.zeros(m)
        np.add.at(w, a_cols, x[:na])
        np.add.at(w, b_cols, x[na : na + nb])
        return w

    # stage 1: the most target kept; rows: caps | sum of weights = 1
    a1 = CscMatrix.from_triplets(
        np.concatenate([ab_rows, np.full(na + nb, n_rows)]),
        np.concatenate([ab_cols, everything]),
        np.ones(ab_rows.size + na + nb),
        (n_rows + 1, na + nb),
    )
    res1 = lp.solve(
        np.concatenate([-np.ones(na), np.zeros(nb)]),
        a1,
        np.append(_ub_rows(caps), 1.0),
        np.append(caps, 1.0),
        col_lo,
        col_hi,
    )
    if res1.status == lp.INFEASIBLE:
        raise InfeasibleWeightsError(
            _capacity_reason(u, gm, caps, keys)[1] if explain else "the caps cannot be met"
        )
    if res1.x is None:
        raise InfeasibleWeightsError(f"the weighting LP failed: {res1.message}")
    x = res1.x
    kept = float(x[:na].sum())
    if kept >= 1.0 - SUM_TOL:
        return _repair(weights_of(x), u, gm, caps)

    keep_bound = -(kept - _STAGE_SLACK)
    zero_b = np.flatnonzero(t[b_cols] == 0)  # positions within b of zero-target candidates
    zero_total = float(x[na + zero_b].sum()) if zero_b.size else 0.0
    if zero_total > CONSTITUENT_EPS:
        # stage 2: the least weight on zero targets; rows: caps | kept | sum = 1
        c2 = np.zeros(na + nb)
        c2[na + zero_b] = 1.0
        a2 = CscMatrix.from_triplets(
            np.concatenate([ab_rows, np.full(na, n_rows), np.full(na + nb, n_rows + 1)]),
            np.concatenate([ab_cols, np.arange(na), everything]),
            np.concatenate([np.ones(ab_rows.size), -np.ones(na), np.ones(na + nb)]),
            (n_rows + 2, na + nb),
        )
        res2 = lp.solve(
            c2,
            a2,
            np.concatenate([_ub_rows(caps), [-np.inf, 1.0]]),
            np.concatenate([caps, [keep_bound, 1.0]]),
            col_lo,
            col_hi,
        )
        if res2.x is not None:
            x = res2.x
            zero_total = res2.fun

    spread = _spread(t, u, gm, caps, 1.0 - kept, zero_total, weights_of(x))
    w = weights_of(x) if spread is None else spread
    w = _repair(w, u, gm, caps)
    if abs(float(w.sum()) - 1.0) > SUM_TOL:
        raise InfeasibleWeightsError(
            _capacity_reason(u, gm, caps, keys)[1] if explain else "the caps cannot be met"
        )
    return w


def capped_weights(
    target: NDArray[np.float64],
    *,
    single_cap: float,
    groups: Sequence[CapGroup],
    min_constituents: int = 1,
    min_weight: float = 0.0,
) -> NDArray[np.float64]:
    """Weights as close as possible to ``target`` (L1) under every cap, summing to one.

    ``target`` holds non-negative desired proportions (market cap, risk-adjusted yield;
    zeros allowed: such candidates are eligible but take weight only when the caps leave
    no other way). The result satisfies ``0 <= w <= single_cap``, every group's sum at or
    below its cap (to 1e-9), ``sum(w) == 1`` (to 1e-12) and ``sum |w - t|`` minimal,
    ties among L1-optimal answers broken by scaling holdings together (see the module
    docstring). When the target already meets every cap it is returned unchanged (bar
    weights of 1e-9 or less, which become 0). Holdings below ``min_weight`` are dropped and the
    problem re-solved on the rest until none is left (no dust); when dropping them would
    break a cap, fewer (the smallest first) are dropped, and if even one cannot go, the
    dust stays: caps are hard rules, the minimum weight is not. Weights at or below 1e-9
    are returned as exactly 0.

    Raises:
        DataError: NaN, infinite or negative targets; a group member out of range.
        ConfigError: ``single_cap`` outside (0, 1], ``min_weight`` outside
            [0, single_cap], ``min_constituents`` below 1.
        InfeasibleWeightsError: no weights meet the caps (the message names the binding
            caps and how much they leave to allocate, or the single cap and the count it
            needs), or fewer than ``min_constituents`` holdings remain.
    """
    t = _target_shares(target)
    n = t.size
    u = _fraction("single_cap", single_cap)
    if not 0.0 <= float(min_weight) <= u:
        raise ConfigError(f"min_weight must be in [0, single_cap = {u:g}], got {min_weight!r}")
    if int(min_constituents) != min_constituents or min_constituents < 1:
        raise ConfigError(f"min_constituents must be an integer >= 1, got {min_constituents!r}")
    gm_all = _group_matrix(groups, n)
    caps_all = np.array([g.cap for g in groups], dtype=np.float64)
    keys = [g.key for g in groups]
    if n < min_constituents:
        raise InfeasibleWeightsError(
            f"at least {min_constituents} constituents required, got {n} candidates"
        )

    def solve_on(active: NDArray[np.intp], *, explain: bool = False) -> NDArray[np.float64]:
        ta = t[active]
        total = float(ta.sum())
        if total <= 0.0:
            raise InfeasibleWeightsError("no remaining candidate has a positive target")
        gm = gm_all.select_columns(active)
        return _solve(ta / total, u, gm, caps_all, keys, explain=explain)

    active = np.arange(n)
    wa = solve_on(active, explain=True)  # infeasible here: the caps themselves cannot be met
    dropped = 0
    while True:
        small = np.flatnonzero((wa > 0) & (wa < min_weight))
        if small.size == 0:
            break
        # Drop the dust; if that breaks a cap, drop only the smallest half of it, down to
        # one holding; if even that breaks a cap, keep the dust (caps come first).
        order = small[np.argsort(wa[small], kind="stable")]
        take = order.size
        while take >= 1:
            keep = np.ones(active.size, dtype=bool)
            keep[order[:take]] = False
            try:
                wa_next = solve_on(active[keep])
            except InfeasibleWeightsError:
                take //= 2
                continue
            dropped += take
            active, wa = active[keep], wa_next
            break
        else:
            break

    w = np.zeros(n)
    w[active] = wa
    count = int((w > CONSTITUENT_EPS).sum())
    if count < min_constituents:
        after = (
            f" after dropping {dropped} holding(s) below the minimum weight {_pct(min_weight)}"
            if dropped
            else ""
        )
        raise InfeasibleWeightsError(
            f"only {count} constituent(s){after}, fewer than the minimum {min_constituents}"
        )
    # dust kept on purpose (dropping it would break a cap) is not a defect
    kept_dust = bool(((w > CONSTITUENT_EPS) & (w < min_weight)).any())
    problems = check_weights(
        w,
        single_cap=u,
        groups=groups,
        min_constituents=min_constituents,
        min_weight=0.0 if kept_dust else min_weight,
    )
    if problems:  # defensive: the solver's tolerance defeated the repair step
        raise InfeasibleWeightsError("numerical trouble, " + "; ".join(problems))
    return w
