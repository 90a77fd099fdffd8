"""Fan-out: many sockets on one session; every event must reach all of them.

    python bench/fanout.py [--sockets 50] [--steps 100] [--web-processes N]

Starts its own `cognisim up`, opens one session with `--sockets` sockets on it, sends instant
steps one after another from the first socket, and measures, for every socket and step, the time
from sending the step to that socket's COMPLETED event. Prints p50/p99 and checks that every socket
saw every event exactly once, in order. The stack floor is measured first, in the same run
(bench/floor.py), and the p99 printed as a ratio to its p50 (SPEC §6). The 50 clients share one
asyncio event loop in this process, on the same 2 cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.floor import measure_floor  # noqa: E402
from bench.roundtrip import percentile, running_stack  # noqa: E402
from tests.live import Rest  # noqa: E402

STEP = json.dumps({"type": "EXECUTE_SINGLE", "step": {"action": "press_key", "key": "home"}})


async def fan_out(ws_url: str, token: str, sockets: int, steps: int) -> tuple[list[float], set[tuple[int, ...]]]:
    """Every socket's (step sent → its COMPLETED) times, and the seq orders the sockets saw.

    The clients share one event loop (a thread per socket would measure the GIL); a frame is timed as it
    arrives and decoded afterwards."""
    headers = {"Authorization": f"Token {token}"}
    conns = [await connect(ws_url + "?last_seq=0", additional_headers=headers, max_size=None) for _ in range(sockets)]
    frames: list[list[tuple[float, str]]] = [[] for _ in conns]
    ready = [asyncio.Event() for _ in conns]
    completed: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in conns]

    async def listen(n: int, conn: ClientConnection) -> None:
        done = 0
        async for text in conn:
            frames[n].append((time.perf_counter(), str(text)))
            if '"READY"' in text:
                ready[n].set()
            if '"COMPLETED"' in text and '"STEP_STATUS"' in text:
                completed[n].put_nowait(json.loads(text)["step_index"])
                done += 1
                if done == steps:
                    return

    listeners = [asyncio.create_task(listen(n, conn)) for n, conn in enumerate(conns)]
    for event in ready:
        await asyncio.wait_for(event.wait(), 60)
    sent: dict[int, float] = {}
    for index in range(steps):
        sent[index] = time.perf_counter()
        await conns[0].send(STEP)
        while await asyncio.wait_for(completed[0].get(), 60) != index:
            pass
    await asyncio.wait_for(asyncio.gather(*listeners), 120)
    arrivals: list[float] = []
    orders: set[tuple[int, ...]] = set()
    for received in frames:
        messages = [(at, json.loads(text)) for at, text in received]
        orders.add(tuple(m["seq"] for _, m in messages if "seq" in m))
        arrivals += [
            (at - sent[m["step_index"]]) * 1000
            for at, m in messages
            if m.get("type") == "STEP_STATUS" and m.get("status") == "COMPLETED"
        ]
    for conn in conns:
        await conn.close()
    return arrivals, orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--web-processes", type=int, default=1, metavar="N", help="daphne processes sharing the port")
    args = parser.parse_args()
    floor = measure_floor()
    with running_stack(devices=1, web_processes=args.web_processes) as (url, token):
        session = Rest(url, token).post("/api/sessions/", {}).body
        arrivals, orders = asyncio.run(fan_out(session["ws_url"], token, args.sockets, args.steps))
    order = next(iter(orders))
    assert len(orders) == 1 and list(order) == sorted(set(order)), "gap or duplicate"
    p99 = percentile(arrivals, 99)
    print(
        f"fan-out to {args.sockets} sockets, {args.steps} steps: step sent → COMPLETED on each socket "
        f"p50 {statistics.median(arrivals):.1f} ms, p99 {p99:.1f} ms, max {max(arrivals):.1f} ms "
        f"({len(arrivals)} deliveries)"
    )
    print(f"{floor}; p99 / floor p50 = {p99 / floor.p50_ms:.2f}x (target ≤ 3x)")


if __name__ == "__main__":
    main()
