"""Plans for many requests at once on one ``PlanContext``: one plan, one mix, one verdict.

For each request: (1) the optimizer's candidate mixes (the shared frontier's mixes for
the plan's need, the profile's default, the mix the user or preset named) are screened
by the Monte Carlo on ``SCREEN_PATHS`` paths, all seeded alike so they face the same
markets and the same jump events; the best within the CVaR budget is the
recommendation (passing both verdict tests first, then success, then lower CVaR).
(2) The plan's mix (the one named, else the recommendation) runs on the full paths,
and so does the recommendation when it differs: the verdict judges the plan's mix as
simulated and shows the recommendation beside it, never swapped in. The runs of every
request are stacked (``paths.simulate_runs``), so a batch of clients costs far less
than plans one by one, and a request's result does not depend on the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from realyield.core.errors import ConfigError, InsufficientDataError, RealyieldError
from realyield.planning.cashflow import SleeveYield, schedule
from realyield.planning.context import PRICE_MODELS, PlanContext
from realyield.planning.goal import MixResult, judge, plan_need
from realyield.planning.montecarlo import PathTotals, PlanConfig
from realyield.planning.optimize import Candidate, Optimized
from realyield.planning.outcomes import succeeded, summarize
from realyield.planning.paths import Run, simulate_runs
from realyield.planning.plan import Plan, PlanRequest, blend
from realyield.planning.profiles import RiskProfile, check_allocation, risk_profile

SCREEN_PATHS = 300
#: paths of the search for the income that passes the simulation test (single plans)
SEARCH_PATHS = 2000


@dataclass
class _Job:
    request: PlanRequest
    config: PlanConfig
    profile: RiskProfile
    named: dict[str, float] | None  # the user's or preset's mix
    candidates: dict[str, dict[str, float]]
    screened: list[Candidate] | None = None
    best: Candidate | None = None


def plan_many(
    ctx: PlanContext, requests: Sequence[PlanRequest], *, detail: bool = True
) -> list[Plan | RealyieldError]:
    """A plan for every request, in order; a request that cannot be planned gets its
    error instead. ``detail=False`` leaves out the cash-flow schedule (batches)."""
    out: list[Plan | RealyieldError | None] = [None] * len(requests)
    jobs: dict[int, _Job] = {}
    for i, request in enumerate(requests):
        try:
            jobs[i] = _job(ctx, request)
        except RealyieldError as exc:
            out[i] = exc
    _screen(ctx, jobs)
    finals: list[tuple[int, str, dict[str, float]]] = []
    for i, job in list(jobs.items()):
        chosen = job.named or (job.best.weights if job.best else _default(ctx, job.profile))
        if not chosen:
            out[i] = InsufficientDataError("none of the profile's indices could be built")
            del jobs[i]
            continue
        finals.append((i, "plan", chosen))
        if job.best is not None and not _same(job.best.weights, chosen):
            finals.append((i, "recommended", job.best.weights))
    totals = simulate_runs([_run(ctx, jobs[i], mix, jobs[i].request.paths) for i, _, mix in finals])
    by_job: dict[int, dict[str, tuple[dict[str, float], PathTotals]]] = {}
    for (i, role, mix), t in zip(finals, totals, strict=True):
        by_job.setdefault(i, {})[role] = (mix, t)
    for i, job in jobs.items():
        try:
            out[i] = _plan(ctx, job, by_job[i], detail=detail)
        except RealyieldError as exc:
            out[i] = exc
    return [x for x in out if x is not None]


def solve_frontier(ctx: PlanContext, requests: Sequence[PlanRequest]) -> int:
    """Solve (and cache in ``ctx``) every optimizer mix these requests will ask for, so
    a batch solves each once on the driver instead of once per worker; returns how many
    mixes the frontier holds. Requests that cannot be planned are skipped (their error
    comes with their plan)."""
    for request in requests:
        try:
            _job(ctx, request)
        except RealyieldError:
            continue
    return ctx.frontier.solved


def _job(ctx: PlanContext, request: PlanRequest) -> _Job:
    """Check a request and list its candidate mixes.

    Raises:
        ConfigError: invalid options, or an allocation naming an index not built.
        InsufficientDataError: none of the profile's indices was built.
    """
    config = request.config()
    if request.paths < 1 or request.paths > 1_000_000:
        raise ConfigError(f"paths must be 1-1,000,000, got {request.paths}")
    if request.price_model not in PRICE_MODELS:
        raise ConfigError(f"price model must be one of {PRICE_MODELS}, got {request.price_model!r}")
    profile = risk_profile(request.risk)
    named = None
    if request.allocation is not None:
        named = check_allocation("allocation", dict(request.allocation))
        unknown = sorted(set(named) - set(ctx.yields))
        if unknown:
            raise ConfigError(
                f"allocation names index(es) {unknown} that were not built; "
                f"built: {sorted(ctx.yields)}"
            )
    candidates: dict[str, dict[str, float]] = {}
    if request.optimize:
        default = _default(ctx, profile)
        need = plan_need(config, ctx.real_today(default)).required
        if default:
            candidates[f"{profile.name} profile"] = default
        if named is not None:
            candidates["requested"] = named
        for label, mix in ctx.frontier.candidates(
            profile.max_share, profile.cvar_budget, need
        ).items():
            if not any(_same(mix, m) for m in candidates.values()):
                candidates[label] = mix
    elif named is None and not _default(ctx, profile):
        raise InsufficientDataError("none of the profile's indices could be built")
    return _Job(request, config, profile, named, candidates)


def _default(ctx: PlanContext, profile: RiskProfile) -> dict[str, float]:
    mix = {k: v for k, v in profile.allocation.items() if k in ctx.yields}
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items() if v > 0} if total > 0 else {}


def _run(ctx: PlanContext, job: _Job, mix: Mapping[str, float], paths: int) -> Run:
    r = job.request
    return ctx.run(
        job.config,
        mix,
        paths=paths,
        seed=r.seed,
        price_model=r.price_model,
        price_drift=r.price_drift,
        block_months=r.block_months,
        yield_vol=r.yield_vol,
        emission_half_life_years=r.emission_half_life_years,
    )


def _screen(ctx: PlanContext, jobs: Mapping[int, _Job]) -> None:
    """Score every job's candidates on the screening paths (stacked) and pick each
    job's best."""
    keys = [(i, label) for i, job in jobs.items() for label in job.candidates]
    runs = [
        _run(ctx, jobs[i], jobs[i].candidates[label], min(SCREEN_PATHS, jobs[i].request.paths))
        for i, label in keys
    ]
    for (i, label), t in zip(keys, simulate_runs(runs), strict=True):
        job = jobs[i]
        mix = job.candidates[label]
        risk = ctx.frontier.cvar_of(mix)
        real = ctx.real_today(mix)
        cand = Candidate(
            label,
            mix,
            float(succeeded(t, job.config).mean()),
            risk,
            risk <= job.profile.cvar_budget + 1e-6,
            real,
            plan_need(job.config, real).required,
        )
        job.screened = [*(job.screened or []), cand]
    for job in jobs.values():
        if job.screened:
            pool = [c for c in job.screened if c.within_budget] or job.screened
            threshold = job.profile.success_threshold
            job.best = max(
                pool,
                key=lambda c: (
                    c.real_yield >= c.need - 1e-12 and c.success >= threshold,
                    c.success,
                    -c.cvar,
                ),
            )


