"""``review`` prints for the terminal (no Markdown source, nothing cut) and tells apart
holdings that share a label by their chain (issue 18, item 6)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core import clock
from realyield.indices.composition import Constituent
from realyield.monitor.review import unique_labels
from tests.monitor.test_review import NOW as REVIEW_NOW
from tests.monitor.test_review import fill as fill_review

runner = CliRunner()


def test_review_text_is_rendered_not_markdown(engine: Engine, tmp_path: Path) -> None:
    fill_review(engine)
    config = tmp_path / "monitor.toml"
    config.write_text("[portfolio]\nincome_per_year_usd = 2000\n[holdings]\na = 10000\nb = 20000\n")
    with clock.freeze(REVIEW_NOW):
        result = runner.invoke(app, ["review", "--quarter", "2024Q1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for markdown in ("# Quarterly", "## ", "|---", "**", "`"):
        assert markdown not in out, f"Markdown source {markdown!r} in the terminal output"
    assert "…" not in out
    assert "Quarterly review 2024Q1" in out and "Suggested rebalance" in out
    cells = [line.replace("│", " ").split() for line in out.splitlines()]
    rows = {c[0]: " ".join(c) for c in cells if c[:1] in (["a"], ["b"])}
    assert "$10,000" in rows["a"] and "$20,000" in rows["b"]  # whole figures, one line each
    assert "33.3%" in rows["a"] and "66.7%" in rows["b"]


def _c(id_: str, label: str, chain: str | None) -> Constituent:
    return Constituent(
        id=id_, label=label, kind="lending", chain=chain, weight=0.1, apy=4.0, apy_real=4.0,
        apy_emission=0.0, apy_sustainable=4.0, risk=20.0, underlying=("usd-coin",),
    )  # fmt: skip


def test_labels_shared_by_several_holdings_carry_their_chain() -> None:
    items = [
        _c("p1", "aave-v3 USDC", "Ethereum"),
        _c("p2", "aave-v3 USDC", "Arbitrum"),
        _c("p3", "lido stETH", "Ethereum"),
    ]
    assert unique_labels(items) == {
        "p1": "aave-v3 USDC (Ethereum)",
        "p2": "aave-v3 USDC (Arbitrum)",
        "p3": "lido stETH",
    }
    assert dataclasses.is_dataclass(items[0])


def test_review_never_sells_what_the_target_holds(engine: Engine) -> None:
    """An index holds asset:bitcoin directly: the opportunity screens do not know it, and
    the review must not tell the user to sell it (issue 18)."""
    from realyield.monitor.review import quarterly_review

    fill_review(engine)
    with clock.freeze(REVIEW_NOW):
        review = quarterly_review(
            engine,
            "2024Q1",
            {"a": 7000.0, "asset:bitcoin": 3000.0, "gone": 1.0},
            targets={"a": 0.7, "asset:bitcoin": 0.3},
        )
    assert review.sell == ["gone"]  # not targeted and gone: sold; bitcoin is kept
    assert any("asset:bitcoin" in n and "held by the target" in n for n in review.notes)


def test_review_takes_earned_income_from_the_ledger(engine: Engine, tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from realyield.portfolio import ledger
    from realyield.portfolio.events import LedgerEvent

    fill_review(engine)
    rewards = [
        LedgerEvent(kind="lending_interest", time=datetime(2024, m, 28, tzinfo=UTC), asset="USDC",
                    amount=Decimal("40.5"), key=f"r{m}", value=Decimal("40.5"), opportunity="a")
        for m in (1, 2, 3)
    ] + [LedgerEvent(kind="lending_interest", time=datetime(2024, 4, 2, tzinfo=UTC),
                     asset="USDC", amount=Decimal(9), key="april", value=Decimal(9),
                     opportunity="a")]  # fmt: skip
    ledger.add_events(engine, rewards)
    config = tmp_path / "monitor.toml"
    config.write_text("[holdings]\na = 10000\nb = 20000\n")
    with clock.freeze(REVIEW_NOW):
        result = runner.invoke(
            app, ["review", "--quarter", "2024Q1", "--config", str(config), "--json"]
        )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["earned_basis"] == "ledger"
    earned = {h["id"]: h["earned_usd"] for h in out["holdings"]}
    assert earned == {"a": 121.5, "b": 0.0}  # 3 x 40.5 in the quarter; April's is not


def test_monitor_and_review_watch_what_the_ledger_holds(engine: Engine, tmp_path: Path) -> None:
    """Without [holdings] in monitor.toml the review reviews the ledger's positions: 5,000
    USDC deposited into opportunity ``a`` and 0.5 USDC of interest from it (a dollar with
    no stored price: valued at par) make a 5,000.5 holding of ``a``."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    from realyield.portfolio import ledger
    from realyield.portfolio.events import LedgerEvent
    from realyield.portfolio.holdings import opportunity_values

    fill_review(engine)
    ledger.add_events(
        engine,
        [
            LedgerEvent(kind="deposit", time=datetime(2024, 1, 2, tzinfo=UTC), asset="USDC",
                        amount=Decimal(5000), key="d", value=Decimal(5000), opportunity="a"),
            LedgerEvent(kind="lending_interest", time=datetime(2024, 2, 2, tzinfo=UTC),
                        asset="USDC", amount=Decimal("0.5"), key="i", value=Decimal("0.5"),
                        opportunity="a"),
            LedgerEvent(kind="deposit", time=datetime(2024, 1, 2, tzinfo=UTC), asset="USDT",
                        amount=Decimal(100), key="cash", value=Decimal(100)),
        ],
    )  # fmt: skip
    with clock.freeze(REVIEW_NOW):
        assert opportunity_values(engine) == {"a": 5000.5}  # USDT is tied to nothing
        config = tmp_path / "monitor.toml"
        config.write_text("[rules]\n")
        result = runner.invoke(
            app, ["review", "--quarter", "2024Q1", "--config", str(config), "--json"]
        )
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert [(h["id"], h["value_usd"]) for h in out["holdings"]] == [("a", 5000.5)]
        config.write_text("[holdings]\na = 7000\nb = 1000\n")  # the TOML overrides
        result = runner.invoke(
            app, ["review", "--quarter", "2024Q1", "--config", str(config), "--json"]
        )
        out = json.loads(result.stdout)
        assert {h["id"]: h["value_usd"] for h in out["holdings"]} == {"a": 7000.0, "b": 1000.0}
