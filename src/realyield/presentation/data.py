"""What the API serves, computed once per version of the stored data.

Scoring the universe and replaying index levels take seconds, so the API does them once
for each *data version* (``universe.repository.data_version`` plus the forecast model in
use) and keeps the results, and the serialized responses built from them, in a
``DataSnapshot``. ``DataService.current()`` looks at the store at most every
``check_interval_s``; when the data changed it rebuilds in a background thread and keeps
serving the previous snapshot until the new one is ready (so a refresh never stalls
requests). Only the very first build is waited for.

Thread-safe: uvicorn runs sync routes in a thread pool.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from realyield.backtest.service import index_history
from realyield.core import events
from realyield.core.errors import InsufficientDataError, NotFoundError, RealyieldError
from realyield.indices.composition import IndexComposition
from realyield.indices.levels import LevelHistory
from realyield.indices.methodology import IndexDefinition, packaged_definitions
from realyield.indices.service import HistoryData, indices_at, load_history_data
from realyield.indices.weights import InfeasibleWeightsError
from realyield.scoring.score import Explanation, ScoredUniverse
from realyield.scoring.service import current_model_path, score_stored
from realyield.universe.repository import (
    SNAPSHOT_SOURCE,
    UniverseQuery,
    apy_history_frame,
    data_version,
    default_sources,
)

log = logging.getLogger(__name__)

HISTORY_YEARS = 3
REBUILD_RETRY_S = 60.0  # a version whose rebuild failed is not retried sooner
_MAX_RESPONSES = 2048


class NoDataError(InsufficientDataError):
    """The store holds no opportunities yet (nothing to serve)."""


@dataclass(frozen=True)
class Cached:
    """A serialized response and its entity tag."""

    body: bytes
    etag: str


@dataclass
class DataSnapshot:
    """Everything computed from one version of the stored data."""

    version: str
    as_of: date
    sources: tuple[str, ...]
    scored: ScoredUniverse
    table: pl.DataFrame
    forecast_note: str | None
    indices: dict[str, IndexComposition | InfeasibleWeightsError]
    levels: dict[str, LevelHistory | str]  # str: why there is no history
    definitions: dict[str, IndexDefinition]
    engine: Engine
    history_data: HistoryData | None  # for replays (jobs); its per-date scoring is shared
    built_in_s: float = 0.0
    _responses: OrderedDict[str, Cached] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def illustrative(self) -> bool:
        """True when the data is (or includes) the bundled snapshot, whose histories are
        generated: pages and responses must say so."""
        return SNAPSHOT_SOURCE in self.sources

    def explain(self, opportunity_id: str) -> Explanation:
        """Every factor behind one opportunity of the current universe.

        Raises:
            NotFoundError: the id is not in the current universe.
        """
        if opportunity_id not in self.scored:
            raise NotFoundError(
                f"no opportunity {opportunity_id!r} in the universe as of {self.as_of}; "
                "list ids with GET /v1/opportunities"
            )
        return self.scored.explain(opportunity_id)

    def history(self, opportunity_id: str) -> pl.DataFrame:
        """The opportunity's stored daily APY/TVL history up to the as-of date."""
        return apy_history_frame(self.engine, [opportunity_id], end=self.as_of)

    def composition(self, name: str) -> IndexComposition | InfeasibleWeightsError:
        """Raises: NotFoundError for an unknown index name."""
        if name not in self.indices:
            raise NotFoundError(f"no index {name!r}; known: {sorted(self.indices)}")
        return self.indices[name]

    def cached(self, key: str) -> Cached | None:
        """The response already built for ``key``, if any."""
        with self._lock:
            hit = self._responses.get(key)
            if hit is not None:
                self._responses.move_to_end(key)
            return hit

    def response(self, key: str, build: Callable[[], bytes]) -> Cached:
        """The serialized response for ``key``, built once per snapshot (bounded LRU)."""
        with self._lock:
            hit = self._responses.get(key)
            if hit is not None:
                self._responses.move_to_end(key)
                return hit
        body = build()
        cached = Cached(body, f'"{_etag(self.version, key)}"')
        with self._lock:
            self._responses[key] = cached
            while len(self._responses) > _MAX_RESPONSES:
                self._responses.popitem(last=False)
        return cached


def _etag(version: str, key: str) -> str:
    return hashlib.blake2b(f"{version}\n{key}".encode(), digest_size=12).hexdigest()


