"""The universe: normalized opportunities and histories, as of a date."""
