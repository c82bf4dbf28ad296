"""Candidate selection by array masks, against a row-by-row reading of the rules; and
leaving out cap groups that cannot bind changes no weight."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realyield.indices.candidates import CandidateColumns, dependency_groups
from realyield.indices.construct import IndexInputs
from realyield.indices.methodology import Eligibility
from realyield.indices.weights import CapGroup, InfeasibleWeightsError, capped_weights
from realyield.scoring.score import score_universe
from tests.indices.test_construct import universes

KINDS = ["lending", "liquidity", "vault", "staking"]
AT = datetime(2025, 6, 30, tzinfo=UTC)


@st.composite
def scored_universes(draw: st.DrawFn) -> IndexInputs:
    opps = draw(universes())
    chains = draw(
        st.lists(
            st.sampled_from(["Ethereum", "arbitrum", "Base"]),
            min_size=len(opps),
            max_size=len(opps),
        )
    )
    opps = [
        replace(o, chain=c, tvl_usd=draw(st.sampled_from([None, o.tvl_usd])))
        for o, c in zip(opps, chains, strict=True)
    ]
    return IndexInputs(AT.date(), score_universe(opps, as_of=AT.date()))


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


@given(scored_universes(), rules_strategy, st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_eligible_rows_are_those_of_the_table_that_pass_every_rule(
    inputs: IndexInputs, rules: Eligibility, data: st.DataObject
) -> None:
    """The arrays against the scored universe's table (Polars, nulls for unknowns), read
    row by row."""
    cols = CandidateColumns.of(inputs.scored)
    rows = inputs.candidates().to_dicts()
    want = [i for i, row in enumerate(rows) if passes(row, rules)]
    assert cols.eligible(rules).tolist() == want
    among = sorted(data.draw(st.sets(st.integers(0, len(rows) - 1))))
    got = cols.eligible(rules, among=np.asarray(among, dtype=np.intp)).tolist()
    assert got == [i for i in want if i in among]
    for i, row in enumerate(rows):  # what a holding reports equals the table's row
        c = cols.constituent(i, 0.5, None)
        assert (c.id, c.kind, c.chain) == (row["id"], row["kind"], row["chain"])
        assert c.apy_sustainable == (row["apy_sustainable"] or 0.0)
        assert c.risk == row["risk"] and list(c.dependencies) == row["dependencies"]
        assert list(c.underlying) == row["underlying"]


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
