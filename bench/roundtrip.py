"""Step round trip: EXECUTE_SINGLE of an instant simulated step → its COMPLETED event, on one socket.

    python bench/roundtrip.py                       # starts its own `cognisim up` (SQLite, private home)
    DATABASE_URL=postgres://… python bench/roundtrip.py
    python bench/roundtrip.py --url http://127.0.0.1:8000 --token TOKEN [--device sim-1]

Prints p50 / p90 / p99 of the round trip and the steps per second.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cognisim_site.redis_server import free_port  # noqa: E402
from tests.live import Rest, Socket, session_status  # noqa: E402


def start_stack(devices: int) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    env = dict(os.environ, COGNISIM_HOME=tempfile.mkdtemp(prefix="cognisim-bench-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognisim_site.cli", "up", "--port", str(port), "--sim-devices", str(devices)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if match := re.search(r"API token: (\w+)", line):
            return proc, f"http://127.0.0.1:{port}", match.group(1)
    raise SystemExit("cognisim up exited before it was ready")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(url: str, token: str, device: str | None, steps: int, warmup: int) -> None:
    rest = Rest(url, token)
    reply = rest.post("/api/sessions/", {"device": device} if device else {})
    if reply.status != 201:
        raise SystemExit(f"could not open a session: {reply.status} {reply.body}")
    session = reply.body
    sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
    sock.wait_for(session_status("READY"), timeout=30)
    step = {"action": "press_key", "key": "home"}
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(warmup + steps):
        if n == warmup:
            started = time.perf_counter()
        t0 = time.perf_counter()
        sock.send({"type": "EXECUTE_SINGLE", "step": step})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK")
        sock.wait_for(lambda m, i=ack["step_id"]: m.get("step_id") == i and m.get("status") == "COMPLETED")
        if n >= warmup:
            latencies.append((time.perf_counter() - t0) * 1000)
        sock.received.clear()
    elapsed = time.perf_counter() - started
    rest.post(f"/api/sessions/{session['id']}/stop/")
    sock.close()
    print(
        f"round trip over {steps} steps (after {warmup} warm-up): "
        f"p50 {statistics.median(latencies):.1f} ms, p90 {percentile(latencies, 90):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms; "
        f"{steps / elapsed:.0f} steps/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url")
    parser.add_argument("--token", default=os.environ.get("COGNISIM_TOKEN"))
    parser.add_argument("--device")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    stack = None
    if args.url is None:
        stack, args.url, args.token = start_stack(devices=1)
        print(f"started cognisim up at {args.url} ({os.environ.get('DATABASE_URL', 'SQLite')})")
    try:
        run(args.url, args.token, args.device, args.steps, args.warmup)
    finally:
        if stack is not None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=30)


if __name__ == "__main__":
    main()
