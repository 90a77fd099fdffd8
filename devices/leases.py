"""Device leases: one executor per device at a time, with a TTL renewed while it lives and a fencing token.

A lease is a `core.locks` lock named `lease:<serial>`. The worker of a device takes its device's
lease when it starts serving the lane (`lane_lease`) and keeps it, renewed by one watchdog thread
per process, for as long as it lives: a worker that dies lets it lapse within the TTL, and the
device's next worker seizes it at once when it starts (it is the only consumer of the device's
queue, so the previous holder is gone). Writes made under a lease check its token
(`lease_holds`), so a stale executor that wakes up late changes nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass

import redis
from django.conf import settings

from core.locks import Lock, lock_acquire, lock_current, lock_holds, lock_release, lock_renew

logger = logging.getLogger(__name__)


def _name(serial: str) -> str:
    return f"lease:{serial}"


@dataclass(frozen=True)
class Lease:
    serial: str
    holder: str
    token: int

    @property
    def lock(self) -> Lock:
        return Lock(name=_name(self.serial), holder=self.holder, token=self.token)

    @property
    def value(self) -> str:
        return self.lock.value


def _ttl_ms() -> int:
    return int(settings.LEASE_TTL_SECONDS * 1000)


def lease_acquire(*, serial: str, holder: str, seize: bool = False) -> Lease | None:
    """Grant the device's lease to `holder` (again, with a new token, if it already holds it); None if taken."""
    lock = lock_acquire(name=_name(serial), holder=holder, ttl_ms=_ttl_ms(), seize=seize)
    return None if lock is None else Lease(serial=serial, holder=holder, token=lock.token)


def lease_renew(*, lease: Lease) -> bool:
    return lock_renew(lock=lease.lock, ttl_ms=_ttl_ms())


def lease_release(*, lease: Lease) -> None:
    lock_release(lock=lease.lock)


def lease_holds(*, lease: Lease) -> bool:
    """The fencing check: is this grant still the device's current one?"""
    return lock_holds(lock=lease.lock)


def lease_current(*, serial: str) -> str | None:
    """`holder:token` of the device's live lease, if any."""
    return lock_current(name=_name(serial))


class _LaneLeases:
    """The leases this process holds as the lane owner of its devices, renewed by one watchdog thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.owner = f"{socket.gethostname()}:{self.pid}"
        self.held: dict[str, Lease] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        threading.Thread(target=self._renew, name="lane-leases", daemon=True).start()

    def get(self, serial: str, *, seize: bool) -> Lease | None:
        with self.lock:
            lease = self.held.get(serial)
        if lease is not None and not seize:
            return lease
        lease = lease_acquire(serial=serial, holder=self.owner, seize=seize)
        with self.lock:
            if lease is None:
                self.held.pop(serial, None)
            else:
                self.held[serial] = lease
        return lease

    def drop(self, lease: Lease) -> None:
        """Forget `lease` — that grant, not a newer one taken meanwhile by another thread."""
        with self.lock:
            if self.held.get(lease.serial) == lease:
                del self.held[lease.serial]

    def _renew(self) -> None:
        while not self.wake.wait(settings.LEASE_TTL_SECONDS / 3):
            with self.lock:
                held = list(self.held.values())
            for lease in held:
                try:
                    if not lease_renew(lease=lease):
                        self.drop(lease)  # lost (Redis restarted empty, or seized): acquire anew next time
                except redis.RedisError:
                    continue  # Redis away: keep trying; if it stays away the lease lapses, as it should
                except Exception:  # the watchdog must outlive anything: without it every lease lapses
                    logger.exception("renewing the lease of %s failed", lease.serial)


_lanes: _LaneLeases | None = None
_lanes_lock = threading.Lock()


def _lane_leases() -> _LaneLeases:
    global _lanes
    with _lanes_lock:
        if _lanes is None or _lanes.pid != os.getpid():
            _lanes = _LaneLeases()
        return _lanes


def lane_lease(*, serial: str, seize: bool = False) -> Lease | None:
    """This process's lease on the device as the owner of its lane: taken once, kept and renewed.

    None when another live process holds it. `seize` takes it whoever holds it (a device's worker
    does so when it starts: the previous one is gone).
    """
    return _lane_leases().get(serial, seize=seize)


def lane_lease_lost(*, lease: Lease) -> None:
    """Forget a lease found stale, so the next drain acquires it anew (a newer grant is kept)."""
    _lane_leases().drop(lease)