def _plan(
    ctx: PlanContext,
    job: _Job,
    runs: Mapping[str, tuple[dict[str, float], PathTotals]],
    *,
    detail: bool,
) -> Plan:
    request, config, profile = job.request, job.config, job.profile
    chosen, totals = runs["plan"]
    paths = request.paths
    results = {
        role: _mix_result(ctx, config, mix, t, paths, role) for role, (mix, t) in runs.items()
    }
    threshold = profile.success_threshold
    recommended = results.get("recommended")
    passing = recommended if recommended and recommended.passes(threshold) else None
    index_real = {n: y.apy_real / 100.0 for n, y in ctx.yields.items()}
    income_ok = None
    if detail and results["plan"].success_probability < threshold:
        income_ok = _income_for_threshold(ctx, job, chosen, threshold)
    verdict = judge(
        config,
        results["plan"],
        index_real,
        threshold,
        profile=profile.name,
        passing=passing,
        recommended=recommended,
        income_for_threshold=income_ok,
        screen_paths=min(SEARCH_PATHS, paths),
    )
    optimized = None
    if job.screened and job.best is not None:
        note = ""
        if not any(c.label.startswith("optimized") for c in job.screened):
            note = (
                f"no mix of the indices keeps the 12-month CVaR within "
                f"{profile.cvar_budget:.0%} on this history; candidates shown as they are"
            )
        optimized = Optimized(
            job.best, job.screened, note, profile.cvar_budget, min(SCREEN_PATHS, paths)
        )
    rows = []
    if detail:
        rows = schedule(
            config,
            chosen,
            {k: SleeveYield(ctx.real[k], ctx.emission[k]) for k in chosen},
            emission_half_life_years=request.emission_half_life_years,
        )
    return Plan(
        request,
        ctx.as_of,
        verdict,
        chosen,
        blend(chosen, ctx.yields),
        summarize(totals, config),
        rows,
        optimized,
        ctx.yields,
        ctx.history.matrix.shape[0],
        (ctx.history.months[0], ctx.history.months[-1]),
        _notes(ctx, request, chosen) if detail else list(ctx.notes),
        ctx.tail_risks(chosen),
    )


