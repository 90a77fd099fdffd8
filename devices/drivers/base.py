"""The one small interface every device driver implements.

Drivers expose *primitives* — the things `adb shell input …`, `uiautomator
dump`, `screencap` and `am` can do. The step vocabulary of SPEC §3 (find an
element, tap its centre, wait, assert, scroll until visible …) is written once,
in `devices.actions`, on top of these primitives, so the simulated device and
the adb driver behave the same by construction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class DeviceError(Exception):
    """An action that did not succeed. `retryable` splits transport faults from semantic ones."""

    code = "device_error"
    retryable = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class TransportError(DeviceError):
    code = "device_unreachable"
    retryable = True


class ActionTimeout(DeviceError):
    code = "device_timeout"
    retryable = True


class StepStopped(DeviceError):
    """The step's session was stopped while the step waited (for an element, a settled screen, a `sleep`):
    it gives up at once, so the device is free for the next session."""

    code = "session_stopped"


class ElementNotFound(DeviceError):
    code = "element_not_found"


class AssertionFailed(DeviceError):
    code = "assertion_failed"


class UnsupportedInput(DeviceError):
    code = "unsupported_input"


class PointOffScreen(DeviceError):
    """A tap, long press or swipe at coordinates outside the device's screen: nothing there to touch."""

    code = "point_off_screen"


class PatternTooSlow(DeviceError):
    """A selector's regular expression (Maestro's text) took too long to match an element's text: it backtracks
    without end ("(a|aa)+c"), which would hold the device's worker for minutes."""

    code = "pattern_too_slow"


class AppNotInstalled(DeviceError):
    code = "app_not_installed"
    retryable = False


class ScreenBusy(DeviceError):
    """The UI tree cannot be read now because something on screen keeps changing.

    `uiautomator dump` answers "ERROR: could not get idle state" while anything animates;
    `devices.actions` retries with backoff within the step's deadline, then raises
    `ScreenNotSettled`.
    """

    code = "screen_not_settled"
    retryable = False


class ScreenNotSettled(DeviceError):
    """The screen never settled within the step's time, so its UI tree could not be read."""

    code = "screen_not_settled"
    retryable = False


@dataclass(frozen=True)
class DeviceFacts:
    model: str
    os_version: str
    screen_width: int
    screen_height: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepOutcome:
    """What a performed step returns.

    `result` is for the user (small JSON); `effect` is the canonical record of what
    the step did and saw (hashed for replay); `state` is the device state after the
    step (merged into the session state), None when the step was performed without
    observing the screen after its input (`devices.actions.perform(observe=False)`);
    `screenshot` is PNG bytes when the step took one.
    """

    result: dict[str, Any]
    effect: dict[str, Any]
    state: dict[str, Any] | None
    screenshot: bytes | None = None


@dataclass
class ActionOutcome(StepOutcome):
    """A step's outcome with the device state after it known."""

    state: dict[str, Any]


class DeviceDriver(Protocol):
    serial: str

    def facts(self) -> DeviceFacts: ...

    def wake(self) -> None:
        """Screen on and unlocked; called once when a session sets the device up."""

    def dump_ui(self, *, deadline: float | None = None, max_age: float = 0.0) -> str:
        """The current UI tree in `uiautomator dump` XML form, once the screen is idle.

        `deadline` (a `time.monotonic()` value) bounds the read; `max_age` lets a driver
        answer with the tree it read at most that many seconds ago when it has sent no input
        since. Raises `ScreenBusy` when the screen keeps animating and the tree cannot be read.
        """

    def foreground_package(self) -> str: ...

    def tap(self, x: int, y: int) -> None: ...

    def long_press(self, x: int, y: int, duration_ms: int) -> None: ...

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None: ...

    def input_text(self, text: str) -> None:
        """Type into the focused field, as `adb shell input text` does."""

    def press_key(self, key: str) -> None:
        """A key name from `devices.actions.KEYS` (back, home, enter, del, move_end, …)."""

    def launch_app(self, package: str, *, clear_state: bool = False) -> None: ...

    def stop_app(self, package: str, *, clear_state: bool = False) -> None:
        """Force-stop the app; `clear_state` also clears its data (`pm clear`), as a fresh install has none."""

    def screenshot(self) -> bytes:
        """The screen as PNG bytes, as `screencap -p` gives them."""

    def logcat(self, stop: threading.Event, *, last: int = 0) -> Iterator[str | None]:
        """The device's log followed, as `logcat -v threadtime` prints it: the last `last` lines, then every
        new line as it comes; None whenever nothing came for a moment. Ends when `stop` is set."""

    def log_tail(self, lines: int) -> list[str]:
        """The last `lines` lines of the device's log (`logcat -d -t N -v threadtime`)."""
