"""Per-action latency of `devices.actions.perform`: AdbDriver over a real adb server vs the plain SimDriver.

    python bench/devices.py [--iterations N]

Starts its own private adb server (never the default 5037) and an adb-speaking
simulated phone in a process of its own, opens the Login Demo app on both drivers,
then times each action N times and prints p50 / p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.actions import perform  # noqa: E402
from devices.adbsim.adbserver import PrivateAdbServer  # noqa: E402
from devices.drivers.adb import AdbDriver  # noqa: E402
from devices.drivers.base import DeviceDriver  # noqa: E402
from devices.drivers.sim import DEMO, SimDriver  # noqa: E402

ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("tap by text", "tap", {"text": "Email"}),
    ("type", "type", {"text": "demo@example.com", "into": {"id": "email"}}),
    ("assert_visible", "assert_visible", {"text": "Sign in"}),
    ("screenshot", "screenshot", {}),
]
UNTIMED = ("clear_text", {"into": {"id": "email"}})


def step(driver: DeviceDriver, action: str, params: dict[str, Any]) -> None:
    perform(driver, action=action, params=params, deadline=time.monotonic() + 30)


def measure(driver: DeviceDriver, iterations: int) -> dict[str, list[float]]:
    step(driver, "launch_app", {"package": DEMO, "clear_state": True})
    timings: dict[str, list[float]] = {label: [] for label, _, _ in ACTIONS}
    for _ in range(iterations):
        for label, action, params in ACTIONS:
            started = time.perf_counter()
            step(driver, action, params)
            timings[label].append((time.perf_counter() - started) * 1000)
            if action == "type":
                step(driver, *UNTIMED)
    return timings


@contextlib.contextmanager
def phone_process(state_dir: Path) -> Iterator[str]:
    """The adb-speaking phone in a process of its own, as a device is: no GIL shared with the driver."""
    command = [sys.executable, "-m", "devices.adbsim", "--serial", "bench-adb", "--port", "0"]
    proc = subprocess.Popen([*command, "--state-dir", str(state_dir)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"adb connect (\S+)", line)
        if match is None:
            raise RuntimeError(f"The simulated phone did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cognisim-bench-devices-") as temp:
        state = Path(temp)
        plain = measure(SimDriver("bench-sim", state / "sim"), args.iterations)
        with PrivateAdbServer(state / "adb-home") as server, phone_process(state / "adb") as address:
            serial = server.attach(address)
            try:
                over_adb = measure(AdbDriver(serial, adb_port=server.port, timeout_s=10), args.iterations)
            finally:
                server.detach(serial)
    print(f"{args.iterations} iterations per action; milliseconds per perform() call")
    print(f"{'action':<16} {'sim p50':>9} {'sim p99':>9} {'adb p50':>9} {'adb p99':>9}")
    for label, _, _ in ACTIONS:
        sim, adb = plain[label], over_adb[label]
        row = [percentile(sim, 0.5), percentile(sim, 0.99), percentile(adb, 0.5), percentile(adb, 0.99)]
        print(f"{label:<16} " + " ".join(f"{value:9.2f}" for value in row))


if __name__ == "__main__":
    main()
