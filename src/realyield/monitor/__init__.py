"""Monitoring: alert rules, stored alert episodes, notifications, replay, reviews.

Entry points (what the CLI calls; an API route is one call each):

* ``service.run_monitor(engine, settings, config, channels)`` -> ``MonitorRun``;
* ``replay.replay(engine, start, end, config)`` -> ``ReplayResult``;
* ``alerts.list_alerts(engine, status=..., since=...)`` / ``alerts.acknowledge(engine, id)``;
* ``review.quarterly_review(engine, quarter, holdings_usd, targets=...,
  income_per_year_usd=..., realised_income=...)`` and ``review_report.render_html`` /
  ``render_markdown``;
* ``config.load_config(path, home=...)`` and ``config.channels_from_config(notify)``;
* ``scheduler.start_background(job, every_minutes)`` for a long-lived process.

Every result has ``as_dict()`` for JSON.
"""

# the submodules (``from realyield.monitor import *`` imports them)
__all__ = [
    "alerts",
    "config",
    "delivery",
    "market_rules",
    "notify",
    "replay",
    "review",
    "review_report",
    "rules",
    "scheduler",
    "service",
    "yield_rules",
]
