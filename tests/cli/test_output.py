"""Tables that never hide a digit (issue 15, item 5).

Before the fix a table printed to a pipe or a log was squeezed into 80 columns (or
``$COLUMNS``) and its figures cut with ``…``: ``14,654.12`` printed as ``4,654.…``. The
first tests drive ``ReportConsole`` directly (and show a plain rich ``Console`` cuts the
same table); the others run real commands through Typer's runner (not a terminal) with
``COLUMNS=40`` and check that every figure the command's own ``--json`` gives (or the
library computes) appears whole, on its row's line.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from realyield.cli import app, common
from realyield.cli.common import fmt_pct, fmt_usd
from realyield.cli.render import ReportConsole
from realyield.core.settings import load_settings
from realyield.reference import load_staking_params
from realyield.store.engine import open_store
from realyield.universe.build import load_snapshot

runner = CliRunner()

ROWS = [
    ("Lido stETH on a long name for a protocol", "Ethereum", "196,485.00%", "14,654.12"),
    ("Aave V3 USDC", "Arbitrum", "5.00%", "-1,234,567.89"),
]


def _table() -> Table:
    """A table with the column hints that used to cut figures (fixed widths, ellipsis)."""
    table = Table(title="Disposals 2024", box=SIMPLE_HEAD, pad_edge=False)
    table.add_column("opportunity", no_wrap=True, overflow="ellipsis", width=22)
    table.add_column("chain", no_wrap=True, overflow="ellipsis", width=9)
    table.add_column("APY", justify="right", no_wrap=True, width=8)
    table.add_column("gain", justify="right", max_width=10)
    for row in ROWS:
        table.add_row(*row)
    return table


def _print(console: Console, *objects: object) -> str:
    console.print(*objects)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def _digits(text: str) -> str:
    return "".join(sorted(c for c in text if c.isdigit()))


def test_a_plain_rich_console_cuts_figures_in_a_pipe() -> None:
    """The defect, reproduced with rich's own console: what the fix must not do."""
    out = _print(Console(file=io.StringIO(), width=40), _table())
    assert "…" in out and "14,654.12" not in out


@pytest.mark.parametrize("width", [40, 80])
def test_off_a_terminal_a_table_is_printed_whole_at_its_natural_width(width: int) -> None:
    out = _print(ReportConsole(file=io.StringIO(), width=width), _table())
    assert "…" not in out
    lines = out.splitlines()
    for name, chain, apy, gain in ROWS:  # each row is one line of whole cells
        assert any(name in ln and chain in ln and apy in ln and gain in ln for ln in lines)
    assert max(len(ln) for ln in lines) >= len(ROWS[0][0]) + len("196,485.00%")


@pytest.mark.parametrize("width", [30, 40, 60])
def test_on_a_narrow_terminal_cells_fold_and_no_digit_is_lost(width: int) -> None:
    console = ReportConsole(file=io.StringIO(), width=width, force_terminal=True)
    console.no_color = True
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", _print(console, _table()))
    assert "…" not in out
    # Every digit of every cell is printed (folded maybe, never cut): the same digits.
    cells = "".join("".join(row) for row in ROWS) + "2024"  # "2024": the title
    assert _digits(out) == _digits(cells)
    assert max(len(ln.rstrip()) for ln in out.splitlines()) <= width


def test_on_a_wide_terminal_figures_stay_on_one_line() -> None:
    console = ReportConsole(file=io.StringIO(), width=120, force_terminal=True)
    console.no_color = True
    out = _print(console, _table())
    assert "196,485.00%" in out and "-1,234,567.89" in out and "…" not in out


def test_off_a_terminal_text_is_not_hard_wrapped() -> None:
    line = "fetched/read 183 rows, accepted 183, rejected 0, duplicates resolved 0 " * 3
    out = _print(ReportConsole(file=io.StringIO(), width=40), line.strip())
    assert out == line.strip() + "\n"


def test_a_long_rule_title_is_not_cut_off_a_terminal() -> None:
    console = ReportConsole(file=io.StringIO(), width=40)
    console.rule("Income plan: the supplemental-income preset, over thirty years")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "over thirty years" in out and "…" not in out


# -- real commands, through Typer's runner (not a terminal), 40 columns ---------------

