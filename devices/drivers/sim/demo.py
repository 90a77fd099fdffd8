"""The "Login Demo" app: a sign-in form, then a greeting and a 40-row list."""

from __future__ import annotations

from typing import Any

from .apps import DEMO, DEMO_EMAIL, DEMO_PASSWORD, App, State, Task
from .views import CONTENT, LEFT, RIGHT, TOP, WIDTH, View, clip

ITEMS = 40
ROW = 150
_LIST: tuple[int, int, int, int] = (0, TOP + 376, WIDTH, CONTENT[3])
_FIELDS = ("email", "password")


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
        return self._home(task) if task["screen"] == "home" else self._login(task)

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
        elif action == "sign_out":
            self._data(state)["signed_in"] = False
            task.update(self.fresh_task(state))

    def _sign_in(self, state: State, task: Task) -> None:
        if task["email"].strip().lower() == DEMO_EMAIL and task["password"] == DEMO_PASSWORD:
            self._data(state)["signed_in"] = True
            task.update(self.fresh_task(state))
        else:
            task["error"] = True

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
