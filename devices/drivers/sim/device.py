"""SimDriver: the simulated phone behind the driver interface, its state kept in one JSON file."""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from devices.drivers.base import DeviceError, DeviceFacts, TransportError

from . import phone
from .apps import MODEL, OS_VERSION, State
from .logcat import SYSTEM_PID, log_clear, log_dump, log_follow, log_lines, pid_of
from .render import render_png
from .views import HEIGHT, WIDTH, to_xml

LOG_LIMIT = 10_000
_SERIAL = re.compile(r"[A-Za-z0-9._:-]+")


def state_path(serial: str, state_dir: Path | str) -> Path:
    if not _SERIAL.fullmatch(serial):
        raise ValueError(f"Unusable serial for a simulated device: {serial!r}")
    return Path(state_dir) / f"{serial}.json"


def reset_sim_device(serial: str, state_dir: Path | str) -> None:
    """Factory-reset the phone: without its file it starts fresh, on the launcher, with no faults."""
    state_path(serial, state_dir).unlink(missing_ok=True)
    faults_path(serial, state_dir).unlink(missing_ok=True)
    logcat_path(serial, state_dir).unlink(missing_ok=True)


def logcat_path(serial: str, state_dir: Path | str) -> Path:
    """The phone's log (`logcat`), threadtime lines, beside its state."""
    return state_path(serial, state_dir).with_suffix(".logcat")


def faults_path(serial: str, state_dir: Path | str) -> Path:
    return state_path(serial, state_dir).with_suffix(".faults.json")


def set_sim_faults(serial: str, state_dir: Path | str, *, delay_ms: int = 0, fail_next: int = 0) -> None:
    """Inject faults into a simulated phone, for tests and demos.

    `delay_ms`: every mutating primitive takes this long before it takes effect (a slow device).
    `fail_next`: the next N mutating primitives fail with a retryable transport error, unapplied.
    """
    path = faults_path(serial, state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_json({"delay_ms": delay_ms, "fail_next": fail_next}))


