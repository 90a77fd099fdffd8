"""The longest write a request makes: `POST /api/runs/` with a flow of the most steps allowed.

    python bench/longwrite.py                  # starts its own `cognisim up` (SQLite, private home)
    DATABASE_URL=postgres://… python bench/longwrite.py [--steps 1000] [--runs 5]

While the runs are posted, another session sends instant steps one after another on a second
device; the script prints how long each POST took (its transaction holds SQLite's write lock, or
the new rows' locks on PostgreSQL) and the other session's round trips meanwhile: a long write
shows as a stalled neighbour.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roundtrip import percentile, running_stack  # noqa: E402
from tests.live import Rest, Socket, session_status  # noqa: E402


def neighbour(url: str, token: str, stop: threading.Event, latencies: list[float]) -> None:
    """A session on sim-2 sending instant steps back to back until `stop`."""
    rest = Rest(url, token)
    session = rest.post("/api/sessions/", {"device": "sim-2"}).body
    sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
    sock.wait_for(session_status("READY"), timeout=60)
    while not stop.is_set():
        t0 = time.perf_counter()
        sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
        ack = sock.wait_for(lambda m: m.get("type") == "ACK", timeout=60)
        sock.wait_for(lambda m, i=ack["step_id"]: m.get("step_id") == i and m.get("status") == "COMPLETED", timeout=60)
        latencies.append((time.perf_counter() - t0) * 1000)
        sock.received.clear()
    rest.post(f"/api/sessions/{session['id']}/stop/")
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    flow = "name: long\napp: com.cognisim.demo\nsteps:\n" + "  - press_key: {key: home}\n" * args.steps
    with running_stack(devices=2) as (url, token):
        rest = Rest(url, token)
        latencies: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=neighbour, args=(url, token, stop, latencies), daemon=True)
        thread.start()
        while not latencies:  # the neighbour is running steps
            time.sleep(0.05)
        before = len(latencies)
        posts = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            reply = rest.post("/api/runs/", {"flow": flow, "filename": "long.yaml", "device": "sim-1"})
            posts.append((time.perf_counter() - t0) * 1000)
            if reply.status != 201:
                raise SystemExit(f"POST /api/runs/ answered {reply.status} {reply.body}")
            rest.post(f"/api/runs/{reply.body['id']}/stop/")
        during = latencies[before:]
        stop.set()
        thread.join(timeout=60)
    print(f"POST /api/runs/ with {args.steps} steps, {args.runs} times: "
          f"median {statistics.median(posts):.0f} ms, max {max(posts):.0f} ms")
    print(f"the neighbour's round trips meanwhile ({len(during)}): p50 {percentile(during, 50):.1f} ms, "
          f"p99 {percentile(during, 99):.1f} ms, max {max(during):.1f} ms")


if __name__ == "__main__":
    main()
