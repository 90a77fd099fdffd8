"""How the simulated phone reacts: functions that change one state document in place."""

from __future__ import annotations

from typing import Any

from core.steps import KEYS
from devices.drivers.base import AppNotInstalled, DeviceError, UnsupportedInput

from .apps import DEMO, LAUNCHER, SYSTEM_DEFAULTS, App, Launcher, Settings, State, Task
from .demo import LoginDemo
from .logcat import pid_of
from .views import View, hit_test, scrollable_at, to_xml, window

STATE_FORMAT = 1

_settings, _demo = Settings(), LoginDemo()
APPS: dict[str, App] = {app.package: app for app in (Launcher(icons=[_settings, _demo]), _settings, _demo)}


CRASH_ACTIVITY = "CrashActivity"


def log(state: State, level: str, tag: str, message: str, *, package: str | None = None) -> None:
    """A line for the phone's log (`logcat`), written by the driver once the primitive is applied;
    `package`: the app whose process writes it (the system's otherwise)."""
    state.setdefault("logcat", []).append([level, tag, message, package or ""])


def fresh_state() -> State:
    return {
        "format": STATE_FORMAT,
        "foreground": LAUNCHER,
        "system": dict(SYSTEM_DEFAULTS),
        "data": {DEMO: {"signed_in": False}},
        "tasks": {},
        "log": [],
    }


def _foreground(state: State) -> tuple[App, Task]:
    app = APPS[state["foreground"]]
    tasks = state["tasks"]
    if app.package not in tasks:
        tasks[app.package] = app.fresh_task(state)
    return app, tasks[app.package]


def build(state: State) -> View:
    app, task = _foreground(state)
    return window(app.build(state, task))


def dump(state: State) -> str:
    return to_xml(build(state), package=state["foreground"])


def _installed(package: str) -> App:
    app = APPS.get(package)
    if app is None:
        raise AppNotInstalled(f"{package} is not installed on this device.", details={"package": package})
    return app


def launch(state: State, package: str, *, clear_state: bool) -> None:
    """Bring the app to the front, resuming its screen if it is still in memory."""
    app = _installed(package)
    if clear_state:
        app.clear_data(state)
        state["tasks"].pop(package, None)
        log(state, "I", "ActivityManager", f"Clearing data of {package}")
    if package not in state["tasks"]:
        log(state, "I", "ActivityManager", f"Start proc {package} for activity {package}/.MainActivity")
    log(state, "I", "ActivityTaskManager", f"Displayed {package}/.MainActivity", package=package)
    state["foreground"] = package
    _foreground(state)


def start_activity(state: State, package: str, activity: str, extras: dict[str, Any]) -> None:
    """`am start -n PACKAGE/ACTIVITY`: the app in front on that screen; `DeviceError` for an unknown activity."""
    app = _installed(package)
    task = state["tasks"].get(package) or app.fresh_task(state)
    if package == DEMO and activity.rsplit(".", 1)[-1] == CRASH_ACTIVITY:
        crash(state, package, f"{activity} was asked to crash")
        return
    if not app.start_activity(state, task, activity, extras):
        raise DeviceError(f"Activity class {{{package}/{activity}}} does not exist.", details={"package": package})
    state["tasks"][package] = task
    state["foreground"] = package
    log(state, "I", "ActivityTaskManager", f"Displayed {package}/{activity}", package=package)


def crash(state: State, package: str, reason: str) -> None:
    """The app dies of an uncaught exception: its stack trace in the log, its process gone, the launcher in front."""
    for line in (
        "FATAL EXCEPTION: main",
        f"Process: {package}",
        f"java.lang.IllegalStateException: {reason}",
        f"\tat {package}.CrashActivity.onCreate(CrashActivity.java:21)",
        "\tat android.app.Activity.performCreate(Activity.java:8595)",
    ):
        log(state, "E", "AndroidRuntime", line, package=package)
    log(state, "I", "ActivityManager", f"Process {package} has died: fore TOP")
    state["tasks"].pop(package, None)
    if state["foreground"] == package:
        state["foreground"] = LAUNCHER


def animating_until(state: State) -> float:
    """Until when (`time.time()`) the screen in front keeps moving: 0 when it is still, inf for ever."""
    app, task = _foreground(state)
    return app.animating_until(state, task)


def stop(state: State, package: str, *, clear_state: bool = False) -> None:
    app = _installed(package)
    if state["tasks"].pop(package, None) is not None:
        log(state, "I", "ActivityManager", f"Force stopping {package} (pid {pid_of(package)}) user=0: from pid 2000")
    if clear_state:
        app.clear_data(state)
        log(state, "I", "ActivityManager", f"Clearing data of {package}")
    if state["foreground"] == package:
        state["foreground"] = LAUNCHER


def back(state: State) -> None:
    app, task = _foreground(state)
    if not app.on_back(task):
        state["foreground"] = LAUNCHER


def tap(state: State, x: int, y: int, *, long: bool = False) -> None:
    view = hit_test(build(state), x, y)
    package = state["foreground"]
    what = "long press" if long else "tap"
    if view is None:
        log(state, "D", "InputDispatcher", f"{what} ({x}, {y}) on {package}: nothing there")
        return
    label = view.text if view.clickable and "EditText" not in view.cls else ""  # never what was typed
    name = view.resource_id.rpartition("/")[2] or view.desc or label or view.cls.rsplit(".", 1)[-1]
    log(state, "D", "ViewRootImpl", f"{what} ({x}, {y}) handled by {name}", package=package)
    action = view.long_action if long and view.long_action is not None else view.action
    if action.startswith("launch:"):
        launch(state, action.removeprefix("launch:"), clear_state=False)
    elif action == "back":
        back(state)
    elif action:
        app, task = _foreground(state)
        app.on_action(state, task, action)


def swipe(state: State, x1: int, y1: int, x2: int, y2: int) -> None:
    """A swipe that starts on a list scrolls it by the finger's vertical travel, within its ends."""
    view = scrollable_at(build(state), x1, y1)
    if view is None:
        return
    _, task = _foreground(state)
    task[view.scroll_key] = min(max(task[view.scroll_key] + y1 - y2, 0), view.scroll_max)


def press_key(state: State, key: str) -> None:
    if key not in KEYS:
        raise UnsupportedInput(f"Unknown key {key!r}.", details={"key": key})
    if key == "home":
        state["foreground"] = LAUNCHER
    elif key == "back":
        back(state)
    else:
        app, task = _foreground(state)
        app.on_key(state, task, key)


def input_text(state: State, text: str) -> None:
    app, task = _foreground(state)
    app.on_text(task, text)
