"""The CLI end to end (Typer's runner, isolated REALYIELD_HOME, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.settings import Settings

runner = CliRunner()


def run_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_universe_filters_and_sorts(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "pools_2024-05-01.csv"
    path.write_text(
        "chain,project,symbol,apy,apyBase,apyReward,tvlUsd,pool\n"
        "Ethereum,aave-v3,USDC,5,5,0,2000000,a\n"
        "Ethereum,aave-v3,DAI,7,6,1,500000,b\n"
        "Arbitrum,uniswap-v3,WETH-USDC,30,30,0,9000000,c\n"
        "Arbitrum,uniswap-v3,BAD,x,1,1,1,d\n"
    )
    out = run_json("data", "import", str(path))
    assert out["status"] == "ok" and out["report"]["rejected"] == {"not_a_number": 1}
    assert out["report"]["problems"][0]["where"] == "row 5"
    rows = run_json("universe", "--kind", "lending", "--sort", "apy")
    assert [r["id"] for r in rows] == ["b", "a"]
    rows = run_json("universe", "--chain", "arbitrum", "--min-tvl", "1e6")
    assert [(r["id"], r["apy_base"], r["tvl_usd"]) for r in rows] == [("c", 30.0, 9e6)]
    csv_out = runner.invoke(app, ["universe", "--csv", "--limit", "1"])
    assert csv_out.exit_code == 0 and csv_out.stdout.splitlines()[1].startswith("c,liquidity")


def test_errors_are_one_clear_line_with_exit_codes(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    result = runner.invoke(app, ["data", "import", str(bad)])
    assert result.exit_code == 1
    assert "empty" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(app, ["universe", "--kind", "farming"])
    assert result.exit_code == 2 and "unknown kind 'farming'" in result.stderr
    strict = tmp_path / "p.csv"
    strict.write_text("pool,apy\na,1\nb,abc\n")
    result = runner.invoke(app, ["data", "import", str(strict), "--strict"])
    assert result.exit_code == 1 and "row 3" in result.stderr


@respx.mock
def test_offline_refresh_on_empty_store_falls_back_to_snapshot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REALYIELD_HTTP_MAX_ATTEMPTS", "1")
    respx.get(url__startswith="https://yields.llama.fi").mock(
        side_effect=httpx.ConnectError("offline")
    )
    result = runner.invoke(app, ["data", "refresh", "--source", "defillama", "--json"])
    assert result.exit_code == 75, result.output  # nothing refreshed: EX_TEMPFAIL
    out = json.loads(result.stdout)
    assert out["status"] == "offline"
    assert out["fallback"]["source"] == "snapshot" and out["fallback"]["status"] == "ok"
    assert "bundled snapshot (as of 2025-06-30)" in out["message"]
    rows = run_json("universe", "--limit", "500")
    assert len(rows) >= 150 and {r["source"] for r in rows} == {"snapshot"}


def test_demo_summarizes_the_bundled_snapshot(settings: Settings) -> None:
    out = run_json("demo")
    summary = out["summary"]
    assert summary["count"] >= 150 and len(summary["chains"]) >= 8
    kinds = {k["kind"] for k in summary["kinds"]}
    assert kinds == {"staking", "liquid_staking", "lending", "liquidity", "vault"}
    assert out["stored_rows"]["apy_history"] >= 150 * 1000
    assert out["illustrative_history"] is True
    tops = out["top_sustainable_per_kind"]
    assert {r["kind"] for r in tops} == kinds
    assert all(r["excluded_reason"] is None for r in tops)  # only those passing the screens
    for kind in kinds:
        values = [r["apy_sustainable"] for r in tops if r["kind"] == kind]
        assert values == sorted(values, reverse=True) and len(values) <= 3
    assert out["passing_screens"] < summary["count"]
    assert out["excluded_by_screen"]["APY above the cap"] == summary["above_100pct_apy"]
    again = run_json("demo")  # second run: snapshot already stored, nothing rewritten
    assert again["snapshot"]["status"] == "unchanged"
    text = runner.invoke(app, ["demo"])
    assert text.exit_code == 0 and "ILLUSTRATIVE" in text.stdout
    status = runner.invoke(app, ["data", "status"])  # the offline default says what it is
    assert status.exit_code == 0 and "ILLUSTRATIVE histories" in status.stdout


@pytest.mark.usefixtures("settings")
def test_import_real_pools_file_through_cli(shared_data: Path) -> None:
    out = run_json("data", "import", str(shared_data / "defillama/pools_2023-07-26.csv"))
    assert out["written"] == {"opportunities": 11_977}
    status = run_json("data", "status")
    assert status["tables"]["opportunities"] == 11_977
    assert status["sources"]["file"]["latest"] == "2023-07-26"


def test_screen_and_explain(settings: Settings) -> None:
    rows = run_json("screen", "--all")
    assert len(rows) >= 150
    required = {
        "id",
        "apy",
        "apy_sustainable",
        "sustainability",
        "risk",
        "excluded_reason",
        "sustainability_grade",
        "risk_grade",
    }
    assert required <= set(rows[0])
    excluded = [r for r in rows if r["excluded"]]
    assert excluded and all(r["excluded_reason"] for r in excluded)
    assert all(r["excluded_reason"] is None for r in rows if not r["excluded"])
    passing = run_json("screen")
    assert len(passing) == len(rows) - len(excluded)
    sustain = [r["apy_sustainable"] for r in passing]
    assert sustain == sorted(sustain, reverse=True)
    strict = run_json(
        "screen", "--min-sustainability", "70", "--max-risk", "25", "--kind", "lending"
    )
    assert strict and all(
        r["sustainability"] >= 70 and r["risk"] <= 25 and r["kind"] == "lending" for r in strict
    )
    detail = run_json("explain", "aave-v3:ethereum:usdc")
    for score in ("sustainability", "risk"):
        factors = detail[score]["factors"]
        assert abs(sum(f["effect"] for f in factors) - detail[score]["total"]) < 1e-3
        assert all({"name", "value", "effect", "explanation"} <= set(f) for f in factors)
    assert detail["dependencies"]["issuers"] == ["circle"]
    text = runner.invoke(app, ["explain", "aave-v3:ethereum:usdc"])
    assert text.exit_code == 0 and "smart_contract.audits" in text.stdout
    missing = runner.invoke(app, ["explain", "no-such-pool"])
    assert missing.exit_code == 1 and "no opportunity 'no-such-pool'" in missing.stderr


def test_model_evaluate_uses_the_packaged_model_on_stored_history(settings: Settings) -> None:
    run_json("demo")
    out = run_json("model", "evaluate")
    meta = out["model"]
    assert "defillama_dex_pool_history.csv.gz" in meta["sources"]  # shipped: real data
    overall = out["evaluation"]["overall"]
    assert overall["n"] > 10_000
    assert overall["mae_model"] > 0 and overall["mae_naive"] > 0
    assert set(out["evaluation"]["by_group"]) == {"snapshot"}


def test_model_train_then_evaluate_on_unseen_pools(settings: Settings, shared_data: Path) -> None:
    tracker = shared_data / "yields/lending_staking_apy_history.csv"
    trained = run_json(
        "model", "train", "--history", str(tracker), "--apy-unit", "fraction", "--kind", "lending"
    )
    saved = Path(trained["path"])
    assert saved.is_file() and saved.parent == settings.home / "models"
    assert trained["sources"] == ["lending_staking_apy_history.csv"]
    out = run_json(
        "model",
        "evaluate",
        "--history",
        str(shared_data / "defillama/chart_4399e512_balancer.csv"),
        "--apy-unit",
        "fraction",
        "--id",
        "balancer-4399e512",
    )
    assert out["model"]["sources"] == ["lending_staking_apy_history.csv"]  # the user's model
    assert out["evaluation"]["overall"]["n"] > 100


def test_indices_and_index(settings: Settings, tmp_path: Path) -> None:
    rows = run_json("indices")
    names = {r["name"] for r in rows}
    assert names == {"large-cap-staking", "defi-yield", "stablecoin-income", "balanced", "growth"}
    for r in rows:
        weights = [c["weight"] for c in r["constituents"]]
        assert weights and abs(sum(weights) - 1.0) < 1e-9, r["name"]
        assert all(0 < w <= 1 for w in weights)
    staking = next(r for r in rows if r["name"] == "large-cap-staking")
    assert 4.0 <= staking["expected_apy"] <= 8.0
    detail = run_json("index", "defi-yield")
    assert detail["rules"]["caps"]["single"] == 0.10
    assert max(c["weight"] for c in detail["constituents"]) <= 0.10 + 1e-9
    history = run_json("index", "stablecoin-income", "--history", "--start", "2025-01-01")
    assert history["history"]["summary"]["days"] >= 180
    assert history["history"]["levels"][-1]["level_total"] > 0
    text = runner.invoke(app, ["indices"])
    assert text.exit_code == 0 and "defi-yield" in text.stdout
    bad = runner.invoke(app, ["index", "no-such-index"])
    assert bad.exit_code == 2 and "unknown index" in bad.stderr


def test_api_key_create_list_revoke(settings: Settings) -> None:
    created = run_json("api-key", "create", "my bot", "--rate-per-min", "30")
    assert created["token"].startswith(f"ry_{created['key_id']}_")
    assert created["name"] == "my bot" and created["rate_per_min"] == 30
    listed = run_json("api-key", "list")
    assert [k["key_id"] for k in listed] == [created["key_id"]]
    assert "token" not in listed[0] and created["token"] not in json.dumps(listed)
    revoked = run_json("api-key", "revoke", created["key_id"])
    assert revoked["revoked_at"] is not None
    missing = runner.invoke(app, ["api-key", "revoke", "nope"])
    assert missing.exit_code == 2 and "no API key 'nope'" in missing.stderr
    text = runner.invoke(app, ["api-key", "create", "human"])
    assert text.exit_code == 0 and "not shown again" in text.stdout


def test_serve_binds_to_loopback_and_loads_the_snapshot_when_empty(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setenv("REALYIELD_DASHBOARD_TOKEN", "restored-after-the-test")
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"target": target, **kw}))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8000
    assert calls[0]["target"] == "realyield.server:create_server" and calls[0]["factory"]
    assert "loaded the bundled snapshot" in result.stderr
    rows = run_json("universe", "--limit", "3")
    assert {r["source"] for r in rows} == {"snapshot"}
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert calls[1]["host"] == "0.0.0.0" and calls[1]["port"] == 9000
    assert "reachable from other machines" in result.stderr
