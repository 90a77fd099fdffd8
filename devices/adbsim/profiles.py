"""How long the simulated phone takes to answer: `--profile instant|typical|slow`.

Each cost is a log-normal distribution given by its median and 90th percentile, sampled
per command from a generator seeded with the phone's serial (so a run is repeatable up to
thread timing). `docs/devices.md` lists the figures and where they come from.

The idle rules are the stock tools' own: `uiautomator dump` waits for the accessibility
event stream to be quiet for `idle_ms` and gives up after `idle_timeout_ms` with
"ERROR: could not get idle state." (AOSP `DumpCommand`: `waitForIdle(1000, 10000)`);
the uiautomator2 server's `waitForIdle` waits for `u2_idle_ms` of quiet (UiDevice's
500 ms) up to the timeout it is given, and its dump does not wait at all.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Cost:
    """A log-normal latency: half the samples under `median_ms`, nine in ten under `p90_ms`."""

    median_ms: float
    p90_ms: float

    def sample(self, rng: random.Random) -> float:
        """Seconds."""
        if self.median_ms <= 0:
            return 0.0
        sigma = math.log(max(self.p90_ms, self.median_ms) / self.median_ms) / 1.2816
        return self.median_ms * math.exp(rng.gauss(0.0, sigma)) / 1000


ZERO = Cost(0, 0)


@dataclass(frozen=True)
class Profile:
    name: str
    shell: Cost
    """Any command over adb: the round trip and starting the process (paid once per stream)."""
    dump: Cost
    """`uiautomator dump` of an idle screen (a JVM start, the tree walk, writing the file)."""
    dump_compressed: Cost
    """The same with `--compressed`."""
    screencap: Cost
    input: Cost
    """One `input tap|swipe|keyevent|text` (a JVM start each); a swipe also takes its own duration."""
    am_start: Cost
    """`am start`, or `monkey -p PKG … 1`, until the activity is drawn."""
    dumpsys: Cost
    u2_start: Cost
    """The uiautomator2 server's start (`app_process`) until it answers /ping."""
    u2_dump: Cost
    """The uiautomator2 server's `dumpWindowHierarchy`."""
    u2_call: Cost
    """Any other call to the uiautomator2 server (click, key, waitForIdle's own overhead)."""
    idle_ms: int
    idle_timeout_ms: int
    u2_idle_ms: int


PROFILES: dict[str, Profile] = {
    "instant": Profile(
        name="instant",
        shell=ZERO,
        dump=ZERO,
        dump_compressed=ZERO,
        screencap=ZERO,
        input=ZERO,
        am_start=ZERO,
        dumpsys=ZERO,
        u2_start=ZERO,
        u2_dump=ZERO,
        u2_call=ZERO,
        idle_ms=0,
        idle_timeout_ms=0,
        u2_idle_ms=0,
    ),
    "typical": Profile(
        name="typical",
        shell=Cost(12, 30),
        dump=Cost(1800, 3500),
        dump_compressed=Cost(1300, 2600),
        screencap=Cost(350, 650),
        input=Cost(250, 450),
        am_start=Cost(700, 1200),
        dumpsys=Cost(150, 300),
        u2_start=Cost(1500, 2500),
        u2_dump=Cost(90, 180),
        u2_call=Cost(25, 60),
        idle_ms=1000,
        idle_timeout_ms=10_000,
        u2_idle_ms=500,
    ),
    "slow": Profile(
        name="slow",
        shell=Cost(30, 80),
        dump=Cost(3500, 6500),
        dump_compressed=Cost(2600, 5000),
        screencap=Cost(800, 1400),
        input=Cost(600, 1000),
        am_start=Cost(1500, 2600),
        dumpsys=Cost(350, 700),
        u2_start=Cost(3000, 5000),
        u2_dump=Cost(250, 500),
        u2_call=Cost(60, 150),
        idle_ms=1000,
        idle_timeout_ms=10_000,
        u2_idle_ms=500,
    ),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"Unknown latency profile {name!r}; choose one of {', '.join(PROFILES)}.") from None
