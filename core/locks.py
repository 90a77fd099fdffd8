"""Redis locks with a TTL, renewal, atomic release and an optional fencing token: the one implementation
behind the device lease and the session mutex.

A lock's value is `holder:token`. Acquiring grants a new token from a per-lock counter that only
grows (it never falls below the current time in milliseconds, so tokens stay increasing even if
Redis restarts empty); writes made under a lock check that its value is still theirs, so a holder
that stalled past its TTL cannot overwrite the work of whoever holds it now. Every check-and-change
is one Lua script: there is no GET-then-DELETE window. Keys carry the deployment's prefix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

# KEYS: lock, counter. ARGV: holder, ttl ms, token floor, seize (1 = take it whoever holds it).
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current and ARGV[4] ~= '1' then
  local holder = string.match(current, '^(.*):%d+$')
  if holder ~= ARGV[1] then return -1 end
end
local token = redis.call('INCR', KEYS[2])
if token < tonumber(ARGV[3]) then
  token = tonumber(ARGV[3])
  redis.call('SET', KEYS[2], token)
end
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
_RELEASE_HOLDER = """
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^(.*):%d+$') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)


def lock_key(name: str) -> str:
    return f"{settings.CHANNEL_PREFIX}:{name}"


@dataclass(frozen=True)
class Lock:
    name: str
    holder: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.holder}:{self.token}"


def lock_acquire(*, name: str, holder: str, ttl_ms: int, seize: bool = False) -> Lock | None:
    """Grant `name` to `holder` (again, with a new token, if it already holds it); None if someone else does.

    `seize` takes it whoever holds it: only for an owner that knows the previous holder is gone.
    """
    key = lock_key(name)
    floor = int(time.time() * 1000)
    token = int(redis_client().eval(_ACQUIRE, 2, key, key + ":token", holder, ttl_ms, floor, int(seize)))
    return None if token < 0 else Lock(name=name, holder=holder, token=token)


def lock_renew(*, lock: Lock, ttl_ms: int) -> bool:
    return bool(redis_client().eval(_RENEW, 1, lock_key(lock.name), lock.value, ttl_ms))


def lock_release(*, lock: Lock) -> bool:
    return bool(redis_client().eval(_RELEASE, 1, lock_key(lock.name), lock.value))


def lock_release_holder(*, name: str, holder: str) -> bool:
    """Release `name` if `holder` holds it, whatever its token (a holder whose grants span several tasks)."""
    return bool(redis_client().eval(_RELEASE_HOLDER, 1, lock_key(name), holder))


def lock_holds(*, lock: Lock) -> bool:
    """The fencing check: is this grant still the lock's current one?"""
    return redis_client().get(lock_key(lock.name)) == lock.value


def lock_current(*, name: str) -> str | None:
    """`holder:token` of the lock's live grant, if any."""
    current = redis_client().get(lock_key(name))
    return None if current is None else str(current)
