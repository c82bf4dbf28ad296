"""Execution: rebalancing through a broker, paper by default, never twice, never a
withdrawal.

Entry points: ``brokers.open_broker(spec, engine, bases=..., live=..., sandbox=...)``;
``rebalance.rebalance(broker, targets, quote=..., dry_run=...)`` (reconcile, plan,
execute) or ``rebalance.plan_rebalance`` + ``rebalance.execute_plan`` when a person
confirms the plan in between; ``targets.index_targets`` / ``parse_targets``;
``journal.orders(engine, broker=...)`` for the order history. Results have ``as_dict()``.
"""

# the submodules (``from realyield.execution import *`` imports them)
__all__ = [
    "broker",
    "brokers",
    "fills",
    "journal",
    "live",
    "orders",
    "paper",
    "rebalance",
    "targets",
]
