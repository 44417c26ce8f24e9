"""laneserver: the in-store server of a multi-lane shop."""

__version__ = "0.1.0"
