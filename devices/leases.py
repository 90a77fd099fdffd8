"""Device leases in Redis: one holder at a time, a TTL renewed while the holder lives, a fencing token.

A grant returns a token from a per-device counter that only grows. Writes made on behalf of a
lease check that the token still holds (`lease_holds`), so a holder that stalled past its TTL
and wakes up late cannot overwrite the work of whoever holds the device now.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local holder = string.match(current, '^(.*):%d+$')
  if holder ~= ARGV[1] then return -1 end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)


def _key(serial: str) -> str:
    return f"{settings.CHANNEL_PREFIX}:lease:{serial}"


@dataclass(frozen=True)
class Lease:
    serial: str
    holder: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.holder}:{self.token}"


def lease_acquire(*, serial: str, holder: str) -> Lease | None:
    """Grant the device's lease to `holder` (again, with a new token, if it already holds it); None if taken."""
    ttl_ms = settings.LEASE_TTL_SECONDS * 1000
    token = int(redis_client().eval(_ACQUIRE, 2, _key(serial), _key(serial) + ":token", holder, ttl_ms))
    return None if token < 0 else Lease(serial=serial, holder=holder, token=token)


def lease_renew(*, lease: Lease) -> bool:
    ttl_ms = settings.LEASE_TTL_SECONDS * 1000
    return bool(redis_client().eval(_RENEW, 1, _key(lease.serial), lease.value, ttl_ms))


def lease_release(*, lease: Lease) -> None:
    redis_client().eval(_RELEASE, 1, _key(lease.serial), lease.value)


def lease_holds(*, lease: Lease) -> bool:
    """The fencing check: is this grant still the device's current one?"""
    current = redis_client().get(_key(lease.serial))
    return current is not None and str(current) == lease.value


def lease_current(*, serial: str) -> str | None:
    """`holder:token` of the device's live lease, if any."""
    current = redis_client().get(_key(serial))
    return None if current is None else str(current)


class LeaseKeeper:
    """Renews a lease every third of its TTL until stopped, in a daemon thread (the watchdog)."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.serial}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(settings.LEASE_TTL_SECONDS / 3):
            try:
                if not lease_renew(lease=self.lease):
                    return
            except redis.RedisError:
                continue  # Redis away: keep trying; if it stays away the lease lapses, as it should
