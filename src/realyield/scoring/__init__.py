"""Scoring: real yield, screens, sustainability and risk scores, and the forward-yield forecast."""
