"""The MCP server: the public Python API (``realyield.library``) as MCP tools,
resources and prompts, for AI agents.

``build_server(engine)`` makes one over a store; ``realyield mcp`` runs it over stdio
and ``realyield serve`` mounts its streamable HTTP transport at ``/mcp`` behind the
server's Host/Origin guard. Tools are read-only except ``acknowledge_alert``, which
needs an API key: the ``api_key`` argument, or over HTTP the request's
``Authorization: Bearer`` / ``X-API-Key`` header. Over HTTP every tool needs a key:
the tools compute afresh (a plan simulates, a screen scores the universe), unlike the
cached REST reads, so an open endpoint would let anyone load the machine; over stdio
the caller is a local process. A library error comes back as a tool error whose text
is the CLI's ``error:`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field
from sqlalchemy.engine import Engine

import realyield.library as ry
from realyield import __version__
from realyield.agents import models as m
from realyield.core.errors import RealyieldError
from realyield.core.secrets import redact
from realyield.library import ledger

T = TypeVar("T")
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
METHODOLOGY = Path(__file__).resolve().parents[3] / "docs" / "methodology.md"
NEEDS_KEY = (
    "{tool} {what} and needs an API key: pass api_key, or over HTTP send "
    "`Authorization: Bearer ry_...` (create one with `realyield api-key create NAME`)"
)
INSTRUCTIONS = (
    "realyield: sustainable crypto income. Screen yield opportunities, explain their "
    "scores, read the published indices, plan an income goal, backtest an index, and read "
    "alerts and the tax ledger. APYs are in percent; yields and probabilities are fractions. "
    "Every tool is read-only except acknowledge_alert, which needs an API key."
)


def cli_text(exc: RealyieldError) -> str:
    """The line the CLI prints for ``exc`` (secrets scrubbed)."""
    return f"error: {redact(str(exc))}"


async def _run(fn: Callable[[], T]) -> T:
    """``fn`` in a worker thread (the library blocks); its ``RealyieldError`` as a tool
    error with the CLI's text."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except RealyieldError as exc:
        raise ToolError(cli_text(exc)) from exc


def _http_request(ctx: Context[Any, Any] | None) -> Any:
    """The HTTP request of this call, or None (stdio and in-memory sessions)."""
    try:
        return ctx.request_context.request if ctx is not None else None
    except ValueError:  # no request context
        return None


def _header_key(request: Any) -> str | None:
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return str(auth[7:].strip()) or None
    key = headers.get("x-api-key")
    return str(key) if key else None


Verify = Callable[[str], Any]


def _gate(
    verify: Verify, tool: str, ctx: Context[Any, Any], *, write: bool, api_key: str | None = None
) -> None:
    """Let the call through, or refuse it: a write always needs a key, and every call
    over HTTP does.

    Raises:
        ToolError: no key where one is needed, or one that is malformed, unknown, wrong
            or revoked (the text never holds the secret).
    """
    request = _http_request(ctx)
    if not write and request is None:
        return
    token = api_key or _header_key(request)
    if not token:
        what = "changes the store" if write else "runs over HTTP"
        raise ToolError(f"error: {NEEDS_KEY.format(tool=tool, what=what)}")
    try:
        verify(token)
    except RealyieldError as exc:
        raise ToolError(cli_text(exc)) from exc


