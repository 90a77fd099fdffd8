"""Writes of the session domain."""

from .base import HOLDING_SLOT, locked_session, set_status, state_rebuild, user_session_cap
from .lifecycle import (
    session_hibernate,
    session_open,
    session_stop,
    sessions_admit,
    sessions_pause_on_device,
)
from .steps import session_input, step_submit, steps_append

__all__ = [
    "HOLDING_SLOT",
    "locked_session",
    "session_hibernate",
    "session_input",
    "session_open",
    "session_stop",
    "sessions_admit",
    "sessions_pause_on_device",
    "set_status",
    "state_rebuild",
    "step_submit",
    "steps_append",
    "user_session_cap",
]
