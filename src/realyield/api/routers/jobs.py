"""Job routes: the generic ``/v1/jobs`` (list, poll, cancel any of your jobs) and, per
job kind, a submit route and a typed poll route made by ``job_routes``.

This module does not use ``from __future__ import annotations``: FastAPI reads the
request and response models of the generated routes from real annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, create_model

from realyield.api.auth import Principal, require_key, require_key_or_dashboard
from realyield.api.errors import documented
from realyield.api.jobs import JobKind, JobRecord
from realyield.api.state import app_state
from realyield.core.errors import NotFoundError
from realyield.presentation import models as m

router = APIRouter(tags=["jobs"])
JobId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9a-f]+$")]
Caller = Annotated[Principal, Depends(require_key)]


def _out(record: JobRecord) -> dict[str, Any]:
    return m.JobOut(**record.public()).model_dump(mode="json")


@router.get("/v1/jobs", response_model=m.JobList, responses=documented(401, 403, 429))
async def list_jobs(
    request: Request, caller: Caller, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> JSONResponse:
    """Your jobs (of every kind), newest first."""
    runner = app_state(request).jobs
    records = await run_in_threadpool(runner.list, caller.key_id, limit=limit)
    return JSONResponse({"data": [_out(r) for r in records]})


@router.get(
    "/v1/jobs/{job_id}",
    response_model=m.JobOut,
    responses=documented(401, 403, 404, 429),
    operation_id="get_job",
)
async def get_job(request: Request, caller: Caller, job_id: JobId) -> JSONResponse:
    """One of your jobs: poll until ``status`` is succeeded, failed or cancelled."""
    runner = app_state(request).jobs
    return JSONResponse(_out(await run_in_threadpool(runner.get, job_id, caller.key_id)))


@router.delete(
    "/v1/jobs/{job_id}",
    response_model=m.JobOut,
    responses=documented(401, 403, 404, 429),
    operation_id="cancel_job",
)
async def cancel_job(request: Request, caller: Caller, job_id: JobId) -> JSONResponse:
    """Cancel one of your jobs (queued: it never runs; running: it is told to stop)."""
    runner = app_state(request).jobs
    return JSONResponse(_out(await run_in_threadpool(runner.cancel, job_id, caller.key_id)))


def job_routes(kind: JobKind, path: str, *, dashboard: bool = False) -> APIRouter:
    """``POST {path}`` submits a ``kind`` job (202 + Location of the poll route) and
    ``GET {path}/{job_id}`` polls it with the kind's typed result. Both need an API
    key; with ``dashboard`` they also take the dashboard token (``auth``)."""
    typed: type[BaseModel] = create_model(  # the JobOut whose result is this kind's
        f"{kind.result.__name__}Job",
        __base__=m.JobOut,
        result=(kind.result | None, None),  # type: ignore[arg-type]
    )
    params_model = kind.params
    kind_router = APIRouter(tags=["jobs"])
    summary = kind.description or f"Run a {kind.name} job."

    who = require_key_or_dashboard if dashboard else require_key

    async def submit(
        request: Request,
        params: params_model,  # type: ignore[valid-type]
        caller: Principal = Depends(who),  # noqa: B008
    ) -> JSONResponse:
        state = app_state(request)
        if kind.check is not None:
            await run_in_threadpool(kind.check, state, params)
        record = await run_in_threadpool(state.jobs.submit, kind.name, params, caller.key_id)
        return JSONResponse(
            _out(record), status_code=202, headers={"Location": f"{path}/{record.id}"}
        )

    async def poll(
        request: Request,
        job_id: JobId,
        caller: Principal = Depends(who),  # noqa: B008
    ) -> JSONResponse:
        runner = app_state(request).jobs
        record = await run_in_threadpool(runner.get, job_id, caller.key_id)
        if record.kind != kind.name:
            raise NotFoundError(f"no {kind.name} job {job_id!r} for this API key")
        return JSONResponse(_out(record))

    poll_id = f"poll_{kind.name.replace('-', '_')}"
    job_id_link = {"job_id": "$response.body#/id"}
    links = {
        "poll": {"operationId": poll_id, "parameters": job_id_link},
        "get": {"operationId": "get_job", "parameters": job_id_link},
        "cancel": {"operationId": "cancel_job", "parameters": job_id_link},
    }
    kind_router.add_api_route(
        path,
        submit,
        methods=["POST"],
        status_code=202,
        response_model=m.JobOut,
        responses={
            **documented(400, 401, 403, 404, 413, 429),
            202: {"description": "The queued job.", "links": links},
        },
        operation_id=f"submit_{kind.name.replace('-', '_')}",
        summary=summary,
        description=f"{summary} Returns the queued job; poll `GET {path}/{{job_id}}`.",
    )
    kind_router.add_api_route(
        f"{path}/{{job_id}}",
        poll,
        methods=["GET"],
        response_model=typed,
        responses=documented(401, 403, 404, 429),
        operation_id=poll_id,
        summary=f"Poll a {kind.name} job",
    )
    return kind_router
