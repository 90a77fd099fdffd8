"""Writes of the device domain, and the one place that maps a device to its driver."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from .drivers.base import DeviceDriver, TransportError
from .models import Device

_drivers: dict[str, DeviceDriver] = {}


def driver_for(device: Device) -> DeviceDriver:
    """The driver of a device, one per process (a simulated device keeps its state in memory too)."""
    driver = _drivers.get(device.serial)
    if driver is None:
        if device.transport != Device.Transport.SIM:
            raise TransportError(f"No driver for transport '{device.transport}' in this build.")
        from .drivers.sim import SimDriver

        driver = _drivers[device.serial] = SimDriver(device.serial, settings.SIM_DEVICE_DIR)
    return driver


def device_register_sim(*, serial: str, name: str = "", host: str = "localhost") -> Device:
    """Register (or refresh) a simulated device: available, unless a session still holds it."""
    from sessions.models import TestSession

    from .drivers.sim import SimDriver

    facts = SimDriver(serial, settings.SIM_DEVICE_DIR).facts()
    held = TestSession.objects.filter(device__serial=serial, status__in=TestSession.HOLDING_DEVICE).exists()
    device, _ = Device.objects.update_or_create(
        serial=serial,
        defaults={
            "name": name or f"Simulated phone {serial}",
            "host": host,
            "transport": Device.Transport.SIM,
            "model": facts.model,
            "os_version": facts.os_version,
            "screen_width": facts.screen_width,
            "screen_height": facts.screen_height,
            "status": Device.Status.BUSY if held else Device.Status.AVAILABLE,
            "last_heartbeat": timezone.now(),
        },
    )
    return device
