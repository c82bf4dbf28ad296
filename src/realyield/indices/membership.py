"""Which candidates each cap group holds: a 0/1 groups x candidates matrix, row by row.

The weighting kernel needs four things of it (group sums of a weight vector, a subset
of groups, a subset of candidates, the (group, candidate) pairs) on matrices of a few
dozen rows, hundreds of times per level replay. ``scipy.sparse`` answers each through
layers of format checks that cost more than the arithmetic; this is the same
compressed-row layout with just those operations. Group sums add each row's members in
stored order, as a compressed-row product does, so results are the same to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Membership:
    """Row ``g`` holds candidates ``indices[indptr[g]:indptr[g + 1]]`` (ascending)."""

    indptr: NDArray[np.intp]
    indices: NDArray[np.intp]
    n_cols: int
    rows: NDArray[np.intp] = field(init=False, repr=False)  # the group of each entry

    def __post_init__(self) -> None:
        counts = np.diff(self.indptr)
        object.__setattr__(self, "rows", np.repeat(np.arange(counts.size, dtype=np.intp), counts))

    @classmethod
    def from_rows(cls, members: list[NDArray[np.intp]], n_cols: int) -> Membership:
        indptr = np.zeros(len(members) + 1, dtype=np.intp)
        np.cumsum([m.size for m in members], out=indptr[1:])
        indices = np.concatenate(members).astype(np.intp) if members else np.zeros(0, np.intp)
        return cls(indptr, indices, n_cols)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.indptr.size - 1, self.n_cols)

    def __matmul__(self, w: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each group's sum of ``w``."""
        sums: NDArray[np.float64] = np.bincount(
            self.rows, weights=w[self.indices], minlength=self.shape[0]
        ).astype(np.float64, copy=False)
        return sums

    def members(self, g: int) -> NDArray[np.intp]:
        return self.indices[self.indptr[g] : self.indptr[g + 1]]

    def select_rows(self, keep: NDArray[np.intp]) -> Membership:
        """The groups ``keep`` (positions, ascending), in that order."""
        return Membership.from_rows([self.members(int(g)) for g in keep], self.n_cols)

    def select_columns(self, active: NDArray[np.intp]) -> Membership:
        """Every group restricted to the candidates ``active`` (ascending), renumbered
        0.. in that order."""
        position = np.full(self.n_cols, -1, dtype=np.intp)
        position[active] = np.arange(active.size)
        kept = position[self.indices] >= 0
        counts = np.bincount(self.rows[kept], minlength=self.shape[0])
        indptr = np.zeros(counts.size + 1, dtype=np.intp)
        np.cumsum(counts, out=indptr[1:])
        return Membership(indptr, position[self.indices[kept]], int(active.size))
