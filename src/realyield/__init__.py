"""realyield: sustainable crypto income, with data and code anyone can check."""

__version__ = "0.1.0"
