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
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import Floor, measure_floor  # noqa: E402
from cognisim_site.redis_server import free_port  # noqa: E402
from tests.live import Rest, Socket, session_status  # noqa: E402


@contextmanager
def running_stack(devices: int, home: str | None = None, web_processes: int = 1) -> Iterator[tuple[str, str]]:
    """`cognisim up` in a fresh home for the duration: its URL and a token allowed one session per device.

    It is stopped (Ctrl-C, as a person would) however the benchmark ends, even if it never got ready.
    """
    port = free_port()
    env = dict(os.environ, COGNISIM_HOME=home or tempfile.mkdtemp(prefix="cognisim-bench-"))
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
        print(f"started cognisim up at http://127.0.0.1:{port} ({os.environ.get('DATABASE_URL', 'SQLite')})")
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


def session_latencies(url: str, token: str, device: str | None, steps: int, warmup: int) -> list[float]:
    """Open a session, send `warmup + steps` instant steps one after another; the round trips in ms."""
    rest = Rest(url, token)
    reply = rest.post("/api/sessions/", {"device": device} if device else {})
    if reply.status != 201:
        raise SystemExit(f"could not open a session: {reply.status} {reply.body}")
    session = reply.body
    sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
    sock.wait_for(session_status("READY"), timeout=60)
    step = {"action": "press_key", "key": "home"}
    latencies: list[float] = []
    for n in range(warmup + steps):
        t0 = time.perf_counter()
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK", timeout=60)
        sock.wait_for(lambda m, i=ack["step_id"]: m.get("step_id") == i and m.get("status") == "COMPLETED", timeout=60)
        if n >= warmup:
            latencies.append((time.perf_counter() - t0) * 1000)
        sock.received.clear()
    rest.post(f"/api/sessions/{session['id']}/stop/")
    sock.close()
    return latencies


def report(title: str, latencies: list[float], elapsed: float, floor: Floor | None = None) -> None:
    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(
        f"{title}: p50 {p50:.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms; {len(latencies) / elapsed:.0f} steps/s"
    )
    if floor is not None:
        print(f"{floor}; ratio p50 {p50 / floor.p50_ms:.2f}x, p99 {p99 / floor.p99_ms:.2f}x (p99 / floor p50 "
              f"{p99 / floor.p50_ms:.2f}x)")


def run(url: str, token: str, device: str | None, steps: int, warmup: int, load: int, floor: Floor | None) -> None:
    if load <= 1:
        started = time.perf_counter()
        latencies = session_latencies(url, token, device, steps, warmup)
        elapsed = time.perf_counter() - started
        report(f"round trip over {steps} steps (after {warmup} warm-up)", latencies, elapsed, floor)
        return
    barrier = threading.Barrier(load)
    results: list[list[float]] = []

    def one() -> None:
        barrier.wait()
        results.append(session_latencies(url, token, None, steps, warmup))

    threads = [threading.Thread(target=one) for _ in range(load)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report(f"{load} sessions x {steps} steps, back to back", sum(results, []), time.perf_counter() - started, floor)


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
        run(url, token, args.device, args.steps, args.warmup, args.load, None if args.no_floor else measure_floor())


if __name__ == "__main__":
    main()
