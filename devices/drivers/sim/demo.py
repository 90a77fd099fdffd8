"""The "Login Demo" app: a sign-in form, then a greeting and a 40-row list.

Its `SyncActivity` (`am start -n com.cognisim.demo/.SyncActivity [--ei duration_ms N]`) shows a
spinner for N ms (1500 by default; a negative N: for ever), then "Up to date" and a Continue
button: a screen that animates, for measuring how tools cope with one.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .apps import DEMO, DEMO_EMAIL, DEMO_PASSWORD, App, State, Task
from .views import CONTENT, LEFT, RIGHT, TOP, WIDTH, View, clip

ITEMS = 40
ROW = 150
_LIST: tuple[int, int, int, int] = (0, TOP + 376, WIDTH, CONTENT[3])
_FIELDS = ("email", "password")
SYNC_ACTIVITY = "SyncActivity"
SYNC_DEFAULT_MS = 1500


def _id(name: str) -> str:
    return f"{DEMO}:id/{name}"


class LoginDemo(App):
    """Signed-in status is the app's data: it survives stop_app, and clear_state wipes it."""

    package = DEMO
    label = "Login Demo"

    def fresh_task(self, state: State) -> Task:
        screen = "home" if self._data(state)["signed_in"] else "login"
        return {
            "screen": screen,
            "email": "",
            "password": "",
            "focus": None,
            "error": False,
            "scroll": 0,
            "selected": None,
        }

    def clear_data(self, state: State) -> None:
        state["data"][DEMO] = {"signed_in": False}

    @staticmethod
    def _data(state: State) -> dict[str, Any]:
        data: dict[str, Any] = state["data"].setdefault(DEMO, {"signed_in": False})
        return data

    def build(self, state: State, task: Task) -> list[View]:
        if task["screen"] == "sync":
            return self._sync(task)
        return self._home(task) if task["screen"] == "home" else self._login(task)

    def start_activity(self, state: State, task: Task, activity: str, extras: dict[str, Any]) -> bool:
        if activity.rsplit(".", 1)[-1] != SYNC_ACTIVITY:
            return False
        duration = int(extras.get("duration_ms", SYNC_DEFAULT_MS))
        if task["screen"] != "sync":
            task["sync_from"] = task["screen"]
        task["screen"] = "sync"
        task["sync_until"] = time.time() + duration / 1000 if duration >= 0 else None
        return True

    def animating_until(self, state: State, task: Task) -> float:
        if task["screen"] != "sync":
            return 0.0
        until: float | None = task.get("sync_until")
        return math.inf if until is None else until

    @staticmethod
    def _syncing(task: Task) -> bool:
        until = task.get("sync_until")
        return until is None or time.time() < until

    def _sync(self, task: Task) -> list[View]:
        views = [
            View(
                "android.widget.TextView",
                (LEFT, TOP + 216, RIGHT, TOP + 336),
                text="Sync",
                resource_id=_id("sync_title"),
                role="title",
            )
        ]
        if self._syncing(task):
            views += [
                View(
                    "android.widget.ProgressBar",
                    (WIDTH // 2 - 90, TOP + 500, WIDTH // 2 + 90, TOP + 680),
                    resource_id=_id("sync_progress"),
                    desc="Syncing",
                    role="spinner",
                ),
                View(
                    "android.widget.TextView",
                    (LEFT, TOP + 740, RIGHT, TOP + 820),
                    text="Syncing…",
                    resource_id=_id("sync_status"),
                    role="text",
                ),
            ]
        else:
            views += [
                View(
                    "android.widget.TextView",
                    (LEFT, TOP + 740, RIGHT, TOP + 820),
                    text="Up to date",
                    resource_id=_id("sync_status"),
                    role="text",
                ),
                View(
                    "android.widget.Button",
                    (LEFT, TOP + 876, RIGHT, TOP + 1026),
                    text="Continue",
                    resource_id=_id("sync_continue"),
                    clickable=True,
                    focusable=True,
                    role="button",
                    action="sync_done",
                ),
            ]
        return views

    def on_back(self, task: Task) -> bool:
        if task["screen"] == "sync":
            self._leave_sync(task)
            return True
        return False

    @staticmethod
    def _leave_sync(task: Task) -> None:
        task["screen"] = task.pop("sync_from", "login")
        task.pop("sync_until", None)

    def _login(self, task: Task) -> list[View]:
        views = [
            View(
                "android.widget.TextView",
                (LEFT, TOP + 216, RIGHT, TOP + 336),
                text="Sign in",
                resource_id=_id("title"),
                role="title",
            )
        ]
        for position, name in enumerate(_FIELDS):
            y = TOP + 436 + position * 200
            value: str = task[name]
            shown = "•" * len(value) if name == "password" else value
            views.append(
                View(
                    "android.widget.EditText",
                    (LEFT, y, RIGHT, y + 160),
                    text=shown or name.capitalize(),
                    resource_id=_id(name),
                    clickable=True,
                    focusable=True,
                    long_clickable=True,
                    focused=task["focus"] == name,
                    password=name == "password",
                    role="field",
                    action=f"focus:{name}",
                    hint=not value,
                )
            )
        views.append(
            View(
                "android.widget.Button",
                (LEFT, TOP + 876, RIGHT, TOP + 1026),
                text="Sign in",
                resource_id=_id("sign_in"),
                clickable=True,
                focusable=True,
                role="button",
                action="sign_in",
            )
        )
        if task["error"]:
            views.append(
                View(
                    "android.widget.TextView",
                    (LEFT, TOP + 1066, RIGHT, TOP + 1146),
                    text="Invalid email or password",
                    resource_id=_id("error"),
                    role="error",
                )
            )
        return views

    def _home(self, task: Task) -> list[View]:
        rows = []
        for number in range(1, ITEMS + 1):
            top = _LIST[1] + (number - 1) * ROW - task["scroll"]
            frame = (0, top, WIDTH, top + ROW)
            bounds = clip(frame, _LIST)
            if bounds[3] > bounds[1]:
                rows.append(
                    View(
                        "android.widget.TextView",
                        bounds,
                        text=f"Item {number}",
                        resource_id=_id("item"),
                        clickable=True,
                        focusable=True,
                        long_clickable=True,
                        selected=task["selected"] == number,
                        role="item",
                        action=f"select:{number}",
                        long_action="",
                        frame=frame,
                    )
                )
        return [
            View(
                "android.widget.TextView",
                (LEFT, TOP + 56, RIGHT, TOP + 176),
                text="Welcome, Demo!",
                resource_id=_id("greeting"),
                role="title",
            ),
            View(
                "android.widget.Button",
                (LEFT, TOP + 196, RIGHT, TOP + 336),
                text="Sign out",
                resource_id=_id("sign_out"),
                clickable=True,
                focusable=True,
                role="button",
                action="sign_out",
            ),
            View(
                "androidx.recyclerview.widget.RecyclerView",
                _LIST,
                resource_id=_id("items"),
                focusable=True,
                scrollable=True,
                children=rows,
                scroll_key="scroll",
                scroll_max=ITEMS * ROW - (_LIST[3] - _LIST[1]),
            ),
        ]

    def on_action(self, state: State, task: Task, action: str) -> None:
        if action.startswith("focus:"):
            task["focus"] = action.removeprefix("focus:")
        elif action.startswith("select:"):
            task["selected"] = int(action.removeprefix("select:"))
        elif action == "sign_in":
            self._sign_in(state, task)
        elif action == "sync_done":
            self._leave_sync(task)
        elif action == "sign_out":
            self._data(state)["signed_in"] = False
            task.update(self.fresh_task(state))

    def _sign_in(self, state: State, task: Task) -> None:
        log = state.setdefault("logcat", [])
        if task["email"].strip().lower() == DEMO_EMAIL and task["password"] == DEMO_PASSWORD:
            self._data(state)["signed_in"] = True
            task.update(self.fresh_task(state))
            log.append(["I", "LoginDemo", "Signed in", DEMO])
        else:
            task["error"] = True
            log.append(["W", "LoginDemo", "Sign-in failed: invalid email or password", DEMO])

    def on_key(self, state: State, task: Task, key: str) -> None:
        if task["screen"] != "login":
            return
        focus = task["focus"]
        if key == "tab":
            task["focus"] = "password" if focus == "email" else "email"
        elif focus is None:
            return
        elif key == "enter":
            if focus == "password":
                self._sign_in(state, task)
            else:
                task["focus"] = "password"
        elif key == "del":
            task[focus] = task[focus][:-1]
        elif key == "space":
            task[focus] += " "

    def on_text(self, task: Task, text: str) -> None:
        if task["screen"] == "login" and task["focus"] in _FIELDS:
            task[task["focus"]] += text
