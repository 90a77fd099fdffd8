"""The registry of live workers: each worker beats in Redis, for every queue it consumes, every
`WORKER_BEAT_SECONDS` from a thread of its own (cognisim_site/worker_hooks.py), so a worker busy with a
long step still counts as alive. One sorted set per queue: member = the worker's node name, score = its
last beat. `/readyz`, the sweeper and the choice of a free device read it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache

import redis
from django.conf import settings


@cache
def registry_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)


def workers_key(queue: str) -> str:
    return f"{settings.CHANNEL_PREFIX}:workers:{queue}"


def worker_beat(*, node: str, queues: Iterable[str], client: redis.Redis | None = None) -> None:
    """A worker says it is alive, for each queue it consumes."""
    client = client or registry_redis()
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zadd(workers_key(queue), {node: now})
        pipe.zremrangebyscore(workers_key(queue), "-inf", now - 10 * settings.WORKER_BEAT_SECONDS)
        pipe.expire(workers_key(queue), int(10 * settings.WORKER_BEAT_SECONDS) + 1)
    pipe.execute()


def worker_gone(*, node: str, queues: Iterable[str], client: redis.Redis | None = None) -> None:
    client = client or registry_redis()
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zrem(workers_key(queue), node)
    pipe.execute()


def workers_alive(queues: list[str]) -> dict[str, int]:
    """Queue → number of workers that beat within the last 3 beats."""
    since = time.time() - 3 * settings.WORKER_BEAT_SECONDS
    pipe = registry_redis().pipeline(transaction=False)
    for queue in queues:
        pipe.zcount(workers_key(queue), since, "+inf")
    return dict(zip(queues, pipe.execute(), strict=True))