LEDGER = [
    # kind, asset, amount, counter asset, counter amount, value, time
    ("deposit", "ETH", "100", None, None, "123456.78", "2024-01-10T00:00:00"),
    ("staking_reward", "ETH", "3.5", None, None, "14654.12", "2024-03-01T00:00:00"),
    ("trade", "USD", "1234567.89", "ETH", "100", None, "2024-08-01T00:00:00"),
]


@pytest.fixture(scope="module")
def report_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the bundled snapshot and a ledger of large figures (built once)."""
    home = tmp_path_factory.mktemp("report-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REALYIELD_HOME", str(home))
        engine = open_store(load_settings())
        load_snapshot(engine)
        engine.dispose()
        for kind, asset, amount, counter, counter_amount, value, time in LEDGER:
            args = ["ledger", "add", "--kind", kind, "--asset", asset, "--amount", amount]
            args += ["--time", time, "--key", f"{kind}-{time}"]
            if counter and counter_amount:
                args += ["--counter-asset", counter, "--counter-amount", counter_amount]
            if value:
                args += ["--value", value]
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def narrow(report_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for key in list(os.environ):
        if key.startswith("REALYIELD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REALYIELD_HOME", str(report_home))
    monkeypatch.setenv("COLUMNS", "40")
    assert common.console.width == 40  # the narrow width the defect needs
    yield


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    return result.stdout


def _json(*args: str) -> object:
    return json.loads(_run(*args, "--json"))


def _has_row(out: str, *cells: str) -> bool:
    return any(all(c in line for c in cells) for line in out.splitlines())


@pytest.mark.usefixtures("narrow")
def test_universe_and_screen_print_every_figure_whole() -> None:
    rows = _json("universe", "--limit", "40")
    assert isinstance(rows, list) and len(rows) == 40
    out = _run("universe", "--limit", "40")
    for r in rows:
        figures = [fmt_pct(r[k]) for k in ("apy", "apy_base", "apy_reward")]
        assert _has_row(out, r["label"], *figures, fmt_usd(r["tvl_usd"]))
    scored = _json("screen", "--limit", "30")
    assert isinstance(scored, list) and scored
    out = _run("screen", "--limit", "30")
    for r in scored[:30]:  # --json lists every row; --limit is the table's
        figures = [fmt_pct(r[k]) for k in ("apy", "apy_sustainable", "forecast_apy_30d")]
        assert _has_row(out, r["label"], *figures)


@pytest.mark.usefixtures("narrow")
def test_indices_print_every_figure_whole() -> None:
    found = _json("indices")
    assert isinstance(found, list) and found
    out = _run("indices")
    for c in found:
        apys = [fmt_pct(c[k]) for k in ("expected_apy", "expected_real_apy")]
        assert _has_row(out, c["name"], *apys, f"{c['effective_bets']:.1f}")
    first = found[0]
    out = _run("index", first["name"])
    for holding in first["constituents"]:
        assert _has_row(out, holding["label"], f"{holding['weight']:.1%}", fmt_pct(holding["apy"]))


@pytest.mark.usefixtures("narrow")
def test_ledger_tables_print_amounts_to_the_cent() -> None:
    events = _run("ledger", "list")
    assert _has_row(events, "staking_reward", "14,654.12")
    assert _has_row(events, "deposit", "123,456.78")
    assert _has_row(events, "trade", "1234567.89", "1,234,567.89")
    gains = _run("ledger", "gains", "--year", "2024")
    # Proceeds 1,234,567.89 less the deposit's basis 123,456.78: 1,111,111.11.
    assert _has_row(gains, "ETH", "1,234,567.89", "123,456.78", "1,111,111.11")
    income = _run("ledger", "income", "--year", "2024")
    assert _has_row(income, "14,654.12")


@pytest.mark.usefixtures("narrow")
def test_demo_prints_no_cut_cell() -> None:
    out = _run("demo")
    for p in load_staking_params():
        if p.route != "liquid":  # the staking table's rows, figures from the reference data
            assert _has_row(out, p.network, p.route, fmt_pct(p.net_apr_pct))
    assert _has_row(out, "blended", "100%")  # the plan's allocation table, whole
