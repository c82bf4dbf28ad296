"""Income indices: rules as data, construction with caps on shared risk, rebalancing, levels."""
