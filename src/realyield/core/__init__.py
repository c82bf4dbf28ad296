"""Ground floor shared by every stage: records, errors, clock, settings, money."""
