"""Per-item seeds and sweep specs: parsing, expansion, rule paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realyield.core.errors import ConfigError
from realyield.indices.methodology import definition, definition_to_dict
from realyield.scaleout.seeds import item_seed
from realyield.scaleout.sweep_spec import load_spec, parse_spec, set_path


def test_item_seed_is_a_pure_function_of_run_seed_and_position() -> None:
    seeds = [item_seed(7, k) for k in range(1000)]
    assert len(set(seeds)) == 1000  # distinct streams
    assert seeds[::-1] == [item_seed(7, k) for k in reversed(range(1000))]  # order-free
    assert item_seed(7, 3) != item_seed(8, 3)
    # the same construction numpy's SeedSequence.spawn uses: child k of the run's sequence
    child = np.random.SeedSequence(7).spawn(4)[3]
    assert item_seed(7, 3) == int(child.generate_state(1, dtype=np.uint32)[0])
    with pytest.raises(ValueError):
        item_seed(-1, 0)


def test_grid_expands_every_combination_in_order() -> None:
    spec = parse_spec(
        {
            "index": "stablecoin-income",
            "seed": 3,
            "parameters": {
                "caps.single": [0.1, 0.2, 0.3],
                "rebalance.schedule": ["monthly", "quarterly"],
            },
        }
    )
    variants = spec.variants()
    assert [v.number for v in variants] == list(range(6))
    assert [(v.params["caps.single"], v.params["rebalance.schedule"]) for v in variants] == [
        (a, b) for a in (0.1, 0.2, 0.3) for b in ("monthly", "quarterly")
    ]
    assert [v.seed for v in variants] == [item_seed(3, k) for k in range(6)]
    defn = variants[5].definition(definition_to_dict(spec.base))
    assert defn.caps.single == 0.3 and defn.rebalance.schedule == "quarterly"
    assert spec.base.caps.single != 0.3 or spec.base.rebalance.schedule != "quarterly"


def test_random_search_is_reproducible_and_inside_ranges() -> None:
    raw = {
        "index": "defi-yield",
        "search": "random",
        "samples": 50,
        "seed": 9,
        "parameters": {
            "weighting.risk_aversion": {"low": 0.0, "high": 2.0},
            "eligibility.min_tvl_usd": {"low": 1e6, "high": 1e8, "log": True},
            "caps.min_constituents": {"low": 10, "high": 14, "integer": True},
            "rebalance.schedule": ["monthly", "quarterly"],
        },
    }
    a, b = parse_spec(raw).variants(), parse_spec(raw).variants()
    assert a == b
    ra = [v.params["weighting.risk_aversion"] for v in a]
    tvl = [v.params["eligibility.min_tvl_usd"] for v in a]
    assert all(0.0 <= x <= 2.0 for x in ra) and len(set(ra)) == 50
    assert all(1e6 <= x <= 1e8 for x in tvl)
    # log-uniform: about half the draws below the geometric midpoint 1e7
    assert 15 <= sum(x < 1e7 for x in tvl) <= 35
    assert {v.params["caps.min_constituents"] for v in a} <= {10, 11, 12, 13, 14}
    assert {v.params["rebalance.schedule"] for v in a} == {"monthly", "quarterly"}


def test_eligibility_paths_reach_the_sleeves_that_inherit_them() -> None:
    data = definition_to_dict(definition("defi-yield"))
    old = data["eligibility"]["min_tvl_usd"]
    inherited = [s["eligibility"]["min_tvl_usd"] == old for s in data["sleeves"]]
    assert any(inherited)
    set_path(data, "eligibility.min_tvl_usd", 42e6)
    assert data["eligibility"]["min_tvl_usd"] == 42e6
    for sleeve, was in zip(data["sleeves"], inherited, strict=True):
        assert (sleeve["eligibility"]["min_tvl_usd"] == 42e6) is was
    set_path(data, "sleeves.0.weight", 0.5)
    assert data["sleeves"][0]["weight"] == 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"index": "nope", "parameters": {"caps.single": [0.1]}}, "unknown index"),
        ({"index": "defi-yield", "parameters": {}}, "at least one rule"),
        ({"index": "defi-yield", "parameters": {"capz.single": [0.1]}}, "no table 'capz'"),
        ({"index": "defi-yield", "parameters": {"sleeves.9.weight": [0.1]}}, "not an item"),
        (
            {"index": "defi-yield", "parameters": {"caps.single": {"low": 0.1, "high": 0.2}}},
            "ranges need search",
        ),
        (
            {"index": "defi-yield", "search": "random", "parameters": {"caps.single": [0.1]}},
            "samples",
        ),
        ({"index": "defi-yield", "extra": 1, "parameters": {"caps.single": [0.1]}}, "unknown keys"),
        (
            {
                "index": "defi-yield",
                "start": "2024-01-01",
                "end": "2023-01-01",
                "parameters": {"caps.single": [0.1]},
            },
            "not after start",
        ),
    ],
)
def test_bad_specs_say_what_is_wrong(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_spec(raw)


def test_a_variant_that_breaks_a_rule_names_it(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(
        'index = "stablecoin-income"\n[parameters]\n"caps.single" = [1.5]\n', encoding="utf-8"
    )
    spec = load_spec(path)
    (variant,) = spec.variants()
    with pytest.raises(ConfigError, match=r"variant 0.*caps\.single"):
        variant.definition(definition_to_dict(spec.base))
    path.write_text("index = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(path)
