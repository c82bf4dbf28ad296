"""The thin HiGHS driver: the same answers as ``scipy.optimize.linprog(method="highs")``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import linprog

from realyield.indices import lp
from realyield.indices.lp import CscMatrix

LINPROG_OPTIONS = {
    "primal_feasibility_tolerance": lp.FEASIBILITY_TOL,
    "dual_feasibility_tolerance": lp.FEASIBILITY_TOL,
}


def csc(a: NDArray[np.float64]) -> CscMatrix:
    rows, cols = np.nonzero(a)
    return CscMatrix.from_triplets(rows, cols, a[rows, cols], a.shape)


Problem = tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], int, NDArray[np.float64]
]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """Random LPs: ``n_ub`` rows ``A x <= b`` then equality rows, box bounds."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 30))
    n_ub, n_eq = draw(st.integers(0, 15)), draw(st.integers(0, 3))
    a = rng.normal(size=(n_ub + n_eq, n)) * (rng.random((n_ub + n_eq, n)) < 0.4)
    x0 = rng.uniform(0, 1, n)  # feasible most of the time; sometimes made infeasible
    b = a @ x0 + np.concatenate([rng.uniform(0, 1, n_ub), np.zeros(n_eq)])
    if draw(st.booleans()):
        b[: n_ub // 2] -= 5.0
    bounds = np.column_stack([np.zeros(n), rng.uniform(1, 2, n)])
    return rng.normal(size=n), a, b, n_ub, bounds


@settings(max_examples=120, deadline=None)
@given(problems())
def test_solve_gives_exactly_what_linprog_gives(p: Problem) -> None:
    c, a, b, n_ub, bounds = p
    n_eq = a.shape[0] - n_ub
    ref = linprog(
        c,
        A_ub=sp.csr_array(a[:n_ub]) if n_ub else None,
        b_ub=b[:n_ub] if n_ub else None,
        A_eq=sp.csr_array(a[n_ub:]) if n_eq else None,
        b_eq=b[n_ub:] if n_eq else None,
        bounds=bounds,
        method="highs",
        options=LINPROG_OPTIONS,
    )
    lower = np.concatenate([np.full(n_ub, -np.inf), b[n_ub:]])
    got = lp.solve(c, csc(a), lower, b, bounds[:, 0], bounds[:, 1], duals=True)
    assert got.status == {0: lp.OPTIMAL, 2: lp.INFEASIBLE}.get(ref.status, lp.FAILED)
    if ref.status != 0:
        assert got.x is None
        return
    assert got.x is not None and got.row_dual is not None and got.upper_dual is not None
    np.testing.assert_array_equal(got.x, ref.x)  # the same solver on the same problem
    assert got.fun == ref.fun
    np.testing.assert_array_equal(got.row_dual[:n_ub], ref.ineqlin.marginals)
    np.testing.assert_array_equal(got.row_dual[n_ub:], ref.eqlin.marginals)
    np.testing.assert_array_equal(got.upper_dual, ref.upper.marginals)
    # the fallback through linprog solves the same problem
    back = lp._solve_linprog(c, csc(a), lower, b, bounds[:, 0], bounds[:, 1])
    assert back.status == lp.OPTIMAL and back.x is not None
    np.testing.assert_array_equal(back.x, got.x)


def test_closed_form_with_duals() -> None:
    """max x + 2y s.t. x + y <= 1, 0 <= x, y <= 0.6: y = 0.6 at its bound, x = 0.4."""
    a = csc(np.array([[1.0, 1.0]]))
    res = lp.solve(
        np.array([-1.0, -2.0]),
        a,
        np.array([-np.inf]),
        np.array([1.0]),
        np.zeros(2),
        np.full(2, 0.6),
        duals=True,
    )
    assert res.status == lp.OPTIMAL and res.x is not None
    np.testing.assert_allclose(res.x, [0.4, 0.6], atol=1e-12)
    assert res.fun == pytest.approx(-1.6, abs=1e-12)
    assert res.row_dual is not None and res.upper_dual is not None
    assert res.row_dual[0] == pytest.approx(-1.0)  # one more unit of room: x gains 1
    np.testing.assert_allclose(res.upper_dual, [0.0, -1.0], atol=1e-12)  # y: 2 - 1


def test_ranged_rows_through_the_fallback() -> None:
    """1 <= x + y <= 1.5 (a two-sided row): the fallback splits it and agrees."""
    a = csc(np.array([[1.0, 1.0]]))
    args = (np.array([1.0, 3.0]), a, np.array([1.0]), np.array([1.5]), np.zeros(2), np.ones(2))
    got, back = lp.solve(*args, duals=True), lp._solve_linprog(*args)
    assert got.x is not None and back.x is not None
    np.testing.assert_allclose(got.x, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(back.x, got.x, atol=1e-12)
    assert back.fun == pytest.approx(got.fun, abs=1e-12)
    assert back.row_dual is not None and got.row_dual is not None
    assert back.row_dual[0] == pytest.approx(got.row_dual[0], abs=1e-12)


def test_failures_are_statuses_not_exceptions() -> None:
    a = csc(np.array([[1.0, 1.0]]))
    infeasible = lp.solve(np.ones(2), a, np.array([3.0]), np.array([3.0]), np.zeros(2), np.ones(2))
    assert infeasible.status == lp.INFEASIBLE and infeasible.x is None
    unbounded = lp.solve(
        -np.ones(2), a, np.array([-np.inf]), np.array([np.inf]), np.zeros(2), np.full(2, np.inf)
    )
    assert unbounded.status == lp.FAILED and unbounded.x is None
    assert "unbounded" in unbounded.message.lower()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 12))
def test_triplets_give_scipys_canonical_csc(seed: int, n_rows: int, n_cols: int) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < 0.5)
    rows, cols = np.nonzero(dense)
    shuffle = rng.permutation(rows.size)  # any order in, sorted columns out
    got = CscMatrix.from_triplets(
        rows[shuffle], cols[shuffle], dense[rows, cols][shuffle], dense.shape
    )
    ref = sp.csc_array(dense)
    np.testing.assert_array_equal(got.indptr, ref.indptr)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_array_equal(got.data, ref.data)
    np.testing.assert_array_equal(got.to_scipy().toarray(), dense)
