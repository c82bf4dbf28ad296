"""``/v1/ledger/...``: the portfolio ledger and its tax reports (private data: every
route needs an API key). Each route is one call into ``portfolio.service`` (or the
importer): no logic here. Amounts are exact decimal text, as the library returns them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import Field

from realyield.api.auth import Principal, require_key
from realyield.api.errors import documented
from realyield.api.state import app_state
from realyield.portfolio import service
from realyield.portfolio.imports import import_text
from realyield.presentation import models as m

router = APIRouter(tags=["ledger"])
Caller = Annotated[Principal, Depends(require_key)]
Year = Annotated[int, Query(ge=1970, le=2200, description="Tax year (calendar, UTC).")]
Method = Literal["fifo", "lifo", "hifo", "acb"]
_ERRORS = documented(400, 401, 403, 413, 429)  # 422: FastAPI documents its own


class LedgerImportIn(m.Model):
    """CSV text in one of the documented formats (docs/ledger.md)."""

    format: Literal["generic", "koinly", "cointracker", "rotki"]
    text: str = Field(min_length=1, max_length=20_000_000)
    name: str = Field("upload", min_length=1, max_length=200)
    account: str = Field("default", min_length=1, max_length=100)
    decimal_comma: bool = Field(
        False, description="Read 1.234,56 as 1234.56 (refused as ambiguous otherwise)."
    )
    dry_run: bool = Field(False, description="Report what would be imported; store nothing.")


def _settings_fiat(request: Request) -> str:
    return str(app_state(request).settings.ledger_fiat)


@router.get("/v1/ledger/summary", responses=_ERRORS, operation_id="ledger_summary")
async def summary(request: Request, caller: Caller, year: Year) -> dict[str, Any]:
    """Holdings at the end of the year, the year's gains and income, the event count."""
    del caller
    engine, fiat = app_state(request).engine, _settings_fiat(request)
    result = await run_in_threadpool(service.ledger_summary, engine, year, fiat=fiat)
    return result.as_dict()


@router.get("/v1/ledger/events", responses=_ERRORS, operation_id="ledger_events")
async def events(
    request: Request,
    caller: Caller,
    year: Annotated[int | None, Query(ge=1970, le=2200)] = None,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Stored events (active ones), oldest first."""
    del caller
    engine = app_state(request).engine
    rows = await run_in_threadpool(service.list_events, engine, year=year, kinds=kind, limit=limit)
    return {"data": [e.as_dict() for e in rows]}


_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    422: {
        "description": "A body that does not validate, or a file with no good row "
        "(then the body is the import report, with its problems).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


@router.post("/v1/ledger/import", responses=_IMPORT_RESPONSES, operation_id="ledger_import")
async def import_csv(
    request: Request, response: Response, caller: Caller, body: LedgerImportIn
) -> dict[str, Any]:
    """Import CSV text; idempotent (events already stored are skipped), bad rows listed.

    Answers 422 with the same report when no row could be imported (every row
    rejected, or no rows), as ``ledger import`` exits 1, so a client cannot take a
    failed upload for a success."""
    del caller
    state = app_state(request)
    s = state.settings
    report = await run_in_threadpool(
        lambda: import_text(
            state.engine,
            body.text,
            body.format,
            name=body.name,
            account=body.account,
            fiat=s.ledger_fiat,
            max_price_age_days=s.ledger_price_max_age_days,
            batch_size=s.ledger_import_batch,
            decimal_comma=body.decimal_comma,
            dry_run=body.dry_run,
        )
    )
    if report.status == "failed":
        response.status_code = 422
    return report.as_dict()


@router.get("/v1/ledger/gains", responses=_ERRORS, operation_id="ledger_gains")
async def gains(
    request: Request, caller: Caller, year: Year, method: Method | None = None
) -> dict[str, Any]:
    """Disposals of the year and the realized gain (short and long term)."""
    del caller
    engine, fiat = app_state(request).engine, _settings_fiat(request)
    result = await run_in_threadpool(service.gains, engine, year, method, fiat=fiat)
    return result.as_dict()


@router.get("/v1/ledger/income", responses=_ERRORS, operation_id="ledger_income")
async def income(request: Request, caller: Caller, year: Year) -> dict[str, Any]:
    """Income of the year per category, with every line."""
    del caller
    engine, fiat = app_state(request).engine, _settings_fiat(request)
    result = await run_in_threadpool(service.income, engine, year, fiat=fiat)
    return result.as_dict(lines=True)


@router.get(
    "/v1/ledger/export",
    responses={**_ERRORS, 200: {"content": {"text/csv": {}, "text/html": {}}}},
    response_class=PlainTextResponse,
    operation_id="ledger_export",
)
async def export(
    request: Request,
    caller: Caller,
    format: Literal["generic", "koinly", "cointracker", "8949", "income", "html"],
    year: Annotated[int | None, Query(ge=1970, le=2200)] = None,
    method: Method | None = None,
) -> Response:
    """The ledger in an accountant's format (CSV), or a tax year's report (8949, income
    CSV, HTML summary; these need ``year``)."""
    del caller
    engine, fiat = app_state(request).engine, _settings_fiat(request)
    text = await run_in_threadpool(
        service.export, engine, format, year=year, method=method, fiat=fiat
    )
    media = "text/html" if format == "html" else "text/csv"
    suffix = "html" if format == "html" else "csv"
    name = f"realyield-{format}{'-' + str(year) if year else ''}.{suffix}"
    return Response(
        text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
