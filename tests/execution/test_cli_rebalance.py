"""``realyield rebalance``: paper by default, dry runs send nothing, live needs consent."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.cli import app
from realyield.cli.execution import YES_FLAG, _confirm_live
from realyield.core.errors import ConfigError
from realyield.execution.orders import OrderPlan
from realyield.universe import build

runner = CliRunner()
TARGETS = ["--target", "BTC=50%", "--target", "ETH=0.3"]


def test_paper_rebalance_persists_and_dry_run_sends_nothing(engine: Engine) -> None:
    build.load_snapshot(engine)
    first = runner.invoke(app, ["rebalance", "--fund", "USDT=10000", *TARGETS, "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["broker"] == "paper:default" and out["live"] is False and not out["dry_run"]
    assert [f["status"] for f in out["fills"]] == ["closed", "closed"]
    balances = {k: Decimal(v) for k, v in out["balances"].items()}
    assert set(balances) == {"BTC", "ETH", "USDT"}
    spent = sum(Decimal(f["cost"]) + Decimal(f["fee"]) for f in out["fills"])
    assert balances["USDT"] == Decimal(10_000) - spent
    dry = runner.invoke(app, ["rebalance", *TARGETS, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] is True and plan["fills"] == []
    # The balances of the first run were read back from the store for the plan:
    assert Decimal(plan["plan"]["portfolio_value"]) > Decimal(9_900)
    text = runner.invoke(app, ["rebalance", *TARGETS, "--dry-run"])
    assert "dry run: nothing was sent" in text.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--live"], "paper never trades"),
        (["--dry-run", "--live"], "exclude each other"),
        (["--broker", "ccxt:binance", "--live"], "no binance API credentials"),
        (["--broker", "kraken"], "use paper or ccxt:EXCHANGE"),
        (["--index", "growth"], "give the targets one way"),
    ],
)
def test_unsafe_or_unclear_requests_are_refused(
    engine: Engine, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("keyring.get_password", lambda service, name: None)  # no real keys
    result = runner.invoke(app, ["rebalance", *TARGETS, *args])
    assert result.exit_code == 2 and message in result.output


def test_live_needs_a_terminal_or_the_explicit_flag() -> None:
    plan = OrderPlan("r", "USDT", Decimal(0), Decimal(0), Decimal(0))
    with pytest.raises(ConfigError, match=YES_FLAG):
        _confirm_live("binance", plan, yes=False)  # pytest's stdin is not a terminal
    _confirm_live("binance", plan, yes=True)
