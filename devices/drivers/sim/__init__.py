"""A simulated Android phone for demos and tests (see `SimDriver`)."""

from devices.drivers.base import AppNotInstalled

from .apps import DEMO, DEMO_EMAIL, DEMO_PASSWORD, LAUNCHER, SETTINGS
from .device import SimDriver, reset_sim_device, set_sim_faults

__all__ = [
    "DEMO",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "LAUNCHER",
    "SETTINGS",
    "AppNotInstalled",
    "SimDriver",
    "reset_sim_device",
    "set_sim_faults",
]