def _income_for_threshold(
    ctx: PlanContext, job: _Job, mix: Mapping[str, float], threshold: float, steps: int = 7
) -> float:
    """The income (dollars a year) at which the plan's mix reaches the success threshold:
    bisection on the income (success falls as income rises, on the same paths: the
    plan's own, up to ``SEARCH_PATHS``), to 1/2**steps of the income asked for."""
    lo, hi = 0.0, 1.0
    paths = min(SEARCH_PATHS, job.request.paths)
    for _ in range(steps):
        mid = (lo + hi) / 2.0
        income = job.config.income_per_year * mid
        if income <= 0:
            lo = mid
            continue
        config = replace(job.config, income_per_year=income)
        (t,) = simulate_runs([_run(ctx, replace(job, config=config), mix, paths)])
        if float(succeeded(t, config).mean()) >= threshold:
            lo = mid
        else:
            hi = mid
    return job.config.income_per_year * lo


def _mix_result(
    ctx: PlanContext,
    config: PlanConfig,
    mix: dict[str, float],
    totals: PathTotals,
    paths: int,
    label: str,
) -> MixResult:
    real = ctx.real_today(mix)
    return MixResult(
        mix,
        real,
        plan_need(config, real).required,
        float(succeeded(totals, config).mean()),
        paths,
        label,
    )


def _notes(ctx: PlanContext, request: PlanRequest, chosen: Mapping[str, float]) -> list[str]:
    notes = list(ctx.notes)
    moved = {k: r for k, r in ctx.ratios.items() if abs(r - 1.0) >= 0.005}
    if moved:
        notes.append(
            "the simulation starts each index's real yield at the forecast's view: "
            + ", ".join(f"{k} x{r:.2f}" for k, r in sorted(moved.items()))
        )
    if request.price_drift is not None:
        notes.append(
            f"price paths keep the history's volatility and crashes but assume a median "
            f"price growth of {request.price_drift:.1%} a year (the history's own trend is "
            "not extrapolated)"
        )
    b = blend(chosen, ctx.yields)
    lo_hi = request.target_apy_range
    if lo_hi is not None and not lo_hi[0] <= b.apy <= lo_hi[1]:
        parts = ", ".join(
            f"{k} {w:.0%} x {ctx.yields[k].apy:.2f}% = {w * ctx.yields[k].apy:.2f} pp"
            for k, w in sorted(chosen.items(), key=lambda kv: -kv[1])
        )
        notes.append(
            f"the blended yield {b.apy:.2f}% is outside the target "
            f"{lo_hi[0]:g}-{lo_hi[1]:g}%: {parts} (today's index yields)"
        )
    months = ctx.history.matrix.shape[0]
    if months < 60:
        notes.append(
            f"price paths resample only {months} months of history; a longer history "
            "(real prices via `realyield data import`) widens the range"
        )
    return notes


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    keys = set(a) | set(b)
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < 1e-3 for k in keys)
