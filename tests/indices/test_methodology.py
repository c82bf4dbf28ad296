"""Index rules as data: the packaged definitions, user TOML files and their guards."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from realyield.core.errors import ConfigError
from realyield.indices.methodology import (
    Caps,
    Component,
    Costs,
    Eligibility,
    IndexDefinition,
    Rebalance,
    RuleError,
    Weighting,
    check_references,
    definition,
    definition_to_dict,
    definition_to_toml,
    load_definition,
    packaged_definitions,
    parse_definition,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "methodology.md"
PACKAGED = {"large-cap-staking", "defi-yield", "stablecoin-income", "balanced", "growth"}

USER_TOML = """
name = "my-index"
title = "My Index"
family = "custom"
version = "1.0"
description = "A test index."

[eligibility]
kinds = ["lending", "vault"]
stablecoin_only = true
max_apy = 40.0
min_tvl_usd = 1_000_000

[caps]
single = 0.2
min_constituents = 5
max_constituents = 20

[caps.dependency]
issuer = 0.5
protocol = 0.4

[weighting]
method = "risk_adjusted_yield"
yield_field = "forecast_apy_30d"
risk_aversion = 0.6

[[sleeves]]
name = "lending"
weight = 0.6
[sleeves.eligibility]
kinds = ["lending"]

[[sleeves]]
name = "vaults"
weight = 0.4
[sleeves.eligibility]
kinds = ["vault"]
max_risk = 40.0

[rebalance]
schedule = "quarterly"
drift_trigger_pp = 4.0
no_trade_band_pp = 0.5

[rebalance.costs]
fee_bps = 12
default_gas_usd = 0.5

[rebalance.costs.gas_usd]
Ethereum = 6.0
Base = 0.1
"""

COMPOSITE_TOML = """
name = "my-blend"
title = "My Blend"
family = "custom"
version = "1.0.0"
description = "Half DeFi, half stablecoins."

[caps]
single = 0.10
min_constituents = 15

[[components]]
name = "defi"
weight = 0.5
index = "defi-yield"

[[components]]
name = "stables"
weight = 0.5
index = "stablecoin-income"

