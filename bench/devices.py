"""Device actions on simulated phones over a real adb server, instant and with realistic latency.

    python bench/devices.py [--iterations N] [--slow-iterations M] [--profile typical|slow]

Starts its own private adb server (never the default 5037) and adb-speaking simulated phones,
each in a process of its own, and prints:

1. per-action `perform()` p50/p99 (ms) on the `instant` profile: the plain SimDriver, and the
   adb driver with the stock tools and with the uiautomator2 server (our own overhead);
2. on `--profile` (typical by default): one `uiautomator dump`, one `input tap`, and a tap by
   text as the device lane runs it (`perform(observe=False)`, then `observe()` off the critical
   path), at IDE pace (a pause longer than the idle window between steps, so nothing is reused)
   and back to back (the observation's tree serves the next look-up), with the stock tools and
   with the uiautomator2 backend; the target is tap ≤ (dump + input) × 1.15, and ≤ 300 ms fast;
3. a screen that animates for ever: a tap with a 3 s deadline, how long it took and how it failed.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.actions import observe, perform  # noqa: E402
from devices.adbsim.adbserver import PrivateAdbServer  # noqa: E402
from devices.adbsim.profiles import PROFILES  # noqa: E402
from devices.drivers.adb import AdbDriver  # noqa: E402
from devices.drivers.base import DeviceDriver, DeviceError  # noqa: E402
from devices.drivers.sim import DEMO, SimDriver  # noqa: E402

ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("tap by text", "tap", {"text": "Email"}),
    ("type", "type", {"text": "demo@example.com", "into": {"id": "email"}}),
    ("assert_visible", "assert_visible", {"text": "Sign in"}),
    ("screenshot", "screenshot", {}),
]
UNTIMED = ("clear_text", {"into": {"id": "email"}})
SYNC = "com.cognisim.demo/.SyncActivity"


def step(driver: DeviceDriver, action: str, params: dict[str, Any], *, observe_after: bool = True) -> Any:
    return perform(driver, action=action, params=params, deadline=time.monotonic() + 30, observe=observe_after)


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
def phone_process(state_dir: Path, serial: str, profile: str) -> Iterator[str]:
    """An adb-speaking phone in a process of its own, as a device is: no GIL shared with the driver."""
    command = [sys.executable, "-m", "devices.adbsim", "--serial", serial, "--port", "0", "--profile", profile]
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
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def instant_table(server: PrivateAdbServer, temp: Path, iterations: int) -> None:
    columns: dict[str, dict[str, list[float]]] = {"sim": measure(SimDriver("bench-sim", temp / "sim"), iterations)}
    with phone_process(temp / "instant", "bench-instant", "instant") as address:
        serial = server.attach(address)
        for backend in ("stock", "uiautomator2"):
            driver = AdbDriver(serial, adb_port=server.port, timeout_s=10, backend=backend)  # type: ignore[arg-type]
            try:
                columns[backend] = measure(driver, iterations)
            finally:
                driver.close()
        server.detach(serial)
    print(f"\n== instant profile: {iterations} iterations per action, ms per perform() call ==")
    print(f"{'action':<16}" + "".join(f" {name + ' p50':>17} {name + ' p99':>17}" for name in columns))
    for label, _, _ in ACTIONS:
        row = [f(columns[name][label], q) for name in columns for f, q in ((percentile, 0.5), (percentile, 0.99))]
        print(f"{label:<16}" + "".join(f" {value:17.2f}" for value in row))


def lane_taps(driver: AdbDriver, iterations: int, pause: float) -> tuple[list[float], list[float]]:
    """Tap by text as the lane runs it: perform without observing (timed), then observe (timed apart)."""
    taps, observations = [], []
    for _ in range(iterations):
        time.sleep(pause)
        taps.append(timed(lambda: step(driver, "tap", {"text": "Email"}, observe_after=False)))
        observations.append(timed(lambda: observe(driver, deadline=time.monotonic() + 30)))
    return taps, observations


def realistic(server: PrivateAdbServer, temp: Path, profile_name: str, iterations: int) -> None:
    profile = PROFILES[profile_name]
    pace = profile.idle_ms / 1000 + 0.3
    rows: list[tuple[str, list[float]]] = []
    with phone_process(temp / profile_name, f"bench-{profile_name}", profile_name) as address:
        serial = server.attach(address)
        stock = AdbDriver(serial, adb_port=server.port, timeout_s=30, backend="stock")
        step(stock, "launch_app", {"package": DEMO, "clear_state": True})
        step(stock, "tap", {"text": "Email"})
        dumps, inputs = [], []
        for _ in range(iterations):
            time.sleep(pace)
            dumps.append(timed(lambda: stock.dump_ui(deadline=time.monotonic() + 30)))
            time.sleep(pace)
            inputs.append(timed(lambda: stock.tap(540, 2350)))  # the navigation bar: nothing reacts
        rows += [("one dump (stock, idle screen)", dumps), ("one input tap (stock)", inputs)]
        taps, observed = lane_taps(stock, iterations, pace)
        rows += [("tap by text, stock, IDE pace", taps), ("  observe() after it", observed)]
        taps, _ = lane_taps(stock, iterations, 0.0)
        rows += [("tap by text, stock, back to back", taps)]
        fast = AdbDriver(serial, adb_port=server.port, timeout_s=30, backend="uiautomator2")
        try:
            fast.dump_ui()
            taps, observed = lane_taps(fast, iterations, pace)
            rows += [("tap by text, uiautomator2, IDE pace", taps), ("  observe() after it", observed)]
            taps, _ = lane_taps(fast, iterations, 0.0)
            rows += [("tap by text, uiautomator2, back to back", taps)]
            old_style = [timed(lambda: step(fast, "tap", {"text": "Email"})) for _ in range(iterations)]
            rows += [("tap by text, uiautomator2, observe=True", old_style)]
            animation = forever(server, serial, stock, fast)
        finally:
            fast.close()
        server.detach(serial)
    print(f"\n== {profile_name} profile: {iterations} iterations, ms ==")
    print(f"{'':<42} {'p50':>9} {'p90':>9} {'max':>9}")
    for label, values in rows:
        print(f"{label:<42} {percentile(values, 0.5):9.1f} {percentile(values, 0.9):9.1f} {max(values):9.1f}")
    floor = percentile(rows[0][1], 0.5) + percentile(rows[1][1], 0.5)
    stock_tap, fast_tap = percentile(rows[2][1], 0.5), percentile(rows[5][1], 0.5)
    print(f"tap by text (stock, IDE pace) / (one dump + one input) = {stock_tap / floor:.2f}  (target ≤ 1.15)")
    print(f"tap by text (uiautomator2, IDE pace) p50 = {fast_tap:.0f} ms  (target ≤ 300 ms)")
    print("\n== a screen that animates for ever: tap with a 3 s deadline ==")
    for label, seconds, outcome in animation:
        print(f"{label:<14} took {seconds:5.2f} s  {outcome}")


def forever(server: PrivateAdbServer, serial: str, stock: AdbDriver, fast: AdbDriver) -> list[tuple[str, float, str]]:
    results = []
    for label, driver in (("stock", stock), ("uiautomator2", fast)):
        server.run("-s", serial, "shell", f"am start -n {SYNC} --ei duration_ms -1", timeout=30)
        started = time.monotonic()
        try:
            perform(driver, action="tap", params={"text": "Continue"}, deadline=started + 3)
            outcome = "passed"
        except DeviceError as exc:
            outcome = f"{exc.code}: {exc.message[:90]}…"
        results.append((label, time.monotonic() - started, outcome))
        server.run("-s", serial, "shell", "input keyevent KEYCODE_BACK", timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100, help="iterations on the instant profile")
    parser.add_argument("--slow-iterations", type=int, default=20, help="iterations on the realistic profile")
    parser.add_argument("--profile", choices=["typical", "slow"], default="typical")
    parser.add_argument("--skip-instant", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cognisim-bench-devices-") as name:
        temp = Path(name)
        with PrivateAdbServer(temp / "adb-home") as server:
            if not args.skip_instant:
                instant_table(server, temp, args.iterations)
            realistic(server, temp, args.profile, args.slow_iterations)


if __name__ == "__main__":
    main()
