"""Fan-out: many sockets on one session; every event must reach all of them.

    python bench/fanout.py [--sockets 50] [--steps 100]

Starts its own `cognisim up`, opens one session with `--sockets` sockets on it, sends instant
steps one after another from the first socket, and measures, for every socket and step, the time
from sending the step to that socket's COMPLETED event. Prints p50/p99 and checks that every socket
saw every event exactly once, in order. The stack floor is measured first, in the same run
(bench/floor.py), and the p99 printed as a ratio to its p50 (SPEC §6).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import measure_floor  # noqa: E402
from bench.roundtrip import percentile, running_stack  # noqa: E402
from tests.live import Rest, Socket, wait_ready  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    floor = measure_floor()
    with running_stack(devices=1) as (url, token):
        session = Rest(url, token).post("/api/sessions/", {}).body
        socks = [Socket(session["ws_url"] + "?last_seq=0", token=token) for _ in range(args.sockets)]
        for sock in socks:
            wait_ready(sock)
        sent: dict[int, float] = {}
        arrivals: list[float] = []
        lock = threading.Lock()

        def listen(sock: Socket, steps: int) -> None:
            done = 0
            while done < steps:
                message = sock.recv(timeout=60)
                if message.get("type") == "STEP_STATUS" and message["status"] == "COMPLETED":
                    with lock:
                        arrivals.append((time.perf_counter() - sent[message["step_index"]]) * 1000)
                    done += 1

        listeners = [threading.Thread(target=listen, args=(sock, args.steps)) for sock in socks[1:]]
        for thread in listeners:
            thread.start()
        driver = socks[0]
        for index in range(args.steps):
            sent[index] = time.perf_counter()
            driver.send({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})
            driver.wait_for(lambda m, i=index: m.get("step_index") == i and m.get("status") == "COMPLETED", timeout=60)
            with lock:
                arrivals.append((time.perf_counter() - sent[index]) * 1000)
        for thread in listeners:
            thread.join()
        orders = {tuple(m["seq"] for m in sock.events()) for sock in socks[1:]}
        assert len(orders) == 1 and list(next(iter(orders))) == sorted(set(next(iter(orders)))), "gap or duplicate"
        print(
            f"fan-out to {args.sockets} sockets, {args.steps} steps: step sent → COMPLETED on each socket "
            f"p50 {statistics.median(arrivals):.1f} ms, p99 {percentile(arrivals, 99):.1f} ms, "
            f"max {max(arrivals):.1f} ms ({len(arrivals)} deliveries)"
        )
        p99 = percentile(arrivals, 99)
        print(f"{floor}; p99 / floor p50 = {p99 / floor.p50_ms:.2f}x (target ≤ 3x)")


if __name__ == "__main__":
    main()
