"""homeflow: guided routines run by your home."""

__version__ = "0.1.0"
