"""The membership matrix against scipy.sparse on random groups."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.indices.membership import Membership


@st.composite
def memberships(draw: st.DrawFn) -> tuple[list[np.ndarray], int]:
    n = draw(st.integers(1, 12))
    groups = draw(st.lists(st.sets(st.integers(0, n - 1)), max_size=6))
    return [np.array(sorted(g), dtype=np.intp) for g in groups], n


@given(memberships(), st.data())
@settings(max_examples=200, deadline=None)
def test_same_as_a_scipy_compressed_row_matrix(
    case: tuple[list[np.ndarray], int], data: st.DataObject
) -> None:
    groups, n = case
    ours = Membership.from_rows(groups, n)
    indptr = np.cumsum([0] + [g.size for g in groups])
    indices = np.concatenate(groups) if groups else np.zeros(0, np.intp)
    ref = sp.csr_array((np.ones(indices.size), indices, indptr), shape=(len(groups), n))
    w = np.asarray(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    assert ours.shape == ref.shape
    assert np.array_equal(ours @ w, ref @ w)  # same order of addition: equal to the bit
    rows = np.asarray(
        sorted(data.draw(st.sets(st.integers(0, max(len(groups) - 1, 0))))) if groups else [],
        dtype=np.intp,
    )
    if rows.size:
        assert np.array_equal(ours.select_rows(rows) @ w, ref[rows] @ w)
    active = np.asarray(
        sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), dtype=np.intp
    )
    sub, ref_sub = ours.select_columns(active), ref[:, active].tocsr()
    assert sub.shape == ref_sub.shape
    dense = np.zeros(sub.shape)
    dense[sub.rows, sub.indices] = 1.0
    assert np.array_equal(dense, ref_sub.toarray())
