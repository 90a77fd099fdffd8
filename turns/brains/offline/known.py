"""What the planner knows without looking: app names and the elements of the apps we ship.

The element list is the fallback for screens the planner cannot see yet (a step that acts
after "open Login Demo" is planned before the app is open) and for when no UI dump is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .words import canonical, likeness

LAUNCHER = "com.android.launcher3"
SETTINGS = "com.android.settings"
DEMO = "com.cognisim.demo"

PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")

# name people use -> package
APPS: dict[str, str] = {
    "settings": SETTINGS,
    "android settings": SETTINGS,
    "system settings": SETTINGS,
    "login demo": DEMO,
    "login": DEMO,
    "log in": DEMO,
    "sign in": DEMO,
    "demo": DEMO,
    "cognisim demo": DEMO,
    "launcher": LAUNCHER,
}
APP_LABELS = {SETTINGS: "Settings", DEMO: "Login Demo", LAUNCHER: "the launcher"}
_GENERIC = {"setting", "option", "app", "application", "thing", "one", "it", "that", ""}
_APP_NOISE = re.compile(r"^(?:the|my|our)\s+|\s+(?:app|application)$", re.I)


def app_package(name: str, *, strict: bool = True) -> str | None:
    """The package for an app name ("the login app", "Settings", "com.foo.bar"), or None.

    `strict` accepts only exact names (ignoring case and punctuation) and package names;
    otherwise close spellings count too ("setings").
    """
    name = name.strip()
    if PACKAGE_RE.match(name) and "." in name and name.lower() == name:
        return name
    bare = canonical(_APP_NOISE.sub("", _APP_NOISE.sub("", name)))
    if bare in APPS:
        return APPS[bare]
    if strict or bare in _GENERIC:
        return None
    score, package = max((likeness(bare, known), package) for known, package in APPS.items())
    return package if score >= 0.8 else None


def app_label(package: str) -> str:
    return APP_LABELS.get(package, package)


@dataclass(frozen=True)
class Known:
    package: str
    label: str
    kind: str
    """field, button, switch, text or row."""
    selector: dict[str, Any]
    aliases: tuple[str, ...] = ()


def _demo(name: str) -> str:
    return f"{DEMO}:id/{name}"


def _switch(key: str) -> dict[str, str]:
    return {"id": f"{SETTINGS}:id/{key}_switch"}


KNOWN: list[Known] = [
    Known(DEMO, "Email", "field", {"id": _demo("email")}, ("email field", "e-mail", "username")),
    Known(DEMO, "Password", "field", {"id": _demo("password")}, ("password field", "pw")),
    Known(DEMO, "Sign in", "button", {"text": "Sign in"}, ("log in", "login", "sign in button")),
    Known(DEMO, "Sign out", "button", {"text": "Sign out"}, ("log out", "logout")),
    Known(DEMO, "Welcome, Demo!", "text", {"id": _demo("greeting")}, ("greeting", "welcome message", "welcome")),
    Known(DEMO, "Invalid email or password", "text", {"id": _demo("error")}, ("error", "error message")),
    Known(SETTINGS, "Wi-Fi", "switch", _switch("wifi")),
    Known(SETTINGS, "Bluetooth", "switch", _switch("bluetooth")),
    Known(SETTINGS, "Airplane mode", "switch", _switch("airplane")),
    Known(SETTINGS, "Location", "switch", _switch("location")),
    Known(SETTINGS, "Dark theme", "switch", _switch("dark_theme")),
    Known(SETTINGS, "About phone", "row", {"text": "About phone"}),
    Known(LAUNCHER, "Settings", "icon", {"text": "Settings"}),
    Known(LAUNCHER, "Login Demo", "icon", {"text": "Login Demo"}),
]


def known_element(query: str, *, package: str | None, kinds: tuple[str, ...] = ()) -> Known | None:
    """The known element `query` names (in `package` when known), when it names one clearly."""
    best: tuple[float, Known | None] = (0.0, None)
    for known in KNOWN:
        if (package and known.package != package) or (kinds and known.kind not in kinds):
            continue
        score = max(likeness(query, name) for name in (known.label, *known.aliases))
        if score > best[0]:
            best = (score, known)
    return best[1] if best[0] >= 0.9 else None


_SCREENS: list[tuple[re.Pattern[str], str | None, dict[str, Any], str]] = [
    (
        re.compile(r"(?:the\s+)?(?:login|log[\s-]?in|sign[\s-]?in)\s+(?:screen|page|form|view)", re.I),
        None,
        {"id": _demo("sign_in")},
        "the sign-in form",
    ),
    (
        re.compile(r"(?:the\s+)?(?:main\s+)?settings(?:\s+app)?\s+(?:screen|page|menu|list|view)", re.I),
        None,
        {"id": f"{SETTINGS}:id/homepage_title"},
        "the Settings screen",
    ),
    (
        re.compile(r"(?:the\s+)?about(?:\s+phone)?\s+(?:screen|page|view)", re.I),
        None,
        {"id": f"{SETTINGS}:id/collapsing_toolbar_title"},
        "the About phone screen",
    ),
    (
        # "the dashboard": what a signed-in user sees first
        re.compile(r"(?:the\s+)?(?:(?:home|welcome|main|start)\s+(?:screen|page|view)|(?:main\s+)?dashboard)", re.I),
        DEMO,
        {"id": _demo("greeting")},
        "the home screen",
    ),
    (
        re.compile(r"(?:the\s+)?(?:home(?:\s+screen)?|launcher|desktop|start\s+screen)", re.I),
        None,
        {"id": f"{LAUNCHER}:id/workspace"},
        "the home screen",
    ),
]


def screen_mark(ref: str, package: str | None) -> tuple[dict[str, Any], str] | None:
    """What shows that a named screen is there ("the login screen": its Sign in button), or None.

    "the home screen" is the demo app's home while it is in front, the launcher otherwise.
    """
    for pattern, only_in, selector, name in _SCREENS:
        if pattern.fullmatch(ref.strip()) and (only_in is None or only_in == package):
            return dict(selector), name
    return None