def build_server(engine: Engine, *, verify: Verify | None = None) -> MCPServer:
    """The MCP server over ``engine``'s store (kept open by the caller); ``verify``
    checks an API key (raising ``AuthError``), by default against the store (the HTTP
    server passes its cached, rate-budgeted ``KeyVerifier.verify``)."""
    if verify is None:
        from realyield.api.keys import verify_token

        def verify(token: str) -> Any:
            return verify_token(engine, token)

    server: MCPServer = MCPServer(
        "realyield", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    _read_tools(server, engine, verify)
    _write_tools(server, engine, verify)
    _resources(server)
    _prompts(server)
    return server


def _read_tools(server: MCPServer, engine: Engine, verify: Verify) -> None:
    @server.tool(annotations=READ)
    async def screen(
        ctx: Context[Any, Any],
        kind: str | None = None,
        chain: str | None = None,
        min_sustainability: float | None = None,
        max_risk: float | None = None,
        include_excluded: bool = False,
        sort: str = "sustainable",
        limit: Annotated[int | None, Field(ge=1, le=1000)] = None,
        as_of: str | None = None,
    ) -> m.ScreenResult:
        """Screen and score yield opportunities (as `realyield screen --json`): kind is
        staking | liquid_staking | lending | liquidity | vault; sort is sustainable | apy |
        sustainability | risk | tvl | forecast; as_of YYYY-MM-DD."""
        _gate(verify, "screen", ctx, write=False)
        rows = await _run(
            lambda: ry.screen(
                kind=kind,
                chain=chain,
                min_sustainability=min_sustainability,
                max_risk=max_risk,
                include_excluded=include_excluded,
                sort=sort,
                as_of=as_of,
                store=engine,
            )
        )
        shown = rows[:limit] if limit else rows
        return m.ScreenResult(count=len(rows), rows=[m.ScreenRow(**r) for r in shown])

    @server.tool(annotations=READ)
    async def explain(
        ctx: Context[Any, Any], opportunity_id: str, as_of: str | None = None
    ) -> m.Explanation:
        """Every factor behind one opportunity's sustainability and risk scores, its
        screens, dependencies and forecast; the id is a screen row's id."""
        _gate(verify, "explain", ctx, write=False)
        e = await _run(lambda: ry.explain(opportunity_id, as_of=as_of, store=engine))
        return m.Explanation(opportunity_id=opportunity_id, explanation=e.as_dict())

    @server.tool(annotations=READ)
    async def list_indices(ctx: Context[Any, Any], as_of: str | None = None) -> m.IndexList:
        """The published indices with expected yield (real and emission), risk and bets."""
        _gate(verify, "list_indices", ctx, write=False)
        built = await _run(lambda: ry.indices(as_of=as_of, store=engine))
        out = []
        for name, comp in built.items():
            if isinstance(comp, Exception):
                out.append(m.IndexSummary(name=name, error=str(comp)))
            else:
                d = comp.as_dict()
                out.append(
                    m.IndexSummary.model_validate(
                        {k: d.get(k) for k in m.IndexSummary.model_fields}
                    )
                )
        return m.IndexList(indices=out)

    @server.tool(annotations=READ)
    async def read_index(
        ctx: Context[Any, Any], name: str, as_of: str | None = None
    ) -> m.IndexDetail:
        """One index's composition: constituents, weights, components and notes."""
        _gate(verify, "read_index", ctx, write=False)
        built = await _run(lambda: ry.indices(as_of=as_of, store=engine))
        if name not in built:
            raise ToolError(f"error: unknown index {name!r}; indices: {', '.join(sorted(built))}")
        comp = built[name]
        if isinstance(comp, Exception):
            raise ToolError(f"error: {redact(str(comp))}")
        return m.IndexDetail(name=name, composition=comp.as_dict())

    @server.tool(annotations=READ)
    async def plan(
        ctx: Context[Any, Any],
        capital: str,
        income: str,
        risk: str = "moderate",
        horizon: str | None = None,
        paths: Annotated[int, Field(ge=100, le=20_000)] = 2000,
        seed: int = 0,
        as_of: str | None = None,
    ) -> m.PlanResult:
        """Can this capital pay this income? Capital like "$1M" or "300000", income like
        "50k/year" or "4000/month"; risk conservative | moderate | aggressive. Answers the
        required yield, the verdict (sustainable | stretch | unsustainable) and the mix."""
        _gate(verify, "plan", ctx, write=False)
        opts: dict[str, Any] = {"paths": paths, "seed": seed}
        if horizon is not None:
            opts["horizon"] = horizon
        p = await _run(
            lambda: ry.plan(capital, income, risk=risk, as_of=as_of, store=engine, **opts)
        )
        v = p.verdict
        return m.PlanResult(
            capital=p.request.capital,
            income_per_year=p.request.income_per_year,
            required_yield=v.required_yield,
            verdict=v.level,
            sentence=p.as_dict()["verdict"]["sentence"],
            success_probability=v.success_probability,
            reasons=list(v.reasons),
            allocation=dict(p.allocation),
            plan=p.as_dict(),
        )

    @server.tool(annotations=READ)
    async def backtest(
        ctx: Context[Any, Any], index: str, start: str | None = None, end: str | None = None
    ) -> m.BacktestSummary:
        """Backtest a published index rebuilt point in time from the stored history
        (start/end YYYY-MM-DD; default the last three years of history)."""
        _gate(verify, "backtest", ctx, write=False)
        r = await _run(lambda: ry.backtest(index, start=start, end=end, store=engine))
        d = r.as_dict()
        return m.BacktestSummary(
            index=index, start=d["start"], end=d["end"], metrics=d["metrics"], result=d
        )

    @server.tool(annotations=READ)
    async def alerts(
        ctx: Context[Any, Any], status: str | None = None, limit: int = 50
    ) -> m.AlertList:
        """Stored alerts, newest first; status open | acknowledged."""
        _gate(verify, "alerts", ctx, write=False)
        found = await _run(lambda: ry.alerts(status=status, limit=limit, store=engine))
        return m.AlertList(alerts=[a.as_dict() for a in found])

    @server.tool(annotations=READ)
    async def income(ctx: Context[Any, Any], year: int) -> m.LedgerReport:
        """The year's income from the tax ledger (staking, interest, rewards) valued at
        receipt, and fees; amounts are decimal strings in the ledger's fiat."""
        _gate(verify, "income", ctx, write=False)
        report = await _run(lambda: ledger.income(year, store=engine))
        return m.LedgerReport(year=year, report=_jsonable(report.as_dict()))

    @server.tool(annotations=READ)
    async def portfolio_summary(ctx: Context[Any, Any], year: int | None = None) -> m.LedgerReport:
        """Holdings with cost basis, income and realised gains of a year (default: the
        newest year in the ledger); report is null when the ledger is empty."""
        _gate(verify, "portfolio_summary", ctx, write=False)
        found = await _run(lambda: ledger.summary(year, store=engine))
        if found is None:
            return m.LedgerReport(year=None, report=None)
        return m.LedgerReport(year=found.year, report=_jsonable(found.as_dict()))


def _write_tools(server: MCPServer, engine: Engine, verify: Verify) -> None:
    @server.tool(annotations=WRITE)
    async def acknowledge_alert(
        alert_id: int, ctx: Context[Any, Any], note: str | None = None, api_key: str | None = None
    ) -> m.AlertResult:
        """Acknowledge an alert (it is not notified again unless it escalates). Changes
        the store: NEEDS AN API KEY (api_key, or the HTTP Authorization header)."""
        _gate(verify, "acknowledge_alert", ctx, write=True, api_key=api_key)
        alert = await _run(lambda: ry.acknowledge(alert_id, note, store=engine))
        return m.AlertResult(alert=alert.as_dict())


def _resources(server: MCPServer) -> None:
    @server.resource("realyield://methodology", mime_type="text/markdown")
    def methodology() -> str:
        """The published methodology: how opportunities are scored and indices built."""
        if not METHODOLOGY.is_file():
            return "docs/methodology.md is not installed with this copy of realyield"
        return METHODOLOGY.read_text(encoding="utf-8")

    @server.resource("realyield://indices", mime_type="application/json")
    def index_names() -> list[str]:
        """The names of the published index definitions."""
        return sorted(ry.index_definitions())

    @server.resource("realyield://indices/{name}", mime_type="application/json")
    def index_definition(name: str) -> dict[str, Any]:
        """One published index definition (its methodology rules, as data)."""
        found = ry.index_definitions()
        if name not in found:
            raise ValueError(f"unknown index {name!r}; indices: {', '.join(sorted(found))}")
        return dict(_jsonable(found[name]))


def _prompts(server: MCPServer) -> None:
    @server.prompt()
    def can_it_pay(capital: str, income: str, risk: str = "moderate") -> str:
        """Can $X pay $Y a year?"""
        return (
            f"Can {capital} of capital pay {income} of income, at {risk} risk? Call the plan "
            f"tool with capital={capital!r}, income={income!r}, risk={risk!r}; report the "
            "required yield, the verdict and its reasons, the suggested mix, and what would "
            "make it work if it does not."
        )

    @server.prompt()
    def safest_yield(kind: str = "lending") -> str:
        """What is the most sustainable yield of a kind right now?"""
        return (
            f"Call the screen tool with kind={kind!r} and limit=5; for the top row call "
            "explain, and say how much of its APY is real (fees, interest) versus "
            "emissions, and its main risks."
        )


def _jsonable(value: Any) -> Any:
    """Dataclasses, Decimals, dates and tuples as JSON values (Decimals as strings, so
    money keeps its digits)."""
    import dataclasses
    import json
    from datetime import date
    from decimal import Decimal

    def default(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, set | frozenset | tuple):
            return list(o)
        return str(o)

    return json.loads(json.dumps(value, default=default))


__all__ = ["build_server", "cli_text"]
