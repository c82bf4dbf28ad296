"""How many independent bets an index really holds.

Ten pools that all rest on one protocol, one stablecoin issuer or one bridge are one bet:
if that dependency fails, all ten fail together. Two measures, both inverse Herfindahl
indices (``1 / sum(share^2)``: N equal independent holdings give N, one holding gives 1):

* :func:`effective_bets` clusters the constituents that share any connecting dependency
  key, transitively (A and B share ``protocol:aave``, B and C share ``issuer:circle``: A,
  B and C are one cluster), and takes the inverse Herfindahl of the cluster weights. It
  answers "how many things can fail independently".
* :func:`effective_bets_by` aggregates the weights along one dimension only (e.g. by
  issuer) and takes the inverse Herfindahl of those buckets. It answers "how
  concentrated is the index in issuers", and is what a per-dimension cap controls.

Chains are left out of the clustering by default: nearly everything has an Ethereum
leg, so connecting through ``chain:`` would make almost every index a single bet and the
figure would say nothing. A chain failure is a real risk, but it is one the chain cap
limits and :func:`effective_bets_by` with ``"chain:"`` reports. Bridges do connect: all
the assets that arrived through one bridge fail with it. The connecting prefixes are a
parameter.

Keys are the ``kind:value`` strings of ``scoring.dependencies.Dependencies.keys()``
(``protocol:aave``, ``issuer:circle``, ``chain:Ethereum``, ``bridge:wormhole``...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from realyield.core.errors import DataError
from realyield.indices.weights import CONSTITUENT_EPS

#: Dependency kinds whose shared keys make constituents one bet.
DEFAULT_CONNECTING_PREFIXES: tuple[str, ...] = ("protocol:", "issuer:", "bridge:")


def _shares(weights: ArrayLike, keys: Sequence[Sequence[str]]) -> NDArray[np.float64]:
    """Validated weights as shares of their total (zeros for non-constituents).

    Raises:
        DataError: shape mismatch, non-finite or negative weights, a bare string as keys.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise DataError(f"weights must be one-dimensional, got shape {w.shape}")
    if w.size != len(keys):
        raise DataError(
            f"{w.size} weights but {len(keys)} dependency key lists: one list per constituent"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        i = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise DataError(f"weights[{i}] = {w[i]!r}: weights must be finite and non-negative")
    for i, k in enumerate(keys):
        if isinstance(k, str):
            raise DataError(
                f"dependency_keys[{i}] is the single string {k!r}; pass a sequence of keys"
            )
    w = np.where(w > CONSTITUENT_EPS, w, 0.0)
    total = float(w.sum())
    return w / total if total > 0 else w


def _inverse_hhi(shares: NDArray[np.float64]) -> float:
    hhi = float(np.square(shares).sum())
    return 1.0 / hhi if hhi > 0 else 0.0


def effective_bets(
    weights: ArrayLike,
    dependency_keys: Sequence[Sequence[str]],
    *,
    prefixes: Sequence[str] = DEFAULT_CONNECTING_PREFIXES,
) -> float:
    """Inverse Herfindahl of clusters of constituents connected by shared dependencies.

    Constituents (weight above 1e-9) that share any key starting with one of
    ``prefixes`` are joined (union-find, so connections are transitive); each cluster's
    weight is the sum of its members' shares, and the result is ``1 / sum(W_k^2)``.
    Weights need not sum to one (they are taken as shares of their total). Returns 0.0
    when nothing is held. Example: four equal holdings, two of them on
    ``issuer:circle``: clusters 0.5, 0.25, 0.25, so 1 / 0.375 = 2.67 bets.

    Raises:
        DataError: weights and key lists of different lengths, negative or non-finite
            weights.
    """
    w = _shares(weights, dependency_keys)
    connecting = tuple(prefixes)
    parent = list(range(w.size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i in np.flatnonzero(w > 0).tolist():
        for key in dependency_keys[i]:
            if not key.startswith(connecting):
                continue
            j = owner.setdefault(key, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[ri] = rj
    roots = np.fromiter((find(i) for i in range(w.size)), dtype=np.intp, count=w.size)
    clusters = np.bincount(roots, weights=w, minlength=w.size).astype(np.float64)
    return _inverse_hhi(clusters)


def effective_bets_by(weights: ArrayLike, keys: Sequence[Sequence[str]], prefix: str) -> float:
    """Inverse Herfindahl of the weights aggregated along one dependency dimension.

    Each constituent's share goes to its keys that start with ``prefix`` (e.g.
    ``"issuer:"``), split equally when it has several (a USDC/USDT pool is half Circle,
    half Tether). A constituent with no such key (native ETH has no issuer) is its own
    bucket: it is not concentrated in any of them. Returns 0.0 when nothing is held.

    Raises:
        DataError: weights and key lists of different lengths, negative or non-finite
            weights.
    """
    w = _shares(weights, keys)
    buckets: dict[str, float] = {}
    for i in np.flatnonzero(w > 0).tolist():
        mine = sorted({k for k in keys[i] if k.startswith(prefix)})
        if not mine:
            mine = [f"\0own:{i}"]
        share = float(w[i]) / len(mine)
        for k in mine:
            buckets[k] = buckets.get(k, 0.0) + share
    return _inverse_hhi(np.fromiter(buckets.values(), dtype=np.float64, count=len(buckets)))
