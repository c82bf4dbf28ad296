"""Scale-out: methodology sweeps and batch plans on an executor (in-process, a local
process pool, or a Dask cluster), with the same results on every one.

Entry points: ``sweep.sweep_stored`` / ``sweep.sweep_on`` (a ``sweep_spec.SweepSpec`` of
index-rule variants, each backtested point in time), ``plan_batch.plan_batch_on`` (one
income plan per client row, on ``plan_batch.stored_basis``), and
``executors.make_executor``. This stage sits after backtest and planning in the flow:
it imports them and nothing imports it but the interfaces.
"""

# the submodules (``from realyield.scaleout import *`` imports them)
__all__ = [
    "dask_executor",
    "executors",
    "plan_batch",
    "seeds",
    "sweep",
    "sweep_report",
    "sweep_spec",
    "tables",
]
