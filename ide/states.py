"""What a session's badge and result say, from its real state (the session page's `states.js` says the same).

The stored status stays RUNNING from the first step to the end; people need to know whether a step
runs now, and a finished session with failed steps is not a green "COMPLETED".
"""

from __future__ import annotations

from dataclasses import dataclass

from sessions.models import TestSession

Status = TestSession.Status


@dataclass(frozen=True)
class Shown:
    label: str
    css: str
    result: str
    result_css: str


def session_shown(*, status: str, steps: int, failed: int, passed: int, running: int, waiting: int) -> Shown:
    """Badge (label, css class) and result (text, css class) of a session with these step counts."""
    label, css = status.replace("_", " "), f"st-{status}"
    if status in (Status.READY, Status.RUNNING):
        shown = "RUNNING" if running else "QUEUED" if waiting else "READY"
        label, css = shown, f"st-{shown}"
    elif status == Status.WAITING_INPUT:
        label = "WAITING FOR INPUT"
    elif status in (Status.COMPLETED, Status.CANCELLED):
        if failed:
            label, css = f"{status} · {failed} failed", "st-ERROR"
        elif not steps:
            label, css = f"{status} · no steps", "st-CANCELLED"
    if status in TestSession.ACTIVE:
        result, result_css = "open", "muted"
    elif failed:  # a CI run that stopped at a failed step ends FAILED too: that is no setup failure
        result, result_css = f"{failed} of {steps} failed", "bad"
    elif status == Status.FAILED:
        result, result_css = "setup failed", "bad"
    elif not steps:
        result, result_css = "no steps", "muted"
    elif status == Status.CANCELLED:
        result, result_css = "stopped early", "muted"
    elif passed == steps:
        result, result_css = f"all {passed} passed", "good"
    else:
        result, result_css = f"{passed} of {steps} passed", "muted"
    return Shown(label, css, result, result_css)
