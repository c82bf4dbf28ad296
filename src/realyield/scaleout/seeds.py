"""Per-item seeds derived from the run's seed.

Why: a variant's or a client's random stream must not depend on which worker runs it,
in which chunk, or in which order, so results are identical on every executor. numpy's
``SeedSequence`` with the item's position as its spawn key gives independent,
reproducible streams (the same construction ``SeedSequence.spawn`` uses), without any
state shared between items.
"""

from __future__ import annotations

import numpy as np


def item_seed(run_seed: int, item: int) -> int:
    """The seed of item number ``item`` (0-based) of a run seeded with ``run_seed``: a
    32-bit integer, the same on every machine and executor."""
    if run_seed < 0 or item < 0:
        raise ValueError(f"seeds and item numbers are >= 0, got {run_seed}, {item}")
    seq = np.random.SeedSequence(entropy=run_seed, spawn_key=(item,))
    return int(seq.generate_state(1, dtype=np.uint32)[0])
