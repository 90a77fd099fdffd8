"""The programs of the simulated phone's shell, each a thin mapping onto one `SimDriver` primitive.

Output imitates the real tools closely enough for the parsers real tooling uses
(`UI hierchary dumped to:` with uiautomator's spelling, `mCurrentFocus=Window{… u0
PKG/ACTIVITY}`, `Physical size: WxH`, `package:NAME`). Files written by
`uiautomator dump` and `screencap FILE` live in a small in-memory filesystem.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.steps import KEYS
from devices.drivers.base import AppNotInstalled, DeviceError
from devices.drivers.sim import SimDriver
from devices.drivers.sim.apps import MODEL, OS_VERSION
from devices.drivers.sim.views import HEIGHT, WIDTH

from .packages import Packages
from .shell import Program, UsageError

DUMP_PATH = "/sdcard/window_dump.xml"
LONG_PRESS_TIMEOUT_MS = 400
DEFAULT_SWIPE_MS = 300
WAKEUP = "wakeup"
_KEY_NAMES = {code: name for name, code in KEYS.items()} | {224: WAKEUP}
_INPUT_SOURCES = {"keyboard", "touchscreen", "touchpad", "mouse", "stylus", "trackball", "dpad", "gamepad"}
_NPE = (
    "Exception occurred while executing 'text':\n"
    "java.lang.NullPointerException: Attempt to get length of null array\n"
    "\tat com.android.server.input.InputShellCommand.sendText(InputShellCommand.java)\n"
)


def properties(serial: str) -> dict[str, str]:
    return {
        "ro.build.version.release": OS_VERSION,
        "ro.build.version.sdk": "34",
        "ro.product.brand": "CogniSim",
        "ro.product.device": "cognisim",
        "ro.product.manufacturer": "CogniSim",
        "ro.product.model": MODEL,
        "ro.product.name": "cognisim_phone",
        "ro.serialno": serial,
        "sys.boot_completed": "1",
    }


def _number(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise UsageError(f'Error: java.lang.NumberFormatException: For input string: "{text}"') from None


def _key(text: str) -> str:
    """A key name of `devices.actions.KEYS` (or WAKEUP) for `4`, `KEYCODE_BACK` or `BACK`."""
    name = _KEY_NAMES.get(int(text)) if text.isdigit() else text.upper().removeprefix("KEYCODE_").lower()
    if name not in KEYS and name != WAKEUP:
        raise UsageError(f"Error: key {text} is not simulated on this phone")
    return name


def _typeable(text: str) -> bool:
    """What the virtual keyboard's key map can type: printable ASCII."""
    return all(" " <= char <= "~" for char in text)


