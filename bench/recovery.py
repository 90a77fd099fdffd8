"""Recovery: a device's worker SIGKILLed in the middle of a step → the step COMPLETED, applied once.

    python bench/recovery.py                 # starts its own `cognisim up` (SQLite, private home)
    python bench/recovery.py --kills 10 --step-ms 2500

Each round sends a tap that takes `--step-ms` on the simulated phone, waits until the worker is halfway
into it, SIGKILLs the worker (`cognisim up` restarts it at once; the new worker seizes the device's lease
and takes the step back) and times kill → COMPLETED. Prints p50 and max against the target
(the step's own duration + 2 s), and checks the phone's action log: every tap applied exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roundtrip import running_stack  # noqa: E402
from devices.drivers.sim import SimDriver, set_sim_faults  # noqa: E402
from tests.live import Rest, Socket, step_done, wait_ready  # noqa: E402

SERIAL = "sim-1"


def worker_pid(serial: str) -> int:
    """The pid of the running Celery worker of `serial` (the one `cognisim up` supervises)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"celery" in b" ".join(argv) and f"device-{serial}".encode() in argv:
            return int(entry.name)
    raise SystemExit(f"no worker of {serial} is running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--step-ms", type=int, default=2500)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="cognisim-bench-")
    devices_dir = Path(home) / "devices"
    with running_stack(1, home=home) as (url, token):
        rest = Rest(url, token)
        session = rest.post("/api/sessions/", {"device": SERIAL}).body
        sock = Socket(session["ws_url"] + "?last_seq=0", token=token)
        wait_ready(sock, timeout=60)
        set_sim_faults(SERIAL, devices_dir, delay_ms=args.step_ms)
        taken: list[float] = []
        for n in range(args.kills):
            sock.send({"type": "EXECUTE_SINGLE", "step": {"action": "tap", "x": 100 + n, "y": 50}})
            step_id = sock.wait_for(lambda m: m.get("type") == "ACK", timeout=60)["step_id"]
            sock.wait_for(lambda m, i=step_id: m.get("step_id") == i and m.get("status") == "STARTED", timeout=60)
            time.sleep(args.step_ms / 2000)  # halfway into the tap: the point of the benchmark
            os.kill(worker_pid(SERIAL), signal.SIGKILL)
            killed = time.perf_counter()
            done = sock.wait_for(step_done(step_id), timeout=120)
            taken.append(time.perf_counter() - killed)
            print(f"kill {n + 1}: {done['status']} after {taken[-1]:.2f} s (attempt {done['attempt']})", flush=True)
        set_sim_faults(SERIAL, devices_dir, delay_ms=0)
        taps = [e["args"]["x"] for e in SimDriver(SERIAL, devices_dir).action_log() if e["op"] == "tap"]
        once = taps == [100 + n for n in range(args.kills)]
        rest.post(f"/api/sessions/{session['id']}/stop/")
    target = args.step_ms / 1000 + 2
    print(
        f"kill → COMPLETED over {args.kills} kills: p50 {statistics.median(taken):.2f} s, max {max(taken):.2f} s "
        f"(step {args.step_ms / 1000:.1f} s; target ≤ {target:.1f} s: {'met' if max(taken) <= target else 'NOT met'}); "
        f"each tap applied exactly once: {'yes' if once else f'NO ({taps})'}"
    )


if __name__ == "__main__":
    main()
