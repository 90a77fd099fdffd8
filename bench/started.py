"""A step's STARTED on the socket after the request, at IDE pace, on phones whose screen reads are slow.

    python bench/started.py                            # the simulated phone, adb phones (typical, slow)
    python bench/started.py --profiles typical --steps 30 --pause-ms 300
    python bench/started.py --profiles "" --steps 200  # the simulated phone only

Starts its own `cognisim up` (one simulated phone, SQLite, a private Redis) and, for each adb profile, a
private real adb server, an adb-speaking simulated phone in a process of its own (docs/devices.md, latency
profiles) and `cognisim agent`, which registers it and runs its worker. On each device it opens a session
(the demo app, the e-mail field focused) and sends steps as a person does from the IDE: the next one
`--pause-ms` after the previous COMPLETED, each changing the screen (`type "a"`, `press_key del`), so the
worker reads the new screen after every step (on `typical` that read takes seconds). For each step it
times EXECUTE_SINGLE → its STARTED event, and → its COMPLETED event.

Prints p50 / p99 of both per device, with the stack floor measured in the same run (bench/floor.py) and
the ratio of STARTED to it (issue 18's target: STARTED ≤ 1.5× the floor, whatever the phone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.floor import Floor, measure_floor  # noqa: E402
from bench.live import adb_phone, available  # noqa: E402
from bench.roundtrip import percentile, running_stack  # noqa: E402
from cognisim_site.redis_server import start_private_redis  # noqa: E402
from devices.adbsim.adbserver import poll  # noqa: E402
from devices.drivers.sim import DEMO  # noqa: E402
from tests.live import TERMINAL_STEP, Rest  # noqa: E402


def figures(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.1f} ms, p99 {percentile(values, 99):7.1f} ms"


async def _until(ws: Any, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 120))
        if check(message):
            return message


async def steps_at_ide_pace(ws: Any, steps: int, pause: float) -> tuple[list[float], list[float]]:
    """(request → STARTED, request → COMPLETED) in ms, the next step `pause` s after the previous COMPLETED."""
    to_started: list[float] = []
    to_completed: list[float] = []
    for n in range(steps):
        await asyncio.sleep(pause)  # the person reads the result, then clicks: the point of the benchmark
        step = {"action": "type", "text": "a"} if n % 2 == 0 else {"action": "press_key", "key": "del"}
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "EXECUTE_SINGLE", "step": step}))
        step_id = (await _until(ws, lambda m: m.get("type") == "ACK"))["step_id"]
        await _until(ws, lambda m, i=step_id: m.get("step_id") == i and m.get("status") == "STARTED")
        to_started.append((time.perf_counter() - sent) * 1000)
        done = await _until(ws, lambda m, i=step_id: m.get("step_id") == i and m.get("status") in TERMINAL_STEP)
        to_completed.append((time.perf_counter() - sent) * 1000)
        if done["status"] != "COMPLETED":
            raise SystemExit(f"a step failed: {done}")
    return to_started, to_completed


async def bench_device(label: str, url: str, token: str, serial: str, steps: int, pause: float) -> list[float]:
    """Print the device's figures; its request → STARTED times. The client is an asyncio websocket like the
    floor's (a thread per socket would add its own hops to every figure)."""
    rest = Rest(url, token)
    reply = await asyncio.to_thread(rest.post, "/api/sessions/", {"device": serial, "app": {"package": DEMO}})
    if reply.status != 201:
        raise SystemExit(f"could not open a session on {serial}: {reply.status} {reply.body}")
    session = reply.body
    headers = {"Authorization": f"Token {token}"}
    async with connect(session["ws_url"] + "?last_seq=0", additional_headers=headers, max_size=None) as ws:
        await _until(ws, lambda m: m.get("type") == "SESSION_STATUS" and m.get("status") == "READY")
        for step in ({"action": "launch_app", "package": DEMO, "clear_state": True}, {"action": "tap", "id": "email"}):
            await ws.send(json.dumps({"type": "EXECUTE_SINGLE", "step": step}))
            step_id = (await _until(ws, lambda m: m.get("type") == "ACK"))["step_id"]
            await _until(ws, lambda m, i=step_id: m.get("step_id") == i and m.get("status") in TERMINAL_STEP)
        await steps_at_ide_pace(ws, 2, pause)  # warm-up
        started, completed = await steps_at_ide_pace(ws, steps, pause)
    print(f"{label}: request → STARTED   {figures(started)} (n={steps})", flush=True)
    print(f"{label}: request → COMPLETED {figures(completed)}", flush=True)
    if os.environ.get("BENCH_VERBOSE"):
        print(f"{label}: STARTED each: {' '.join(f'{v:.0f}' for v in started)}")
    await asyncio.to_thread(rest.post, f"/api/sessions/{session['id']}/stop/")
    return started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="steps timed on the simulated phone")
    parser.add_argument("--slow-steps", type=int, default=20, help="steps timed on each adb phone")
    parser.add_argument("--profiles", default="typical,slow", help="adb phones' latency profiles")
    parser.add_argument("--pause-ms", type=int, default=300, help="from a step's COMPLETED to the next request")
    parser.add_argument("--no-floor", action="store_true")
    args = parser.parse_args()
    floor: Floor | None = None if args.no_floor else measure_floor()
    if floor is not None:
        print(floor, flush=True)
    home = Path(tempfile.mkdtemp(prefix="cognisim-bench-started-"))
    redis_proc, redis_url = start_private_redis(home / "redis")
    os.environ["REDIS_URL"] = redis_url
    os.environ["COGNISIM_HOME"] = str(home)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    pause = args.pause_ms / 1000
    results: list[tuple[str, list[float]]] = []
    try:
        with running_stack(devices=1, home=str(home)) as (url, token):
            env = dict(os.environ, RATE_LIMIT_STEPS="0")
            results.append(("sim", asyncio.run(bench_device("sim", url, token, "sim-1", args.steps, pause))))
            for profile in filter(None, args.profiles.split(",")):
                with adb_phone(home, url, env, profile) as (serial, _):
                    poll(lambda s=serial: available(url, token, s), timeout=60, what="the adb phone to register")
                    label = f"adb {profile}"
                    started = asyncio.run(bench_device(label, url, token, serial, args.slow_steps, pause))
                    results.append((label, started))
    finally:
        redis_proc.terminate()
    if floor is not None:
        for label, started in results:
            p50, p99 = statistics.median(started), percentile(started, 99)
            print(
                f"{label}: STARTED p50 / floor p50 = {p50 / floor.p50_ms:.2f}x, p99 / floor p99 = "
                f"{p99 / floor.p99_ms:.2f}x (target ≤ 1.5x)"
            )


if __name__ == "__main__":
    main()
