"""Step round trip: EXECUTE_SINGLE of an instant simulated step → its COMPLETED event, on one socket.

    python bench/roundtrip.py                       # starts its own `cognisim up` (SQLite, private home)
    DATABASE_URL=postgres://… python bench/roundtrip.py
    python bench/roundtrip.py --url http://127.0.0.1:8000 --token TOKEN [--device sim-1]
    python bench/roundtrip.py --load 20             # 20 devices, one session each, steps back to back

Prints p50 / p90 / p99 of the round trip and the steps per second (in all, under --load), with the stack
floor measured in the same run (bench/floor.py) and the ratios to it (SPEC §6). `--no-floor` skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import Floor, measure_floor  # noqa: E402
from cognisim_site.redis_server import free_port  # noqa: E402
from tests.live import Rest  # noqa: E402

STEP = json.dumps({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})


@contextmanager
def fresh_database() -> Iterator[dict[str, str]]:
    """On PostgreSQL (DATABASE_URL), a database of the benchmark's own, dropped at the end: a run never
    meets an earlier run's users and sessions. Nothing to do on SQLite (a fresh home holds its file)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield {}
        return
    import psycopg

    base, _, _ = url.rpartition("/")
    name = f"cognisim_bench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": f"{base}/{name}"}
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_stack(devices: int, home: str | None = None, web_processes: int = 1) -> Iterator[tuple[str, str]]:
    """`cognisim up` in a fresh home for the duration: its URL and a token allowed one session per device.

    It is stopped (Ctrl-C, as a person would) however the benchmark ends, even if it never got ready.
    """
    with fresh_database() as database:
        yield from _running_stack(devices, home, web_processes, database)


def _running_stack(
    devices: int, home: str | None, web_processes: int, database: dict[str, str]
) -> Iterator[tuple[str, str]]:
    port = free_port()
    env = dict(os.environ, COGNISIM_HOME=home or tempfile.mkdtemp(prefix="cognisim-bench-"), **database)
    # Steps back to back, one socket per device, are the point here: not a runaway script.
    env.setdefault("RATE_LIMIT_STEPS", "0")
    env.setdefault("SOCKET_MESSAGES_PER_SECOND", "100000")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "cognisim_site.cli", "up", "--port", str(port), "--sim-devices", str(devices)),
            *("--web-processes", str(web_processes)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Press Ctrl-C" in line:
                break
        else:
            raise SystemExit("cognisim up exited before it was ready")
        manage = Path(__file__).resolve().parent.parent / "manage.py"
        token = subprocess.run(
            [sys.executable, str(manage), "create_api_user", "bench", "--max-sessions", str(devices)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"started cognisim up at http://127.0.0.1:{port} ({env.get('DATABASE_URL', 'SQLite')})")
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def stack_for(args: argparse.Namespace, devices: int) -> AbstractContextManager[tuple[str, str]]:
    """The server named by --url/--token, or a stack of our own."""
    return nullcontext((args.url, args.token)) if args.url else running_stack(devices)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def session_latencies(url: str, token: str, device: str | None, steps: int, warmup: int) -> list[float]:
    """Open a session, send `warmup + steps` instant steps one after another; the round trips in ms.

    The client is an asyncio websocket like the floor's (../shared/floor/client.py): a thread per socket
    would add its own hops to every figure."""
    rest = Rest(url, token)
    reply = await asyncio.to_thread(rest.post, "/api/sessions/", {"device": device} if device else {})
    if reply.status != 201:
        raise SystemExit(f"could not open a session: {reply.status} {reply.body}")
    session = reply.body
    headers = {"Authorization": f"Token {token}"}
    latencies: list[float] = []
    async with connect(session["ws_url"] + "?last_seq=0", additional_headers=headers, max_size=None) as ws:
        while json.loads(await asyncio.wait_for(ws.recv(), 60)).get("status") != "READY":
            pass
        for n in range(warmup + steps):
            t0 = time.perf_counter()
            await ws.send(STEP)
            step_id = None
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if message.get("type") == "ACK":
                    step_id = message["step_id"]
                elif message.get("step_id") == step_id and message.get("status") == "COMPLETED":
                    break
            if n >= warmup:
                latencies.append((time.perf_counter() - t0) * 1000)
    await asyncio.to_thread(rest.post, f"/api/sessions/{session['id']}/stop/")
    return latencies


def report(title: str, latencies: list[float], elapsed: float, floor: Floor | None = None) -> float:
    """Print a run's figures (and their ratios to the floor); its steps per second."""
    p50, p99, rate = statistics.median(latencies), percentile(latencies, 99), len(latencies) / elapsed
    print(
        f"{title}: p50 {p50:.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms; {rate:.0f} steps/s"
    )
    if floor is not None:
        print(f"{floor}; ratio p50 {p50 / floor.p50_ms:.2f}x, p99 {p99 / floor.p99_ms:.2f}x (p99 / floor p50 "
              f"{p99 / floor.p50_ms:.2f}x)")
    return rate


async def run(
    url: str, token: str, device: str | None, steps: int, warmup: int, load: int, floor: Floor | None
) -> None:
    """One session's round trips; with `load`, then `load` sessions at once, compared with the single one."""
    started = time.perf_counter()
    latencies = await session_latencies(url, token, device, steps, warmup)
    elapsed = time.perf_counter() - started
    single = report(f"round trip over {steps} steps (after {warmup} warm-up)", latencies, elapsed, floor)
    if load <= 1:
        return
    started = time.perf_counter()
    results = await asyncio.gather(*(session_latencies(url, token, None, steps, warmup) for _ in range(load)))
    elapsed = time.perf_counter() - started
    rate = report(f"{load} sessions x {steps} steps, back to back", sum(results, []), elapsed, floor)
    print(f"aggregate rate / single-session rate of this run = {rate / single:.2f}x (target ≥ 4x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--token", default=os.environ.get("COGNISIM_TOKEN"))
    parser.add_argument("--device")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--load", type=int, default=1, metavar="N", help="N sessions on N devices at once")
    parser.add_argument("--no-floor", action="store_true", help="do not measure the stack floor")
    args = parser.parse_args()
    with stack_for(args, devices=max(1, args.load)) as (url, token):
        floor = None if args.no_floor else measure_floor()
        asyncio.run(run(url, token, args.device, args.steps, args.warmup, args.load, floor))


if __name__ == "__main__":
    main()