def build_snapshot(engine: Engine, version: str, *, home: Path | None) -> DataSnapshot:
    """Score the current universe, build every index and replay its levels.

    Raises:
        NoDataError: nothing is stored.
        RealyieldError: from scoring (the index failures are kept per index instead).
    """
    started = time.perf_counter()
    sources = default_sources(engine)
    if not sources:
        raise NoDataError(
            "the store holds no data yet: run `realyield demo` (bundled snapshot) or "
            "`realyield data refresh`"
        )
    scored, note = score_stored(engine, UniverseQuery(sources=sources), home=home)
    definitions = dict(packaged_definitions())
    built, _ = indices_at(engine, scored=scored, definitions=definitions, home=home)
    as_of = scored.inputs.as_of
    levels: dict[str, LevelHistory | str] = {}
    data = None
    if any(isinstance(c, IndexComposition) for c in built.values()):
        data = load_history_data(engine, sources)
        for name, comp in built.items():
            if not isinstance(comp, IndexComposition):
                levels[name] = f"not built: {comp}"
                continue
            try:
                levels[name] = index_history(
                    name,
                    data,
                    start=comp.as_of - timedelta(days=HISTORY_YEARS * 365),
                    end=comp.as_of,
                    definitions=definitions,
                )
            except RealyieldError as exc:
                levels[name] = str(exc)
    return DataSnapshot(
        version=version,
        as_of=as_of,
        sources=tuple(sources),
        scored=scored,
        table=scored.table(),
        forecast_note=note,
        indices=built,
        levels=levels,
        definitions=definitions,
        engine=engine,
        history_data=data,
        built_in_s=time.perf_counter() - started,
    )


class DataService:
    """The current ``DataSnapshot``, rebuilt when the stored data changes."""

    def __init__(
        self, engine: Engine, *, home: Path | None = None, check_interval_s: float = 2.0
    ) -> None:
        self.engine = engine
        self.home = home
        self.check_interval_s = check_interval_s
        self._snapshot: DataSnapshot | None = None
        self._version: str | None = None
        self._checked_at = float("-inf")
        self._build_lock = threading.Lock()
        self._rebuilding = False
        self._failed: tuple[str, float] | None = None  # version whose rebuild failed, when
        self.last_error: str | None = None

    def version(self) -> str:
        """The data version now in the store (plus the forecast model file in use)."""
        model = current_model_path(self.home)
        stamp = model.stat().st_mtime_ns if model is not None and model.exists() else 0
        return f"{data_version(self.engine)}|model-{stamp}"

    def _fresh_version(self) -> str:
        now = time.monotonic()
        if self._version is None or now - self._checked_at >= self.check_interval_s:
            self._version = self.version()
            self._checked_at = now
        return self._version

    def current(self) -> DataSnapshot:
        """The snapshot to serve now.

        Raises:
            NoDataError: nothing stored yet.
            RealyieldError: the first build failed.
        """
        version = self._fresh_version()
        snap = self._snapshot
        if snap is not None:
            if snap.version != version:
                self._rebuild_in_background(version)
            return snap
        with self._build_lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = build_snapshot(self.engine, version, home=self.home)
                self.last_error = None
            return self._snapshot

    def _rebuild_in_background(self, version: str) -> None:
        with self._build_lock:
            failed = self._failed
            if self._rebuilding or (
                failed is not None
                and failed[0] == version
                and time.monotonic() - failed[1] < REBUILD_RETRY_S
            ):
                return
            self._rebuilding = True

        def run() -> None:
            try:
                snap = build_snapshot(self.engine, version, home=self.home)
                self._snapshot = snap
                self.last_error = None
                events.publish("data", version=version)  # the data and indices served
            except RealyieldError as exc:  # keep serving the previous data, say why
                self._failed = (version, time.monotonic())
                self.last_error = str(exc)
                log.warning("rebuilding the API data for %s failed: %s", version, exc)
            finally:
                self._rebuilding = False

        threading.Thread(target=run, name="realyield-data-rebuild", daemon=True).start()

    def warm(self) -> None:
        """Build the first snapshot now (called in a background thread at startup)."""
        try:
            self.current()
        except RealyieldError as exc:
            self.last_error = str(exc)
            log.warning("API data not ready: %s", exc)

    @property
    def ready(self) -> bool:
        return self._snapshot is not None
