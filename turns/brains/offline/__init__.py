"""The default brain: a deterministic planner of plain English into steps, with no network."""

from .planner import OfflineBrain

__all__ = ["OfflineBrain"]
