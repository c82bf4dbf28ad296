"""A thin driver for the HiGHS linear-programming solver, for many small LPs.

The weighting kernel solves hundreds of LPs of a few hundred variables when index
levels are replayed over years of history. HiGHS itself needs about a millisecond
for each; ``scipy.optimize.linprog`` spends two to three times that around it
(validating and re-stacking the inputs, converting the constraint matrix, checking
every solver option by name, a Python loop over the columns for the bound duals).
This module hands HiGHS the problem directly, in the form it stores:
``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``, ``A`` in
compressed-column form, with the options set once.

It drives the HiGHS build that SciPy ships (``scipy.optimize._highspy``), so the
solver, its version and its answers are exactly those ``linprog(method="highs")``
gives for the same problem (the tests pin that). That module is not public SciPy API:
if a SciPy release moves it, :func:`solve` falls back to ``linprog`` (slower, same
solver) rather than failing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

try:  # SciPy's bundled HiGHS binding (SciPy >= 1.15); see the module docstring
    import scipy.optimize._highspy._core as _highs
except ImportError:  # pragma: no cover - depends on the installed SciPy
    _highs = None

#: Primal and dual feasibility tolerance handed to HiGHS (its default is 1e-7).
FEASIBILITY_TOL = 1e-10
#: A solution further than this outside a bound or row is reported as a failure, as
#: ``linprog`` does (HiGHS works to ``FEASIBILITY_TOL`` on the scaled problem).
CHECK_TOL = 1e-9

OPTIMAL, INFEASIBLE, FAILED = 0, 2, 4


@dataclass(frozen=True)
class CscMatrix:
    """A constraint matrix in compressed-column form (HiGHS's own layout).

    Row indices are sorted within each column and no entry is repeated, as in a
    canonical ``scipy.sparse.csc_array``.
    """

    n_rows: int
    n_cols: int
    indptr: NDArray[np.int32]
    indices: NDArray[np.int32]
    data: NDArray[np.float64]

    @classmethod
    def from_triplets(
        cls,
        rows: NDArray[np.intp],
        cols: NDArray[np.intp],
        data: NDArray[np.float64],
        shape: tuple[int, int],
    ) -> CscMatrix:
        """The matrix with ``A[rows[k], cols[k]] = data[k]``; (row, col) pairs must be
        distinct (callers build blocks that do not overlap)."""
        n_rows, n_cols = shape
        order = np.lexsort((rows, cols))
        counts = np.bincount(cols, minlength=n_cols)
        indptr = np.zeros(n_cols + 1, dtype=np.int32)
        np.cumsum(counts, out=indptr[1:])
        return cls(
            n_rows,
            n_cols,
            indptr,
            np.ascontiguousarray(rows[order], dtype=np.int32),
            np.ascontiguousarray(data[order], dtype=np.float64),
        )

    def to_scipy(self) -> sp.csc_array:
        return sp.csc_array(
            (self.data, self.indices, self.indptr), shape=(self.n_rows, self.n_cols)
        )


@dataclass(frozen=True)
class LpResult:
    """What the callers read from a solve.

    ``status`` is :data:`OPTIMAL`, :data:`INFEASIBLE` or :data:`FAILED` (anything
    else: unbounded, limits, numerical trouble, a solution outside the constraints);
    ``x``, ``fun``, ``row_dual`` and ``upper_dual`` (the duals of columns sitting at
    their upper bound, 0 elsewhere) are set only when optimal.
    """

    status: int
    message: str
    x: NDArray[np.float64] | None = None
    fun: float = float("nan")
    row_dual: NDArray[np.float64] | None = None
    upper_dual: NDArray[np.float64] | None = None


def _options() -> Any:
    opts = _highs.HighsOptions()
    opts.presolve = "on"
    opts.primal_feasibility_tolerance = FEASIBILITY_TOL
    opts.dual_feasibility_tolerance = FEASIBILITY_TOL
    opts.simplex_strategy = _highs.simplex_constants.SimplexStrategy.kSimplexStrategyDual
    opts.highs_debug_level = _highs.HighsDebugLevel.kHighsDebugLevelNone
    opts.output_flag = False
    opts.log_to_console = False
    return opts


_OPTIONS = _options() if _highs is not None else None
_LOCAL = threading.local()


def _solver() -> Any:
    """This thread's HiGHS instance, options set (creating one per LP cost as much as a
    small solve; ``passModel`` replaces the model and clears what the last solve left)."""
    highs = getattr(_LOCAL, "highs", None)
    if highs is None:
        highs = _highs._Highs()
        if highs.passOptions(_OPTIONS) == _highs.HighsStatus.kError:
            raise RuntimeError("HiGHS rejected the solver options")  # a SciPy build problem
        _LOCAL.highs = highs
    return highs


def solve(
    c: NDArray[np.float64],
    a: CscMatrix,
    row_lower: NDArray[np.float64],
    row_upper: NDArray[np.float64],
    col_lower: NDArray[np.float64],
    col_upper: NDArray[np.float64],
    *,
    duals: bool = False,
) -> LpResult:
    """Minimise ``c @ x`` subject to ``row_lower <= a @ x <= row_upper`` and
    ``col_lower <= x <= col_upper`` (infinite bounds allowed; equal bounds make an
    equality). ``duals`` also returns the row duals and the upper-bound column duals
    (sign convention of ``linprog``'s marginals). Never raises on a failed solve: the
    status says what happened.
    """
    c = np.ascontiguousarray(c, dtype=np.float64)
    if _highs is None:  # pragma: no cover - depends on the installed SciPy
        return _solve_linprog(c, a, row_lower, row_upper, col_lower, col_upper)
    lp = _highs.HighsLp()
    lp.num_col_ = a.n_cols
    lp.num_row_ = a.n_rows
    lp.a_matrix_.num_col_ = a.n_cols
    lp.a_matrix_.num_row_ = a.n_rows
    lp.a_matrix_.format_ = _highs.MatrixFormat.kColwise
    lp.col_cost_ = c
    lp.col_lower_ = np.ascontiguousarray(col_lower, dtype=np.float64)
    lp.col_upper_ = np.ascontiguousarray(col_upper, dtype=np.float64)
    lp.row_lower_ = np.ascontiguousarray(row_lower, dtype=np.float64)
    lp.row_upper_ = np.ascontiguousarray(row_upper, dtype=np.float64)
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    highs = _solver()
    if highs.passModel(lp) == _highs.HighsStatus.kError:
        return LpResult(INFEASIBLE, "HiGHS rejected the model (e.g. a lower bound above its upper)")
    if highs.run() == _highs.HighsStatus.kError:
        status = highs.getModelStatus()
        return LpResult(FAILED, f"HiGHS failed: {highs.modelStatusToString(status)}")
    status = highs.getModelStatus()
    if status != _highs.HighsModelStatus.kOptimal:
        code = INFEASIBLE if status == _highs.HighsModelStatus.kInfeasible else FAILED
        return LpResult(code, f"HiGHS: {highs.modelStatusToString(status)}")
    solution = highs.getSolution()
    x = np.array(solution.col_value, dtype=np.float64)
    row_value = np.array(solution.row_value, dtype=np.float64)
    if not _within(x, row_value, col_lower, col_upper, row_lower, row_upper):
        return LpResult(FAILED, "HiGHS returned a solution outside the constraints")
    fun = float(highs.getInfo().objective_function_value)
    if not duals:
        return LpResult(OPTIMAL, "optimal", x, fun)
    basis = highs.getBasis()
    at_upper = np.array([s == _highs.HighsBasisStatus.kUpper for s in basis.col_status], dtype=bool)
    upper = np.where(at_upper, np.array(solution.col_dual, dtype=np.float64), 0.0)
    return LpResult(
        OPTIMAL, "optimal", x, fun, np.array(solution.row_dual, dtype=np.float64), upper
    )


def _within(
    x: NDArray[np.float64],
    row_value: NDArray[np.float64],
    col_lower: NDArray[np.float64],
    col_upper: NDArray[np.float64],
    row_lower: NDArray[np.float64],
    row_upper: NDArray[np.float64],
) -> bool:
    if not (np.isfinite(x).all() and np.isfinite(row_value).all()):
        return False
    return bool(
        (x >= col_lower - CHECK_TOL).all()
        and (x <= col_upper + CHECK_TOL).all()
        and (row_value >= row_lower - CHECK_TOL).all()
        and (row_value <= row_upper + CHECK_TOL).all()
    )


def _solve_linprog(
    c: NDArray[np.float64],
    a: CscMatrix,
    row_lower: NDArray[np.float64],
    row_upper: NDArray[np.float64],
    col_lower: NDArray[np.float64],
    col_upper: NDArray[np.float64],
) -> LpResult:
    """The same LP through ``linprog`` (rows split into equalities and inequalities):
    the fallback without SciPy's HiGHS binding, and the tests' reference."""
    m = a.to_scipy().tocsr()
    eq = row_lower == row_upper
    ub_hi = ~eq & np.isfinite(row_upper)
    ub_lo = ~eq & np.isfinite(row_lower)
    a_ub = sp.vstack([m[ub_hi], -m[ub_lo]], format="csr")
    b_ub = np.concatenate([row_upper[ub_hi], -row_lower[ub_lo]])
    res = linprog(
        c,
        A_ub=a_ub if a_ub.shape[0] else None,
        b_ub=b_ub if a_ub.shape[0] else None,
        A_eq=m[eq] if eq.any() else None,
        b_eq=row_lower[eq] if eq.any() else None,
        bounds=np.column_stack([col_lower, col_upper]),
        method="highs",
        options={
            "primal_feasibility_tolerance": FEASIBILITY_TOL,
            "dual_feasibility_tolerance": FEASIBILITY_TOL,
        },
    )
    if res.status != 0:
        return LpResult(INFEASIBLE if res.status == 2 else FAILED, str(res.message))
    row_dual = np.zeros(a.n_rows)
    n_hi = int(ub_hi.sum())
    row_dual[ub_hi] = res.ineqlin.marginals[:n_hi]
    row_dual[ub_lo] = -res.ineqlin.marginals[n_hi:]
    if eq.any():
        row_dual[eq] = res.eqlin.marginals
    return LpResult(
        OPTIMAL,
        "optimal",
        np.asarray(res.x, dtype=np.float64),
        float(res.fun),
        row_dual,
        np.asarray(res.upper.marginals, dtype=np.float64),
    )
