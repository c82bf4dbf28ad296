"""The dashboard in a real browser: Playwright drives Debian's Chromium (headless, no
background networking) against the live uvicorn server. Every page loads without a
JavaScript error or a failed request, states the data's as-of date and that it is
illustrative, and draws its Plotly charts; the screener's filters, sorting and paging
work; the replay form submits a job and draws its result. Screenshots go to
``test-output/screenshots``.

Skipped, with the reason, only when Chromium or Playwright is missing (``.ci/run``
installs both, so in CI they run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveApi

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def wait_for(tab: Any, expression: str, timeout: float = 30_000) -> None:
    """Poll ``expression`` in the page until it is truthy (``timeout`` in ms).

    Not ``wait_for_function``: Playwright's in-page poller compiles the string with
    eval, which the dashboard's CSP (``script-src 'self'``, no eval) rightly refuses;
    ``evaluate`` goes through the DevTools protocol. The CSP stays on in these tests, so
    anything the dashboard itself does against it shows up as a console error.
    """
    deadline = time.monotonic() + timeout / 1000
    while not tab.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout / 1000:g} s for: {expression}")
        time.sleep(0.1)


class Page:
    """A browser tab that records console errors, page errors and failed requests."""

    def __init__(self, browser: Any, base: str, shots: Path) -> None:
        self.tab = browser.new_page(viewport={"width": 1280, "height": 900})
        self.base = base
        self.shots = shots
        self.problems: list[str] = []
        self.tab.on(
            "console", lambda m: self.problems.append(m.text) if m.type == "error" else None
        )
        self.tab.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.tab.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        self.tab.on("requestfailed", lambda r: self.problems.append(f"failed {r.url}"))

    def open(self, path: str) -> Any:
        response = self.tab.goto(self.base + path, wait_until="networkidle")
        assert response is not None and response.status == 200, path
        return self.tab

    def charts(self, minimum: int) -> int:
        wait_for(
            self.tab,
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {minimum}",
            timeout=20_000,
        )
        return int(self.tab.locator(".js-plotly-plot").count())

    def shot(self, name: str) -> None:
        self.tab.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, live_api: LiveApi, test_output: Path) -> Iterator[Page]:
    shots = test_output / "screenshots"
    shots.mkdir(exist_ok=True)
    p = Page(browser, live_api.url, shots)
    yield p
    p.tab.close()
    assert p.problems == []


def assert_states_data(tab: Any) -> None:
    banner = tab.locator("#data-asof").inner_text()
    assert "Data as of 2025-06-30" in banner and "Illustrative data" in banner


def test_overview_shows_every_index_with_its_yield_split(page: Page) -> None:
    tab = page.open("/")
    assert_states_data(tab)
    assert page.charts(1) == 1
    rows = tab.locator("#index-table tbody tr")
    assert rows.count() == 5
    bars = tab.locator("#yield-split .barlayer .point")
    assert bars.count() >= 8  # real and emission bars of the indices with a yield
    assert "DeFi Yield Index" in tab.locator("#index-table").inner_text()
    page.shot("overview")


def test_index_page_draws_donuts_levels_and_replays_a_window(page: Page) -> None:
    tab = page.open("/indices/defi-yield")
    assert_states_data(tab)
    assert page.charts(4) == 4  # three donuts and the level history
    for by in ("chain", "protocol", "kind"):
        assert tab.locator(f"#donut-{by} .slice").count() >= 2
    assert tab.locator("#levels .scatterlayer .trace").count() == 4
    assert tab.locator("#constituents tbody tr").count() >= 10
    tab.fill("#replay-form input[name=start]", "2025-01-01")
    tab.click("#replay-form button")
    wait_for(
        tab,
        "document.getElementById('replay-status').textContent.startsWith('done')",
        timeout=60_000,
    )
    assert page.charts(5) == 5
    assert "Replay 2025-01-01 to 2025-06-30" in tab.locator("#replay-chart").inner_text()
    page.shot("index-defi-yield")


def test_screener_filters_sorts_and_pages(page: Page) -> None:
    tab = page.open("/screener")
    assert_states_data(tab)
    body = tab.locator("#screener-table tbody tr")
    wait_for(tab, "document.querySelectorAll('#screener-table tbody tr').length > 0")
    assert body.count() == 100
    tab.click("#screener-more")
    wait_for(tab, "document.querySelectorAll('#screener-table tbody tr').length > 100")
    total = int(tab.locator("#screener-count").inner_text().split(" of ")[1].split()[0])
    assert body.count() == total
    tab.select_option("#screener-form select[name=kind]", "lending")
    tab.fill("#screener-form input[name=max_risk]", "20")
    tab.click("#screener-form button")
    wait_for(
        tab,
        "document.getElementById('screener-count').textContent.includes('sorted')"
        " && [...document.querySelectorAll('#screener-table tbody tr')]"
        ".every(r => r.children[1].textContent === 'lending')",
    )
    risks = [
        int(t.split()[0])
        for t in tab.locator("#screener-table tbody td:nth-child(8)").all_inner_texts()
    ]
    assert risks and max(risks) <= 20
    tab.click("#screener-table th[data-sort=risk]")
    wait_for(tab, "document.getElementById('screener-count').textContent.includes('risk')")
    risks = [
        float(t.split()[0])
        for t in tab.locator("#screener-table tbody td:nth-child(8)").all_inner_texts()
    ]
    assert risks == sorted(risks)
    page.shot("screener")
    tab.locator("#screener-table tbody a").first.click()
    tab.wait_for_load_state("networkidle")
    assert "/opportunities/" in tab.url


def test_opportunity_page_explains_scores_with_charts(page: Page) -> None:
    tab = page.open("/opportunities/aave-v3:ethereum:usdc")
    assert_states_data(tab)
    assert page.charts(3) == 3  # both factor charts and the APY history
    text = tab.locator("main").inner_text()
    assert "sustainability:" in text and "smart_contract.audits" in text
    assert tab.locator("#apy-history .scatterlayer .trace").count() == 3
    page.shot("opportunity")


def test_planner_form_plans_and_draws_allocation_fan_and_income(page: Page) -> None:
    tab = page.open("/planner")
    assert_states_data(tab)
    tab.fill("#plan-form input[name=capital]", "500000")
    tab.fill("#plan-form input[name=income_per_year]", "50000")
    tab.fill("#plan-form input[name=paths]", "500")
    tab.click("#plan-form button")
    wait_for(
        tab,
        "['done', 'failed'].some(s => document.getElementById('plan-status')"
        ".textContent.startsWith(s))",
        timeout=120_000,
    )
    assert tab.locator("#plan-status").inner_text() == "done"
    verdict = tab.locator("#plan-verdict").inner_text()
    assert "10.00%" in verdict and "unsustainable" in verdict
    assert page.charts(3) >= 3
    assert tab.locator("#plan-allocation .slice").count() >= 1
    assert tab.locator("#plan-fan .scatterlayer .trace").count() == 5  # 2 bands x 2 + median
    assert tab.locator("#plan-income .barlayer .trace").count() == 2
    success = float(tab.locator("#plan-success").inner_text().rstrip("%"))
    assert 0.0 <= success <= 100.0
    page.shot("planner")


def test_backtest_form_runs_and_draws_equity_and_drawdown(page: Page) -> None:
    tab = page.open("/backtest")
    assert_states_data(tab)
    tab.select_option("#backtest-form select[name=index]", "balanced")
    tab.fill("#backtest-form input[name=start]", "2024-07-01")
    tab.click("#backtest-form button")
    wait_for(
        tab,
        "['done', 'failed'].some(s => document.getElementById('backtest-status')"
        ".textContent.startsWith(s))",
        timeout=180_000,
    )
    assert tab.locator("#backtest-status").inner_text() == "done"
    assert page.charts(1) >= 1
    assert tab.locator("#backtest-equity .scatterlayer .trace").count() == 2
    assert tab.locator("#backtest-metrics tbody tr").count() >= 5
    page.shot("backtest")


def test_review_form_reviews_a_quarter_and_draws_earned_against_expected(page: Page) -> None:
    tab = page.open("/review")
    assert_states_data(tab)
    assert tab.locator("#review-form input[name=quarter]").input_value() == "2025Q1"
    tab.select_option("#review-form select[name=index]", "stablecoin-income")
    tab.click("#review-form button")
    wait_for(
        tab,
        "['done', 'failed'].some(s => document.getElementById('review-status')"
        ".textContent.startsWith(s))",
        timeout=120_000,
    )
    assert tab.locator("#review-status").inner_text() == "done"
    assert page.charts(1) >= 1
    assert tab.locator("#review-chart .barlayer .trace").count() == 2
    assert "2025Q1" in tab.locator("#review-markdown").inner_text()
    page.shot("review")


def test_portfolio_page_shows_holdings_gains_and_income(page: Page, live_api: LiveApi) -> None:
    from realyield.portfolio import service
    from realyield.portfolio.imports import import_text

    generic = Path(__file__).parents[1] / "fixtures" / "ledger" / "generic.csv"
    import_text(live_api.engine, generic.read_text(), "generic", name="generic.csv")
    year = service.latest_year(live_api.engine)
    assert year is not None
    tab = page.open(f"/portfolio?year={year}")
    assert_states_data(tab)
    summary = service.ledger_summary(live_api.engine, year).as_dict()
    figures = tab.locator("#ledger-figures").inner_text()
    assert summary["gains"]["gain"] in figures and summary["income"]["total"] in figures
    assert tab.locator("#holdings tbody tr").count() == len(summary["holdings"])
    assert page.charts(2) >= 2
    page.shot("portfolio")
    import httpx

    assert httpx.get(f"{live_api.url}/portfolio?year=1999").status_code == 404


def test_alerts_page_shows_stored_alerts_or_says_nobody_looks(
    page: Page, live_api: LiveApi
) -> None:
    from realyield.monitor.alerts import list_alerts, monitor_configured

    tab = page.open("/alerts")
    assert_states_data(tab)
    stored = list_alerts(live_api.engine)
    if stored:  # the API tests may have stored one: it is listed with its evidence
        rows = tab.locator("#alerts-table tbody tr")
        assert rows.count() == len(stored)
        assert stored[0].title in rows.first.inner_text()
    elif monitor_configured(live_api.engine):
        assert "every monitored rule is within" in tab.locator("#alerts-empty").inner_text()
    else:
        assert "no monitor has run on this data yet" in tab.locator("#alerts-empty").inner_text()
    page.shot("alerts")


def test_unknown_pages_answer_404_with_a_message(browser: Any, live_api: LiveApi) -> None:
    tab = browser.new_page()
    response = tab.goto(f"{live_api.url}/indices/nope")
    assert response.status == 404 and "no index 'nope'" in tab.inner_text("main")
    tab.close()


def test_plotly_is_served_locally_from_the_python_package(live_api: LiveApi) -> None:
    import httpx

    from realyield.web.pages import plotly_js_path

    served = httpx.get(f"{live_api.url}/static/vendor/plotly.min.js")
    assert served.status_code == 200 and served.content == plotly_js_path().read_bytes()
    assert served.headers["content-type"].startswith("text/javascript")