class Programs:
    """The phone's programs; one instance per phone, shared by every connection and stream."""

    def __init__(self, driver: SimDriver, *, serial: str) -> None:
        self.driver = driver
        self.props = properties(serial)
        self.files: dict[str, bytes] = {}
        self.packages = Packages(driver)
        self._lock = threading.Lock()
        self._table: dict[str, Callable[[list[str], bytearray], int]] = {
            "input": self.input,
            "uiautomator": self.uiautomator,
            "cat": self.cat,
            "rm": self.rm,
            "screencap": self.screencap,
            "am": self.packages.am,
            "monkey": self.packages.monkey,
            "pm": self.packages.pm,
            "dumpsys": self.packages.dumpsys,
            "getprop": self.getprop,
            "wm": self.wm,
            "echo": self.echo,
            "true": lambda args, out: 0,
            "false": lambda args, out: 1,
        }

    def lookup(self, name: str) -> Program | None:
        program = self._table.get(name.removeprefix("/system/bin/"))
        return None if program is None else _guarded(program)

    def input(self, args: list[str], out: bytearray) -> int:
        """tap, swipe, keyevent and text.

        A swipe that does not move is a long press, or a tap when it is shorter than the long-press
        timeout, as on a phone; tools long-press with `input swipe X Y X Y MS`.
        """
        if args and args[0] in _INPUT_SOURCES:
            args = args[1:]
        command, rest = (args[0], args[1:]) if args else ("", [])
        if command == "tap" and len(rest) == 2:
            self.driver.tap(_number(rest[0]), _number(rest[1]))
        elif command == "swipe" and len(rest) in (4, 5):
            x1, y1, x2, y2 = (_number(value) for value in rest[:4])
            duration = _number(rest[4]) if len(rest) == 5 else DEFAULT_SWIPE_MS
            if (x1, y1) != (x2, y2):
                self.driver.swipe(x1, y1, x2, y2, duration)
            elif duration >= LONG_PRESS_TIMEOUT_MS:
                self.driver.long_press(x1, y1, duration)
            else:
                self.driver.tap(x1, y1)
        elif command == "keyevent" and rest:
            for key in [_key(code) for code in rest if code != "--longpress"]:
                if key == WAKEUP:
                    self.driver.wake()
                else:
                    self.driver.press_key(key)
        elif command == "text" and rest:
            text = rest[0].replace("%s", " ")
            if not _typeable(text):
                out += _NPE.encode()
                return 255
            self.driver.input_text(text)
        else:
            raise UsageError("Usage: input [<source>] <command> [<arg>...]\n  (tap, swipe, keyevent, text)")
        return 0

    def uiautomator(self, args: list[str], out: bytearray) -> int:
        paths = [arg for arg in args[1:] if not arg.startswith("--")]
        if args[:1] != ["dump"] or len(paths) > 1:
            raise UsageError("Usage: uiautomator dump [--compressed] [file]")
        path = paths[0] if paths else DUMP_PATH
        xml = self.driver.dump_ui().encode()
        if path == "/dev/tty":
            out += xml
        else:
            with self._lock:
                self.files[path] = xml
        out += f"UI hierchary dumped to: {path}\n".encode()
        return 0

    def cat(self, args: list[str], out: bytearray) -> int:
        status = 0
        for path in args:
            with self._lock:
                data = self.files.get(path)
            if data is None:
                out += f"cat: {path}: No such file or directory\n".encode()
                status = 1
            else:
                out += data
        return status

    def rm(self, args: list[str], out: bytearray) -> int:
        force = any(arg.startswith("-") and "f" in arg for arg in args)
        status = 0
        for path in (arg for arg in args if not arg.startswith("-")):
            with self._lock:
                found = self.files.pop(path, None) is not None
            if not found and not force:
                out += f"rm: {path}: No such file or directory\n".encode()
                status = 1
        return status

    def screencap(self, args: list[str], out: bytearray) -> int:
        paths = [arg for arg in args if not arg.startswith("-")]
        if len(paths) > 1 or ("-p" not in args and not (paths and paths[0].endswith(".png"))):
            raise UsageError("usage: screencap [-p] [FILENAME]  (only PNG output is simulated)")
        png = self.driver.screenshot()
        if paths:
            with self._lock:
                self.files[paths[0]] = png
        else:
            out += png
        return 0

    def getprop(self, args: list[str], out: bytearray) -> int:
        if args:
            out += f"{self.props.get(args[0], args[1] if len(args) > 1 else '')}\n".encode()
        else:
            out += "".join(f"[{key}]: [{value}]\n" for key, value in sorted(self.props.items())).encode()
        return 0

    def wm(self, args: list[str], out: bytearray) -> int:
        if args == ["size"]:
            out += f"Physical size: {WIDTH}x{HEIGHT}\n".encode()
        elif args == ["dismiss-keyguard"]:
            pass
        elif args == ["density"]:
            out += b"Physical density: 420\n"
        else:
            raise UsageError("usage: wm [size | density]")
        return 0

    def echo(self, args: list[str], out: bytearray) -> int:
        newline = args[:1] != ["-n"]
        out += (" ".join(args[0 if newline else 1 :]) + ("\n" if newline else "")).encode()
        return 0


def _guarded(program: Callable[[list[str], bytearray], int]) -> Program:
    """Usage mistakes and the simulated phone's refusals become output and an exit status, as on a phone."""

    def run(args: list[str], out: bytearray) -> int:
        try:
            return program(args, out)
        except UsageError as exc:
            out += f"{exc}\n".encode()
            return 1
        except AppNotInstalled as exc:
            out += f"Error: {exc.message}\n".encode()
            return 1
        except DeviceError as exc:
            out += f"Error: {exc.message}\n".encode()
            return 255

    return run