[rebalance]
schedule = "monthly"
"""


def _write(tmp_path: Path, text: str, name: str = "my-index.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the packaged definitions -------------------------------------------------------


def test_every_packaged_definition_loads_and_cross_validates() -> None:
    defs = packaged_definitions()
    assert set(defs) == PACKAGED
    for name, defn in defs.items():
        assert defn.name == name
        assert definition(name) is defn
        check_references(defn, defs)
        assert 0 < defn.caps.single <= 1 and defn.caps.min_constituents >= 1
        assert defn.rebalance.drift_trigger_pp == 5.0
        assert defn.rebalance.no_trade_band_pp < defn.rebalance.drift_trigger_pp
        assert 10 <= defn.rebalance.costs.fee_bps <= 30
        assert defn.eligibility.max_apy <= 100.0
        assert defn.version == "1.0.0"


def test_packaged_key_numbers() -> None:
    defs = packaged_definitions()
    defi = defs["defi-yield"]
    assert defi.caps.single == 0.10 and defi.caps.min_constituents == 10
    deps = defi.caps.dependency
    assert (deps["protocol"], deps["chain"], deps["issuer"]) == (0.20, 0.40, 0.30)
    assert [s.name for s in defi.sleeves] == ["stablecoin-lending", "liquidity", "vaults"]
    assert defi.sleeves[0].eligibility.stablecoin_only
    assert defi.sleeves[0].eligibility.min_tvl_usd == defi.eligibility.min_tvl_usd  # inherited
    assert (defi.weighting.method, defi.weighting.yield_field) == (
        "risk_adjusted_yield",
        "forecast_apy_30d",
    )
    stable = defs["stablecoin-income"]
    assert stable.eligibility.kinds == ("lending",) and stable.eligibility.stablecoin_only
    assert stable.caps.min_constituents == 8
    assert {"issuer", "protocol", "chain"} <= set(stable.caps.dependency)
    staking = defs["large-cap-staking"]
    assert staking.staking is not None and staking.caps.single == 0.35
    assert staking.staking.routes == ("native", "delegated", "liquid")
    assert staking.weighting.method == "market_cap"
    balanced = defs["balanced"]
    assert [(c.name, c.weight, c.index) for c in balanced.components] == [
        ("growth-assets", 0.6, None),
        ("staking-income", 0.2, "large-cap-staking"),
        ("defi-income", 0.2, "defi-yield"),
    ]
    assert balanced.components[0].assets[:2] == ("bitcoin", "ethereum")
    growth = defs["growth"]
    assert growth.regime is not None and growth.basket is not None
    assert (growth.regime.signal, growth.regime.window_days, growth.regime.fallback) == (
        "sma",
        200,
        "stablecoin-income",
    )
    assert growth.basket.assets == balanced.components[0].assets
    assert defi.rebalance.costs.gas("ethereum") == 5.0
    assert defi.rebalance.costs.gas("Solana") == 0.01
    assert defi.rebalance.costs.gas("Nowhere") == defi.rebalance.costs.default_gas_usd


def test_unknown_packaged_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown index 'nope'; valid names: balanced"):
        definition("nope")


def test_definitions_are_immutable_and_hashable() -> None:
    defn = definition("defi-yield")
    assert hash(defn) == hash(parse_definition(definition_to_dict(defn)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        defn.caps.single = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        defn.caps.dependency["protocol"] = 0.9  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_round_trips_through_dict_json_and_toml(name: str, tmp_path: Path) -> None:
    defn = definition(name)
    as_json = json.loads(json.dumps(definition_to_dict(defn)))
    assert parse_definition(as_json) == defn
    path = _write(tmp_path, definition_to_toml(defn), f"{name}.toml")
    assert load_definition(path) == defn


# --- a user's own definition --------------------------------------------------------


def test_user_toml_round_trip(tmp_path: Path) -> None:
    defn = load_definition(_write(tmp_path, USER_TOML))
    assert defn.name == "my-index" and defn.family == "custom"
    assert defn.eligibility.min_tvl_usd == 1_000_000.0
    assert isinstance(defn.eligibility.min_tvl_usd, float)
    assert defn.caps.cap_for("issuer:circle") == 0.5
    assert defn.caps.cap_for("chain:Ethereum") is None
    vaults = defn.sleeves[1].eligibility
    assert vaults.kinds == ("vault",) and vaults.max_risk == 40.0
    assert vaults.stablecoin_only and vaults.max_apy == 40.0  # inherited from the index
    assert defn.rebalance.costs.fee_bps == 12.0 and defn.rebalance.costs.slippage_bps == 5.0
    assert defn.rebalance.drift_trigger == pytest.approx(0.04)
    again = load_definition(_write(tmp_path, definition_to_toml(defn), "again.toml"))
    assert again == defn
    assert definition_to_dict(again) == definition_to_dict(defn)


def test_user_composite_refers_to_packaged_indices(tmp_path: Path) -> None:
    defn = load_definition(_write(tmp_path, COMPOSITE_TOML))
    assert defn.shape == "composite"
    assert defn.references == ("defi-yield", "stablecoin-income")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    section = DOCS.read_text(encoding="utf-8").split("## 6.", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example is not None
    defn = load_definition(_write(tmp_path, example.group(1), "example.toml"))
    assert defn.eligibility.chains == ("Arbitrum", "Base", "Optimism")


# --- invalid definitions: ConfigError naming the file, the key and the value --------

BAD_CASES = [
    # (what is wrong, replace this, with this, key expected in the message)
    ("unknown key", "single = 0.2", "single = 0.2\nsingel = 0.1", "caps.singel"),
    ("cap above 1", "single = 0.2", "single = 1.5", "caps.single = 1.5"),
    ("cap of 0", "single = 0.2", "single = 0", "caps.single = 0"),
    ("dependency cap above 1", "issuer = 0.5", "issuer = 1.2", "caps.dependency.issuer"),
    ("unknown dependency prefix", "issuer = 0.5", "token = 0.5", "caps.dependency.token"),
    ("sleeve weights", "weight = 0.4", "weight = 0.3", "sleeves = [0.6, 0.3]"),
    ("unknown family", 'family = "custom"', 'family = "yolo"', "family = 'yolo'"),
    ("wrong type", "min_constituents = 5", 'min_constituents = "five"', "caps.min_constituents"),
    ("float count", "min_constituents = 5", "min_constituents = 5.5", "caps.min_constituents"),
    ("max_apy above 100", "max_apy = 40.0", "max_apy = 150.0", "eligibility.max_apy = 150.0"),
    ("unknown kind", '["lending", "vault"]', '["lending", "farm"]', "eligibility.kinds"),
    ("bool as number", "risk_aversion = 0.6", "risk_aversion = true", "weighting.risk_aversion"),
    ("risk aversion > 1", "risk_aversion = 0.6", "risk_aversion = 2", "weighting.risk_aversion"),
    ("unknown method", 'method = "risk_adjusted_yield"', 'method = "vibes"', "weighting.method"),
    (
        "sleeve widens",
        'kinds = ["vault"]\nmax_risk',
        'kinds = ["liquidity"]\nmax_risk',
        "sleeves[1].eligibility.kinds",
    ),
    (
        "sleeve unknown key",
        "max_risk = 40.0",
        "max_risks = 40.0",
        "sleeves[1].eligibility.max_risks",
    ),
    (
        "too few holdings possible",
        "max_constituents = 20",
        "max_constituents = 4",
        "caps.max_constituents = 4",
    ),
    (
        "band above trigger",
        "no_trade_band_pp = 0.5",
        "no_trade_band_pp = 4.5",
        "rebalance.no_trade_band_pp",
    ),
    ("unknown schedule", 'schedule = "quarterly"', 'schedule = "weekly"', "rebalance.schedule"),
    ("negative gas", "Base = 0.1", "Base = -0.1", "rebalance.costs.gas_usd.Base"),
    ("missing key", "min_constituents = 5\n", "", "caps.min_constituents is missing"),
    ("bad slug", 'name = "my-index"', 'name = "My Index"', "name = 'My Index'"),
    ("NaN", "max_apy = 40.0", "max_apy = nan", "eligibility.max_apy = nan"),
    (
        "table expected",
        'version = "1.0"',
        'version = "1.0"\nbasket = "bitcoin"',
        "basket = 'bitcoin': must be a table",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_user_toml_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in USER_TOML
    path = _write(tmp_path, USER_TOML.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_definition(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert key in message


COMPOSITE_BAD = [
    (
        "unknown component index",
        'index = "stablecoin-income"',
        'index = "moon-index"',
        "components[1].index = 'moon-index': unknown index",
    ),
    (
        "component weights",
        'weight = 0.5\nindex = "stablecoin',
        'weight = 0.4\nindex = "stablecoin',
        "components = [0.5, 0.4]",
    ),
    ("holds itself", 'index = "stablecoin-income"', 'index = "my-blend"', "components[1].index"),
    (
        "both index and assets",
        'index = "defi-yield"',
        'index = "defi-yield"\nassets = ["bitcoin"]',
        "components[0].index",
    ),
    (
        "component cap vs single",
        "single = 0.10",
        "single = 0.05",
        "components[1].weight = 0.5: x stablecoin-income's single cap 0.125",
    ),
    (
        "too few guaranteed holdings",
        "min_constituents = 15",
        "min_constituents = 30",
        "caps.min_constituents = 30",
    ),
    (
        "composite with weighting",
        "[rebalance]",
        '[weighting]\nmethod = "fixed"\n[rebalance]',
        "weighting",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key"), [c[1:] for c in COMPOSITE_BAD], ids=[c[0] for c in COMPOSITE_BAD]
)
def test_bad_composite_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in COMPOSITE_TOML
    path = _write(tmp_path, COMPOSITE_TOML.replace(old, new, 1), "blend.toml")
    with pytest.raises(ConfigError) as caught:
        load_definition(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert key in str(caught.value)


def test_not_toml_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_definition(_write(tmp_path, "name = = 1", "broken.toml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_definition(tmp_path / "absent.toml")


def test_references_loop_is_refused(tmp_path: Path) -> None:
    first = load_definition(_write(tmp_path, COMPOSITE_TOML))
    loop = dataclasses.replace(
        first, name="other", components=(Component("back", 1.0, index="my-blend"),)
    )
    known = {
        "my-blend": dataclasses.replace(
            first, components=(Component("to-other", 1.0, index="other"),)
        )
    }
    with pytest.raises(RuleError, match="loop: other -> my-blend -> other"):
        check_references(loop, {**packaged_definitions(), **known})


def test_growth_family_needs_basket_and_regime() -> None:
    growth = definition("growth")
    with pytest.raises(RuleError, match="regime is missing"):
        dataclasses.replace(growth, regime=None)
    with pytest.raises(RuleError, match="basket is missing"):
        dataclasses.replace(growth, basket=None, regime=None)


def test_records_validate_when_built_in_code() -> None:
    with pytest.raises(RuleError, match=r"single = 0: must be in \(0, 1\]"):
        Caps(single=0, min_constituents=3)
    with pytest.raises(RuleError, match="fixed"):
        Weighting(method="fixed")
    with pytest.raises(RuleError, match=r"sum to 0\.9"):
        Weighting(method="fixed", fixed={"a": 0.5, "b": 0.4})
    with pytest.raises(RuleError, match="min_tvl_usd"):
        Eligibility(min_tvl_usd=-1)
    with pytest.raises(RuleError, match="notional_usd"):
        Costs(notional_usd=0)
    assert Caps(single=0.3, min_constituents=2).effective_min_constituents == 4
    defn = IndexDefinition(
        name="fixed-demo",
        title="Fixed",
        family="custom",
        description="d",
        version="1.0",
        caps=Caps(single=0.5, min_constituents=2),
        rebalance=Rebalance(),
        weighting=Weighting(method="fixed", fixed={"a": 0.5, "b": 0.5}),
    )
    assert defn.shape == "opportunities"
    with pytest.raises(RuleError, match=r"weighting\.fixed"):
        dataclasses.replace(defn, caps=Caps(single=0.4, min_constituents=2, max_constituents=3))


# --- the published methodology ------------------------------------------------------


def _glance_table() -> dict[str, dict[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    out = {}
    for line in rows[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        out[cells["Name"].strip("`")] = cells
    return out


def test_docs_publish_every_packaged_index() -> None:
    text = DOCS.read_text(encoding="utf-8")
    headed = set(re.findall(r"^### 5\.\d+ .*\(`([a-z0-9-]+)`\)$", text, re.M))
    assert headed == set(packaged_definitions())
    assert set(_glance_table()) == set(packaged_definitions())
    assert re.search(r"^Methodology version 1\.0\.0", text, re.M)
    assert "## 7. Changelog" in text


def test_docs_numbers_match_the_definitions() -> None:
    for name, row in _glance_table().items():
        defn = definition(name)
        assert row["Single cap"] == f"{defn.caps.single * 100:g}%", name
        assert row["Min constituents"] == str(defn.caps.min_constituents), name
        assert row["Schedule"] == defn.rebalance.schedule, name
        assert float(row["Drift trigger (pp)"]) == defn.rebalance.drift_trigger_pp, name
        assert float(row["No-trade band (pp)"]) == defn.rebalance.no_trade_band_pp, name
        assert float(row["Fee (bps)"]) == defn.rebalance.costs.fee_bps, name
        caps = {
            k: float(v.rstrip("%")) / 100
            for k, v in re.findall(r"(\w+) (\d+(?:\.\d+)?%)", row["Dependency caps"])
        }
        assert caps == dict(defn.caps.dependency), name
