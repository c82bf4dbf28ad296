"""Monitoring: rules over the stored data that raise alerts (the monitor stage)."""
