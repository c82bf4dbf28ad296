"""The dashboard: server-rendered pages (Jinja2) whose charts Plotly draws in the browser.

No build step and no CDN: templates and ``static/`` ship in the package, and Plotly's
JavaScript is served from the installed ``plotly`` Python package. Each page's data is
the same response model the API serves (``presentation.views``), embedded in the page
as JSON (a data block, never a script: the CSP allows only this server's script files),
so the dashboard never shows a figure the API would not. Every page states the data's
as-of date and labels illustrative (bundled snapshot) data as such.

Adding a page (e.g. the planner): write ``templates/planner.html`` (extend
``base.html``), a context function ``(snapshot, path params) -> dict``, and append a
``Page`` to ``PAGES``; forms that run jobs call ``ryJob(path, body)`` from
``static/app.js`` (it sends the page's dashboard token and polls the job; the token
runs only the jobs ``api.extensions`` marks ``dashboard=True``). The dashboard imports
nothing from ``realyield.api``: what it shares with it lives in ``presentation``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from realyield import __version__
from realyield.core.errors import ConfigError, NotFoundError
from realyield.monitor.alerts import active_alerts, monitor_configured
from realyield.planning.profiles import RISK_LEVELS, WITHDRAWAL_RULES, presets
from realyield.portfolio import service as portfolio_service
from realyield.presentation import views
from realyield.presentation.data import DataSnapshot, NoDataError
from realyield.presentation.security import from_this_machine
from realyield.presentation.state import SharedState, shared_state, snapshot

HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: float | None, digits: int = 2) -> str:
    """A percent figure (APY), '-' when missing."""
    return "-" if value is None else f"{value:.{digits}f}%"


def _frac(value: float | None, digits: int = 1, sign: bool = False) -> str:
    """A fraction (weight, return) shown as percent, '-' when missing."""
    return "-" if value is None else f"{100 * value:{'+' if sign else ''}.{digits}f}%"


_env.filters["pct"] = _pct
_env.filters["frac"] = _frac

Context = Callable[[DataSnapshot, dict[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class Page:
    """A dashboard page: URL (may hold ``{params}``), template, title, nav label."""

    path: str
    template: str
    title: str
    context: Context
    nav: str | None = None  # label in the navigation bar; None: not listed
    #: False for pages over data outside the data version (the ledger): rendered on
    #: every request, and given the query parameters too
    cached: bool = True
    #: pages of private data (the ledger): shown only to this machine's browser, and
    #: only while ``api_dashboard_ledger`` is on; everyone else needs the API and a key
    private: bool = False


def plotly_js_path() -> Path:
    """Plotly's bundled, minified JavaScript inside the installed ``plotly`` package.

    Raises:
        ConfigError: plotly is not installed or ships no ``plotly.min.js``.
    """
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the dashboard needs the plotly package: pip install plotly")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ConfigError(f"plotly is installed but {path} is missing: reinstall plotly")
    return path


def _overview(snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    return {"indices": views.index_list(snap).model_dump(mode="json")["data"]}


def _index(snap: DataSnapshot, params: dict[str, str]) -> dict[str, Any]:
    detail = views.index_detail(snap, params["name"], history=True).model_dump(mode="json")
    return {"index": detail, "title": detail["summary"]["title"]}


def _screener(snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    table = snap.table
    return {
        "chains": sorted(set(table["chain"].to_list())),
        "total": table.height,
        "passing": int((~table["excluded"]).sum()),
    }


def _opportunity(snap: DataSnapshot, params: dict[str, str]) -> dict[str, Any]:
    detail = views.opportunity_detail(snap, params["id"]).model_dump(mode="json")
    return {"opp": detail, "title": f"{detail['protocol']} {detail['symbol']}"}


def _alerts(snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    return {
        "alerts": [a.as_dict() for a in active_alerts(snap.engine)],
        "monitor_configured": monitor_configured(snap.engine),
    }


def _planner(_snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    return {
        "presets": list(presets().values()),
        "risks": RISK_LEVELS,
        "withdrawals": WITHDRAWAL_RULES,
    }


def _backtest(snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    return {"indices": sorted(snap.definitions)}


def _review(snap: DataSnapshot, _params: dict[str, str]) -> dict[str, Any]:
    q = (snap.as_of.month - 1) // 3 + 1  # the quarter before the data's: a complete one
    year, q = (snap.as_of.year, q - 1) if q > 1 else (snap.as_of.year - 1, 4)
    return {"indices": sorted(snap.definitions), "quarter": f"{year}Q{q}"}


def _portfolio(snap: DataSnapshot, params: dict[str, str]) -> dict[str, Any]:
    latest = portfolio_service.latest_year(snap.engine)
    if latest is None:
        return {"ledger": None, "years": []}
    try:
        year = int(params.get("year", latest))
    except ValueError as exc:
        raise NotFoundError(f"year {params.get('year')!r} is not a tax year") from exc
    years = list(range(latest, max(latest - 10, 1969), -1))
    if year not in years:
        raise NotFoundError(f"no tax year {year} here; the ledger's years run to {latest}")
    summary = portfolio_service.ledger_summary(snap.engine, year)
    return {"ledger": summary.as_dict(), "years": years}


PAGES: list[Page] = [
    Page("/", "overview.html", "Overview", _overview, nav="Overview"),
    Page("/screener", "screener.html", "Screener", _screener, nav="Screener"),
    Page("/planner", "planner.html", "Planner", _planner, nav="Planner"),
    Page("/backtest", "backtest.html", "Backtest", _backtest, nav="Backtest"),
    Page("/alerts", "alerts.html", "Alerts", _alerts, nav="Alerts"),
    Page("/review", "review.html", "Review", _review, nav="Review"),
    Page(
        "/portfolio",
        "portfolio.html",
        "Portfolio & tax",
        _portfolio,
        "Portfolio",
        cached=False,
        private=True,
    ),
    Page("/indices/{name}", "index.html", "Index", _index),
    Page("/opportunities/{id}", "opportunity.html", "Opportunity", _opportunity),
]


def _render(page: Page, state: SharedState, snap: DataSnapshot, params: dict[str, str]) -> bytes:
    context = page.context(snap, params)
    html = _env.get_template(page.template).render(
        page=page,
        nav=[p for p in PAGES if p.nav],
        meta=views.meta(snap).model_dump(mode="json"),
        dashboard_token=state.dashboard_token,
        version=__version__,
        **{"title": page.title, **context},
    )
    return html.encode()


def _error_page(status: int, title: str, message: str) -> HTMLResponse:
    html = _env.get_template("error.html").render(
        title=title, message=message, nav=[p for p in PAGES if p.nav], meta=None
    )
    return HTMLResponse(html, status_code=status)


def _page_route(page: Page) -> Callable[..., Any]:
    async def route(request: Request) -> Response:
        state = shared_state(request)
        params = {k: str(v) for k, v in request.path_params.items()}
        if page.private and not _may_see_private(request, state):
            return _error_page(
                403,
                "Only on this machine",
                "The portfolio page shows your ledger only in a browser on the machine that "
                "runs realyield, opened as localhost or 127.0.0.1 and not through a proxy "
                "(and only while api_dashboard_ledger is on). From elsewhere, use "
                "GET /v1/ledger/summary with an API key.",
            )
        try:
            snap = await snapshot(request)
            if not page.cached:
                params = {**{k: str(v) for k, v in request.query_params.items()}, **params}
                body = await run_in_threadpool(_render, page, state, snap, params)
                return HTMLResponse(body, headers={"Cache-Control": "no-store"})
            key = f"page|{page.path}|{sorted(params.items())}"
            cached = snap.cached(key)
            if cached is None:
                cached = await run_in_threadpool(
                    snap.response, key, lambda: _render(page, state, snap, params)
                )
        except NotFoundError as exc:
            return _error_page(404, "Not found", str(exc))
        except NoDataError as exc:
            return _error_page(503, "No data yet", str(exc))
        return HTMLResponse(cached.body, headers={"Cache-Control": "no-cache"})

    route.__name__ = f"page_{page.template.removesuffix('.html')}"
    return route


def _may_see_private(request: Request, state: SharedState) -> bool:
    return bool(state.settings.api_dashboard_ledger) and from_this_machine(
        request, loopback_host=True
    )


def install(app: FastAPI) -> None:
    """Mount the static files, Plotly's script and every page of ``PAGES``."""
    plotly = plotly_js_path()

    async def plotly_js() -> FileResponse:
        return FileResponse(
            plotly,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_api_route("/static/vendor/plotly.min.js", plotly_js, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for page in PAGES:
        app.add_api_route(
            page.path, _page_route(page), response_class=HTMLResponse, include_in_schema=False
        )
