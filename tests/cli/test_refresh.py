"""``data refresh`` when the live source fails (issue 15): the bar stops cleanly, the
command says what failed and what the store still holds, and the exit status is not 0
when nothing was refreshed. The network is never used: ``respx`` answers every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from realyield.cli import app
from realyield.cli.data import REFRESH_EXIT
from realyield.core.settings import Settings

runner = CliRunner()
LLAMA = "https://yields.llama.fi"
GECKO = "https://api.coingecko.com"


@pytest.fixture
def offline(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Every live source unreachable, one attempt each. The routes live in this
    fixture's own router, so they end with the test (routes added to respx's global
    router outside a mock context stay and break later tests)."""
    monkeypatch.setenv("REALYIELD_HTTP_MAX_ATTEMPTS", "1")
    with respx.mock(assert_all_called=False) as router:
        for host in (LLAMA, GECKO):
            router.get(url__startswith=host).mock(side_effect=httpx.ConnectError("offline"))
        yield settings


def _store_a_pools_file(tmp_path: Path) -> None:
    path = tmp_path / "pools_2024-05-01.csv"
    path.write_text(
        "chain,project,symbol,apy,apyBase,apyReward,tvlUsd,pool\n"
        "Ethereum,aave-v3,USDC,5,5,0,2000000,a\n"
        "Arbitrum,uniswap-v3,WETH-USDC,30,30,0,9000000,c\n"
    )
    result = runner.invoke(app, ["data", "import", str(path)])
    assert result.exit_code == 0, result.output


def _ids() -> list[str]:
    result = runner.invoke(app, ["universe", "--json", "--limit", "500"])
    assert result.exit_code == 0, result.output
    return sorted(r["id"] for r in json.loads(result.stdout))


@pytest.mark.usefixtures("offline")
def test_offline_on_an_empty_store_loads_the_snapshot_and_exits_75() -> None:
    result = runner.invoke(app, ["data", "refresh", "--source", "defillama"])
    assert result.exit_code == REFRESH_EXIT["offline"] == 75
    out = result.stdout
    assert "defillama: offline" in out and "cannot reach https://yields.llama.fi" in out
    assert "bundled snapshot (as of 2025-06-30) is loaded instead" in out
    assert "kept in the store: 187 opportunities" in out and "snapshot 2025-06-30" in out
    # The bar stopped short ("defillama /pools 0/1") is gone, leaving nothing behind.
    assert result.stderr == ""
    assert len(_ids()) >= 150


@pytest.mark.usefixtures("offline")
def test_offline_keeps_the_stored_data_and_says_what_it_holds(tmp_path: Path) -> None:
    _store_a_pools_file(tmp_path)
    before = _ids()
    for source in ("defillama", "coingecko"):
        result = runner.invoke(app, ["data", "refresh", "--source", source])
        assert result.exit_code == 75, result.output
        assert f"{source}: offline" in result.stdout
        assert "the last stored data is kept" in result.stdout
        assert "snapshot:" not in result.stdout  # something was stored: no fallback
        assert "kept in the store: 2 opportunities" in result.stdout
        assert "newest per source: file 2024-05-01" in result.stdout
        assert result.stderr == ""
    assert _ids() == before == ["a", "c"]


@pytest.mark.usefixtures("offline")
def test_offline_json_reports_status_and_store_with_the_exit_status() -> None:
    result = runner.invoke(app, ["data", "refresh", "--source", "coingecko", "--json"])
    assert result.exit_code == 75
    out = json.loads(result.stdout)
    assert out["status"] == "offline" and out["fallback"]["status"] == "ok"
    assert out["kept"]["tables"]["opportunities"] == 187
    assert out["kept"]["sources"]["snapshot"]["latest"] == "2025-06-30"


@respx.mock
def test_a_source_answering_nonsense_fails_with_status_1(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REALYIELD_HTTP_MAX_ATTEMPTS", "1")
    respx.get(url__startswith=LLAMA).mock(return_value=httpx.Response(200, json={"oops": 1}))
    result = runner.invoke(app, ["data", "refresh", "--source", "defillama"])
    assert result.exit_code == REFRESH_EXIT["failed"] == 1, result.output
    assert "defillama: failed" in result.stdout and "kept in the store" in result.stdout


def test_a_refresh_that_works_exits_0(settings: Settings) -> None:
    result = runner.invoke(app, ["data", "refresh", "--source", "snapshot"])
    assert result.exit_code == 0, result.output
    assert "snapshot: ok" in result.stdout and "kept in the store" not in result.stdout
    assert "2/2" in result.stderr  # the finished bar's last frame stays (a log shows it)
