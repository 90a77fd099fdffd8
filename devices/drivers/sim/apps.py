"""The apps installed on the simulated phone.

An app builds its screen from the phone state and reacts to the action tokens its
views carry. `state` is the whole persisted document; `task` is the app's
in-memory part (`state["tasks"][package]`), which stop_app forgets.
"""

from __future__ import annotations

from typing import Any

from .views import CONTENT, LEFT, RIGHT, TOP, WIDTH, View

State = dict[str, Any]
Task = dict[str, Any]

LAUNCHER = "com.android.launcher3"
SETTINGS = "com.android.settings"
DEMO = "com.cognisim.demo"
MODEL = "CogniSim Virtual Phone"
OS_VERSION = "14"

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "secret123"


class App:
    package = ""
    label = ""

    def fresh_task(self, state: State) -> Task:
        return {"screen": "main"}

    def clear_data(self, state: State) -> None:
        """Wipe what `pm clear` would."""

    def build(self, state: State, task: Task) -> list[View]:
        raise NotImplementedError

    def on_action(self, state: State, task: Task, action: str) -> None:
        """Handle a token carried by one of this app's views."""

    def on_back(self, task: Task) -> bool:
        """Go up one screen; False when already on the first one."""
        return False

    def start_activity(self, state: State, task: Task, activity: str, extras: dict[str, Any]) -> bool:
        """Open one of the app's screens by activity name (`am start -n`); False when there is no such activity."""
        return False

    def animating_until(self, state: State, task: Task) -> float:
        """Until when (`time.time()`) something on screen keeps moving: 0 when nothing does, inf for ever."""
        return 0.0

    def on_key(self, state: State, task: Task, key: str) -> None:
        """Keys that act on the focused field (enter, del, tab, space …).

        The cursor always stays at the end of the text: del removes the last
        character and move_end changes nothing.
        """

    def on_text(self, task: Task, text: str) -> None:
        """Text typed into the focused field; no focused field, no effect."""


class Launcher(App):
    package = LAUNCHER
    label = "Launcher"

    def __init__(self, *, icons: list[App]) -> None:
        self.icons = icons

    def build(self, state: State, task: Task) -> list[View]:
        icons = []
        for column, app in enumerate(self.icons):
            x = 60 + column * 260
            icons.append(
                View(
                    "android.widget.TextView",
                    (x, 260, x + 240, 560),
                    text=app.label,
                    desc=app.label,
                    clickable=True,
                    focusable=True,
                    long_clickable=True,
                    role="icon",
                    action=f"launch:{app.package}",
                )
            )
        return [
            View(
                "android.view.ViewGroup",
                CONTENT,
                resource_id=f"{LAUNCHER}:id/workspace",
                children=icons,
                role="wallpaper",
            )
        ]


TOGGLES = {
    "wifi": "Wi-Fi",
    "bluetooth": "Bluetooth",
    "airplane": "Airplane mode",
    "location": "Location",
    "dark_theme": "Dark theme",
}
SYSTEM_DEFAULTS = {"wifi": True, "bluetooth": False, "airplane": False, "location": True, "dark_theme": False}


class Settings(App):
    """Wi-Fi and friends are system settings, not the Settings app's data: clear_state keeps them."""

    package = SETTINGS
    label = "Settings"
    _ROW = 190

    def build(self, state: State, task: Task) -> list[View]:
        if task["screen"] == "about":
            return self._about()
        list_top = TOP + 300
        rows = []
        for position, (key, label) in enumerate([*TOGGLES.items(), ("about", "About phone")]):
            y = list_top + position * self._ROW
            children = [
                View(
                    "android.widget.TextView",
                    (72, y + 55, 800, y + 135),
                    text=label,
                    resource_id="android:id/title",
                    role="text",
                )
            ]
            action = "open:about"
            if key in TOGGLES:
                action = f"toggle:{key}"
                children.append(
                    View(
                        "android.widget.Switch",
                        (880, y + 55, 1032, y + 135),
                        resource_id=f"{SETTINGS}:id/{key}_switch",
                        checkable=True,
                        checked=state["system"][key],
                        clickable=True,
                        focusable=True,
                        role="switch",
                        action=action,
                    )
                )
            rows.append(
                View(
                    "android.widget.LinearLayout",
                    (0, y, WIDTH, y + self._ROW),
                    clickable=True,
                    focusable=True,
                    children=children,
                    role="row",
                    action=action,
                )
            )
        return [
            View(
                "android.widget.TextView",
                (LEFT, TOP + 100, RIGHT, TOP + 250),
                text="Settings",
                resource_id=f"{SETTINGS}:id/homepage_title",
                role="title",
            ),
            View(
                "androidx.recyclerview.widget.RecyclerView",
                (0, list_top, WIDTH, CONTENT[3]),
                resource_id=f"{SETTINGS}:id/recycler_view",
                focusable=True,
                children=rows,
            ),
        ]

    def _about(self) -> list[View]:
        views = [
            View(
                "android.widget.ImageButton",
                (0, TOP, 168, TOP + 168),
                desc="Navigate up",
                clickable=True,
                focusable=True,
                role="up",
                action="back",
            ),
            View(
                "android.widget.TextView",
                (LEFT, TOP + 200, RIGHT, TOP + 350),
                text="About phone",
                resource_id=f"{SETTINGS}:id/collapsing_toolbar_title",
                role="title",
            ),
        ]
        for position, (label, value) in enumerate([("Model", MODEL), ("Android version", OS_VERSION)]):
            y = TOP + 400 + position * 220
            views.append(
                View(
                    "android.widget.LinearLayout",
                    (0, y, WIDTH, y + 220),
                    role="row",
                    children=[
                        View(
                            "android.widget.TextView",
                            (72, y + 40, RIGHT, y + 110),
                            text=label,
                            resource_id="android:id/title",
                            role="text",
                        ),
                        View(
                            "android.widget.TextView",
                            (72, y + 115, RIGHT, y + 180),
                            text=value,
                            resource_id="android:id/summary",
                            role="summary",
                        ),
                    ],
                )
            )
        return views

    def on_action(self, state: State, task: Task, action: str) -> None:
        if action.startswith("toggle:"):
            key = action.removeprefix("toggle:")
            state["system"][key] = not state["system"][key]
        elif action == "open:about":
            task["screen"] = "about"

    def on_back(self, task: Task) -> bool:
        if task["screen"] == "about":
            task["screen"] = "main"
            return True
        return False
