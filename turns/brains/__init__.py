"""Brains turn a chat turn's text and the current screen into a plan of steps (see `base.Plan`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .base import Brain, BrainError, Plan, answered, remaining_said
from .llm import LLMBrain
from .offline import OfflineBrain

__all__ = ["Brain", "BrainError", "LLMBrain", "OfflineBrain", "Plan", "answered", "brain_from_env", "remaining_said"]


def brain_from_env(environ: Mapping[str, str] | None = None) -> Brain:
    """The LLM brain when COGNISIM_LLM_BASE_URL is set, otherwise the offline planner."""
    env = os.environ if environ is None else environ
    return LLMBrain.from_env(env) if env.get("COGNISIM_LLM_BASE_URL", "").strip() else OfflineBrain()
