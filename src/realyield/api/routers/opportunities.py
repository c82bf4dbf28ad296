"""``/v1/opportunities``: the screener, and one opportunity explained."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from realyield.api.errors import documented
from realyield.api.state import cached_json
from realyield.presentation import models as m
from realyield.presentation import views
from realyield.scoring.screener import SORTS, ScreenerQuery

router = APIRouter(tags=["opportunities"])

SortName = Literal["sustainable", "apy", "sustainability", "risk", "tvl", "forecast"]
assert set(SortName.__args__) == set(SORTS)  # type: ignore[attr-defined]


@router.get(
    "/v1/opportunities",
    response_model=m.OpportunityPage,
    responses=documented(503),
    operation_id="list_opportunities",
)
async def list_opportunities(
    request: Request,
    kind: Annotated[m.Kind | None, Query(description="Only this kind.")] = None,
    chain: Annotated[str | None, Query(max_length=64, description="Chain, any case.")] = None,
    protocol: Annotated[str | None, Query(max_length=128)] = None,
    min_sustainability: Annotated[float | None, Query(ge=0, le=100, allow_inf_nan=False)] = None,
    max_risk: Annotated[float | None, Query(ge=0, le=100, allow_inf_nan=False)] = None,
    min_tvl_usd: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    include_excluded: Annotated[
        bool, Query(description="Also list opportunities that failed a screen.")
    ] = False,
    sort: Annotated[SortName, Query(description="Order; risk sorts lowest first.")] = "sustainable",
    order: Annotated[
        Literal["asc", "desc"] | None, Query(description="Override the sort's natural order.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="`next_cursor` of the previous page.")
    ] = None,
) -> Response:
    """Opportunities that pass the screens (or all), with scores, filtered and sorted;
    cursor-paginated."""
    query = ScreenerQuery(
        kind=kind,
        chain=chain,
        protocol=protocol,
        min_sustainability=min_sustainability,
        max_risk=max_risk,
        min_tvl_usd=min_tvl_usd,
        include_excluded=include_excluded,
        sort=sort,
        descending=None if order is None else order == "desc",
    )
    key = f"opportunities|{views._fingerprint(query)}|{limit}|{cursor}"
    return await cached_json(
        request, key, lambda snap: views.opportunity_page(snap, query, limit=limit, cursor=cursor)
    )


@router.get(
    "/v1/opportunities/{opportunity_id}",
    response_model=m.OpportunityDetail,
    responses=documented(404, 503),
)
async def get_opportunity(
    request: Request,
    opportunity_id: Annotated[str, Path(max_length=200, examples=["aave-v3:ethereum:usdc"])],
) -> Response:
    """One opportunity: every factor of both scores, screens, dependencies, forecast and
    daily history."""
    return await cached_json(
        request,
        f"opportunity|{opportunity_id}",
        lambda snap: views.opportunity_detail(snap, opportunity_id),
    )
