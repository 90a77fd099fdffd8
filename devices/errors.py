"""Errors of the device domain; the API answers each as `{"code", "message"}`."""

from __future__ import annotations

from core.errors import ServiceError


class HostMismatch(ServiceError):
    """A host agent's token speaks for its own host only."""

    code = "host_mismatch"
    status = 403


class DeviceOfAnotherHost(ServiceError):
    """A device that another host has (online) cannot be registered by this one."""

    code = "device_of_another_host"
    status = 409
