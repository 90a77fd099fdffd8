"""The home page's device list, live: every committed device change is pushed to the open lists."""

from __future__ import annotations

from typing import Any

from sessions.broadcast import group_publish

DEVICES_GROUP = "ide.devices"


def devices_changed(sender: Any = None, *, serial: str, **kwargs: Any) -> None:
    """Receiver of `devices.live.device_changed`: wake every device-list socket (they read the new rows)."""
    group_publish(DEVICES_GROUP, {"type": "devices.changed", "serial": serial})
