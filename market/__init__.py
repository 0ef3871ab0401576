"""market: an open intermediary-services supermarket (中介超市)."""

__version__ = "0.1.0"
