"""Candidate selection by array masks, against a row-by-row reading of the rules; and
leaving out cap groups that cannot bind changes no weight."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.indices.candidates import CandidateColumns, dependency_groups
from realyield.indices.methodology import Eligibility
from realyield.indices.weights import CapGroup, InfeasibleWeightsError, capped_weights

KINDS = ["lending", "liquidity", "vault", "staking"]
CHAINS = ["Ethereum", "arbitrum", "Base"]
maybe_number = st.one_of(st.none(), st.floats(0, 150, allow_nan=False))


@st.composite
def tables(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 30))
    rows = [
        {
            "id": f"p{i}",
            "kind": draw(st.sampled_from(KINDS)),
            "chain": draw(st.sampled_from(CHAINS)),
            "stablecoin": draw(st.booleans()),
            "excluded": draw(st.booleans()),
            "apy": draw(maybe_number),
            "tvl_usd": draw(st.one_of(st.none(), st.floats(0, 1e9))),
            "sustainability": draw(maybe_number),
            "risk": draw(maybe_number),
            "apy_sustainable": draw(maybe_number),
            "dependencies": [f"protocol:x{draw(st.integers(0, 3))}"],
        }
        for i in range(n)
    ]
    schema = {
        "id": pl.Utf8,
        "kind": pl.Utf8,
        "chain": pl.Utf8,
        "stablecoin": pl.Boolean,
        "excluded": pl.Boolean,
        "apy": pl.Float64,
        "tvl_usd": pl.Float64,
        "sustainability": pl.Float64,
        "risk": pl.Float64,
        "apy_sustainable": pl.Float64,
        "dependencies": pl.List(pl.Utf8),
    }
    return pl.DataFrame(rows, schema=schema)


rules_strategy = st.builds(
    Eligibility,
    kinds=st.lists(st.sampled_from(KINDS), unique=True, max_size=2).map(tuple),
    chains=st.one_of(
        st.none(),
        st.lists(
            st.sampled_from(["ethereum", "ARBITRUM"]), min_size=1, max_size=2, unique=True
        ).map(tuple),
    ),
    stablecoin_only=st.booleans(),
    max_apy=st.floats(1, 100),
    min_tvl_usd=st.one_of(st.none(), st.floats(0, 1e9)),
    min_sustainability=st.one_of(st.none(), st.floats(0, 100)),
    max_risk=st.one_of(st.none(), st.floats(0, 100)),
    require_screens=st.booleans(),
)


def passes(row: dict[str, Any], rules: Eligibility) -> bool:
    """The rules read one row at a time; a missing number fails its threshold."""

    def at_most(value: float | None, limit: float | None) -> bool:
        return limit is None or (value is not None and value <= limit)

    def at_least(value: float | None, limit: float | None) -> bool:
        return limit is None or (value is not None and value >= limit)

    return (
        (not rules.kinds or row["kind"] in rules.kinds)
        and (not rules.chains or row["chain"].lower() in {c.lower() for c in rules.chains})
        and (not rules.stablecoin_only or row["stablecoin"])
        and at_most(row["apy"], rules.max_apy)
        and at_least(row["tvl_usd"], rules.min_tvl_usd)
        and at_least(row["sustainability"], rules.min_sustainability)
        and at_most(row["risk"], rules.max_risk)
        and (not rules.require_screens or not row["excluded"])
    )


@given(tables(), rules_strategy, st.data())
@settings(max_examples=200, deadline=None)
def test_eligible_rows_are_those_that_pass_every_rule(
    table: pl.DataFrame, rules: Eligibility, data: st.DataObject
) -> None:
    cols = CandidateColumns.of(table)
    rows = table.to_dicts()
    want = [i for i, row in enumerate(rows) if passes(row, rules)]
    assert cols.eligible(rules).tolist() == want
    among = sorted(
        data.draw(st.sets(st.integers(0, max(len(rows) - 1, 0)))) & set(range(len(rows)))
    )
    got = cols.eligible(rules, among=np.asarray(among, dtype=np.intp)).tolist()
    assert got == [i for i in want if i in among]
    # a null sustainable APY ranks as 0
    assert all(
        v == (0.0 if r["apy_sustainable"] is None else r["apy_sustainable"])
        for v, r in zip(cols.apy_sustainable.tolist(), rows, strict=True)
    )


@given(
    st.lists(
        st.lists(
            st.sampled_from(["protocol:a", "protocol:b", "chain:x", "issuer:c", "other:z"]),
            max_size=3,
            unique=True,
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([0.1, 0.2, 0.25, 1 / 3, 0.35]),
    st.data(),
)
@settings(max_examples=60, deadline=None)
def test_groups_that_cannot_bind_are_left_out_without_changing_the_weights(
    keys: list[list[str]], single: float, data: st.DataObject
) -> None:
    caps = {"protocol": 0.2, "chain": 0.4, "issuer": 0.3}
    kept = dependency_groups(keys, caps, single_cap=single)
    every = dependency_groups(keys, caps)
    # what is left out could never bind: its members at the single cap stay within it
    kept_keys = {g.key for g in kept}
    for g in every:
        if g.key not in kept_keys:
            assert g.members.size * single <= g.cap + 1e-12 or g.cap >= 1.0
    assert all(k.split(":")[0] in caps for k in kept_keys)
    target = np.asarray(
        data.draw(st.lists(st.floats(0.01, 1.0), min_size=len(keys), max_size=len(keys)))
    )

    def solve(groups: list[CapGroup]) -> np.ndarray | str:
        try:
            return capped_weights(target, single_cap=single, groups=groups)
        except InfeasibleWeightsError as exc:
            return str(exc)

    a, b = solve(kept), solve(every)
    if isinstance(a, str) or isinstance(b, str):
        assert isinstance(a, str) and isinstance(b, str)
    else:
        assert np.array_equal(a, b)


def test_shared_only_keeps_keys_held_twice() -> None:
    keys = [["protocol:a", "chain:x"], ["protocol:a"], ["chain:y"]]
    groups = dependency_groups(
        keys, {"protocol": 0.2, "chain": 0.4}, shared_only=True, single_cap=0.5
    )
    assert [(g.key, g.members.tolist()) for g in groups] == [("protocol:a", [0, 1])]
