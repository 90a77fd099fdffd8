"""Writes of runs (`runs.py`: start, advance, stop, replay) and of saved flows (`saved_flows.py`)."""

from .runs import flow_check, replay_start, run_session_ended, run_start, run_stop
from .saved_flows import (
    flow_trigger,
    flow_webhook_secret,
    flows_schedule_due,
    saved_flow_create,
    saved_flow_delete,
    saved_flow_run,
)

__all__ = [
    "flow_check",
    "flow_trigger",
    "flow_webhook_secret",
    "flows_schedule_due",
    "replay_start",
    "run_session_ended",
    "run_start",
    "run_stop",
    "saved_flow_create",
    "saved_flow_delete",
    "saved_flow_run",
]
