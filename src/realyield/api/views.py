"""Shaping a ``DataSnapshot`` into the API's response models.

Every figure comes from a library function (``apply_screener``, ``ScoredUniverse
.explain``, ``IndexComposition.allocation``, ``LevelHistory.change``...); this module
only picks fields and pages. Routes call these and cache the serialized result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any

from fastapi.exceptions import RequestValidationError

from realyield.api import models as m
from realyield.api.data import DataSnapshot
from realyield.indices.composition import ALLOCATION_DIMENSIONS, IndexComposition
from realyield.indices.levels import LevelHistory
from realyield.indices.methodology import definition_to_dict
from realyield.scoring.screener import (
    ScreenerQuery,
    apply_screener,
    clean_value,
    rows_after,
    screener_rows,
)


def meta(snap: DataSnapshot) -> m.DataMeta:
    note = None
    if snap.illustrative:
        note = (
            "bundled snapshot: current APY/TVL/prices approximate as of its date; histories "
            "are illustrative (generated), not market data"
        )
    return m.DataMeta(
        as_of=snap.as_of,
        version=snap.version,
        sources=list(snap.sources),
        illustrative=snap.illustrative,
        note=note,
    )


def _bad_query(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


def _fingerprint(query: ScreenerQuery) -> str:
    """A short digest of the filters and sort (cursors and cache keys carry it)."""
    text = json.dumps([query.__dict__[k] for k in sorted(query.__dict__)], default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def encode_cursor(query: ScreenerQuery, value: Any, last_id: str) -> str:
    raw = json.dumps({"q": _fingerprint(query), "v": value, "id": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: ScreenerQuery, cursor: str) -> tuple[float | None, str]:
    """Raises: RequestValidationError (422) naming ``cursor`` when it is not ours or
    belongs to other filters."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        value, last_id = data["v"], data["id"]
        fingerprint = data["q"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise _bad_query("cursor", "not a cursor this API issued: pass next_cursor") from exc
    if fingerprint != _fingerprint(query):
        raise _bad_query("cursor", "this cursor belongs to other filters or another sort")
    if not isinstance(last_id, str) or not (
        value is None or (isinstance(value, (int, float)) and math.isfinite(value))
    ):
        raise _bad_query("cursor", "not a cursor this API issued: pass next_cursor")
    return (None if value is None else float(value)), last_id


def opportunity_page(
    snap: DataSnapshot, query: ScreenerQuery, *, limit: int, cursor: str | None
) -> m.OpportunityPage:
    table = apply_screener(snap.table, query)
    total = table.height
    if cursor:
        value, last_id = decode_cursor(query, cursor)
        table = rows_after(table, query, value, last_id)
    page = table.head(limit)
    rows = screener_rows(page)
    next_cursor = None
    if table.height > limit and rows:
        last = rows[-1]
        next_cursor = encode_cursor(query, last.get(query.column), last["id"])
    return m.OpportunityPage(
        data=[m.OpportunityRow(**row) for row in rows],
        total=total,
        next_cursor=next_cursor,
        meta=meta(snap),
    )


def opportunity_detail(snap: DataSnapshot, opportunity_id: str) -> m.OpportunityDetail:
    """Raises: NotFoundError for an id outside the current universe."""
    data = snap.explain(opportunity_id).as_dict()
    forecast = data.pop("forecast")
    if forecast is not None:
        forecast = {k: clean_value(forecast.get(k)) for k in m.Forecast.model_fields}
    history = snap.history(opportunity_id).select(*m.HistoryPoint.model_fields)
    return m.OpportunityDetail(
        **{k: clean_value(v) for k, v in data.items()},
        forecast=forecast,
        history=[m.HistoryPoint(**r) for r in screener_rows(history)],
        meta=meta(snap),
    )


def _summary(snap: DataSnapshot, name: str) -> m.IndexSummary:
    comp = snap.indices[name]
    defn = snap.definitions[name]
    if not isinstance(comp, IndexComposition):
        return m.IndexSummary(
            name=name,
            title=defn.title,
            as_of=None,
            expected_apy=None,
            expected_real_apy=None,
            expected_emission_apy=None,
            expected_sustainable_apy=None,
            risk=None,
            risk_grade=None,
            n_constituents=0,
            effective_bets=None,
            change_30d=None,
            error=str(comp),
        )
    levels = snap.levels.get(name)
    return m.IndexSummary(
        name=name,
        title=comp.title,
        as_of=comp.as_of,
        expected_apy=comp.expected_apy,
        expected_real_apy=comp.expected_real_apy,
        expected_emission_apy=comp.expected_emission_apy,
        expected_sustainable_apy=comp.expected_sustainable_apy,
        risk=comp.risk,
        risk_grade=comp.risk_grade,
        n_constituents=len(comp.constituents),
        effective_bets=comp.effective_bets,
        change_30d=levels.change(30) if isinstance(levels, LevelHistory) else None,
    )


def index_list(snap: DataSnapshot) -> m.IndexList:
    return m.IndexList(data=[_summary(snap, name) for name in snap.indices], meta=meta(snap))


def levels_out(levels: LevelHistory) -> m.LevelHistoryOut:
    """A level history as the API shows it (also the result of replay jobs)."""
    f = levels.frame
    drawdown = levels.drawdown()
    points = [
        m.LevelPoint(
            date=row["date"],
            level_price=row["level_price"],
            level_income=row["level_income"],
            level_total=row["level_total"],
            drawdown=min(0.0, float(dd)),
            n_constituents=row["n_constituents"],
            rebalanced=bool(row["rebalanced"]),
        )
        for row, dd in zip(f.iter_rows(named=True), drawdown, strict=True)
    ]
    return m.LevelHistoryOut(
        start=f["date"][0],
        end=f["date"][-1],
        summary={k: v for k, v in levels.summary().items() if math.isfinite(v)},
        events=levels.events,
        levels=points,
    )


def index_detail(snap: DataSnapshot, name: str, *, history: bool) -> m.IndexDetail:
    """Raises: NotFoundError for an unknown index name."""
    comp = snap.composition(name)
    rules = definition_to_dict(snap.definitions[name])
    summary = _summary(snap, name)
    if not isinstance(comp, IndexComposition):
        return m.IndexDetail(
            summary=summary,
            constituents=[],
            allocation={},
            bets_by={},
            notes=[],
            rules=rules,
            history=None,
            history_error=str(comp),
            meta=meta(snap),
        )
    levels = snap.levels.get(name)
    return m.IndexDetail(
        summary=summary,
        constituents=[m.Constituent(**c.as_dict()) for c in comp.top(len(comp.constituents))],
        allocation={by: comp.allocation(by) for by in ALLOCATION_DIMENSIONS},
        bets_by=comp.bets_by(),
        notes=comp.notes,
        rules=rules,
        history=levels_out(levels) if history and isinstance(levels, LevelHistory) else None,
        history_error=levels if isinstance(levels, str) else None,
        meta=meta(snap),
    )
