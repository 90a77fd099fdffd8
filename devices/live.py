"""A device's status changed: say so after the transaction commits, for whoever shows devices live.

The devices layer does not know who listens (the IDE's device list does); it sends a Django signal
once the change is committed, so a listener always reads the new state.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

device_changed = Signal()
"""Sent with `serial=` after the transaction that changed the device's status (or facts) committed."""


def device_changed_on_commit(*, serial: str) -> None:
    transaction.on_commit(lambda: device_changed.send(sender=None, serial=serial))
