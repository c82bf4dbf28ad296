"""``/v1/indices``: every index, and one index in full."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from realyield.api.errors import documented
from realyield.api.state import cached_json
from realyield.presentation import models as m
from realyield.presentation import views

router = APIRouter(tags=["indices"])


@router.get("/v1/indices", response_model=m.IndexList, responses=documented(503))
async def list_indices(request: Request) -> Response:
    """Every index: expected yield split real/emission, risk grade, 30-day change."""
    return await cached_json(request, "indices", views.index_list)


@router.get("/v1/indices/{name}", response_model=m.IndexDetail, responses=documented(404, 503))
async def get_index(
    request: Request,
    name: Annotated[str, Path(max_length=64, examples=["defi-yield"])],
    history: Annotated[bool, Query(description="Include the daily level history.")] = True,
) -> Response:
    """One index: constituents, allocations by chain/protocol/kind, rules, and its level
    history rebuilt point in time over the last three years."""
    return await cached_json(
        request,
        f"index|{name}|{history}",
        lambda snap: views.index_detail(snap, name, history=history),
    )
