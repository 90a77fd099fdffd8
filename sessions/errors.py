"""Errors the session services raise; each carries a machine-readable code and an HTTP status."""

from __future__ import annotations

from core.errors import ServiceError


class SessionLimit(ServiceError):
    code = "session_limit"
    status = 429


class WaitingLimit(ServiceError):
    """A user's sessions waiting for a slot or a device are capped (MAX_WAITING_SESSIONS_PER_USER)."""

    code = "waiting_limit"
    status = 429


class DeviceBusy(ServiceError):
    code = "device_busy"
    status = 409


class DeviceUnavailable(ServiceError):
    code = "device_unavailable"
    status = 409


class NoDeviceAvailable(ServiceError):
    code = "no_device_available"
    status = 409


class SessionClosed(ServiceError):
    code = "session_closed"
    status = 409


class SessionRunsAFlow(ServiceError):
    """A step or chat message sent to the session of a CI run (or a replay): the run's verdict is its flow's, so
    nothing else may run there."""

    code = "session_runs_a_flow"
    status = 409

    def __init__(self) -> None:
        super().__init__(
            "This session runs a CI run's flow: it takes no other steps or chat, so the run's verdict is its "
            "flow's. Watch it, stop the run, or open a session of your own."
        )


class InputNotExpected(ServiceError):
    code = "input_not_expected"
    status = 409


class InputInvalid(ServiceError):
    """A field of a socket message that is not what it must be (an answer to `ask_user`, a CHAT's text): the
    code and `field` REST gives the same mistake."""

    code = "invalid"
    status = 400
