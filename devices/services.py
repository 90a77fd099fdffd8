"""Writes of the device domain, and the one place that maps a device to its driver."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .drivers.base import DeviceDriver
from .errors import DeviceOfAnotherHost
from .live import device_changed_on_commit
from .models import Device, HostAgent
from .signals import device_went_offline

_drivers: dict[str, DeviceDriver] = {}


def driver_for(device: Device) -> DeviceDriver:
    """The driver of a device, one per process (a simulated device keeps its state in memory too)."""
    driver = _drivers.get(device.serial)
    if driver is None:
        if device.transport == Device.Transport.ADB:
            from .drivers.adb import AdbDriver

            driver = AdbDriver(device.serial, adb_host=settings.ADB_SERVER_HOST, adb_port=settings.ADB_SERVER_PORT)
        else:
            from .drivers.sim import SimDriver

            driver = SimDriver(device.serial, settings.SIM_DEVICE_DIR)
        driver = _drivers.setdefault(device.serial, driver)  # the lane and the screen caster share one
    return driver


def device_register(*, serial: str, host: str, transport: str, facts: dict[str, Any]) -> Device:
    """Register (or refresh) a device: available, unless a session still holds it (it stays busy)."""
    held = Device.objects.filter(serial=serial, status=Device.Status.BUSY).exists()
    device, _ = Device.objects.update_or_create(
        serial=serial,
        defaults={
            "name": facts.get("name") or f"{facts.get('model') or 'Device'} {serial}",
            "host": host,
            "transport": transport,
            "model": facts.get("model", ""),
            "os_version": facts.get("os_version", ""),
            "screen_width": facts.get("screen_width"),
            "screen_height": facts.get("screen_height"),
            "status": Device.Status.BUSY if held else Device.Status.AVAILABLE,
            "last_heartbeat": timezone.now(),
        },
    )
    device_changed_on_commit(serial=serial)
    return device


FACTS = ("model", "os_version", "screen_width", "screen_height")


def host_agent_bind(*, user: Any, host: str) -> HostAgent:
    """Bind a user's token to one host (a host has one agent token; binding again moves it)."""
    with transaction.atomic():
        HostAgent.objects.filter(host=host).exclude(user=user).delete()
        agent, _ = HostAgent.objects.update_or_create(user=user, defaults={"host": host})
    return agent


def device_register_on_host(*, host: str, serial: str, transport: str, facts: dict[str, Any]) -> Device:
    """A host agent registers a device it has (its facts are refreshed).

    The device is given to sessions only once the host's heartbeat lists it: a device new to the
    server, or coming back, stays offline until then. A device that another host has online is
    refused; one that is offline moves to this host (a phone plugged into another machine).
    """
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(serial=serial).first()
        if device is not None and device.host != host and device.status != Device.Status.OFFLINE:
            raise DeviceOfAnotherHost(
                f"Device '{serial}' is online on another host; it can move here once it is offline there."
            )
        fields = {
            "name": facts.get("name") or f"{facts.get('model') or 'Device'} {serial}",
            "host": host,
            "transport": transport,
            **{key: facts.get(key, "" if key in ("model", "os_version") else None) for key in FACTS},
        }
        if device is None:
            device = Device.objects.create(serial=serial, status=Device.Status.OFFLINE, **fields)
        else:
            for key, value in fields.items():
                setattr(device, key, value)
            device.save(update_fields=list(fields))
        device_changed_on_commit(serial=serial)
    return device


def device_register_sim(*, serial: str, name: str = "", host: str = "localhost") -> Device:
    from .drivers.sim import SimDriver

    facts = SimDriver(serial, settings.SIM_DEVICE_DIR).facts()
    return device_register(
        serial=serial,
        host=host,
        transport=str(Device.Transport.SIM),
        facts={
            "name": name or f"Simulated phone {serial}",
            "model": facts.model,
            "os_version": facts.os_version,
            "screen_width": facts.screen_width,
            "screen_height": facts.screen_height,
        },
    )


def device_mark_offline(*, serial: str, reason: str, host: str | None = None) -> Device | None:
    """A device is gone (unplugged, its host silent): offline; the sessions on it are paused (by the
    session layer, which listens)."""
    with transaction.atomic():
        devices = Device.objects.select_for_update().filter(serial=serial)
        device = (devices if host is None else devices.filter(host=host)).first()
        if device is None or device.status == Device.Status.OFFLINE:
            return device
        device.status = Device.Status.OFFLINE
        device.save(update_fields=["status"])
        device_changed_on_commit(serial=serial)
        device_went_offline.send(sender=Device, device=device, reason=reason)
    return device


def device_mark_available(*, serial: str) -> bool:
    """An offline device is back (its worker lives again): available to sessions."""
    with transaction.atomic():
        back = Device.objects.filter(serial=serial, status=Device.Status.OFFLINE).update(status=Device.Status.AVAILABLE)
        if back:
            device_changed_on_commit(serial=serial)
    return bool(back)


def devices_heartbeat(*, host: str, serials: list[str]) -> int:
    """A host agent's heartbeat: its listed devices are alive (an offline one is available again);
    its other devices go offline. Serials of other hosts' devices are ignored."""
    now = timezone.now()
    mine = Device.objects.filter(host=host, serial__in=serials)
    alive = mine.update(last_heartbeat=now)
    for serial in mine.filter(status=Device.Status.OFFLINE).values_list("serial", flat=True):
        device_mark_available(serial=serial)
    for serial in (
        Device.objects.filter(host=host)
        .exclude(serial__in=serials)
        .exclude(status=Device.Status.OFFLINE)
        .values_list("serial", flat=True)
    ):
        device_mark_offline(serial=serial, reason=f"Device {serial} is no longer attached to {host}.")
    return alive


def devices_mark_stale() -> int:
    """Devices whose host stopped sending heartbeats go offline (simulated devices have no agent)."""
    stale = timezone.now() - timedelta(seconds=settings.DEVICE_STALE_SECONDS)
    serials = (
        Device.objects.filter(transport=Device.Transport.ADB, last_heartbeat__lt=stale)
        .exclude(status=Device.Status.OFFLINE)
        .values_list("serial", flat=True)
    )
    for serial in serials:
        device_mark_offline(serial=serial, reason=f"The host of device {serial} stopped answering.")
    return len(serials)