def _op_lines(op: str, args: dict[str, Any], before: str, after: str) -> list[list[str]]:
    """What the system logs for a primitive (apps log their own reactions); never typed text, which may be
    a secret."""
    lines: list[list[str]] = []
    if op == "wake":
        lines.append(["I", "PowerManagerService", "Waking up from sleep (uid 2000)", ""])
    elif op == "press_key":
        lines.append(["D", "InputDispatcher", f"key {args['key']} delivered to {before}", ""])
    elif op == "input_text":
        lines.append(["D", "InputMethodManager", f"{len(args['text'])} characters typed into {before}", ""])
    elif op == "swipe":
        lines.append(["D", "InputDispatcher", f"swipe ({args['x1']}, {args['y1']}) → ({args['x2']}, {args['y2']})", ""])
    if after != before:
        lines.append(["I", "ActivityTaskManager", f"{after} in front (was {before})", ""])
    return lines


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class SimDriver:
    """A deterministic Android phone: a launcher, Settings and the "Login Demo" app.

    The whole state is `<state_dir>/<serial>.json`, replaced atomically after every
    mutating primitive and reloaded when it changed behind this instance's back, so
    the phone keeps its screen across worker restarts. `action_log()` lists every
    mutating primitive applied (wake included), numbered, for tests that prove a
    step ran once.
    """

    def __init__(self, serial: str, state_dir: Path | str) -> None:
        self.serial = serial
        self.path = state_path(serial, state_dir)
        self._state: State = phone.fresh_state()
        self._seen: tuple[int, int, int] | None = None
        self._shot: tuple[str, bool, bytes] | None = None
        self._log_lines: list[str] | None = None
        self._changed_at = 0.0
        self._lock = threading.Lock()
        self._sync()

    def facts(self) -> DeviceFacts:
        return DeviceFacts(
            model=MODEL,
            os_version=OS_VERSION,
            screen_width=WIDTH,
            screen_height=HEIGHT,
            extra={"simulated": True},
        )

    def wake(self) -> None:
        self._apply("wake", {}, lambda state: None)

    def dump_ui(self, *, deadline: float | None = None, max_age: float = 0.0) -> str:
        """The tree at once: the simulated screen changes in one go, so every read is of a settled screen."""
        with self._lock:
            self._sync()
            return phone.dump(self._state)

    def quiet_since(self) -> float:
        """Since when (`time.time()`) the screen has not changed: the last primitive applied through this
        instance, or the end of an animation (inf while one runs for ever)."""
        with self._lock:
            self._sync()
            return max(self._changed_at, phone.animating_until(self._state))

    def start_activity(self, package: str, activity: str, extras: dict[str, Any] | None = None) -> None:
        """`am start -n PACKAGE/ACTIVITY` with its `--ei` extras."""
        given = dict(extras or {})
        args = {"package": package, "activity": activity, "extras": given}
        self._apply("start_activity", args, lambda state: phone.start_activity(state, package, activity, given))

    def foreground_package(self) -> str:
        with self._lock:
            self._sync()
            package: str = self._state["foreground"]
            return package

    def tap(self, x: int, y: int) -> None:
        self._apply("tap", {"x": x, "y": y}, lambda state: phone.tap(state, x, y))

    def long_press(self, x: int, y: int, duration_ms: int) -> None:
        self._apply(
            "long_press",
            {"x": x, "y": y, "duration_ms": duration_ms},
            lambda state: phone.tap(state, x, y, long=True),
        )

    def swipe(self, x1: int, y1: int, x2: int, y2: int, duration_ms: int) -> None:
        self._apply(
            "swipe",
            {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "duration_ms": duration_ms},
            lambda state: phone.swipe(state, x1, y1, x2, y2),
        )

    def input_text(self, text: str) -> None:
        self._apply("input_text", {"text": text}, lambda state: phone.input_text(state, text))

    def press_key(self, key: str) -> None:
        self._apply("press_key", {"key": key}, lambda state: phone.press_key(state, key))

    def launch_app(self, package: str, *, clear_state: bool = False) -> None:
        self._apply(
            "launch_app",
            {"package": package, "clear_state": clear_state},
            lambda state: phone.launch(state, package, clear_state=clear_state),
        )

    def stop_app(self, package: str, *, clear_state: bool = False) -> None:
        change = {"package": package, **({"clear_state": True} if clear_state else {})}
        self._apply("stop_app", change, lambda state: phone.stop(state, package, clear_state=clear_state))

    def screenshot(self) -> bytes:
        with self._lock:
            self._sync()
            root = phone.build(self._state)
            key = to_xml(root, package=self._state["foreground"])
            dark = bool(self._state["system"]["dark_theme"])
            if self._shot is None or self._shot[:2] != (key, dark):
                self._shot = (key, dark, render_png(root, dark=dark))
            return self._shot[2]

    def logcat(self, stop: threading.Event, *, last: int = 0) -> Iterator[str | None]:
        """The phone's log as `logcat -v threadtime` follows it: the last `last` lines, then each new one;
        None when nothing came for a moment. Ends when `stop` is set."""
        return log_follow(logcat_path(self.serial, self.path.parent), stop, last=last)

    def log_tail(self, lines: int) -> list[str]:
        """The last `lines` lines of the log, as `logcat -d -t N` prints them."""
        return log_dump(logcat_path(self.serial, self.path.parent), last=lines)

    def log_clear(self) -> None:
        log_clear(logcat_path(self.serial, self.path.parent))

    def action_log(self) -> list[dict[str, Any]]:
        with self._lock:
            self._sync()
            return copy.deepcopy(self._state["log"])

    def _apply(self, op: str, args: dict[str, Any], change: Callable[[State], None]) -> None:
        """Run one mutating primitive; a primitive that raises has changed nothing and is not logged."""
        with self._lock:
            self._inject_faults(op)
            self._sync()
            before = self._state["foreground"]
            try:
                change(self._state)
            except DeviceError as exc:
                self._state.pop("logcat", None)
                self._logcat([["E", "CogniSim", f"{op} failed: {exc.message}", ""]])
                raise
            self._logcat(self._state.pop("logcat", []) + _op_lines(op, args, before, self._state["foreground"]))
            log: list[dict[str, Any]] = self._state["log"]
            if self._log_lines is None:
                self._log_lines = [_json(entry) for entry in log]
            entry = {"n": log[-1]["n"] + 1 if log else 1, "op": op, "args": args}
            log.append(entry)
            self._log_lines.append(_json(entry))
            if len(log) > LOG_LIMIT:
                del log[:-LOG_LIMIT], self._log_lines[:-LOG_LIMIT]
            self._save()
            self._changed_at = time.time()

    def _logcat(self, entries: list[list[str]]) -> None:
        path = logcat_path(self.serial, self.path.parent)
        log_lines(path, [(level, tag, text, pid_of(pkg) if pkg else SYSTEM_PID) for level, tag, text, pkg in entries])

    def _inject_faults(self, op: str) -> None:
        path = faults_path(self.serial, self.path.parent)
        try:
            faults = json.loads(path.read_text())
        except FileNotFoundError:
            return
        if faults.get("fail_next", 0) > 0:
            faults["fail_next"] -= 1
            path.write_text(_json(faults))
            raise TransportError(f"Simulated transport fault during {op} (the phone did not answer).")
        if faults.get("delay_ms", 0) > 0:
            time.sleep(faults["delay_ms"] / 1000)

    def _sync(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self._seen is not None:
                self._state, self._seen, self._log_lines = phone.fresh_state(), None, None
            return
        if (stat.st_mtime_ns, stat.st_size, stat.st_ino) == self._seen:
            return
        try:
            with open(self.path, "rb") as file:
                stat = os.fstat(file.fileno())
                self._state = json.load(file)
                self._log_lines = None
        except FileNotFoundError:
            self._state, self._seen, self._log_lines = phone.fresh_state(), None, None
            return
        except ValueError as exc:
            raise DeviceError(f"The simulated phone's state file {self.path.name} is unreadable: {exc}") from exc
        self._seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _save(self) -> None:
        """Write the document; the log's entries are serialized once each, as they are appended."""
        head = _json({key: value for key, value in self._state.items() if key != "log"})
        text = f'{head[:-1]},"log":[{",".join(self._log_lines or [])}]}}'
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.serial}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                stat = os.fstat(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            self._seen = None
            raise
        self._seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
